"""Formats for other tools: lmms-eval, VLMEvalKit, Hugging Face datasets, FiftyOne."""
