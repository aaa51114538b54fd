"""``--shard i/n`` parsing shared by ``build`` and ``probe``."""

from __future__ import annotations

from mimicgen.errors import InputError

__all__ = ["parse_shard"]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; None when the option was not given."""
    if text is None:
        return None
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit()) or not 0 <= int(i) < int(n):
        raise InputError(f"--shard {text!r}: write i/n with 0 <= i < n, e.g. --shard 0/4")
    return int(i), int(n)
