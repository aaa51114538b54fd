"""LLaVA-OneVision adapter (SigLIP tower, base-resolution grid + one newline token per image)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from mimicgen.probes.adapters.base import EncodedImages, VLMAdapter

__all__ = ["LlavaOnevisionAdapter"]


class LlavaOnevisionAdapter(VLMAdapter):
    """Each image is encoded at base resolution: ``side x side`` tokens plus a newline token.

    This is how LLaVA-OneVision encodes every image of a multi-image prompt (27 x 27 + 1 = 730
    tokens at 384 px, the paper's count). The adapter uses it for single images too (where the
    official code would tile at higher resolution), so token counts stay comparable across N and
    under ``stitch``.
    """

    model_types = ("llava_onevision",)
    image_token = "<image>"
    model_class_name = "LlavaOnevisionForConditionalGeneration"
    image_processor_path = (
        "transformers.models.llava_onevision.image_processing_pil_llava_onevision"
        ":LlavaOnevisionImageProcessorPil"
    )
    image_close = ("\n",)

    @torch.no_grad()
    def encode_images(self, images: Sequence[Image.Image]) -> EncodedImages:
        if not images:
            return EncodedImages([], [], [], {})
        cfg = self.model.config
        batch = self.image_processor(images=list(images), return_tensors="pt")
        # Patch 0 of each image is the whole image resized to the tower's resolution.
        tower = self.model.model.vision_tower
        base = batch["pixel_values"][:, 0].to(tower.device, tower.dtype)
        out = self.model.model.vision_tower(base, output_hidden_states=True)
        layer = cfg.vision_feature_layer
        if isinstance(layer, int):
            feats = out.hidden_states[layer]
        else:
            feats = torch.cat([out.hidden_states[i] for i in layer], dim=-1)
        if cfg.vision_feature_select_strategy == "default":
            feats = feats[:, 1:]  # drop the CLS token
        feats = self.model.model.multi_modal_projector(feats)
        newline = self.model.model.image_newline[None].to(feats.dtype)
        side = cfg.vision_config.image_size // cfg.vision_config.patch_size
        return EncodedImages.square([torch.cat([f, newline]) for f in feats], side, trailing=1)
