"""``torch.compile`` (default mode, inductor backend): the first call compiles, inside the applier.

Compilation is slow (seconds to a minute on a small CPU) and paid once per input shape, so it is
timed here, recorded as ``compile_s``, and kept out of the measured latency.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from collections.abc import Callable
from typing import Any

from advisor.measurement.appliers.base import Applied, NotApplicable, no_grad_eval, register

__all__ = ["compile_module", "compiled"]

_NOTE = "compile_s is the first (compiling) call, done before measuring; a new input shape compiles again"


def compile_module(
    m: Any,
    inputs: tuple[Any, ...],
    *,
    context: Callable[[], contextlib.AbstractContextManager[Any]] = no_grad_eval,
    mode: str | None = None,
    backend: str = "inductor",
    inductor_options: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """``torch.compile`` the module ``m`` (in place: pass a copy) and run the compiling first call.

    Args:
        m: The module to compile.
        inputs: Inputs of the first (compiling) call.
        context: The context the variant is measured in: a different one would recompile.
        mode: ``torch.compile`` mode (None is the default mode).
        backend: ``torch.compile`` backend.
        inductor_options: ``torch._inductor.config`` values patched during compilation (e.g. ``freezing``).

    Raises:
        NotApplicable: ``torch.compile`` is missing or compilation fails (the reason is in the message).
    """
    import torch

    if not hasattr(torch, "compile"):
        raise NotApplicable(f"torch {torch.__version__} has no torch.compile (needs torch >= 2.0)")
    try:
        with warnings.catch_warnings():  # torch's own internals use deprecated torch.jit helpers
            warnings.simplefilter("ignore", DeprecationWarning)
            c = torch.compile(m, mode=mode, backend=backend)
            patch = torch._inductor.config.patch(inductor_options) if inductor_options else contextlib.nullcontext()
            t0 = time.perf_counter()
            with patch, context():  # the measured context: a different grad mode or autocast would recompile
                c(*inputs)
            compile_s = time.perf_counter() - t0
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotApplicable(f"torch.compile failed ({type(exc).__name__}: {first[:300]})") from exc
    settings: dict[str, Any] = {"backend": backend, "mode": mode or "default", "compile_s": round(compile_s, 3)}
    if inductor_options:
        settings["inductor_options"] = dict(inductor_options)
    settings["compile_note"] = _NOTE
    return c, settings


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
    m = copy.deepcopy(model).eval()
    c, settings = compile_module(m, inputs, mode=mode, backend=backend)
    return Applied(c, inputs, no_grad_eval, settings, eager=m)
