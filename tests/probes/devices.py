"""A CPU-only stand-in for CUDA's device rule: every op's tensors must share one device.

CUDA kernels refuse a CPU tensor next to a CUDA one (0-dim CPU scalars excepted); the ``meta``
device does not check, so on a CPU-only machine device mixing goes unnoticed. Inside
:class:`DeviceMixCheck` every dispatched op whose tensor arguments span more than one device
raises, so code that runs under it with ``meta`` inputs would not mix devices on a GPU either.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class DeviceMixError(RuntimeError):
    pass


class DeviceMixCheck(TorchDispatchMode):
    """Raise :class:`DeviceMixError` on any op that mixes devices (0-dim CPU scalars allowed)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        devices = {
            t.device
            for t in flat
            if isinstance(t, torch.Tensor) and not (t.device.type == "cpu" and t.dim() == 0)
        }
        if len(devices) > 1:
            raise DeviceMixError(f"{func} mixes devices {sorted(map(str, devices))}")
        return func(*args, **kwargs)


class PeakTensorBytes(TorchDispatchMode):
    """Peak bytes of live tensor storage created by ops inside the block (exact, deterministic).

    Each op output's storage is counted while any tensor created on it is alive (views share
    their base's storage); the memory a kernel uses internally during one op is not seen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage ptr -> [bytes, tensors alive]
        self.now = 0
        self.peak = 0

    def _release(self, ptr: int) -> None:
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.now -= entry[0]
            del self.live[ptr]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        import weakref

        out = func(*args, **(kwargs or {}))
        flat, _ = tree_flatten(out)
        for t in flat:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in self.live:
                self.live[ptr] = [storage.nbytes(), 0]
                self.now += storage.nbytes()
                self.peak = max(self.peak, self.now)
            self.live[ptr][1] += 1
            weakref.finalize(t, self._release, ptr)
        return out
