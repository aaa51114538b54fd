"""Answer balancing that is a pure function of the query number (so shards agree).

Query numbers are cut into blocks of ``n`` consecutive queries; inside each block the ``n``
values appear once each in a seeded random order. Any prefix of the queries is therefore
balanced to within one per value, and query q's value never depends on other queries.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["block_balanced_index"]

# Stream tag keeping balancing draws independent of the per-query sampling streams.
_BALANCE_STREAM = 0xBA1A


def block_balanced_index(seed: int, q: int, n: int, salt: int = 0) -> int:
    """Index in ``[0, n)`` for query ``q``; every block of ``n`` queries is a permutation."""
    if n <= 0:
        raise ValueError("cannot balance over an empty set")
    block, pos = divmod(q, n)
    return _block_permutation(seed, salt, block, n)[pos]


@lru_cache(maxsize=1024)
def _block_permutation(seed: int, salt: int, block: int, n: int) -> tuple[int, ...]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, _BALANCE_STREAM, salt, block]))
    return tuple(rng.permutation(n).tolist())
