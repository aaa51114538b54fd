"""Tiny random VLMs built from config objects, saved as real checkpoints (tests and demos).

Nothing is downloaded: the tokenizer is a small word-level ``tokenizers`` model with each family's
special tokens, the weights are random (seeded), and the folder is loaded back through the same
``from_pretrained`` path as a hub checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["FAMILIES", "build_tiny_model"]

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


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(_WORDS + _NUMBERS))}
    for s in _SPECIALS:
        vocab[s] = len(vocab)
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


def build_tiny_model(family: str, out: str | Path, layers: int = 4, seed: int = 0) -> Path:
    """Write a tiny random ``family`` checkpoint (model, tokenizer, image processor) to ``out``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    out = Path(out)
    tokenizer, vocab = _tokenizer()
    text = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "eos_token_id": vocab["<|im_end|>"],
        "bos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }
    torch.manual_seed(seed)
    if family in ("qwen2_vl", "qwen2_5_vl"):
        model, processor = _qwen(family, text, vocab)
    elif family == "llava_onevision":
        model, processor = _llava_onevision(text, vocab)
    else:
        model, processor = _internvl(text, vocab)
    model.generation_config.eos_token_id = vocab["<|im_end|>"]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def _qwen(family: str, text: dict, vocab: dict):
    rope = {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}
    ids = {
        "image_token_id": vocab["<|image_pad|>"],
        "video_token_id": vocab["<|video_pad|>"],
        "vision_start_token_id": vocab["<|vision_start|>"],
        "vision_end_token_id": vocab["<|vision_end|>"],
    }
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    # 14 px patches merged 2x2: a 56x56 image is 2x2 = 4 tokens; up to 112x112 px is kept.
    processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=112 * 112)
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        cfg = Qwen2VLConfig(
            text_config={**text, "rope_parameters": rope},
            vision_config={"depth": 2, "embed_dim": 32, "hidden_size": 32, "num_heads": 2},
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
            "out_hidden_size": 32,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        },
        **ids,
    )
    return Qwen2_5_VLForConditionalGeneration(cfg25), processor


def _llava_onevision(text: dict, vocab: dict):
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil,
    )

    # 28 px tower with 14 px patches: 2 x 2 grid + 1 newline = 5 tokens per image.
    pinpoints = [[28, 28], [28, 56], [56, 28], [56, 56]]
    cfg = LlavaOnevisionConfig(
        text_config={**text, "model_type": "qwen2"},
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
            "vision_use_head": False,
        },
        image_token_index=vocab["<image>"],
        video_token_index=vocab["<video>"],
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )
    processor = LlavaOnevisionImageProcessorPil(
        size={"height": 28, "width": 28}, image_grid_pinpoints=pinpoints
    )
    return LlavaOnevisionForConditionalGeneration(cfg), processor


def _internvl(text: dict, vocab: dict):
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
            "image_size": [56, 56],
            "patch_size": [14, 14],
        },
        image_token_id=vocab["<IMG_CONTEXT>"],
        downsample_ratio=0.5,
    )
    processor = GotOcr2ImageProcessorPil(size={"height": 56, "width": 56}, crop_to_patches=False)
    return InternVLForConditionalGeneration(cfg), processor
