"""Export to ONNX and run with ONNX Runtime (fp32, and an int8 variant quantized by ORT itself).

The export uses the TorchScript-based exporter (``dynamo=False``), which needs only ``onnx``; the
newer dynamo exporter would also need ``onnxscript``. The batch dimension is exported as dynamic.
The transformed model is an :class:`OrtModel`: it takes and returns torch tensors, so fidelity and
a user's ``eval_fn`` work on it unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from advisor.measurement.appliers._deps import REQUIRES, need
from advisor.measurement.appliers.base import Applied, NotApplicable, register

__all__ = [
    "INT8_OP_TYPES",
    "INT8_VARIANT",
    "STATIC_INT8_VARIANT",
    "OrtModel",
    "ort_fp32",
    "ort_int8",
    "ort_static_int8",
]

INT8_VARIANT = "onnx-runtime-inference+int8"
STATIC_INT8_VARIANT = "onnx-runtime-inference+static-int8"
INT8_OP_TYPES = ("MatMul", "Gemm")
_PURPOSE = "The onnx-runtime-inference applier"
REQUIRES["onnx-runtime-inference"] = REQUIRES[INT8_VARIANT] = REQUIRES[STATIC_INT8_VARIANT] = ("onnx", "onnxruntime")


class OrtModel:
    """An ``onnxruntime.InferenceSession`` behind a torch-like call: tensors in, tensors out.

    Attributes:
        session: The ONNX Runtime session.
        input_names: Names of the graph inputs, in ``forward``'s order.
        onnx_bytes: Size of the serialized model. Units: bytes.
        model_bytes: The serialized ONNX model the session runs (for saving).
        adapter: Rebuilds the original output type (e.g. a ``ModelOutput`` with ``logits``).
    """

    def __init__(
        self, session: Any, input_names: list[str], onnx_bytes: int, model_bytes: bytes = b"", adapter: Any = None
    ) -> None:
        self.session = session
        self.input_names = input_names
        self.onnx_bytes = onnx_bytes
        self.model_bytes = model_bytes
        self.adapter = adapter

    def __call__(self, *args: Any) -> Any:
        """Run the session on torch tensors; return a tensor (or a tuple for several outputs)."""
        import torch

        feeds = {n: a.detach().cpu().numpy() for n, a in zip(self.input_names, args, strict=True)}
        device = args[0].device if args else "cpu"
        outs = [torch.from_numpy(o).to(device) for o in self.session.run(None, feeds)]
        out = outs[0] if len(outs) == 1 else tuple(outs)
        return self.adapter(out) if self.adapter is not None and len(outs) == 1 else out

    def eval(self) -> OrtModel:
        """No-op, so code that calls ``model.eval()`` keeps working."""
        return self


def _providers(ort: Any) -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def _export(model: Any, inputs: tuple[Any, ...], path: Path) -> list[str]:
    import torch

    need("onnx", "onnx", _PURPOSE)
    if not all(isinstance(x, torch.Tensor) for x in inputs):
        kinds = ", ".join(type(x).__name__ for x in inputs)
        raise NotApplicable(f"the ONNX export here takes tensor inputs only; got {kinds}")
    names = [f"input_{i}" for i in range(len(inputs))]
    dynamic = {n: {0: "batch"} for n, x in zip(names, inputs, strict=True) if x.dim() > 0}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated in favour of dynamo's
            torch.onnx.export(
                model, inputs, str(path), dynamo=False, input_names=names, dynamic_axes=dynamic, opset_version=17
            )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotApplicable(f"torch.onnx.export failed ({type(exc).__name__}: {first[:300]})") from exc
    return names


def _session(ort: Any, path: Path, threads: int | None) -> Any:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    # ORT's worker threads spin after each call (~45 ms of CPU per 100 ms idle here): in interleaved rounds they
    # would run into the next variant's block; without spinning ORT's own latency was unchanged (0.54 vs 0.57 ms)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=_providers(ort))


@contextlib.contextmanager
def _quiet_quant() -> Iterator[None]:
    """ORT's quantizer logs hints on the root logger and warns: silenced."""
    import logging

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().setLevel(level)


def _quantize_dynamic(path: Path, int8_ops: tuple[str, ...]) -> tuple[Path, dict[str, Any]]:
    onnx = need("onnx", "onnx", _PURPOSE)
    present = sorted({n.op_type for n in onnx.load(str(path)).graph.node} & set(int8_ops))
    if not present:
        raise NotApplicable(f"the exported graph has no {'/'.join(int8_ops)} node to quantize")
    quant = need("onnxruntime.quantization", "onnx", _PURPOSE)
    qpath = path.with_suffix(".int8.onnx")
    with _quiet_quant():
        quant.quantize_dynamic(
            str(path), str(qpath), weight_type=quant.QuantType.QInt8, op_types_to_quantize=list(int8_ops)
        )
    return qpath, {
        "quantization": "onnxruntime.quantization.quantize_dynamic (int8 weights, dynamic activation scales)",
        "quantized_op_types": present,
        "onnx_int8_bytes": qpath.stat().st_size,
    }


class _Reader:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over input batches."""

    def __init__(self, names: list[str], batches: list[tuple[Any, ...]]) -> None:
        self._feeds = iter([{n: x.detach().cpu().numpy() for n, x in zip(names, b, strict=True)} for b in batches])

    def get_next(self) -> dict[str, Any] | None:
        return next(self._feeds, None)


def _quantize_static(path: Path, names: list[str], batches: list[tuple[Any, ...]]) -> tuple[Path, dict[str, Any]]:
    quant = need("onnxruntime.quantization", "onnx", _PURPOSE)
    src, pre = path, "none (pre-processing failed)"
    with _quiet_quant():
        try:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            prepped = path.with_suffix(".pre.onnx")
            quant_pre_process(str(path), str(prepped))
            src, pre = prepped, "quant_pre_process (shape inference, graph optimization)"
        except Exception as exc:  # noqa: BLE001 - pre-processing is an optimisation; quantization works without it
            pre = f"none (quant_pre_process failed: {type(exc).__name__})"
        qpath = path.with_suffix(".qdq.onnx")
        try:
            quant.quantize_static(
                str(src),
                str(qpath),
                _Reader(names, batches),
                quant_format=quant.QuantFormat.QDQ,
                per_channel=True,
                activation_type=quant.QuantType.QInt8,
                weight_type=quant.QuantType.QInt8,
            )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise NotApplicable(f"onnxruntime quantize_static failed ({type(exc).__name__}: {first[:300]})") from exc
    return qpath, {
        "quantization": "onnxruntime.quantization.quantize_static, QDQ format, int8 activations "
        "(calibrated, MinMax) and int8 per-channel weights",
        "pre_processing": pre,
        "onnx_int8_bytes": qpath.stat().st_size,
    }


def _applied(
    model: Any, inputs: tuple[Any, ...], *, int8_ops: tuple[str, ...] = (), static_batches: list[Any] | None = None
) -> Applied:
    import torch

    from advisor.measurement.appliers._hf import as_tensor_module

    ort = need("onnxruntime", "onnx", _PURPOSE)
    m = copy.deepcopy(model).eval()  # export traces a copy in eval mode: never the user's model
    wrapped, adapter = as_tensor_module(m, inputs)  # HF models: inputs by name, the main tensor out
    with tempfile.TemporaryDirectory(prefix="green-advisor-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        names = _export(wrapped, inputs, path)  # grad mode on: no_grad would trace fused fast paths ONNX lacks
        settings: dict[str, Any] = {
            "exporter": "torch.onnx.export (TorchScript, dynamo=False)",
            "opset": 17,
            "dynamic_axes": "batch (dim 0)",
            "onnx_bytes": path.stat().st_size,
        }
        if wrapped is not m:
            settings["wrapper"] = f"inputs passed by name, output {adapter.field or 'tensor'} returned"
        if int8_ops:
            path, extra = _quantize_dynamic(path, int8_ops)
            settings |= extra
        elif static_batches is not None:
            path, extra = _quantize_static(path, names, static_batches)
            settings |= extra
        try:
            session = _session(ort, path, torch.get_num_threads())
        except Exception as exc:
            raise NotApplicable(f"onnxruntime could not load the exported model ({type(exc).__name__}: {exc})") from exc
        model_bytes = path.read_bytes()
    settings |= {
        "providers": session.get_providers(),
        "onnxruntime": ort.__version__,
        "graph_optimization": "ORT_ENABLE_ALL",
        "intra_op_threads": torch.get_num_threads(),
        "allow_spinning": "0 (idle workers would burn CPU into the next measured block)",
    }
    wrapper = OrtModel(session, names, len(model_bytes), model_bytes, adapter)
    return Applied(wrapper, inputs, contextlib.nullcontext, settings)


@register("onnx-runtime-inference")
def ort_fp32(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """Export to ONNX and run it in an ``onnxruntime.InferenceSession`` (CUDA EP if present, else CPU).

    Hugging Face models are exported through a wrapper that passes the inputs by name and returns
    the main output (``logits``/``last_hidden_state``); the variant returns the original output type.

    Raises:
        NotApplicable: Export or session creation fails, non-tensor inputs, or onnx/onnxruntime missing.
    """
    return _applied(model, inputs)


@register(INT8_VARIANT)
def ort_int8(model: Any, inputs: tuple[Any, ...], *, op_types: tuple[str, ...] = INT8_OP_TYPES) -> Applied:
    """As ``onnx-runtime-inference``, then ``onnxruntime.quantization.quantize_dynamic`` (int8 weights).

    Only MatMul/Gemm nodes (the Linear layers, as torch's ``quantize_dynamic``) are quantized by
    default: ORT's dynamic ``ConvInteger`` kernel is far slower than its fp32 ``Conv`` on CPU (on the
    digits CNN here: 46 ms against 1.6 ms per batch of 64), so convolutions stay fp32. Pass
    ``op_types=("MatMul", "Gemm", "Conv")`` to quantize them too.

    Registered under a variant id (catalog id ``onnx-runtime-inference`` plus ``+int8``): it is ORT's
    own dynamic quantization, which the catalog files under ``post-training-dynamic-quantization``.
    """
    return _applied(model, inputs, int8_ops=tuple(op_types))


@register(STATIC_INT8_VARIANT)
def ort_static_int8(model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None) -> Applied:
    """As ``onnx-runtime-inference``, then ``quantize_static`` (QDQ, int8, calibrated on ``calibration``).

    Args:
        model: The user's model (not modified).
        inputs: Example inputs; the calibration set when ``calibration`` is None (optimistic).
        calibration: Batches of inputs (each a tensor or a tuple of tensors).
    """
    from advisor.measurement.appliers._calibration import calibration_batches

    batches, note = calibration_batches(calibration, inputs)
    applied = _applied(model, inputs, static_batches=batches)
    applied.settings |= {"calibration_batches": len(batches), "calibration": note}
    return applied
