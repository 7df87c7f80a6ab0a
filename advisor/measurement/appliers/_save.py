"""Save what won: an applied variant as a deployable artifact, with a ``load_and_run.py`` beside it.

Formats, by what the variant runs on:

- ONNX Runtime variants: the ONNX file the session runs (``model.onnx``, int8 included).
- OpenVINO and NNCF variants: OpenVINO IR (``model.xml`` + ``model.bin``, weights not compressed
  further) and the ``compile_model`` configuration used (precision hint).
- PyTorch variants: a ``torch.export`` ``ExportedProgram`` (``model.pt2``) of the transformed
  model before compilation; the snippet compiles it again and runs it under the variant's
  autocast, as measured.
- Anything ``torch.export`` cannot take (e.g. torch.ao quantized modules): the original model
  (Hugging Face: ``config.json`` + state dict; else the pickled module) plus the recipe, which the
  snippet re-applies with ``advisor.measurement.appliers.apply_technique``.

Every folder also holds ``example_inputs.pt`` and ``recipe.json`` (variant id, settings, files).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advisor._errors import SaveError
from advisor.measurement.appliers._stacks import apply_technique

__all__ = ["SavedArtifact", "save_applied", "save_variant"]

SNIPPET = "load_and_run.py"


@dataclass(frozen=True)
class SavedArtifact:
    """A saved variant.

    Attributes:
        variant: The variant id.
        format: ``onnx``, ``openvino-ir``, ``torch-exported-program`` or ``recipe``.
        directory: The folder holding everything.
        files: File names in ``directory`` (model files, inputs, recipe, snippet).
        snippet: Path of ``load_and_run.py`` (``python load_and_run.py [--out FILE] [--no-compile]``).
        notes: What a user must know to deploy it.
    """

    variant: str
    format: str
    directory: Path
    files: list[str]
    snippet: Path
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        return d | {"directory": str(self.directory), "snippet": str(self.snippet)}


_HEAD = '''"""Load the saved {variant} variant and run it on the example inputs (written by green-dl-advisor).

Usage: python load_and_run.py [--out OUTPUT.pt] [--no-compile]
"""

import argparse
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser()
parser.add_argument("--out", help="save the output tensor here (torch.save)")
parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (same numerics, slower)")
args = parser.parse_args()
inputs = torch.load(HERE / "example_inputs.pt")
'''

_TAIL = """
print(f"{variant}: output {{tuple(out.shape)}} {{out.dtype}}")
if args.out:
    torch.save(out, args.out)
"""

_ONNX = """
import onnxruntime as ort

session = ort.InferenceSession(str(HERE / "model.onnx"), providers=["CPUExecutionProvider"])
feeds = {{i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}}
out = torch.from_numpy(session.run(None, feeds)[0])
"""

_OPENVINO = """
import openvino as ov

core = ov.Core()
compiled = core.compile_model(str(HERE / "model.xml"), "CPU", {config!r})
print("inference precision:", compiled.get_property("INFERENCE_PRECISION_HINT"))
out = torch.from_numpy(compiled([x.numpy() for x in inputs])[compiled.output(0)])
"""

_EXPORTED = """{imports}
model = torch.export.load(HERE / "model.pt2").module()
if {compile} and not args.no_compile:
    import torch._inductor.config

    torch._inductor.config.freezing = {freezing}
    model = torch.compile(model)
with torch.no_grad(){autocast}:
    out = model(*inputs)
"""

_RECIPE = """
import json

from advisor.measurement.appliers import apply_technique

recipe = json.loads((HERE / "recipe.json").read_text())
{load}
model.eval()
calibration = HERE / "calibration_data.pt"  # the batches the measured variant was calibrated on, if any
calibration_data = torch.load(calibration) if calibration.exists() else None
applied = apply_technique(recipe["variant"], model, tuple(inputs), calibration_data=calibration_data)
out = applied()
if not isinstance(out, torch.Tensor):  # a ModelOutput or tuple: its logits, else its first tensor
    out = out.logits if getattr(out, "logits", None) is not None else out[0]
out = out.dequantize() if out.is_quantized else out
"""

_LOAD_HF = """import transformers

config = transformers.AutoConfig.from_pretrained(HERE)
model = getattr(transformers, recipe["model_class"])(config)
model.load_state_dict(torch.load(HERE / "original_state_dict.pt"))"""

_LOAD_PICKLE = """model = torch.load(HERE / "original_model.pt", weights_only=False)"""


def _find(settings: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in nested settings."""
    if isinstance(settings, dict):
        if key in settings:
            return settings[key]
        for v in settings.values():
            found = _find(v, key)
            if found is not None:
                return found
    return None


def _cpu(batch: Any) -> Any:
    """A calibration batch (a tensor or a tuple/list of them) on the CPU."""
    if isinstance(batch, (tuple, list)):
        return tuple(_cpu(x) for x in batch)
    return batch.detach().cpu() if hasattr(batch, "detach") else batch


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _save_exported(applied: Any, inputs: tuple[Any, ...], out: Path) -> tuple[str, list[str]] | None:
    """``torch.export`` the variant's eager module; None when it cannot be exported."""
    import torch

    from advisor.measurement.appliers._hf import Adapted, as_tensor_module

    eager = applied.eager if applied.eager is not None else applied.model
    if isinstance(eager, Adapted):
        eager = eager.module
    if not isinstance(eager, torch.nn.Module):
        return None
    try:
        wrapped, _ = as_tensor_module(eager, inputs)
        with torch.no_grad():
            ep = torch.export.export(wrapped, tuple(inputs))
        torch.export.save(ep, out / "model.pt2")
    except Exception:  # noqa: BLE001 - not exportable: the recipe format takes over
        return None
    autocast = _find(applied.settings, "autocast")
    device = _find(applied.settings, "device") or "cpu"
    ac = f', torch.autocast("{device}", dtype=torch.{autocast})' if autocast else ""
    compiled = _find(applied.settings, "compile_s") is not None
    freezing = bool((_find(applied.settings, "inductor_options") or {}).get("freezing"))
    torchao = "torchao" in str(_find(applied.settings, "library") or "")
    imports = "import torchao.quantization.pt2e.quantize_pt2e  # registers the quantized_decomposed ops\n"
    code = _EXPORTED.format(compile=compiled, freezing=freezing, autocast=ac, imports=imports if torchao else "")
    notes = ["torch.export ExportedProgram of the transformed model (before torch.compile)"]
    if compiled:
        notes.append("the snippet compiles it with torch.compile, as measured (first call compiles)")
    if autocast:
        notes.append(f"run under torch.autocast(dtype=torch.{autocast}), as measured")
    return code, notes


def _save_recipe(variant: str, model: Any, out: Path, recipe: dict[str, Any]) -> tuple[str, list[str]]:
    import torch

    from advisor.measurement.appliers._hf import is_hf_model

    if is_hf_model(model):
        model.config.to_json_file(str(out / "config.json"))
        torch.save(model.state_dict(), out / "original_state_dict.pt")
        recipe["model_class"] = type(model).__name__
        return _RECIPE.format(load=_LOAD_HF), ["config.json", "original_state_dict.pt"]
    try:
        torch.save(model, out / "original_model.pt")
    except Exception as exc:
        raise SaveError(
            f"{variant}: torch.export cannot take this variant and the original model cannot be pickled "
            f"({type(exc).__name__}: {exc}); define the model class at module level so it can be saved"
        ) from exc
    return _RECIPE.format(load=_LOAD_PICKLE), ["original_model.pt"]


def save_applied(
    variant: str,
    applied: Any,
    model: Any,
    example_inputs: tuple[Any, ...],
    out_dir: Path | str,
    *,
    calibration_data: Any = None,
) -> SavedArtifact:
    """Save an already applied variant (see :func:`save_variant`).

    Args:
        variant: The variant id it was applied for.
        applied: The :class:`Applied` result.
        model: The original model (for the recipe format).
        example_inputs: The inputs the snippet runs.
        out_dir: Folder to write (created; existing files of the same names are replaced).
        calibration_data: The batches the variant was calibrated on; saved beside a recipe so that re-applying
            it calibrates the same way.
    """
    import torch

    from advisor.measurement.appliers._openvino import OvModel
    from advisor.measurement.appliers.onnx_runtime import OrtModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # the variant's own inputs (e.g. channels-last), on the CPU
    given = applied.inputs if len(applied.inputs) == len(example_inputs) else example_inputs
    inputs = tuple(x.detach().cpu() if isinstance(x, torch.Tensor) else x for x in given)
    torch.save(inputs, out / "example_inputs.pt")
    recipe: dict[str, Any] = {"variant": variant, "settings": _jsonable(applied.settings)}
    m = applied.model
    if isinstance(m, OrtModel):
        (out / "model.onnx").write_bytes(m.model_bytes)
        fmt, code, files, notes = "onnx", _ONNX.format(), ["model.onnx"], ["ONNX model as run by ONNX Runtime"]
    elif isinstance(m, OvModel):
        import openvino as ov

        ov.save_model(m.ov_model, str(out / "model.xml"), compress_to_fp16=False)
        fmt, code, files = "openvino-ir", _OPENVINO.format(config=m.config), ["model.xml", "model.bin"]
        notes = [f"OpenVINO IR; compile_model config {m.config or '{} (runtime default precision)'}"]
    else:
        exported = _save_exported(applied, inputs, out)
        if exported is not None:
            fmt, files = "torch-exported-program", ["model.pt2"]
            code, notes = exported
        else:
            code, files = _save_recipe(variant, model, out, recipe)
            if calibration_data is not None:
                torch.save([_cpu(b) for b in calibration_data], out / "calibration_data.pt")
                files.append("calibration_data.pt")
            fmt, notes = "recipe", ["original model + recipe: the snippet re-applies the variant with green-dl-advisor"]
    recipe |= {"format": fmt, "files": files, "notes": notes}
    (out / "recipe.json").write_text(json.dumps(recipe, indent=2, default=str))
    (out / SNIPPET).write_text(_HEAD.format(variant=variant) + code + _TAIL.format(variant=variant))
    all_files = [*files, "example_inputs.pt", "recipe.json", SNIPPET]
    return SavedArtifact(variant, fmt, out, all_files, out / SNIPPET, notes)


def save_variant(
    variant_id: str, model: Any, example_inputs: tuple[Any, ...], out_dir: Path | str, *, calibration_data: Any = None
) -> SavedArtifact:
    """Apply ``variant_id`` to a copy of ``model`` and save it as a deployable artifact with ``load_and_run.py``.

    Args:
        variant_id: Any id :func:`apply_technique` takes.
        model: The user's model (not modified).
        example_inputs: Inputs (a tuple of positional arguments) saved beside it and run by the snippet.
        out_dir: Folder to write.
        calibration_data: Calibration batches for static quantizers (as for :func:`apply_technique`).

    Raises:
        NotApplicable: The variant cannot be applied here.
        SaveError: It applied but cannot be saved (the message says why and what to change).
    """
    applied = apply_technique(variant_id, model, tuple(example_inputs), calibration_data=calibration_data)
    try:
        return save_applied(variant_id, applied, model, example_inputs, out_dir, calibration_data=calibration_data)
    finally:
        applied.restore()
