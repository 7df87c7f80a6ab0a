"""Peak memory of one call (a training step): live tensor bytes, counted rather than sampled.

On CUDA the caching allocator keeps exact statistics: the figure is
``torch.cuda.max_memory_allocated()`` over the call minus what was allocated before it
(method ``cuda-max-allocated``).

On CPU there are no allocator statistics and the process RSS is a poor proxy (glibc keeps freed
memory, the mmap threshold moves, other threads allocate). Instead a ``TorchDispatchMode`` sees
every tensor an operator returns during the call, adds the bytes of each *new* storage (not a view
of, or an in-place write to, an input) and subtracts them when the storage is freed (a weak
reference callback). The peak of that running sum is the peak of tensor memory the call allocated
on top of what was alive before it: activations, gradients, optimizer state and temporaries
(method ``tensor-accounting``). It ignores allocator overhead and non-tensor memory, and the
call runs slower while counted, so it is measured on one separate call, never while timing.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["StorageTracker", "peak_call_memory_mib"]


def _dispatch_mode_base() -> type:
    from torch.utils._python_dispatch import TorchDispatchMode

    return TorchDispatchMode


class StorageTracker:
    """A context manager counting live bytes of tensor storages created inside it.

    Attributes:
        current_bytes: Bytes created inside the block and still alive. Units: bytes.
        peak_bytes: Highest ``current_bytes`` seen. Units: bytes.
    """

    def __init__(self) -> None:
        self.current_bytes = 0
        self.peak_bytes = 0
        self._live: dict[int, Any] = {}
        self._mode: Any = None

    def _freed(self, key: int, nbytes: int) -> None:
        if self._live.pop(key, None) is not None:
            self.current_bytes -= nbytes

    def _seen(self, out: Any, args: Any) -> None:
        import torch
        from torch.utils._pytree import tree_leaves

        plain = (torch.Tensor, torch.nn.Parameter)
        inputs = {a.untyped_storage()._cdata for a in tree_leaves(args) if type(a) in plain}
        for t in tree_leaves(out):
            if type(t) not in plain:
                continue  # tensor subclasses (fakes, quantized wrappers) have no plain storage to count
            st = t.untyped_storage()
            key = st._cdata
            if key in self._live or key in inputs:
                continue
            nbytes = st.nbytes()
            self._live[key] = weakref.ref(st, lambda _r, k=key, n=nbytes: self._freed(k, n))
            self.current_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.current_bytes)

    def __enter__(self) -> StorageTracker:
        tracker = self

        class _Mode(_dispatch_mode_base()):  # type: ignore[misc]
            def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                tracker._seen(out, (args, kwargs))
                return out

        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode.__exit__(*exc)
        self._mode = None


def peak_call_memory_mib(fn: Callable[[], Any], device: Any = None) -> tuple[float, str]:
    """Peak memory one call of ``fn`` allocates above what was alive before it.

    Args:
        fn: The call (e.g. one training step).
        device: The ``torch.device`` the work runs on (None or cpu: tensor accounting).

    Returns:
        (peak in MiB, method label: ``cuda-max-allocated`` or ``tensor-accounting``).
    """
    import torch

    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20, "cuda-max-allocated"
    with StorageTracker() as tracker:
        fn()
    return tracker.peak_bytes / 2**20, "tensor-accounting"
