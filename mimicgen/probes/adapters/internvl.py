"""InternVL adapter (transformers' native ``internvl`` model type, e.g. OpenGVLab/InternVL3-*-hf)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from mimicgen.probes.adapters.base import EncodedImages, VLMAdapter

__all__ = ["InternVLAdapter"]


class InternVLAdapter(VLMAdapter):
    """Each image is one tile at the tower's resolution (no dynamic tiling), pixel-shuffled.

    At 448 px with 14 px patches and ``downsample_ratio=0.5`` that is a 16 x 16 grid = 256 tokens
    per image between ``<img>`` and ``</img>``. The official multi-image recipe tiles each image
    into up to 12 crops; one tile keeps counts equal across images and comparable under ``stitch``.
    """

    model_types = ("internvl",)
    image_token = "<IMG_CONTEXT>"
    model_class_name = "InternVLForConditionalGeneration"
    image_processor_path = (
        "transformers.models.got_ocr2.image_processing_pil_got_ocr2:GotOcr2ImageProcessorPil"
    )
    image_open = ("<img>",)
    image_close = ("</img>\n",)
    template_image = ("<IMG_CONTEXT>", "<img>", "</img>")  # as transformers' InternVL processor

    @torch.no_grad()
    def encode_images(self, images: Sequence[Image.Image]) -> EncodedImages:
        if not images:
            return EncodedImages([], [], [], {})
        cfg = self.model.config
        batch = self.image_processor(
            images=list(images), crop_to_patches=False, return_tensors="pt"
        )
        tower = self.model.model.vision_tower
        pixels = batch["pixel_values"].to(tower.device, tower.dtype)
        feats = self.model.model.get_image_features(
            pixels,
            vision_feature_layer=cfg.vision_feature_layer,
            vision_feature_select_strategy=cfg.vision_feature_select_strategy,
        ).pooler_output
        # pixel_shuffle keeps row-major order on the down-sampled grid.
        side = round(feats.shape[1] ** 0.5)
        return EncodedImages.square(list(feats), side)
