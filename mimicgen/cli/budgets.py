"""``--max-new-tokens TASK=N`` (or ``N`` for every task), shared by ``probe`` and ``predict``."""

from __future__ import annotations

from mimicgen.errors import InputError
from mimicgen.predict.common import DEFAULT_MAX_NEW_TOKENS

__all__ = ["parse_budgets"]


def parse_budgets(values: list[str]) -> dict[str, int]:
    """Per-task generation budgets: the defaults, changed by each ``TASK=N`` / ``N`` value."""
    budgets = dict(DEFAULT_MAX_NEW_TOKENS)
    for v in values:
        task, _, num = v.rpartition("=")
        if not num.isdigit() or int(num) < 1:
            raise InputError(f"--max-new-tokens {v!r}: use TASK=N or N (N >= 1)")
        if task:
            budgets[task] = int(num)
        else:
            budgets = {k: int(num) for k in budgets}
    return budgets
