"""Tiny random VLMs built from config objects, saved as real checkpoints (tests and demos).

Nothing is downloaded: the tokenizer is a small word-level ``tokenizers`` model with each family's
special tokens, the weights are random (seeded), and the folder is loaded back through the same
``from_pretrained`` path as a hub checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

__all__ = ["FAMILIES", "build_tiny_model", "chat_template", "family_token_ids", "tiny_tokenizer"]

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision", "internvl")

_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<image>",
    "<video>",
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
]
_WORDS = [
    "[UNK]",
    "system",
    "user",
    "assistant",
    "you",
    "are",
    "a",
    "helpful",
    "how",
    "many",
    "is",
    "there",
    "in",
    "the",
    "these",
    "images",
    "image",
    "which",
    "class",
    "what",
    "object",
    "appears",
    "all",
    "but",
    "one",
    "list",
    "every",
    "of",
    ",",
    ".",
    "?",
    ":",
    "and",
    "no",
    "none",
    "dog",
    "cat",
    "car",
    "person",
    "bus",
    "bird",
    "answer",
    "count",
    "number",
]
_NUMBERS = [str(i) for i in range(21)]


def tiny_tokenizer(size: int | None = None):
    """The word-level tokenizer with every family's special tokens, and its vocabulary.

    ``size`` pads the vocabulary with filler words ``w<id>`` up to that many ids (after the
    special tokens, whose ids stay put), so every id a model of that vocabulary size can emit
    decodes (engines such as vLLM refuse ids their tokenizer lacks).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(_WORDS + _NUMBERS))}
    for s in _SPECIALS:
        vocab[s] = len(vocab)
    vocab.update((f"w{i}", i) for i in range(len(vocab), size or 0))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=_SPECIALS,
    )
    return fast, vocab


_TEMPLATE_IMAGE = {
    "qwen2_vl": "<|vision_start|><|image_pad|><|vision_end|>",
    "qwen2_5_vl": "<|vision_start|><|image_pad|><|vision_end|>",
    "llava_onevision": "<image>\n",
    "internvl": "<IMG_CONTEXT>\n",
}
"""What each family's published chat template writes for one image."""


def chat_template(family: str) -> str:
    """A ChatML chat template in the form of the family's published ones (content lists with
    ``{"type": "image"}`` entries; default system message)."""
    image = _TEMPLATE_IMAGE[family].replace("\n", "\\n")
    return (
        "{% for message in messages %}"
        "{% if loop.first and message['role'] != 'system' %}"
        "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
        "{{ '<|im_start|>' + message['role'] + '\\n' }}"
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for content in message['content'] %}"
        f"{{% if content['type'] == 'image' %}}{{{{ '{image}' }}}}"
        "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
        "{% endfor %}{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )


def family_token_ids(family: str, vocab: dict[str, int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model config ids, text config ids)``: the family's image/video/vision-boundary token
    ids and the text model's eos/bos/pad ids in :func:`tiny_tokenizer`'s vocabulary."""
    text: dict[str, Any] = {
        "eos_token_id": vocab["<|im_end|>"],
        "bos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }
    top: dict[str, Any]
    if family in ("qwen2_vl", "qwen2_5_vl"):
        top = {
            "image_token_id": vocab["<|image_pad|>"],
            "video_token_id": vocab["<|video_pad|>"],
            "vision_start_token_id": vocab["<|vision_start|>"],
            "vision_end_token_id": vocab["<|vision_end|>"],
        }
    elif family == "llava_onevision":
        top = {"image_token_index": vocab["<image>"], "video_token_index": vocab["<video>"]}
    else:
        top = {"image_token_id": vocab["<IMG_CONTEXT>"]}
    return top, text


def build_tiny_model(
    family: str,
    out: str | Path,
    layers: int = 4,
    seed: int = 0,
    text: dict[str, Any] | None = None,
    vision: dict[str, Any] | None = None,
    image_px: int | None = None,
    dtype: torch.dtype | None = None,
    with_chat_template: bool = False,
) -> Path:
    """Write a tiny random ``family`` checkpoint (model, tokenizer, image processor) to ``out``.

    ``text`` / ``vision`` override the language / vision config values (e.g. ``hidden_size``,
    ``num_attention_heads``; vision ``depth`` or ``num_hidden_layers``) to build random models at
    larger shapes (the vision output width always follows the text ``hidden_size``); ``image_px``
    is the tower resolution (LLaVA-OneVision, InternVL) or Qwen's ``max_pixels`` side;
    ``with_chat_template`` ships :func:`chat_template` with the tokenizer.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    out = Path(out)
    tokenizer, vocab = tiny_tokenizer()
    text_cfg = {
        "vocab_size": len(vocab),
        **family_token_ids(family, vocab)[1],
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        **(text or {}),
    }
    torch.manual_seed(seed)
    vis = dict(vision or {})
    if family in ("qwen2_vl", "qwen2_5_vl"):
        model, processor = _qwen(family, text_cfg, vocab, vis, image_px)
    elif family == "llava_onevision":
        model, processor = _llava_onevision(text_cfg, vocab, vis, image_px)
    else:
        model, processor = _internvl(text_cfg, vocab, vis, image_px)
    if dtype is not None:
        model = model.to(dtype)
    model.generation_config.eos_token_id = vocab["<|im_end|>"]
    if with_chat_template:
        tokenizer.chat_template = chat_template(family)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def _qwen(family: str, text: dict, vocab: dict, vision: dict, image_px: int | None):
    rope = {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}
    ids = family_token_ids(family, vocab)[0]
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    # 14 px patches merged 2x2: a 56x56 image is 2x2 = 4 tokens; up to 112x112 px is kept.
    side = image_px or 112
    processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=side * side)
    hidden = text["hidden_size"]
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        cfg = Qwen2VLConfig(
            text_config={**text, "rope_parameters": rope},
            vision_config={
                "depth": 2,
                "embed_dim": 32,
                "num_heads": 2,
                **vision,
                "hidden_size": hidden,
            },
            **ids,
        )
        return Qwen2VLForConditionalGeneration(cfg), processor
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    cfg25 = Qwen2_5_VLConfig(
        text_config={**text, "rope_parameters": rope},
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
            **vision,
            "out_hidden_size": hidden,
        },
        **ids,
    )
    return Qwen2_5_VLForConditionalGeneration(cfg25), processor


def _llava_onevision(text: dict, vocab: dict, vision: dict, image_px: int | None):
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil,
    )

    # 28 px tower with 14 px patches: 2 x 2 grid + 1 newline = 5 tokens per image.
    px = image_px or 28
    pinpoints = [[px, px], [px, 2 * px], [2 * px, px], [2 * px, 2 * px]]
    cfg = LlavaOnevisionConfig(
        text_config={**text, "model_type": "qwen2"},
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": px,
            "patch_size": 14,
            "vision_use_head": False,
            **vision,
        },
        **family_token_ids("llava_onevision", vocab)[0],
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )
    processor = LlavaOnevisionImageProcessorPil(
        size={"height": px, "width": px}, image_grid_pinpoints=pinpoints
    )
    return LlavaOnevisionForConditionalGeneration(cfg), processor


def _internvl(text: dict, vocab: dict, vision: dict, image_px: int | None):
    from transformers import InternVLConfig, InternVLForConditionalGeneration
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    # 56 px tile, 14 px patches (4 x 4), pixel shuffle 0.5: 2 x 2 = 4 tokens per image.
    cfg = InternVLConfig(
        text_config={**text, "model_type": "qwen2"},
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": [image_px or 56, image_px or 56],
            "patch_size": [14, 14],
            **vision,
        },
        **family_token_ids("internvl", vocab)[0],
        downsample_ratio=0.5,
    )
    px = image_px or 56
    processor = GotOcr2ImageProcessorPil(size={"height": px, "width": px}, crop_to_patches=False)
    return InternVLForConditionalGeneration(cfg), processor
