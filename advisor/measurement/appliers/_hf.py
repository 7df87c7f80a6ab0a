"""A model as exporters want it: positional tensors in, one tensor out.

Hugging Face models (``BertModel``, ``ResNetForImageClassification``, ...) take keyword inputs and
return a ``ModelOutput``. Exporters (``torch.onnx.export``, ``openvino.convert_model``,
``torch.export``) pass inputs positionally and want tensors back; a ``BertModel`` then fails with
``forward() got multiple values for argument 'use_cache'``. :class:`TensorOut` passes the inputs
by name and returns the model's main output (``logits``, else ``last_hidden_state``, else the
first tensor), the same tensor :func:`advisor.measurement.quality.first_tensor` compares.
:class:`OutputAdapter` rebuilds the original output type around a runtime's tensor, so a user's
``eval_fn`` that reads ``out.logits`` works on an ONNX Runtime or OpenVINO variant too.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["Adapted", "OutputAdapter", "TensorOut", "as_tensor_module", "is_hf_model", "main_output"]

_PREFERRED = ("logits", "last_hidden_state", "pooler_output")


def is_hf_model(model: Any) -> bool:
    """Whether ``model`` is a ``transformers.PreTrainedModel`` (without importing transformers)."""
    tf = sys.modules.get("transformers")
    base = getattr(tf, "PreTrainedModel", None) if tf is not None else None
    return base is not None and isinstance(model, base)


def main_output(out: Any) -> tuple[Any, str | None]:
    """The output tensor compared and exported, and the field it came from (None for a bare tensor)."""
    import torch

    if isinstance(out, torch.Tensor):
        return out, None
    for name in _PREFERRED:
        value = getattr(out, name, None) if not isinstance(out, dict) else out.get(name)
        if isinstance(value, torch.Tensor):
            return value, name
    values = list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, (list, tuple)) else []
    for i, value in enumerate(values):
        if isinstance(value, torch.Tensor):
            return value, str(i)
    raise TypeError(f"the model output ({type(out).__name__}) holds no tensor")


def _input_names(model: Any, n: int) -> list[str] | None:
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return positional[:n] if len(positional) >= n else None


def _torch_module() -> Any:
    import torch

    return torch.nn.Module


class TensorOut(_torch_module()):  # type: ignore[misc]
    """Wraps a model: positional inputs passed by name (HF models), the main output tensor returned.

    Attributes:
        inner: The wrapped model.
        names: Keyword names given to the positional inputs (None: passed positionally).
        field: The output field returned (``logits``, ``last_hidden_state``, a tuple index, or None).
    """

    def __init__(self, inner: Any, names: list[str] | None, field: str | None) -> None:
        super().__init__()
        self.inner = inner
        self.names = names
        self.field = field
        self._hf = is_hf_model(inner)

    def forward(self, *args: Any) -> Any:
        """Call the inner model and return its main output tensor."""
        if self.names is not None:
            kwargs = dict(zip(self.names, args, strict=True))
            if self._hf:
                kwargs["return_dict"] = True
                if "use_cache" in inspect.signature(self.inner.forward).parameters:
                    kwargs["use_cache"] = False
            out = self.inner(**kwargs)
        else:
            out = self.inner(*args)
        return main_output(out)[0]


@dataclass(frozen=True)
class OutputAdapter:
    """Rebuilds the original model's output type around a runtime's output tensor.

    Attributes:
        cls: The original output type (a ``ModelOutput`` subclass) or None for a bare tensor / tuple.
        field: The field the tensor belongs to.
    """

    cls: Any = None
    field: str | None = None

    def __call__(self, tensor: Any) -> Any:
        """The tensor, inside the original output type when it was a named ``ModelOutput`` field."""
        if self.cls is None or self.field is None or self.field.isdigit():
            return tensor
        try:
            return self.cls(**{self.field: tensor})
        except Exception:  # noqa: BLE001 - an output type we cannot rebuild: the bare tensor is still right
            return tensor


def as_tensor_module(model: Any, inputs: tuple[Any, ...]) -> tuple[Any, OutputAdapter]:
    """``model`` as a module that exporters accept, and the adapter that restores its output type.

    A model that already takes positional tensors and returns a tensor is returned unchanged.

    Args:
        model: The model (in eval mode; not modified).
        inputs: Example inputs, run once to find the output type.
    """
    import torch

    with torch.no_grad():
        out = model(*inputs)
    if isinstance(out, torch.Tensor) and not is_hf_model(model):
        return model, OutputAdapter()
    _, field = main_output(out)
    names = _input_names(model, len(inputs)) if is_hf_model(model) else None
    cls = type(out) if field is not None and not field.isdigit() and type(out) is not dict else None
    return TensorOut(model, names, field).eval(), OutputAdapter(cls, field)


class Adapted:
    """A tensor-returning callable (e.g. a compiled exported graph) that returns the original output type.

    Attributes:
        module: The tensor-returning callable.
        adapter: Rebuilds the original output type.
    """

    def __init__(self, module: Any, adapter: OutputAdapter) -> None:
        self.module = module
        self.adapter = adapter

    def __call__(self, *args: Any) -> Any:
        """Run the module; wrap its tensor in the original output type."""
        return self.adapter(self.module(*args))

    def eval(self) -> Adapted:
        """No-op, so code that calls ``model.eval()`` keeps working."""
        return self
