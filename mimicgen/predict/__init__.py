"""``mimicgen predict``: predictions at scale from transformers, OpenAI-compatible servers or vLLM.

Pure-Python modules (importable without torch): ``prompts`` (prompt forms), ``common`` (queries,
settings, the output folder: rows, resume, manifest), ``runner`` (the loop and progress),
``openai_api`` (the ``openai`` backend, standard library HTTP) and ``vllm_engine`` (the ``vllm``
backend: pure argument builders; vLLM itself is imported only when it runs). ``hf`` imports torch
and transformers. See docs/predict.md.
"""

__all__: list[str] = []
