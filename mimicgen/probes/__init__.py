"""Diagnostic probes: run VLMs under pooling, pixel control, stitching and attention masks.

Pure-Python modules (importable without torch): ``flops`` (attention cost model, Table 7),
``spec`` (probe strings / YAML), ``tokens`` (token map), ``masks`` (mask kinds), ``pixel`` and
``stitch`` (image operations), ``benchmark`` (benchmark reader). Modules that import torch and
transformers, loaded only by ``mimicgen probe``: ``attention`` (registered attention function and
statistics), ``pooling``, ``adapters`` (model families), ``runner``, ``tiny`` (tiny test models).
See docs/probes.md.
"""

__all__: list[str] = []
