"""The ``hf`` backend: transformers models, batched greedy decoding with left padding.

The model family's adapter (``mimicgen.probes.adapters``) builds each query's decoder inputs (the
checkpoint's chat template, vision features in place, the family's positions; each adapter is
tested to match the model's own ``forward``). Queries are then decoded together: prompts are
left-padded to one length with a 2-D padding mask, positions kept per row, one KV cache, and each
row stops at its own end-of-sequence token or budget. Attention is ``sdpa`` by default (or
``flash_attention_2``): no probe runs here, so nothing needs eager weights.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from mimicgen.errors import InputError
from mimicgen.predict.common import Emit, GenerationSettings, Query
from mimicgen.probes.adapters.base import PreparedInput, VLMAdapter
from mimicgen.probes.attention import ProbeState, probe_state

__all__ = ["HFBackend", "generate_batch"]


@torch.no_grad()
def generate_batch(
    adapter: VLMAdapter,
    prepared: list[PreparedInput],
    budgets: list[int],
    state: ProbeState | None = None,
) -> list[list[int]]:
    """Greedy decoding of several prompts at once; returns each row's generated ids.

    ``state`` (``mimicgen probe``) is active for the whole decode; its mask, if any, must be
    ``(rows, 1, W, W)`` over the left-padded prompts (:mod:`mimicgen.probes.batching`).
    """
    if state is None:
        return _generate_batch(adapter, prepared, budgets)
    with probe_state(state):
        return _generate_batch(adapter, prepared, budgets, state)


def _generate_batch(
    adapter: VLMAdapter,
    prepared: list[PreparedInput],
    budgets: list[int],
    state: ProbeState | None = None,
) -> list[list[int]]:
    lm, lm_head = adapter.language_model, adapter.model.lm_head
    eos = adapter.eos_token_ids
    pad_id = adapter.tokenizer.pad_token_id
    pad_id = int(pad_id) if pad_id is not None else min(eos)
    device = adapter.device
    rows = len(prepared)
    lens = [p.inputs_embeds.shape[1] for p in prepared]
    width = max(lens)
    first = prepared[0]
    embeds = first.inputs_embeds.new_zeros((rows, width, first.inputs_embeds.shape[-1]))
    mask = torch.zeros((rows, width), dtype=torch.long, device=device)
    positions = []
    for i, (p, n) in enumerate(zip(prepared, lens, strict=True)):
        embeds[i, width - n :] = p.inputs_embeds[0]
        mask[i, width - n :] = 1
        # Positions keep their values; padding slots get 0 (masked, so never attended).
        positions.append(torch.nn.functional.pad(p.position_ids, (width - n, 0)))
    position_ids = torch.cat(positions, dim=-2)
    from transformers import DynamicCache

    cache = DynamicCache(config=adapter.model.config.get_text_config())
    out = lm(
        inputs_embeds=embeds,
        attention_mask=mask,
        position_ids=position_ids,
        cache=cache,
        use_cache=True,
    )
    if state is not None:
        state.check_applied()
    outs: list[list[int]] = [[] for _ in prepared]
    done = [False] * rows
    for step in range(max(budgets)):
        nxt = lm_head(out.last_hidden_state[:, -1]).argmax(-1).tolist()
        for i, t in enumerate(nxt):
            if done[i]:
                continue
            if t in eos:
                done[i] = True
                continue
            outs[i].append(int(t))
            done[i] = len(outs[i]) >= budgets[i]
        if all(done):
            break
        feed = torch.tensor([[pad_id if d else t] for t, d in zip(nxt, done, strict=True)])
        mask = torch.cat([mask, mask.new_ones((rows, 1))], dim=1)
        pos = [adapter.decode_positions(p.next_position + step) for p in prepared]
        out = lm(
            inputs_embeds=lm.embed_tokens(feed.to(device)),
            attention_mask=mask,
            position_ids=torch.cat(pos, dim=-2),
            cache=cache,
            use_cache=True,
        )
    return outs


class HFBackend:
    """Load a checkpoint once; answer queries in batches of ``batch_size``."""

    name = "hf"

    def __init__(
        self,
        model: str,
        dtype: str = "auto",
        device: str | None = None,
        device_map: str | None = None,
        attn: str = "sdpa",
        batch_size: int = 8,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
    ) -> None:
        from mimicgen.probes.adapters import load_adapter

        self.model = model
        self.batch_size = batch_size
        self.dtype = dtype
        self.attn, self.device_map = attn, device_map
        pixels = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v}
        self.pixels = pixels
        self.adapter = load_adapter(model, dtype, device, device_map, attn, pixels or None)

    def options(self) -> dict[str, Any]:
        family = type(self.adapter).__name__
        return {
            "dtype": self.dtype,
            "adapter": family,
            "chat_template": "checkpoint" if self.adapter.has_chat_template else "chatml",
            **self.pixels,
        }

    def info(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "device": str(self.adapter.device),
            "attn": self.attn,
            "device_map": self.device_map,
        }

    @staticmethod
    def check(settings: GenerationSettings) -> None:
        """Refuse settings this backend cannot honour (before anything is written)."""
        if settings.temperature > 0:
            raise InputError("--backend hf decodes greedily; drop --temperature (or use vllm)")
        if settings.system_prompt is not None:
            raise InputError(
                "--system-prompt is not supported by --backend hf (the chat template's default "
                "system message is used); drop it"
            )

    def run(self, queries: list[Query], settings: GenerationSettings, emit: Emit) -> None:
        self.check(settings)
        for start in range(0, len(queries), self.batch_size):
            batch = queries[start : start + self.batch_size]
            prepared = [self._prepare(q) for q in batch]
            ids = generate_batch(self.adapter, prepared, [settings.budget(q.task) for q in batch])
            for q, p, out in zip(batch, prepared, ids, strict=True):
                emit(
                    {
                        "id": q.id,
                        "prediction": self.adapter.decode_text(out),
                        "n_images": len(q.image_paths),
                        "n_vision_tokens": p.tokens.n_vision,
                        "n_prompt_tokens": len(p.tokens),
                        "n_output_tokens": len(out),
                    }
                )

    def _prepare(self, query: Query) -> PreparedInput:
        images = []
        for path in query.image_paths:
            with Image.open(path) as im:
                images.append(im.convert("RGB"))
        return self.adapter.prepare(images, query.question, user=list(query.user))
