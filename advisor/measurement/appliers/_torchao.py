"""torchao: int8 dynamic-activation/int8-weight and int8 weight-only (``quantize_``), and PT2E static int8.

Each is followed by ``torch.compile``, as torchao's own recipes do: without compilation the
quantized tensor subclasses run through slow reference paths. PT2E static quantization exports
the model (``torch.export``), inserts observers with the ``X86InductorQuantizer`` (now in
``torchao.quantization.pt2e``; ``torch.ao.quantization.quantizer`` is gone from current torch),
calibrates them, converts, and compiles with Inductor's freezing on so the int8 kernels get
prepacked weights.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from advisor.measurement.appliers._deps import REQUIRES, need
from advisor.measurement.appliers.base import Applied, NotApplicable, no_grad_eval, register

__all__ = [
    "PT2E_ID",
    "PT2E_KEEP_FLOAT_ID",
    "PT2E_SENSITIVE_ID",
    "TORCHAO_DYNAMIC_ID",
    "TORCHAO_WEIGHT_ONLY_ID",
    "pt2e_x86",
    "pt2e_x86_ignore_sensitive",
    "pt2e_x86_keep_float",
    "torchao_int8_dynamic",
    "torchao_int8_weight_only",
]

TORCHAO_DYNAMIC_ID = "torchao-int8-dynamic-quantization"
TORCHAO_WEIGHT_ONLY_ID = "torchao-int8-weight-only-quantization"
PT2E_ID = "pt2e-x86-static-quantization"
PT2E_SENSITIVE_ID = f"{PT2E_ID}@ignore-sensitive"
PT2E_KEEP_FLOAT_ID = f"{PT2E_ID}@keep-float-k"
for _id in (TORCHAO_DYNAMIC_ID, TORCHAO_WEIGHT_ONLY_ID, PT2E_ID, PT2E_SENSITIVE_ID, PT2E_KEEP_FLOAT_ID):
    REQUIRES[_id] = ("torchao",)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torchao: it warns about optional CUDA kernels and deprecations (not the user's concern)."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _torchao(purpose: str) -> Any:
    with _quiet():
        return need("torchao", "torchao", purpose)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _quantize(model: Any, inputs: tuple[Any, ...], config_name: str, variant: str, compile: bool) -> Applied:
    import torch

    ao = _torchao(f"The {variant} applier")
    linears = sum(1 for m in model.modules() if isinstance(m, torch.nn.Linear))
    if not linears:
        raise NotApplicable("the model has no nn.Linear layer: torchao's int8 configs quantize Linear weights only")
    with _quiet():
        from torchao import quantization as q

        config = getattr(q, config_name)()
        m = copy.deepcopy(model).eval()
        try:
            q.quantize_(m, config)
        except Exception as exc:
            raise NotApplicable(f"torchao quantize_ failed ({type(exc).__name__}: {_first_line(exc)})") from exc
    settings: dict[str, Any] = {
        "library": f"torchao {ao.__version__}",
        "call": f"torchao.quantization.quantize_(model, {config_name}())",
        "linear_layers": linears,
    }
    if not compile:
        return Applied(m, inputs, no_grad_eval, {**settings, "compiled": False})
    from advisor.measurement.appliers.compiled import compile_module

    with _quiet():
        c, csettings = compile_module(m, inputs)
    return Applied(c, inputs, no_grad_eval, {**settings, **csettings}, eager=m)


@register(TORCHAO_DYNAMIC_ID)
def torchao_int8_dynamic(model: Any, inputs: tuple[Any, ...], *, compile: bool = True) -> Applied:
    """int8 dynamic activations, int8 weights on every ``nn.Linear`` (``Int8DynamicActivationInt8WeightConfig``).

    Args:
        model: The user's model (not modified: a copy is quantized).
        inputs: Example inputs (the compiling first call).
        compile: Follow with ``torch.compile`` (as torchao recommends; False only for quick checks).

    Raises:
        NotApplicable: torchao missing, no Linear layer, quantization or compilation fails.
    """
    return _quantize(model, inputs, "Int8DynamicActivationInt8WeightConfig", TORCHAO_DYNAMIC_ID, compile)


@register(TORCHAO_WEIGHT_ONLY_ID)
def torchao_int8_weight_only(model: Any, inputs: tuple[Any, ...], *, compile: bool = True) -> Applied:
    """int8 weights, fp32 activations on every ``nn.Linear`` (``Int8WeightOnlyConfig``), then ``torch.compile``."""
    return _quantize(model, inputs, "Int8WeightOnlyConfig", TORCHAO_WEIGHT_ONLY_ID, compile)


def _prepare_convert(
    exported: Any, wrapped: Any, inputs: tuple[Any, ...], batches: list[Any], keep_float: list[str] | None = None
) -> tuple[Any, str]:
    """Observers, calibration, conversion; on the decomposed graph when the annotator fails on the raw one.

    The X86 annotator fails on some graphs (e.g. Linear followed by GELU in BERT: ``IndexError`` in
    ``_annotate_linear_unary``); the same graph after ``run_decompositions({})`` quantizes.
    """
    import torch
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    def run(graph: Any) -> Any:
        quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
        for name in keep_float or []:
            quantizer.set_module_name_qconfig(name, None)
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for batch in batches:
                prepared(*batch)
        return convert_pt2e(prepared)

    try:
        return run(exported), "torch.export.export(model, example_inputs).module()"
    except Exception as first:  # noqa: BLE001 - retried on the decomposed graph below
        try:
            graph = torch.export.export(wrapped, tuple(inputs)).run_decompositions({}).module()
            note = (
                f"torch.export + run_decompositions({{}}): the annotator failed on the raw graph "
                f"({type(first).__name__}: {_first_line(first)})"
            )
            return run(graph), note
        except Exception as exc:
            raise NotApplicable(f"PT2E quantization failed ({type(exc).__name__}: {_first_line(exc)})") from exc


@register(PT2E_ID)
def pt2e_x86(
    model: Any,
    inputs: tuple[Any, ...],
    *,
    calibration: Iterable[Any] | None = None,
    compile: bool = True,
    keep_float: list[str] | None = None,
) -> Applied:
    """PT2E static int8: export, ``X86InductorQuantizer`` observers, calibrate, convert, compile (freezing on).

    Args:
        model: The user's model (not modified).
        inputs: Example inputs; the calibration set when ``calibration`` is None (optimistic).
        calibration: Batches of inputs (each a tensor or a tuple of tensors).
        compile: Follow with ``torch.compile`` (False only for quick checks: the reference int8 graph is slow).
        keep_float: Names of modules (of the exported module) left in floating point.

    Raises:
        NotApplicable: torchao missing, no Conv/Linear layer, export or quantization fails.
    """
    import torch

    from advisor.measurement.appliers._calibration import calibration_batches
    from advisor.measurement.appliers._hf import Adapted, as_tensor_module
    from advisor.measurement.appliers.inference import model_device_type

    ao = _torchao(f"The {PT2E_ID} applier")
    device = model_device_type(model)
    if device != "cpu":
        raise NotApplicable(f"the X86InductorQuantizer makes int8 kernels for x86 CPUs; the model is on {device}")
    kinds = (torch.nn.Conv2d, torch.nn.Linear)
    if not any(isinstance(m, kinds) for m in model.modules()):
        raise NotApplicable("the model has no Conv2d/Linear layer for the X86InductorQuantizer to quantize")
    batches, note = calibration_batches(calibration, inputs)
    with _quiet():
        own = copy.deepcopy(model).eval()
        wrapped, adapter = as_tensor_module(own, inputs)
        prefix = "" if wrapped is own else "inner."  # a wrapper (TensorOut) holds the model as .inner
        try:
            exported = torch.export.export(wrapped, tuple(inputs)).module()
        except Exception as exc:
            raise NotApplicable(f"torch.export failed ({type(exc).__name__}: {_first_line(exc)})") from exc
        names = [f"{prefix}{n}" for n in keep_float or []] if keep_float else None
        converted, export_note = _prepare_convert(exported, wrapped, inputs, batches, names)
    dq = [str(n.target) for n in converted.graph.nodes if n.op == "call_function"]
    settings: dict[str, Any] = {
        "library": f"torchao {ao.__version__}",
        "quantizer": "X86InductorQuantizer, default config (int8 per-channel weights, uint8 per-tensor activations)",
        "flow": "torch.export -> prepare_pt2e -> calibrate -> convert_pt2e",
        "export": export_note,
        "quantized_weights": sum("dequantize_per_channel" in t for t in dq),
        "calibration_batches": len(batches),
        "calibration": note,
    }
    if not compile:
        return Applied(
            Adapted(converted, adapter), inputs, no_grad_eval, {**settings, "compiled": False}, eager=converted
        )
    from advisor.measurement.appliers.compiled import compile_module

    with _quiet():
        c, csettings = compile_module(converted, inputs, inductor_options={"freezing": True})
    return Applied(Adapted(c, adapter), inputs, no_grad_eval, {**settings, **csettings}, eager=converted)


@register(PT2E_SENSITIVE_ID)
def pt2e_x86_ignore_sensitive(
    model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None
) -> Applied:
    """PT2E static int8 with the first/last weighted layers and depthwise convs left in fp32 (a quality recovery)."""
    from advisor.measurement.appliers._sensitive import keep_sensitive_float

    return keep_sensitive_float(pt2e_x86, model, inputs, calibration)


@register(PT2E_KEEP_FLOAT_ID)
def pt2e_x86_keep_float(model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None) -> Applied:
    """PT2E static int8 with the k layers of largest own int8 error left in fp32, k grown until the gate holds.

    Each k is judged on the uncompiled converted graph (compiling every k would cost minutes); the one
    chosen is compiled as ``pt2e-x86-static-quantization`` is.
    """
    from advisor.measurement.appliers._sensitive import keep_float_search

    def search_step(m: Any, x: tuple[Any, ...], *, calibration: Any, keep_float: list[str]) -> Applied:
        return pt2e_x86(m, x, calibration=calibration, compile=False, keep_float=keep_float)

    found = keep_float_search(search_step, model, inputs, calibration)
    final = pt2e_x86(model, inputs, calibration=calibration, keep_float=found.settings["kept_float"])
    keep = ("kept_float", "k", "search", "search_passed", "ranking", "reverted")
    final.settings |= {key: found.settings[key] for key in keep}
    return final
