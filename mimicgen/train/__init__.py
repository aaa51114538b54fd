"""Training-time per-image attention masks and LoRA fine-tuning (``mimicgen finetune``).

Imports torch/transformers lazily per module: :mod:`spans` and :mod:`masks` need torch only,
:mod:`attention` and :mod:`data` need transformers, :mod:`loop` and :mod:`lora` need peft (the
``train`` extra); :mod:`settings` is pure Python; :mod:`measure` times one attention layer
(``mimicgen flops --measure``).
"""

from __future__ import annotations

__all__: list[str] = []
