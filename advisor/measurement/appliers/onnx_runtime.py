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
from pathlib import Path
from typing import Any

from advisor.measurement.appliers._deps import REQUIRES, need
from advisor.measurement.appliers.base import Applied, NotApplicable, register

__all__ = ["INT8_OP_TYPES", "INT8_VARIANT", "OrtModel", "ort_fp32", "ort_int8"]

INT8_VARIANT = "onnx-runtime-inference+int8"
INT8_OP_TYPES = ("MatMul", "Gemm")
_PURPOSE = "The onnx-runtime-inference applier"
REQUIRES["onnx-runtime-inference"] = REQUIRES[INT8_VARIANT] = ("onnx", "onnxruntime")


class OrtModel:
    """An ``onnxruntime.InferenceSession`` behind a torch-like call: tensors in, tensors out.

    Attributes:
        session: The ONNX Runtime session.
        input_names: Names of the graph inputs, in ``forward``'s order.
        onnx_bytes: Size of the serialized model. Units: bytes.
    """

    def __init__(self, session: Any, input_names: list[str], onnx_bytes: int) -> None:
        self.session = session
        self.input_names = input_names
        self.onnx_bytes = onnx_bytes

    def __call__(self, *args: Any) -> Any:
        """Run the session on torch tensors; return a tensor (or a tuple for several outputs)."""
        import torch

        feeds = {n: a.detach().cpu().numpy() for n, a in zip(self.input_names, args, strict=True)}
        device = args[0].device if args else "cpu"
        outs = [torch.from_numpy(o).to(device) for o in self.session.run(None, feeds)]
        return outs[0] if len(outs) == 1 else tuple(outs)

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
    return ort.InferenceSession(str(path), sess_options=opts, providers=_providers(ort))


def _applied(model: Any, inputs: tuple[Any, ...], *, int8_ops: tuple[str, ...] = ()) -> Applied:
    import torch

    ort = need("onnxruntime", "onnx", _PURPOSE)
    m = copy.deepcopy(model).eval()  # export traces a copy in eval mode: never the user's model
    with tempfile.TemporaryDirectory(prefix="green-advisor-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        names = _export(m, inputs, path)  # grad mode on: no_grad would trace fused fast paths ONNX lacks
        settings: dict[str, Any] = {"exporter": "torch.onnx.export (TorchScript, dynamo=False)", "opset": 17,
                                    "dynamic_axes": "batch (dim 0)", "onnx_bytes": path.stat().st_size}  # fmt: skip
        if int8_ops:
            onnx = need("onnx", "onnx", _PURPOSE)
            present = sorted({n.op_type for n in onnx.load(str(path)).graph.node} & set(int8_ops))
            if not present:
                raise NotApplicable(f"the exported graph has no {'/'.join(int8_ops)} node to quantize")
            quant = need("onnxruntime.quantization", "onnx", _PURPOSE)
            qpath = Path(tmp) / "model.int8.onnx"
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                import logging

                level = logging.getLogger().level
                logging.getLogger().setLevel(logging.ERROR)  # ORT logs a pre-processing hint on the root logger
                try:
                    quant.quantize_dynamic(str(path), str(qpath), weight_type=quant.QuantType.QInt8,
                                           op_types_to_quantize=list(int8_ops))  # fmt: skip
                finally:
                    logging.getLogger().setLevel(level)
            settings |= {"quantization": "onnxruntime.quantization.quantize_dynamic (int8 weights, dynamic "
                         "activation scales)", "quantized_op_types": present,
                         "onnx_int8_bytes": qpath.stat().st_size}  # fmt: skip
            path = qpath
        try:
            session = _session(ort, path, torch.get_num_threads())
        except Exception as exc:
            raise NotApplicable(f"onnxruntime could not load the exported model ({type(exc).__name__}: {exc})") from exc
    settings |= {"providers": session.get_providers(), "onnxruntime": ort.__version__,
                 "graph_optimization": "ORT_ENABLE_ALL", "intra_op_threads": torch.get_num_threads()}  # fmt: skip
    wrapper = OrtModel(session, names, settings.get("onnx_int8_bytes", settings["onnx_bytes"]))
    return Applied(wrapper, inputs, contextlib.nullcontext, settings)


@register("onnx-runtime-inference")
def ort_fp32(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """Export to ONNX and run it in an ``onnxruntime.InferenceSession`` (CUDA EP if present, else CPU).

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
