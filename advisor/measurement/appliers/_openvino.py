"""OpenVINO: convert the model, compile it for the CPU (or an Intel GPU), and NNCF post-training int8.

``openvino-runtime`` is what a user gets from ``openvino.convert_model(model, example_input=...)``
and ``core.compile_model(m, "CPU")``: the runtime's default inference precision, which is bf16 on
CPUs with AVX-512 bf16 or AMX and fp32 elsewhere. ``openvino-runtime@fp32`` forces fp32. The
precision actually used is read back from the compiled model (``INFERENCE_PRECISION_HINT``) and
recorded. ``nncf-post-training-quantization`` quantizes the converted model to int8 with
``nncf.quantize`` over the calibration batches (the transformer preset for transformer models).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from advisor.measurement.appliers._deps import REQUIRES, need
from advisor.measurement.appliers.base import Applied, NotApplicable, register

__all__ = [
    "NNCF_ACCURACY_ID",
    "NNCF_ID",
    "NNCF_KEEP_FLOAT_ID",
    "NNCF_SENSITIVE_ID",
    "OvModel",
    "is_transformer",
    "nncf_int8",
    "nncf_int8_accuracy_control",
    "nncf_int8_ignore_sensitive",
    "nncf_int8_keep_float",
    "openvino_default",
    "openvino_fp32",
    "ov_op_names",
    "sensitive_scope",
]

_PURPOSE_OV = "The openvino-runtime applier"
_PURPOSE_NNCF = "The nncf-post-training-quantization applier"
REQUIRES["openvino-runtime"] = REQUIRES["openvino-runtime@fp32"] = ("openvino",)
REQUIRES["nncf-post-training-quantization"] = ("openvino", "nncf")


class OvModel:
    """An OpenVINO compiled model behind a torch-like call: tensors in, the original output type out.

    Attributes:
        compiled: The ``openvino.CompiledModel``.
        ov_model: The ``openvino.Model`` it was compiled from (kept for saving as IR).
        device: The OpenVINO device (``CPU``, ``GPU``).
        config: The ``compile_model`` configuration used.
        adapter: Rebuilds the original output type.
    """

    def __init__(self, compiled: Any, ov_model: Any, device: str, config: dict[str, str], adapter: Any) -> None:
        self.compiled = compiled
        self.ov_model = ov_model
        self.device = device
        self.config = config
        self.adapter = adapter

    def __call__(self, *args: Any) -> Any:
        """Run the compiled model on torch tensors; return the output on the inputs' device."""
        import torch

        feeds = [a.detach().cpu().numpy() for a in args]
        out = self.compiled(feeds)[self.compiled.output(0)]
        device = args[0].device if args and isinstance(args[0], torch.Tensor) else "cpu"
        return self.adapter(torch.from_numpy(out).to(device))

    def eval(self) -> OvModel:
        """No-op, so code that calls ``model.eval()`` keeps working."""
        return self


def is_transformer(model: Any) -> bool:
    """Whether the model has attention blocks (``nn.MultiheadAttention`` or a ``...Attention`` module)."""
    import torch

    return any(
        isinstance(m, torch.nn.MultiheadAttention) or type(m).__name__.endswith(("Attention", "SelfAttention"))
        for m in model.modules()
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the converters' and NNCF's progress bars, log lines and warnings."""
    root = logging.getLogger()
    level = root.level
    nncf_logger = logging.getLogger("nncf")
    nncf_level = nncf_logger.level
    root.setLevel(logging.ERROR)
    nncf_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
        nncf_logger.setLevel(nncf_level)


def _tensor_inputs(inputs: tuple[Any, ...]) -> None:
    import torch

    if not all(isinstance(x, torch.Tensor) for x in inputs):
        kinds = ", ".join(type(x).__name__ for x in inputs)
        raise NotApplicable(f"the OpenVINO conversion here takes tensor inputs only; got {kinds}")


def convert(model: Any, inputs: tuple[Any, ...]) -> tuple[Any, Any]:
    """``openvino.convert_model`` on a copy of ``model`` (HF models wrapped); returns (ov.Model, adapter).

    Raises:
        NotApplicable: Non-tensor inputs, or the conversion fails.
    """
    from advisor.measurement.appliers._hf import as_tensor_module

    ov = need("openvino", "openvino", _PURPOSE_OV)
    _tensor_inputs(inputs)
    m = copy.deepcopy(model).eval()
    cpu_inputs = tuple(x.cpu() for x in inputs)
    try:
        m = m.cpu()
        wrapped, adapter = as_tensor_module(m, cpu_inputs)
        with _quiet():
            ov_model = ov.convert_model(wrapped, example_input=cpu_inputs)
    except NotApplicable:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotApplicable(f"openvino.convert_model failed ({type(exc).__name__}: {first[:300]})") from exc
    return ov_model, adapter


def _device(core: Any) -> str:
    return "GPU" if any(d.startswith("GPU") for d in core.available_devices) else "CPU"


def compile_ov(ov_model: Any, adapter: Any, *, precision: str | None) -> tuple[OvModel, dict[str, Any]]:
    """Compile an ``openvino.Model``; ``precision`` None keeps the runtime's default, ``"f32"`` forces fp32."""
    ov = need("openvino", "openvino", _PURPOSE_OV)
    core = ov.Core()
    device = _device(core)
    config = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
    try:
        compiled = core.compile_model(ov_model, device, config)
    except Exception as exc:
        raise NotApplicable(f"OpenVINO could not compile for {device} ({type(exc).__name__}: {exc})") from exc
    used = compiled.get_property("INFERENCE_PRECISION_HINT")
    settings = {
        "openvino": ov.__version__.split("-")[0],
        "device": device,
        "available_devices": list(core.available_devices),
        "precision_requested": precision or "runtime default",
        "inference_precision": getattr(used, "type_name", None) or used.get_type_name(),
        "performance_hint": str(compiled.get_property("PERFORMANCE_HINT")),
        "inference_threads": int(compiled.get_property("INFERENCE_NUM_THREADS")),
        "input_shapes": [str(i.get_partial_shape()) for i in ov_model.inputs],
    }
    return OvModel(compiled, ov_model, device, config, adapter), settings


def _applied(model: Any, inputs: tuple[Any, ...], precision: str | None) -> Applied:
    ov_model, adapter = convert(model, inputs)
    wrapper, settings = compile_ov(ov_model, adapter, precision=precision)
    settings = {"converter": "openvino.convert_model(model, example_input=...)", **settings}
    return Applied(wrapper, inputs, contextlib.nullcontext, settings)


@register("openvino-runtime")
def openvino_default(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """Convert with ``openvino.convert_model`` and compile at the runtime's default precision.

    Raises:
        NotApplicable: openvino missing, non-tensor inputs, conversion or compilation fails.
    """
    return _applied(model, inputs, None)


@register("openvino-runtime@fp32")
def openvino_fp32(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """As ``openvino-runtime`` with ``INFERENCE_PRECISION_HINT=f32`` (no bf16 even where the CPU has it)."""
    return _applied(model, inputs, "f32")


NNCF_ID = "nncf-post-training-quantization"
NNCF_SENSITIVE_ID = f"{NNCF_ID}@ignore-sensitive"
NNCF_ACCURACY_ID = f"{NNCF_ID}@accuracy-control"
NNCF_KEEP_FLOAT_ID = f"{NNCF_ID}@keep-float-k"
REQUIRES[NNCF_SENSITIVE_ID] = REQUIRES[NNCF_ACCURACY_ID] = REQUIRES[NNCF_KEEP_FLOAT_ID] = ("openvino", "nncf")
_WEIGHTED_OPS = ("Convolution", "GroupConvolution", "MatMul")


def sensitive_scope(ov_model: Any, transformer: bool) -> dict[str, list[str]]:
    """OpenVINO op names to keep in floating point: first/last weighted ops, depthwise convs, softmax-fed matmuls."""
    ops = [op for op in ov_model.get_ordered_ops() if op.get_type_name() in _WEIGHTED_OPS]
    if not ops:
        return {"first_last": [], "depthwise": []}
    first_last = list(dict.fromkeys([ops[0].get_friendly_name(), ops[-1].get_friendly_name()]))
    depthwise = []
    for op in ops:
        shape = op.input(1).get_partial_shape()
        if op.get_type_name() == "GroupConvolution" and shape.rank.is_static and shape.rank.get_length() >= 3:
            dims = [d.get_length() if d.is_static else -1 for d in shape]
            if dims[1] == 1 and dims[2] == 1 and op.get_friendly_name() not in first_last:
                depthwise.append(op.get_friendly_name())  # [groups, out/groups = 1, in/groups = 1, kH, kW]
    groups = {"first_last": first_last, "depthwise": depthwise}
    if transformer:
        groups["attention matmuls after softmax"] = [
            op.get_friendly_name()
            for op in ops
            if op.get_type_name() == "MatMul"
            and any(op.input_value(i).get_node().get_type_name() == "Softmax" for i in range(op.get_input_size()))
        ]
    return groups


def _executed(model: Any, inputs: tuple[Any, ...]) -> list[tuple[str, Any]]:
    """The model's Conv/Linear modules in the order one forward pass runs them (each once)."""
    import torch

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)
    order: dict[str, Any] = {}

    def seen(name: str) -> Any:
        def hook(mod: Any, _args: Any) -> None:  # returns None: the inputs pass unchanged
            order.setdefault(name, mod)

        return hook

    handles = [m.register_forward_pre_hook(seen(n)) for n, m in model.named_modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return list(order.items())


def ov_op_names(ov_model: Any, model: Any, inputs: tuple[Any, ...], modules: list[str]) -> list[str]:
    """The OpenVINO op names of torch Conv/Linear ``modules`` (matched in execution order, kinds checked).

    The converter folds BatchNorm into the convolutions and renames them (``Multiply_123``), so the
    weighted ops are matched with the torch layers by position: the n-th Convolution/GroupConvolution/MatMul
    with a constant weight is the n-th Conv/Linear the forward pass runs.

    Raises:
        NotApplicable: The counts or kinds of weighted layers differ (the match would be a guess).
    """
    import torch

    ops = [
        op
        for op in ov_model.get_ordered_ops()
        if op.get_type_name() in _WEIGHTED_OPS and op.input_value(1).get_node().get_type_name() != "Parameter"
    ]
    layers = _executed(model, inputs)
    if len(ops) != len(layers):
        raise NotApplicable(
            f"cannot match the {len(layers)} torch Conv/Linear layers with the {len(ops)} weighted OpenVINO ops"
        )
    names = {}
    for (name, mod), op in zip(layers, ops, strict=True):
        kind = "MatMul" if isinstance(mod, torch.nn.Linear) else ("Convolution", "GroupConvolution")
        if op.get_type_name() not in kind:
            raise NotApplicable(f"torch layer {name} ({type(mod).__name__}) meets OpenVINO op {op.get_type_name()}")
        names[name] = op.get_friendly_name()
    return [names[n] for n in modules if n in names]


def _nncf(
    model: Any,
    inputs: tuple[Any, ...],
    calibration: Iterable[Any] | None,
    *,
    ignore_sensitive: bool = False,
    keep_float: list[str] | None = None,
    eval_fn: Any = None,
    max_drop_pp: float = 1.0,
) -> Applied:
    """NNCF int8 of the converted model; optionally with sensitive ops ignored or under accuracy control."""
    from advisor.measurement.appliers._calibration import calibration_batches
    from advisor.measurement.appliers._sensitive import reverted_text

    nncf = need("nncf", "openvino", _PURPOSE_NNCF)
    batches, note = calibration_batches(calibration, inputs)
    ov_model, adapter = convert(model, inputs)
    transformer = is_transformer(model)
    data = nncf.Dataset([[x.detach().cpu().numpy() for x in b] for b in batches])
    kwargs: dict[str, Any] = {"subset_size": len(batches)}
    if transformer:
        kwargs["model_type"] = nncf.ModelType.TRANSFORMER
    extra: dict[str, Any] = {}
    total = sum(1 for op in ov_model.get_ordered_ops() if op.get_type_name() in _WEIGHTED_OPS)
    if ignore_sensitive:
        groups = sensitive_scope(ov_model, transformer)
        names = [n for v in groups.values() for n in v]
        kwargs["ignored_scope"] = nncf.IgnoredScope(names=names, validate=False)
        extra = {
            "ignored_scope": f"{len(names)} ops (nncf.IgnoredScope(names=...))",
            "reverted": reverted_text(groups, total),
        }
    if keep_float:
        names = ov_op_names(ov_model, model, inputs, keep_float)
        kwargs["ignored_scope"] = nncf.IgnoredScope(names=names, validate=False)
        extra = {"ignored_scope": f"{len(names)} ops (nncf.IgnoredScope(names=...))"}
    try:
        with _quiet():
            if eval_fn is not None:
                quantized = _accuracy_control(
                    nncf, ov_model, adapter=adapter, data=data, kwargs=kwargs, eval_fn=eval_fn, max_drop_pp=max_drop_pp
                )
                extra = {
                    "accuracy_control": f"nncf.quantize_with_accuracy_control(max_drop={max_drop_pp:g}, "
                    "drop_type=ABSOLUTE) with your eval_fn"
                }
            else:
                quantized = nncf.quantize(ov_model, data, **kwargs)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotApplicable(f"nncf quantization failed ({type(exc).__name__}: {first[:300]})") from exc
    wrapper, settings = compile_ov(quantized, adapter, precision=None)
    fq = sum(1 for op in quantized.get_ops() if op.get_type_name() == "FakeQuantize")
    if eval_fn is not None:
        extra["reverted"] = f"fake-quantize nodes left: {fq} (nncf reverted the layers that cost accuracy to fp)"
    settings = {
        "converter": "openvino.convert_model(model, example_input=...)",
        "quantizer": f"nncf.quantize ({nncf.__version__}), int8 weights and activations",
        "model_type": "TRANSFORMER preset (attention blocks found)" if transformer else "default (no attention)",
        "fake_quantize_nodes": fq,
        "calibration_batches": len(batches),
        "calibration": note,
        **extra,
        **settings,
    }
    return Applied(wrapper, inputs, contextlib.nullcontext, settings)


def _accuracy_control(
    nncf: Any, ov_model: Any, *, adapter: Any, data: Any, kwargs: dict[str, Any], eval_fn: Any, max_drop_pp: float
) -> Any:
    """``nncf.quantize_with_accuracy_control`` whose validation calls the user's eval_fn on the compiled model."""

    def validate(compiled: Any, _items: Any) -> tuple[float, None]:
        return float(eval_fn(OvModel(compiled, ov_model, "CPU", {}, adapter))), None

    return nncf.quantize_with_accuracy_control(
        ov_model, data, data, validate, max_drop=max_drop_pp, drop_type=nncf.DropType.ABSOLUTE, **kwargs
    )


@register(NNCF_ID)
def nncf_int8(model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None) -> Applied:
    """Convert to OpenVINO, quantize with ``nncf.quantize`` (int8, calibrated), compile at the default precision.

    Args:
        model: The user's model (not modified).
        inputs: Example inputs; the calibration set when ``calibration`` is None (optimistic).
        calibration: Batches of inputs (each a tensor or a tuple of tensors) for the activation ranges.

    Raises:
        NotApplicable: openvino/nncf missing, conversion or quantization fails.
    """
    return _nncf(model, inputs, calibration)


@register(NNCF_SENSITIVE_ID)
def nncf_int8_ignore_sensitive(
    model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None
) -> Applied:
    """As ``nncf-post-training-quantization`` with the sensitive ops in ``nncf.IgnoredScope`` (a quality recovery).

    Kept in floating point: the first and last Convolution/MatMul, depthwise GroupConvolutions, and
    for transformers the attention MatMuls fed by Softmax (see :func:`sensitive_scope`).
    """
    return _nncf(model, inputs, calibration, ignore_sensitive=True)


@register(NNCF_KEEP_FLOAT_ID)
def nncf_int8_keep_float(model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None) -> Applied:
    """NNCF int8 with the k layers of largest own int8 error in ``nncf.IgnoredScope``, k grown until the gate holds.

    The search (:func:`advisor.measurement.appliers._sensitive.keep_float_search`) judges each k on the
    calibration batches only; the held-out inputs are scored by the measurement as for every variant.
    """
    from advisor.measurement.appliers._sensitive import keep_float_search

    def apply(m: Any, x: tuple[Any, ...], *, calibration: Any, keep_float: list[str]) -> Applied:
        return _nncf(m, x, calibration, keep_float=keep_float)

    return keep_float_search(apply, model, inputs, calibration)


@register(NNCF_ACCURACY_ID)
def nncf_int8_accuracy_control(
    model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None, eval_fn: Any = None
) -> Applied:
    """``nncf.quantize_with_accuracy_control`` with your eval_fn: NNCF reverts layers until the drop is <= 1 pp.

    Raises:
        NotApplicable: Without an eval_fn (accuracy control needs a metric), or as ``nncf-post-training-quantization``.
    """
    if eval_fn is None:
        raise NotApplicable("accuracy control needs eval_fn(model) -> accuracy in percent")
    return _nncf(model, inputs, calibration, eval_fn=eval_fn)
