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

from mimicgen.probes.memory import PeakTensorBytes

__all__ = ["DeviceMixCheck", "DeviceMixError", "PeakTensorBytes"]


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
