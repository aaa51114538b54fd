"""Builders: eval sets (``eval_set``) and training sets (``training``) sampled from task specs,
with their images, statistics and multiple-choice options. Formats for other tools live in
:mod:`mimicgen.export`; the eval-set folder format and its reader in :mod:`mimicgen.bench`."""

__all__: list[str] = []
