"""Techniques for text generation, each a change to the model or to the ``generate`` call.

A variant id is ``<technique>[+<technique>...][@<setting>]`` (see CONTRACTS): parts are applied
left to right to one :class:`GenSetup` (the model is copied only by the first part that changes
it). Ids are catalog ids:

- ``static-kv-cache-compile``: ``cache_implementation="static"`` and ``torch.compile`` of the forward
  (transformers' ``CompileConfig``; on a CPU compilation is asked for explicitly).
- ``sdpa-attention``: scaled-dot-product attention. When the baseline already runs SDPA the row is
  ``sdpa-attention@eager``: eager attention, the counterfactual (a ratio above 1 is what SDPA saves).
- ``bfloat16@weights``: the whole model in bf16, where the hardware has bf16 (asked of torch).
- ``torchao-int8-weight-only-quantization``, ``torchao-int8-dynamic-quantization``: torchao ``quantize_``.
- ``weight-only-llm-quantization@int4``: int4 weights, group 32 (torchao ``Int4WeightOnlyConfig`` on CUDA in
  bf16; ``IntxWeightOnlyConfig(int4)`` on a CPU, which has no int4 kernel in this torchao).
- ``openvino-runtime``: through optimum-intel's ``OVModelForCausalLM`` when installed.
- ``prompt-lookup-decoding[@N]``: ``prompt_lookup_num_tokens=N`` (10); batch size 1 only.
- ``speculative-decoding``: assisted generation with the user's draft model; batch size 1 only.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from advisor._errors import NotApplicable
from advisor.catalog import VariantId

__all__ = [
    "DEFAULT_GENERATION_TECHNIQUES",
    "GENERATION_TECHNIQUES",
    "GenSetup",
    "build_variant",
    "default_generation_ids",
    "generation_measurable",
    "is_generative",
]

DEFAULT_GENERATION_TECHNIQUES = (
    "static-kv-cache-compile",
    "sdpa-attention",
    "bfloat16@weights",
    "torchao-int8-weight-only-quantization",
    "weight-only-llm-quantization@int4",
    "torchao-int8-dynamic-quantization",
    "openvino-runtime",
    "prompt-lookup-decoding",
    "speculative-decoding",
)


@dataclass
class GenSetup:
    """A model ready to ``generate`` with extra keyword arguments.

    Attributes:
        model: The model whose ``generate`` is timed.
        generate_kwargs: Extra arguments for every ``generate`` call.
        settings: How it was built (recorded in the result).
        max_batch: Largest batch size it supports (None: any).
        speculative: True when tokens are proposed and verified (acceptance is measured).
        owned: True once ``model`` is a copy (further parts may change it in place).
        changes_weights: True when the numerics of the forward pass changed (quality is measured).
    """

    model: Any
    generate_kwargs: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    max_batch: int | None = None
    speculative: bool = False
    owned: bool = False
    changes_weights: bool = False

    def own(self) -> Any:
        """The model, copied on first call, so a part may change it without touching the user's."""
        if not self.owned:
            self.model = copy.deepcopy(self.model).eval()
            self.owned = True
        return self.model


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torchao and transformers, which warn about optional kernels and deprecations."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:240] if text else ''}"


def _static_compile(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    from transformers.generation.configuration_utils import CompileConfig

    cc = CompileConfig(fullgraph=False, dynamic=False, mode="default")
    cc._compile_all_devices = True  # transformers compiles on CUDA by itself; elsewhere it must be asked
    s.generate_kwargs.update(cache_implementation="static", compile_config=cc)
    s.settings["static-kv-cache-compile"] = {
        "cache_implementation": "static",
        "torch.compile": "mode=default, dynamic=False (via CompileConfig)",
    }


def _attn_impl(model: Any) -> str | None:
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


def _sdpa(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    current = _attn_impl(s.model)
    target = setting or ("eager" if current == "sdpa" else "sdpa")
    if current is None or not hasattr(s.model, "set_attn_implementation"):
        raise NotApplicable("the model is not a transformers model with a switchable attention implementation")
    if target == current:
        raise NotApplicable(f"the model already uses {current!r} attention")
    if setting is None and current == "sdpa":
        raise NotApplicable("the baseline already runs SDPA: measure 'sdpa-attention@eager' to see what SDPA saves")
    m = s.own()
    try:
        m.set_attn_implementation(target)
    except Exception as exc:
        raise NotApplicable(f"this model cannot run {target!r} attention ({_first_line(exc)})") from exc
    s.changes_weights = True  # kernels differ: logits may differ in the last bits
    note = (
        ("the baseline runs SDPA: this row is eager attention (the counterfactual); a ratio above 1 is what SDPA saves")
        if target == "eager"
        else "switched from eager attention to SDPA"
    )
    s.settings["attention"] = {"from": current, "to": target, "note": note}


def _bf16_supported(model: Any) -> tuple[bool, str]:
    import torch

    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported()), "torch.cuda.is_bf16_supported()"
    try:
        ok = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        ok = False
    return ok, "torch.ops.mkldnn._is_mkldnn_bf16_supported() (oneDNN bf16 kernels: AVX512_BF16/AMX)"


def _bf16(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    import torch

    ok, how = _bf16_supported(s.model)
    if not ok:
        raise NotApplicable(f"this hardware has no native bf16 kernels ({how} is False): bf16 would be emulated")
    s.own().to(torch.bfloat16)
    s.changes_weights = True
    s.settings["bfloat16"] = {"how": "whole model cast to bf16 (bfloat16@weights)", "checked_with": how}


def _torchao(config_name: str, label: str) -> Callable[[GenSetup, str | None, dict[str, Any]], None]:
    def apply(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
        try:
            with _quiet():
                import torchao
                from torchao import quantization as q
        except ImportError:
            raise NotApplicable("torchao is not installed: pip install torchao") from None
        m = s.own()
        try:
            with _quiet():
                q.quantize_(m, getattr(q, config_name)())
        except Exception as exc:
            raise NotApplicable(f"torchao quantize_ failed ({_first_line(exc)})") from exc
        s.changes_weights = True
        s.settings[label] = {
            "library": f"torchao {torchao.__version__}",
            "call": f"quantize_(model, {config_name}())",
            "compiled": False,
        }

    return apply


def _int4(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    if setting not in (None, "int4"):
        raise NotApplicable(
            f"weight-only-llm-quantization@{setting}: only @int4 is built here (int8: use "
            "torchao-int8-weight-only-quantization)"
        )
    try:
        with _quiet():
            import torch
            import torchao
            from torchao import quantization as q
            from torchao.quantization.granularity import PerGroup
    except ImportError:
        raise NotApplicable("torchao is not installed: pip install torchao") from None
    m = s.own()
    cuda = any(p.device.type == "cuda" for p in m.parameters())
    try:
        with _quiet():
            if cuda:
                m.to(torch.bfloat16)
                call = "quantize_(model.to(bfloat16), Int4WeightOnlyConfig(group_size=32))"
                q.quantize_(m, q.Int4WeightOnlyConfig(group_size=32))
            else:
                call = "quantize_(model, IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32)))"
                q.quantize_(m, q.IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32)))
    except Exception as exc:
        raise NotApplicable(f"torchao int4 quantize_ failed ({_first_line(exc)})") from exc
    s.changes_weights = True
    s.settings["int4"] = {
        "library": f"torchao {torchao.__version__}",
        "call": call,
        "note": None
        if cuda
        else "no int4 CPU kernel in this torchao: int4 values unpacked to int8 storage, dequantized per matmul",
    }


def _openvino(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    import importlib.util
    import tempfile

    if importlib.util.find_spec("optimum") is None or importlib.util.find_spec("optimum.intel") is None:
        raise NotApplicable(
            "OpenVINO runs a decoder's generate() (KV cache as model state) through optimum-intel's "
            "OVModelForCausalLM, which is not installed: pip install optimum-intel"
        )
    try:
        from optimum.intel import OVModelForCausalLM

        tmp = tempfile.mkdtemp(prefix="green-advisor-ov-")
        with _quiet():
            s.model.save_pretrained(tmp)
            ov = OVModelForCausalLM.from_pretrained(tmp, export=True, compile=True)
    except Exception as exc:
        raise NotApplicable(f"optimum-intel could not export this decoder to OpenVINO ({_first_line(exc)})") from exc
    s.model, s.owned, s.changes_weights = ov, True, True
    s.settings["openvino"] = {"via": "optimum.intel.OVModelForCausalLM.from_pretrained(export=True)"}


def _prompt_lookup(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    n = int(setting) if setting and setting.isdigit() else 10
    s.generate_kwargs["prompt_lookup_num_tokens"] = n
    s.max_batch, s.speculative = 1, True
    s.settings["prompt_lookup"] = {"prompt_lookup_num_tokens": n, "note": "transformers supports batch size 1 only"}


def _assisted(s: GenSetup, setting: str | None, ctx: dict[str, Any]) -> None:
    draft = ctx.get("draft_model")
    if draft is None:
        raise NotApplicable(
            "assisted generation needs a draft model: pass draft_model= (or --draft SPEC), a small "
            "decoder sharing the model's tokenizer"
        )
    v_main = getattr(getattr(s.model, "config", None), "vocab_size", None)
    v_draft = getattr(getattr(draft, "config", None), "vocab_size", None)
    if v_main is not None and v_draft is not None and v_main != v_draft:
        raise NotApplicable(
            f"the draft model's vocabulary ({v_draft}) differs from the model's ({v_main}): "
            "assisted generation needs a shared tokenizer"
        )
    s.generate_kwargs["assistant_model"] = draft.eval()
    s.max_batch, s.speculative = 1, True
    n_params = sum(p.numel() for p in draft.parameters())
    s.settings["assisted"] = {"draft_parameters": n_params, "note": "transformers supports batch size 1 only"}


GENERATION_TECHNIQUES: dict[str, Callable[[GenSetup, str | None, dict[str, Any]], None]] = {
    "static-kv-cache-compile": _static_compile,
    "sdpa-attention": _sdpa,
    "bfloat16": _bf16,
    "torchao-int8-weight-only-quantization": _torchao("Int8WeightOnlyConfig", "int8_weight_only"),
    "torchao-int8-dynamic-quantization": _torchao("Int8DynamicActivationInt8WeightConfig", "int8_dynamic"),
    "weight-only-llm-quantization": _int4,
    "openvino-runtime": _openvino,
    "prompt-lookup-decoding": _prompt_lookup,
    "speculative-decoding": _assisted,
}


def build_variant(variant_id: str, model: Any, *, draft_model: Any = None) -> GenSetup:
    """Build one variant from the baseline model (which is never changed).

    The id is parsed by the one parser, :class:`advisor.catalog.VariantId`: each part gets its own setting
    (``a+b@s``: ``s`` configures ``b``).

    Raises:
        NotApplicable: A part cannot run on this model or hardware (the reason says why).
        UnknownTechniqueError: A part is not a generation technique.
    """
    from advisor._errors import UnknownTechniqueError

    s = GenSetup(model)
    ctx = {"draft_model": draft_model}
    for part in VariantId.parse(variant_id).parts:
        fn = GENERATION_TECHNIQUES.get(part.technique)
        if fn is None:
            raise UnknownTechniqueError(
                f"{part.technique!r} (in {variant_id!r}) is not a generation technique; "
                f"expected one of {', '.join(sorted(GENERATION_TECHNIQUES))}"
            )
        fn(s, part.setting, ctx)
    return s


def default_generation_ids(model: Any) -> list[str]:
    """The variant ids ``techniques="default"`` measures for this model.

    Every generation technique; when the model already runs SDPA, ``sdpa-attention@eager`` (the counterfactual:
    a ratio above 1 is what SDPA saves) instead of ``sdpa-attention``.
    """
    ids = list(DEFAULT_GENERATION_TECHNIQUES)
    if _attn_impl(model) == "sdpa":
        ids[ids.index("sdpa-attention")] = "sdpa-attention@eager"
    return ids


def generation_measurable(model: Any, draft_model: Any = None) -> list[str]:
    """The variant ids :func:`advisor.measure_generation` can measure for this model here (what tune shortlists).

    Unlike :func:`default_generation_ids` it leaves out what cannot pay off here: speculative decoding without a
    draft model, OpenVINO without optimum-intel, and SDPA when the model already runs it.
    """
    ids = list(DEFAULT_GENERATION_TECHNIQUES)
    if draft_model is None:
        ids.remove("speculative-decoding")
    if "openvino-runtime" in ids and importlib.util.find_spec("optimum") is None:
        ids.remove("openvino-runtime")
    if _attn_impl(model) == "sdpa":
        ids.remove("sdpa-attention")  # already applied: eager would only be the counterfactual
    return ids


def is_generative(prof: Any, model: Any) -> bool:
    """Whether generation is what to measure: a generative decoder (profile traits) with a working ``generate``."""
    return "generative-decoder" in (prof.architectures or []) and bool(prof.can_generate) and hasattr(model, "generate")
