"""Synonym groups for class names, built from the COCO and OpenImages label sets.

Each group lists names of one concept as the two label sets (and everyday English) spell them,
e.g. COCO ``tv`` / OpenImages ``Television``. :class:`~mimicgen.scoring.normalize.ClassVocabulary`
uses a group only for the benchmark's own classes: a name of the group maps to the one vocabulary
class of that group, and is ignored when it is itself a vocabulary class or when two vocabulary
classes share the group (then it would be ambiguous).
"""

from __future__ import annotations

__all__ = ["SYNONYM_GROUPS"]

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    # COCO name first, then the OpenImages display name(s), then common variants.
    ("person", "human", "man", "woman", "boy", "girl", "child"),
    ("bicycle", "bike"),
    ("motorcycle", "motorbike"),
    ("airplane", "aeroplane", "aircraft", "plane"),
    ("tv", "television", "tv monitor", "tvmonitor", "television set"),
    ("couch", "sofa", "sofa bed", "studio couch"),
    ("cell phone", "mobile phone", "cellphone", "smartphone"),
    ("dining table", "table", "kitchen & dining room table"),
    ("potted plant", "houseplant", "pottedplant", "plant"),
    ("sports ball", "ball", "football", "soccer ball"),
    ("baseball glove", "baseball mitt", "glove"),
    ("hair drier", "hair dryer", "hairdryer"),
    ("donut", "doughnut"),
    ("refrigerator", "fridge"),
    ("microwave", "microwave oven"),
    ("remote", "remote control"),
    ("mouse", "computer mouse"),
    ("laptop", "notebook computer", "laptop computer"),
    ("traffic light", "traffic signal", "stoplight"),
    ("fire hydrant", "hydrant"),
    ("handbag", "purse"),
    ("suitcase", "luggage and bags", "luggage"),
    ("car", "automobile"),
    ("cup", "mug", "coffee cup"),
    ("teddy bear", "teddy"),
    ("wine glass", "wineglass"),
    ("cow", "cattle"),
    ("oven", "kitchen oven"),
    ("sink", "washbasin"),
)
