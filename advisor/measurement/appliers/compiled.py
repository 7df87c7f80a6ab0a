"""``torch.compile`` (default mode, inductor backend): the first call compiles, inside the applier.

Compilation is slow (seconds to a minute on a small CPU) and paid once per input shape, so it is
timed here, recorded as ``compile_s``, and kept out of the measured latency.
"""

from __future__ import annotations

import copy
import time
import warnings
from typing import Any

from advisor.measurement.appliers.base import Applied, NotApplicable, no_grad_eval, register

__all__ = ["compiled"]


@register("torch-compile")
def compiled(model: Any, inputs: tuple[Any, ...], *, mode: str | None = None, backend: str = "inductor") -> Applied:
    """Wrap a copy of the model in ``torch.compile`` and run the compiling first call.

    Args:
        model: The user's model (not modified: a deep copy is compiled).
        inputs: Example inputs; the first call on them triggers compilation.
        mode: ``torch.compile`` mode (None is the default mode).
        backend: ``torch.compile`` backend.

    Raises:
        NotApplicable: ``torch.compile`` is missing or compilation fails (the reason is in the message).
    """
    import torch

    if not hasattr(torch, "compile"):
        raise NotApplicable(f"torch {torch.__version__} has no torch.compile (needs torch >= 2.0)")
    m = copy.deepcopy(model).eval()
    try:
        with warnings.catch_warnings():  # torch's own internals use deprecated torch.jit helpers
            warnings.simplefilter("ignore", DeprecationWarning)
            c = torch.compile(m, mode=mode, backend=backend)
            t0 = time.perf_counter()
            with no_grad_eval():  # the measured context: a different grad mode would recompile
                c(*inputs)
            compile_s = time.perf_counter() - t0
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotApplicable(f"torch.compile failed ({type(exc).__name__}: {first[:300]})") from exc
    settings = {
        "backend": backend,
        "mode": mode or "default",
        "compile_s": round(compile_s, 3),
        "compile_note": "compile_s is the first (compiling) call, done before measuring; "
        "a new input shape compiles again",
    }
    return Applied(c, inputs, no_grad_eval, settings)
