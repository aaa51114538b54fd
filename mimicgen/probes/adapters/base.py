"""Model adapter interface: load a VLM, turn (images, question) into decoder inputs, generate.

An adapter owns everything family-specific (prompt format, image encoding, token grid, rotary
positions). Everything else (pooling, masks, statistics, greedy decoding) is shared and works on
the adapter's :class:`PreparedInput`: input embeddings with the vision features already in place,
the position ids, and the :class:`~mimicgen.probes.tokens.TokenMap`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from mimicgen.errors import InputError
from mimicgen.predict.prompts import IMAGE_MARKER, segments
from mimicgen.probes.attention import ATTN_IMPLEMENTATION, ProbeState, probe_state, register
from mimicgen.probes.pooling import avg_pool_tokens
from mimicgen.probes.tokens import TokenMap, grid_cells, pool_cells, token_map_from_ids

__all__ = [
    "IMAGE_MARKER",
    "SYSTEM_PROMPT",
    "EncodedImages",
    "PreparedInput",
    "VLMAdapter",
    "resolve_dtype",
]


SYSTEM_PROMPT = "You are a helpful assistant."
"""System message of the ChatML prompt every supported family uses."""


@dataclass
class EncodedImages:
    """Vision features of a query's images, as the language model will receive them."""

    features: list[torch.Tensor]
    """Per image ``(n_i, hidden)`` features in sequence order."""
    cells: list[np.ndarray]
    """Per image ``(n_i, 2)`` grid cell of each token (-1 where a token has no cell)."""
    grids: list[tuple[int, int]]
    """Per image ``(rows, cols)`` of its token grid."""
    extra: dict[str, Any]
    """Family-specific leftovers needed for positions (e.g. Qwen's ``image_grid_thw``)."""

    @classmethod
    def square(cls, features: list[torch.Tensor], side: int, trailing: int = 0) -> EncodedImages:
        """Every image on the same row-major ``side x side`` grid, followed by ``trailing``
        cell-less tokens (e.g. LLaVA's newline token)."""
        cells = [grid_cells(side, side, extra=trailing) for _ in features]
        return cls(features, cells, [(side, side)] * len(features), {})


@dataclass
class PreparedInput:
    """One prompt ready for the decoder."""

    input_ids: torch.Tensor
    """``(1, L)`` token ids with image placeholders."""
    inputs_embeds: torch.Tensor
    """``(1, L, hidden)`` embeddings with the vision features scattered into the placeholders."""
    position_ids: torch.Tensor
    """Position ids in the decoder's own layout (``(1, L)``, or ``(3, 1, L)`` for M-RoPE)."""
    tokens: TokenMap
    """Which image / grid cell each position holds."""
    next_position: int
    """Rotary position of the first generated token."""


def resolve_dtype(name: str) -> torch.dtype | str:
    """``auto`` | ``float32`` | ``float16`` | ``bfloat16`` -> a torch dtype (or ``"auto"``)."""
    table = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "float16": torch.float16,
        "fp16": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if name == "auto":
        return "auto"
    if name not in table:
        raise InputError(f"unknown --dtype {name!r}; use auto, float32, float16 or bfloat16")
    return table[name]


def _processor_chat_template(path: str) -> str | None:
    """The chat template of an older checkpoint that keeps it in ``chat_template.json`` (the
    processor's file, which the tokenizer does not read)."""
    import json
    from pathlib import Path

    file = Path(path) / "chat_template.json"
    if not file.is_file():
        try:
            from transformers.utils import cached_file

            found = cached_file(
                path, "chat_template.json", _raise_exceptions_for_missing_entries=False
            )
        except (OSError, ValueError):
            return None
        if found is None:
            return None
        file = Path(found)
    template = json.loads(file.read_text(encoding="utf-8")).get("chat_template")
    return str(template) if template else None


class VLMAdapter(ABC):
    """Base class: one per model family. Subclasses set ``model_types`` and the hooks below."""

    model_types: ClassVar[tuple[str, ...]] = ()
    """``config.model_type`` values this adapter handles."""
    image_token: ClassVar[str]
    """The image placeholder token string of this family's tokenizer."""
    model_class_name: ClassVar[str]
    """Name of the transformers model class (imported lazily from ``transformers``)."""
    image_processor_path: ClassVar[str]
    """``module:Class`` of the (PIL-backend) image processor (imported lazily)."""
    image_open: ClassVar[tuple[str, ...]] = ()
    """Prompt text placed before each image's placeholder tokens."""
    image_close: ClassVar[tuple[str, ...]] = ()
    """Prompt text placed after each image's placeholder tokens."""
    pixel_budget: ClassVar[bool] = False
    """Whether the image processor takes ``min_pixels``/``max_pixels`` (native resolution)."""
    template_image: ClassVar[tuple[str, str, str]] = ("<image>", "", "")
    """``(marker, open, close)``: the string the checkpoint's chat template writes for an image,
    and the text to put around that image's placeholder tokens in its place."""

    def __init__(self, model: nn.Module, tokenizer: Any, image_processor: Any) -> None:
        # transformers model classes carry family-specific attributes that ``nn.Module``'s
        # typing cannot describe, so the wrapped model is typed dynamically.
        self.model = cast(Any, model.eval())
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.image_token_id = int(self.model.config.image_token_id)
        layers = self.language_model.layers
        self.layer_of = {id(layer.self_attn): i for i, layer in enumerate(layers)}

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path: str,
        dtype: str = "auto",
        device: str | None = None,
        device_map: str | None = None,
        attn: str | None = None,
        processor_kwargs: dict[str, Any] | None = None,
    ) -> VLMAdapter:
        """Load model, tokenizer and image processor from a hub id or local folder.

        ``attn`` is the language model's attention implementation; ``None`` is the probe
        function (masks, ``attn`` statistics), else e.g. ``sdpa`` or ``flash_attention_2`` for
        plain generation. ``processor_kwargs`` go to the image processor (e.g. Qwen's
        ``min_pixels``/``max_pixels``).
        """
        from transformers import AutoTokenizer

        register()
        kwargs: dict[str, Any] = {
            "dtype": resolve_dtype(dtype),
            "attn_implementation": cls.attn_implementation(attn),
        }
        if device_map:
            kwargs["device_map"] = device_map
        model = cls.model_class().from_pretrained(path, **kwargs)
        if device and not device_map:
            model = model.to(device)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if getattr(tokenizer, "chat_template", None) is None:
            tokenizer.chat_template = _processor_chat_template(path)
        processor = cls.image_processor_class().from_pretrained(path, **(processor_kwargs or {}))
        return cls(model, tokenizer, processor)

    @classmethod
    def attn_implementation(cls, attn: str | None = None) -> dict[str, str]:
        """Probe attention (or ``attn``) for the language model; the tower keeps ``sdpa``."""
        return {"text_config": attn or ATTN_IMPLEMENTATION, "vision_config": "sdpa"}

    @classmethod
    def model_class(cls) -> type[Any]:
        """The transformers model class to instantiate (``model_class_name``)."""
        found: type[Any] = getattr(importlib.import_module("transformers"), cls.model_class_name)
        return found

    @classmethod
    def image_processor_class(cls) -> type[Any]:
        """The (PIL-backend) image processor class (``image_processor_path``)."""
        module, name = cls.image_processor_path.split(":")
        found: type[Any] = getattr(importlib.import_module(module), name)
        return found

    # ---- family hooks --------------------------------------------------------------------
    @property
    def language_model(self) -> Any:
        """The decoder (has ``.layers`` and ``.embed_tokens``); all supported families nest it
        at ``model.model.language_model``."""
        return self.model.model.language_model

    @abstractmethod
    def encode_images(self, images: Sequence[Image.Image]) -> EncodedImages:
        """Run the vision tower (+ projector) on the images."""

    @property
    def has_chat_template(self) -> bool:
        """Whether the checkpoint ships a chat template (else the hand-built ChatML is used)."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def prompt_parts(self, segments: list[str | int]) -> list[str | int]:
        """Wrap user ``segments`` (text, or an image index) in the checkpoint's chat template,
        or, for a checkpoint without one, in hand-built ChatML with each image between the
        family's ``image_open`` and ``image_close`` texts."""
        if self.has_chat_template:
            return self._template_parts(segments)
        parts: list[str | int] = [
            f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
        ]
        for seg in segments:
            parts += [seg] if isinstance(seg, str) else [*self.image_open, seg, *self.image_close]
        return [*parts, "<|im_end|>\n<|im_start|>assistant\n"]

    def _template_parts(self, segments: list[str | int]) -> list[str | int]:
        """Render one user turn through the chat template and cut it at the image markers."""
        content = [
            {"type": "text", "text": seg} if isinstance(seg, str) else {"type": "image"}
            for seg in segments
        ]
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        marker, open_, close = self.template_image
        pieces = str(text).split(marker)
        images = [seg for seg in segments if not isinstance(seg, str)]
        if len(pieces) != len(images) + 1:
            raise InputError(
                f"the chat template wrote {len(pieces) - 1} image markers {marker!r} for "
                f"{len(images)} images; the checkpoint's template does not match its family"
            )
        parts: list[str | int] = [pieces[0]]
        for image, after in zip(images, pieces[1:], strict=True):
            parts += [f"{parts.pop()}{open_}", image, f"{close}{after}"]
        return [p for p in parts if p != ""]

    def positions(
        self, input_ids: torch.Tensor, enc: EncodedImages, pooled: bool, layout: str = "grid"
    ) -> tuple[torch.Tensor, int]:
        """Position ids for the prompt and the position of the first generated token.

        ``layout`` places pooled tokens (``grid`` or ``row``, see ``PoolProbe.layout``).
        Default: plain 1-D positions ``0..L-1`` (families with 1-D RoPE, where the layout
        changes nothing); Qwen overrides it.
        """
        n = input_ids.shape[1]
        return torch.arange(n, device=self.device)[None], n

    def decode_positions(self, position: int) -> torch.Tensor:
        """Position ids for one generated token at rotary position ``position``."""
        return torch.tensor([[position]], device=self.device)

    # ---- shared machinery ----------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return len(self.language_model.layers)

    @property
    def device(self) -> torch.device:
        return self.language_model.embed_tokens.weight.device

    @property
    def eos_token_ids(self) -> set[int]:
        ids = (
            self.model.generation_config.eos_token_id or self.model.config.text_config.eos_token_id
        )
        ids = ids if isinstance(ids, list) else [ids]
        if self.tokenizer.eos_token_id is not None:
            ids = [*ids, self.tokenizer.eos_token_id]
        return {int(i) for i in ids if i is not None}

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @staticmethod
    def user_segments(question: str, n_images: int) -> list[str | int]:
        """Images where the question marks them with ``<image>``, else all images first."""
        return segments(question, n_images, "images-first")

    @torch.no_grad()
    def prepare(
        self,
        images: Sequence[Image.Image],
        question: str,
        pool: int = 1,
        user: list[str | int] | None = None,
        pool_layout: str = "grid",
    ) -> PreparedInput:
        """Build decoder inputs for ``images`` + ``question``, pooling vision tokens by ``pool``
        (pooled tokens placed by ``pool_layout``, ``grid`` or ``row``); ``user`` gives the user
        turn's segments (default: images first, see ``user_segments``)."""
        enc = self.encode_images(images)
        if pool > 1:
            enc.features = [avg_pool_tokens(f, pool) for f in enc.features]
            enc.cells = [pool_cells(c, pool) for c in enc.cells]
        ids: list[int] = []
        user = user if user is not None else self.user_segments(question, len(images))
        for part in self.prompt_parts(user):
            ids += (
                self._ids(part)
                if isinstance(part, str)
                else [self.image_token_id] * len(enc.features[part])
            )
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
        tokens = token_map_from_ids(np.asarray(ids), self.image_token_id, enc.cells, enc.grids)
        embeds = self.language_model.embed_tokens(input_ids)
        if enc.features:
            where = torch.from_numpy(np.flatnonzero(tokens.is_vision)).to(self.device)
            feats = torch.cat(enc.features).to(embeds.device, embeds.dtype)
            embeds[0, where] = feats
        position_ids, next_position = self.positions(
            input_ids, enc, pooled=pool > 1, layout=pool_layout
        )
        return PreparedInput(input_ids, embeds, position_ids, tokens, next_position)

    @torch.no_grad()
    def layer_outputs(
        self, prepared: PreparedInput, state: ProbeState | None = None
    ) -> list[torch.Tensor]:
        """Output hidden states ``(L, hidden)`` of every decoder layer for the prompt."""
        outs: list[torch.Tensor] = []

        def keep(_module: nn.Module, _args: Any, output: Any) -> None:
            outs.append((output[0] if isinstance(output, tuple) else output)[0].detach())

        hooks = [layer.register_forward_hook(keep) for layer in self.language_model.layers]
        try:
            with probe_state(state or self.state(prepared)):
                self.language_model(
                    inputs_embeds=prepared.inputs_embeds,
                    position_ids=prepared.position_ids,
                    use_cache=False,
                )
            if state is not None:
                state.check_applied()
        finally:
            for h in hooks:
                h.remove()
        return outs

    def state(
        self,
        prepared: PreparedInput,
        mask: np.ndarray | None = None,
        mask_layers: frozenset[int] = frozenset(),
        recorder: Any = None,
    ) -> ProbeState:
        """A :class:`ProbeState` for ``prepared`` (``mask`` is an additive float ``(L, L)``).

        Raises :class:`InputError` when the state would change something but the language model
        does not run the probe attention function (masks and ``attn`` would silently do nothing).
        """
        m = None
        if mask is not None:
            # Kept on the host: each layer moves it to its own device (device_map) once.
            m = torch.from_numpy(mask)[None, None]
        state = ProbeState(
            layer_of=self.layer_of,
            prompt_len=len(prepared.tokens),
            mask=m,
            mask_layers=mask_layers,
            recorder=recorder,
        )
        if state.active:
            self.check_probe_attention()
        return state

    def check_probe_attention(self) -> None:
        """Raise unless the language model was loaded with the probe attention function."""
        impl = getattr(self.language_model.config, "_attn_implementation", None)
        if impl != ATTN_IMPLEMENTATION:
            raise InputError(
                f"the language model runs attn_implementation={impl!r}, which ignores probe masks "
                "and attention recording; load it with mimicgen.probes.adapters.load_adapter "
                f"(attn_implementation={{'text_config': '{ATTN_IMPLEMENTATION}'}})"
            )

    @torch.no_grad()
    def generate(
        self, prepared: PreparedInput, max_new_tokens: int, state: ProbeState | None = None
    ) -> list[int]:
        """Greedy decoding with a KV cache; stops at an end-of-sequence token."""
        from transformers import DynamicCache

        state = state or self.state(prepared)
        eos = self.eos_token_ids
        lm_head = self.model.lm_head
        cache = DynamicCache(config=self.model.config.get_text_config())
        out_ids: list[int] = []
        with probe_state(state):
            out = self.language_model(
                inputs_embeds=prepared.inputs_embeds,
                position_ids=prepared.position_ids,
                cache=cache,  # filled in place (transformers 5 renamed ``past_key_values``)
                use_cache=True,
            )
            state.check_applied()
            for step in range(max_new_tokens):
                nxt = int(lm_head(out.last_hidden_state[:, -1]).argmax(-1))
                if nxt in eos:
                    break
                out_ids.append(nxt)
                if step == max_new_tokens - 1:
                    break
                emb = self.language_model.embed_tokens(torch.tensor([[nxt]], device=self.device))
                out = self.language_model(
                    inputs_embeds=emb,
                    position_ids=self.decode_positions(prepared.next_position + step),
                    cache=cache,
                    use_cache=True,
                )
        return out_ids

    def decode_text(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()
