"""The one contract for the user's model: :class:`ModelSpec`, built from whatever a factory returns.

Every command and API (``measure``, ``tune``, ``generate``, ``train``, campaigns, the form) reads the user's
model through :func:`load_spec` (a ``module:factory`` or ``file.py:factory`` string) or :func:`as_spec` (an
object already in hand). A factory may return:

- a :class:`ModelSpec` (the typed form; every field but ``model`` is optional);
- a tuple whose items are recognised **by type**, wherever they stand: the first ``torch.nn.Module`` is the
  model (a second one is the draft model), a tensor or a tuple of tensors the example inputs, a tokenizer
  (anything with ``encode`` and ``decode``) the tokenizer, a list of strings or of token-id lists the prompts,
  a :class:`TrainingSetup` the training set-up, another callable the ``eval_fn``. The README's
  ``(model, example_inputs)``, ``(model, example_inputs, eval_fn)`` and ``(model, tokenizer[, prompts])``
  are all such tuples;
- a dict with the field names of :class:`ModelSpec` (``inputs`` is accepted for ``example_inputs``);
- a bare ``torch.nn.Module`` (a decoder's :attr:`ModelSpec.inputs` are then seeded token ids drawn from its
  vocabulary; generation then uses its default prompts).

A malformed spec raises :class:`advisor.ProfileError` with one line naming what was expected and what came
(the command line prints it and exits 2).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from advisor._errors import MissingExtraError, ProfileError

__all__ = ["ModelSpec", "TrainingSetup", "as_spec", "import_factory", "is_tokenizer", "load_spec", "spec_from_call"]

EXPECTED = (
    "a ModelSpec, a tuple (model, example_inputs[, eval_fn]) or (model, tokenizer[, prompts]), "
    "a dict of ModelSpec fields, or a torch.nn.Module"
)
DEFAULT_PROMPT_TOKENS = 16


@dataclass
class TrainingSetup:
    """What training a model to a target needs: a fresh model per run, data, an optimizer and a metric.

    Attributes:
        build_model: Returns a freshly initialised ``torch.nn.Module`` (called once per run and seed; it may
            take a ``seed`` keyword).
        train_data: The training data: a pair of tensors ``(inputs, targets)``, or a callable
            ``loader(batch_size, seed) -> iterable of (inputs, targets)`` (e.g. a DataLoader factory).
        eval_fn: ``eval_fn(model) -> metric`` on held-out data, higher is better (e.g. accuracy in 0-1).
        make_optimizer: ``make_optimizer(parameters, lr) -> torch.optim.Optimizer`` (default: Adam).
        loss_fn: ``loss_fn(outputs, targets) -> loss`` (default: cross-entropy).
        lr: The learning rate the user trains with.
        batch_size: The batch size the user trains with.
        metric: The metric's name in tables (``accuracy``).
        full_dataset_size: Samples in the user's full training set, for the projection (default: this data's).
        full_epochs: Epochs of the user's full training, for the projection.
        teacher: A trained model to distil from (default: none; distillation then trains one first).
        compact_model: Returns a freshly initialised smaller alternative to ``build_model`` (the ``compact-model``
            technique; may take a ``seed`` keyword). Without it, a ``build_model`` that takes a ``width`` keyword
            gives the ``width-multiplier`` technique its thinner model.
        eval_every: Optimizer steps between two evaluations when training to a target (default: the run's setting).
        target: The metric the user needs (e.g. 0.95), the default of ``green-advisor train --target``.
    """

    build_model: Callable[..., Any]
    train_data: Any
    eval_fn: Callable[[Any], float]
    make_optimizer: Callable[[Any, float], Any] | None = None
    loss_fn: Callable[[Any, Any], Any] | None = None
    lr: float = 1e-3
    batch_size: int = 32
    metric: str = "accuracy"
    full_dataset_size: int | None = None
    full_epochs: int | None = None
    teacher: Any = None
    compact_model: Callable[..., Any] | None = None
    eval_every: int | None = None
    target: float | None = None


@dataclass
class ModelSpec:
    """The user's model and what comes with it, as every command reads it.

    Attributes:
        model: The ``torch.nn.Module`` to measure (never modified).
        example_inputs: A tensor or tuple of tensors for ``model(*example_inputs)``.
        eval_fn: ``eval_fn(model) -> accuracy`` on held-out data (optional).
        tokenizer: A tokenizer for a generative decoder (string prompts, perplexity on real weights).
        prompts: Prompts for generation: strings (with a tokenizer) or lists of token ids.
        draft_model: A small decoder for speculative decoding.
        calibration_data: Input batches for static quantizers.
        training: A :class:`TrainingSetup` for training to a target.
        name: The model's name in the store and reports.
        source: Where the spec came from (``module:factory``), for messages.
    """

    model: Any
    example_inputs: Any = None
    eval_fn: Callable[[Any], float] | None = None
    tokenizer: Any = None
    prompts: Sequence[Any] | None = None
    draft_model: Any = None
    calibration_data: Any = None
    training: TrainingSetup | None = None
    name: str | None = None
    source: str = "the spec"

    @property
    def inputs(self) -> tuple[Any, ...]:
        """The example inputs as a tuple, for ``model(*inputs)`` (a decoder without them: seeded token ids).

        Raises:
            ProfileError: The spec has no example inputs and none can be derived.
        """
        if self.example_inputs is None and (ids := _decoder_inputs(self.model, _torch())) is not None:
            return (ids,)
        if self.example_inputs is None:
            raise ProfileError(
                f"model spec {self.source}: expected example inputs (a tensor or tuple of tensors for model(*inputs)), "
                "got none; return (model, example_inputs) from the factory"
            )
        x = self.example_inputs
        return tuple(x) if isinstance(x, tuple | list) else (x,)

    @property
    def generative(self) -> bool:
        """Whether the model generates text (a causal LM with ``generate``)."""
        return callable(getattr(self.model, "generate", None)) and getattr(self.model, "config", None) is not None


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "measure", "loading a model spec") from None
    return torch


def is_tokenizer(obj: Any) -> bool:
    """A tokenizer is anything with ``encode`` and ``decode`` (Hugging Face, tiktoken, sentencepiece wrappers)."""
    torch = _torch()
    if isinstance(obj, torch.nn.Module | type):
        return False
    return callable(getattr(obj, "encode", None)) and callable(getattr(obj, "decode", None))


def _is_inputs(obj: Any, torch: Any) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    return isinstance(obj, tuple) and bool(obj) and all(isinstance(x, torch.Tensor) for x in obj)


def _is_prompts(obj: Any) -> bool:
    if not isinstance(obj, list) or not obj:
        return False
    return all(isinstance(p, str) for p in obj) or all(
        isinstance(p, list | tuple) and p and all(isinstance(i, int) for i in p) for p in obj
    )


def _kind(obj: Any, torch: Any) -> str | None:
    """The ModelSpec field a tuple item fills, by its type (None: not recognised)."""
    if isinstance(obj, ModelSpec):
        return None
    if isinstance(obj, TrainingSetup):
        return "training"
    if isinstance(obj, torch.nn.Module):
        return "module"
    if is_tokenizer(obj):
        return "tokenizer"
    if _is_inputs(obj, torch):
        return "example_inputs"
    if _is_prompts(obj):
        return "prompts"
    if callable(obj):
        return "eval_fn"
    return None


def _describe(obj: Any) -> str:
    if isinstance(obj, tuple):
        return f"a tuple of {len(obj)} ({', '.join(type(x).__name__ for x in obj)})"
    return f"a {type(obj).__name__}"


def _from_tuple(items: tuple[Any, ...], source: str) -> dict[str, Any]:
    torch = _torch()
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        kind = _kind(item, torch)
        if kind == "module":
            kind = "model" if "model" not in out else "draft_model"
        if kind is None or kind in out:
            what = (
                "not a model, inputs, tokenizer, prompts, training set-up or eval_fn"
                if kind is None
                else (f"a second {kind.replace('_', ' ')}")
            )
            raise ProfileError(
                f"model spec {source}: item {i + 1} of the tuple is {_describe(item)}, {what}; expected {EXPECTED}"
            )
        out[kind] = item
    return out


def _from_dict(d: dict[str, Any], source: str) -> dict[str, Any]:
    names = {f.name for f in fields(ModelSpec)}
    d = dict(d)
    if "inputs" in d and "example_inputs" not in d:
        d["example_inputs"] = d.pop("inputs")
    unknown = sorted(set(d) - names)
    if unknown:
        raise ProfileError(
            f"model spec {source}: unknown key(s) {', '.join(map(repr, unknown))} in the dict; "
            f"expected keys among {', '.join(sorted(names - {'source'}))}"
        )
    return d


def _decoder_inputs(model: Any, torch: Any) -> Any:
    """Token ids drawn (seeded) from a decoder's vocabulary, when the spec gave none."""
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if not vocab:
        return None
    return torch.randint(3, int(vocab), (1, DEFAULT_PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))


def _check(fields_: dict[str, Any], source: str, torch: Any) -> None:
    model = fields_.get("model")
    if not isinstance(model, torch.nn.Module):
        got = "no model" if model is None else _describe(model)
        raise ProfileError(
            f"model spec {source}: expected a torch.nn.Module as the model, got {got}; a factory returns {EXPECTED}"
        )
    checks = (
        ("eval_fn", callable, "a callable eval_fn(model) -> accuracy"),
        (
            "example_inputs",
            lambda x: _is_inputs(x, torch) or (isinstance(x, list) and _is_inputs(tuple(x), torch)),
            "a tensor or tuple of tensors",
        ),
        ("tokenizer", is_tokenizer, "a tokenizer (with encode and decode)"),
        ("prompts", _is_prompts, "a list of strings or of token-id lists"),
        ("draft_model", lambda x: isinstance(x, torch.nn.Module), "a torch.nn.Module"),
        ("training", lambda x: isinstance(x, TrainingSetup), "an advisor.TrainingSetup"),
    )
    for name, ok, expected in checks:
        value = fields_.get(name)
        if value is not None and not ok(value):
            raise ProfileError(f"model spec {source}: {name} must be {expected}, got {_describe(value)}")


def as_spec(obj: Any, source: str = "the spec", **extra: Any) -> ModelSpec:
    """Convert what a factory returned (or a model and its parts given in Python) into a :class:`ModelSpec`.

    Args:
        obj: A ModelSpec, a tuple, a dict, or a ``torch.nn.Module`` (see the module docstring).
        source: Where it came from, for messages (``file.py:make``).
        **extra: Fields to set where ``obj`` left them empty (``eval_fn=...``, ``name=...``).

    Raises:
        ProfileError: It is none of the accepted forms, or a part has the wrong type.
    """
    torch = _torch()
    if isinstance(obj, ModelSpec):
        got = {f.name: getattr(obj, f.name) for f in fields(ModelSpec)}
    elif isinstance(obj, tuple):
        got = _from_tuple(obj, source)
    elif isinstance(obj, dict):
        got = _from_dict(obj, source)
    elif isinstance(obj, torch.nn.Module):
        got = {"model": obj}
    elif isinstance(obj, TrainingSetup):
        got = {"training": obj}
    else:
        raise ProfileError(f"model spec {source}: expected {EXPECTED}, got {_describe(obj)}")
    for k, v in extra.items():
        if v is not None and got.get(k) is None:
            got[k] = v
    if got.get("model") is None and isinstance(got.get("training"), TrainingSetup):
        got["model"] = _build(got["training"], source)
    _check(got, source, torch)
    if isinstance(got.get("example_inputs"), list):
        got["example_inputs"] = tuple(got["example_inputs"])
    got["source"] = source if got.get("source") in (None, "the spec") else got["source"]
    return replace(ModelSpec(model=got["model"]), **got)


def _build(training: TrainingSetup, source: str) -> Any:
    try:
        return training.build_model()
    except Exception as exc:
        raise ProfileError(f"model spec {source}: training.build_model() raised {type(exc).__name__}: {exc}") from exc


def _import_file(spec: str, target: str) -> Any:
    path = Path(target)
    if not path.is_file():
        raise ProfileError(f"model spec {spec!r}: expected an existing Python file, got {path} (no such file)")
    mod_name = f"_green_advisor_user_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ProfileError(f"model spec {spec!r}: cannot import {path} as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    except MissingExtraError:
        raise
    except Exception as exc:
        raise ProfileError(f"model spec {spec!r}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.pop(0)
    return module


def import_factory(spec: str) -> Callable[[], Any]:
    """The factory named by ``module:factory`` or ``path/to/file.py:factory``.

    Raises:
        ProfileError: The string has no ``:``, the module or file cannot be imported, or the name is not callable.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ProfileError(
            f"model spec {spec!r}: expected 'package.module:factory' or 'path/to/file.py:factory' "
            f"(a function returning {EXPECTED})"
        )
    target, _, attr = spec.rpartition(":")
    if target.endswith(".py") or "/" in target:
        module = _import_file(spec, target)
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ProfileError(
                f"model spec {spec!r}: cannot import module {target!r}: {type(exc).__name__}: {exc}. "
                "Is it installed or on PYTHONPATH?"
            ) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise ProfileError(f"model spec {spec!r}: {target} has no attribute {attr!r}; callables there: {public[:10]}")
    if not callable(factory):
        raise ProfileError(f"model spec {spec!r}: expected {attr!r} to be a callable factory, got {_describe(factory)}")
    return factory


def load_spec(spec: str, **extra: Any) -> ModelSpec:
    """Import a factory (``module:factory`` or ``file.py:factory``), call it and convert what it returned.

    Args:
        spec: The factory's name.
        **extra: Fields to set where the factory left them empty (see :func:`as_spec`).

    Raises:
        ProfileError: The spec cannot be imported, the factory raises, or it returns none of the accepted forms.
        MissingExtraError: The factory needs an optional package that is not installed.
    """
    factory = import_factory(spec)
    try:
        got = factory()
    except (MissingExtraError, ProfileError):
        raise
    except Exception as exc:
        raise ProfileError(f"model spec {spec!r}: the factory raised {type(exc).__name__}: {exc}") from exc
    name = spec.rpartition(":")[2]
    return as_spec(got, repr(spec), **{"name": name, **extra})


def spec_from_call(model: Any, example_inputs: Any, where: str, **extra: Any) -> ModelSpec:
    """The spec of an API call ``f(model, example_inputs, ...)`` that also takes ``f(spec, ...)``.

    With ``example_inputs`` the call is the classic form and the inputs are passed through as given; without
    them ``model`` is a :class:`ModelSpec` or anything :func:`as_spec` accepts (a factory's tuple or dict).

    Raises:
        ProfileError: ``model`` is not a spec, or the spec has no example inputs and none can be derived.
    """
    if example_inputs is None:
        spec = as_spec(model, where, **extra)
        _ = spec.inputs  # fail now, naming the call, rather than deep inside it
        return spec
    given = {k: v for k, v in extra.items() if v is not None}
    return replace(ModelSpec(model=model, example_inputs=example_inputs, source=where), **given)
