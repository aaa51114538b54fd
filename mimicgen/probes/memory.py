"""Peak live tensor memory of a block of torch code, exact and deterministic (also on ``meta``).

Used to check and benchmark the ``attn`` probe's memory bound at real shapes without the memory:
on the ``meta`` device tensors have sizes but no data, and this meter counts them all the same.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["PeakTensorBytes"]


class PeakTensorBytes(TorchDispatchMode):
    """Peak bytes of live tensor storage created by ops inside the block.

    Each op output's storage is counted while any tensor created on it is alive (views share
    their base's storage; storages are told apart by their implementation, so ``meta`` tensors,
    which have no data pointer, count too); the memory a kernel uses internally during one op
    is not seen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage impl -> [bytes, tensors alive]
        self.now = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.now -= entry[0]
            del self.live[key]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        flat, _ = tree_flatten(out)
        for t in flat:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = int(storage._cdata)
            if key not in self.live:
                self.live[key] = [storage.nbytes(), 0]
                self.now += storage.nbytes()
                self.peak = max(self.peak, self.now)
            self.live[key][1] += 1
            weakref.finalize(t, self._release, key)
        return out


def recorded_attention_peak(
    seq_len: int,
    heads: int,
    head_dim: int,
    images: int,
    tokens_per_image: int,
    chunk_bytes: int | None = None,
    device: str = "meta",
    dtype: torch.dtype = torch.bfloat16,
) -> int:
    """Peak live tensor bytes of one ``attn``-recorded prompt forward of one decoder layer.

    The prompt holds ``images`` square images of ``tokens_per_image`` tokens after 32 text
    tokens; query, key and value are ``(1, heads, seq_len, head_dim)`` in ``dtype`` (counted:
    ``3 x`` their size, plus the output). ``chunk_bytes`` is the recorder's budget (default
    :data:`~mimicgen.probes.attention.CHUNK_BYTES`; a huge value is the dense path: all rows in
    one chunk). On ``meta`` no memory is used and no arithmetic is done.
    """
    import numpy as np

    from mimicgen.probes.attention import (
        CHUNK_BYTES,
        AttentionRecorder,
        ProbeState,
        probe_attention_forward,
        probe_state,
    )
    from mimicgen.probes.tokens import grid_cells, token_map_from_ids

    side = round(tokens_per_image**0.5)
    if side * side != tokens_per_image or 32 + images * tokens_per_image > seq_len:
        raise ValueError("need square images that fit in seq_len after 32 text tokens")
    ids = np.ones(seq_len, dtype=np.int64)
    ids[32 : 32 + images * tokens_per_image] = 7
    tokens = token_map_from_ids(ids, 7, [grid_cells(side, side)] * images, [(side, side)] * images)
    module = torch.nn.Module()
    state = ProbeState({id(module): 0}, seq_len, recorder=AttentionRecorder(tokens, 1))
    state.chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    with torch.no_grad(), PeakTensorBytes() as meter:
        q, k, v = (
            torch.randn(1, heads, seq_len, head_dim, device=device, dtype=dtype) for _ in "qkv"
        )
        with probe_state(state):
            probe_attention_forward(module, q, k, v, None)
    return meter.peak
