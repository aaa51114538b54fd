"""Qwen2-VL and Qwen2.5-VL adapters (M-RoPE positions, merged 2x2 patch tokens)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from mimicgen.probes.adapters.base import EncodedImages, VLMAdapter
from mimicgen.probes.tokens import grid_cells

__all__ = ["Qwen2VLAdapter", "Qwen25VLAdapter", "mrope_from_cells"]


def mrope_from_cells(
    input_ids: torch.Tensor, image_token_id: int, cells: list[np.ndarray]
) -> tuple[torch.Tensor, int]:
    """M-RoPE ``(3, 1, L)`` positions of a still-image prompt from each vision token's cell.

    Qwen's rule (``get_rope_index`` for images): text counts on by one on all three axes; an
    image starting at ``s`` puts a token of cell ``(r, c)`` at ``(s, s + r, s + c)``, and the
    text after it resumes at the largest position of the image plus one. Given the cells of
    pooled tokens (each window's first cell), the pooled image keeps its 2-D extent and the text
    after it keeps the positions it has without pooling. Returns the positions and the position
    of the first generated token.
    """
    ids = input_ids[0].cpu().numpy()
    is_image = ids == image_token_id
    out = np.empty((3, len(ids)), dtype=np.int64)
    start, p, i = 0, 0, 0
    while p < len(ids):
        if is_image[p]:
            cell = cells[i]
            n = len(cell)
            out[0, p : p + n] = start
            out[1, p : p + n] = start + cell[:, 0]
            out[2, p : p + n] = start + cell[:, 1]
            start += int(max(cell[:, 0].max(), cell[:, 1].max())) + 1
            p, i = p + n, i + 1
        else:
            end = p + int(np.argmax(is_image[p:])) if is_image[p:].any() else len(ids)
            out[:, p:end] = start + np.arange(end - p)
            start += end - p
            p = end
    return torch.from_numpy(out)[:, None].to(input_ids.device), start


class Qwen2VLAdapter(VLMAdapter):
    """Qwen2-VL: each image becomes ``(h/2) x (w/2)`` merged tokens between vision start/end."""

    model_types = ("qwen2_vl",)
    image_token = "<|image_pad|>"
    model_class_name = "Qwen2VLForConditionalGeneration"
    image_processor_path = (
        "transformers.models.qwen2_vl.image_processing_pil_qwen2_vl:Qwen2VLImageProcessorPil"
    )
    image_open = ("<|vision_start|>",)
    image_close = ("<|vision_end|>",)
    template_image = ("<|image_pad|>", "", "")
    pixel_budget = True  # the template writes vision start/end itself

    @property
    def merge(self) -> int:
        return int(self.model.config.vision_config.spatial_merge_size)

    @torch.no_grad()
    def encode_images(self, images: Sequence[Image.Image]) -> EncodedImages:
        if not images:
            return EncodedImages([], [], [], {"image_grid_thw": None})
        batch = self.image_processor(images=list(images), return_tensors="pt")
        visual = next(self.model.model.visual.parameters()).device  # may differ under device_map
        thw = batch["image_grid_thw"].to(visual)
        pixels = batch["pixel_values"].to(visual)
        feats = self.model.model.get_image_features(pixels, thw).pooler_output
        grids = [(int(h) // self.merge, int(w) // self.merge) for _, h, w in thw.tolist()]
        cells = [grid_cells(r, c) for r, c in grids]
        return EncodedImages(list(feats), cells, grids, {"image_grid_thw": thw})

    def positions(
        self, input_ids: torch.Tensor, enc: EncodedImages, pooled: bool, layout: str = "grid"
    ) -> tuple[torch.Tensor, int]:
        thw = enc.extra["image_grid_thw"]
        if thw is None:
            pos = (
                torch.arange(input_ids.shape[1], device=self.device).view(1, 1, -1).expand(3, 1, -1)
            )
            return pos, input_ids.shape[1]
        if pooled and layout == "grid":
            return mrope_from_cells(input_ids, self.image_token_id, enc.cells)
        if pooled:
            # ``row``: lay each image out as a 1 x n grid, so M-RoPE gives its pooled tokens
            # consecutive width positions (the grid in merged-token units times the merge).
            m = self.merge
            thw = torch.tensor([[1, m, m * len(f)] for f in enc.features], device=self.device)
        types = (input_ids == self.image_token_id).int()
        pos, _ = self.model.model.get_rope_index(
            input_ids, mm_token_type_ids=types, image_grid_thw=thw
        )
        return pos, int(pos.max()) + 1

    def decode_positions(self, position: int) -> torch.Tensor:
        return torch.full((3, 1, 1), position, dtype=torch.long, device=self.device)


class Qwen25VLAdapter(Qwen2VLAdapter):
    """Qwen2.5-VL: same prompt format and token layout; its own model class and vision tower."""

    model_types = ("qwen2_5_vl",)
    model_class_name = "Qwen2_5_VLForConditionalGeneration"
