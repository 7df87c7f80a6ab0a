"""Energy per token of text generation, prefill and decode apart, per batch size and technique.

:func:`measure_generation` (``advisor.measure_generation``) times ``model.generate`` **on the measurement
engine** (:func:`advisor.measurement.run_engine`), like a forward pass: every variant (the baseline included)
is built once; at every batch size it becomes two engine variants, a *prefill window*
(``generate(max_new_tokens=1)`` repeated until the window lasts ``window_s``) and a *generation window*
(``generate(max_new_tokens=N, min_new_tokens=N)``, the same), set up by the engine (warm-up, the output and
memory, the pilot time per call). Each engine round times every window still timed, of every batch size, in a
shuffled order, under the engine's machine lock, budget, ``max_rounds`` and Ctrl-C; generation's rule
(:mod:`._rounds`) retires variants whose verdict is settled and stops batch sizes whose intervals are tight.
Prefill is the first token; decode is the rest, per call: generation minus prefill (the
optimum-benchmark convention). Energy is read from the meters at each window's ends; with NVML a
window lasts at least 5 s (ML.ENERGY's steady-state rule: the counter updates every few tens of ms and
a GPU's clocks need time to settle). Ratios against the baseline of the same round come from the
engine's pure :func:`advisor.measurement.derive`; absolute figures are medians over rounds
with their distribution-free 95 % interval (:func:`median_interval`).

Quality is probed once per variant before any timing (perplexity with real weights and a tokenizer,
logit fidelity with random weights); with ``max_perplexity_ratio`` a variant beyond it is not timed
(``skipped-quality``): it could never be picked.

Speculative variants (prompt lookup, assisted generation) are measured at batch size 1 only (what
transformers supports); their acceptance rate is counted from the target model's forward calls in
one extra, untimed call: accepted = generated tokens - verification passes; proposed = the
candidate tokens each pass verified.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from advisor._errors import ConstraintError, NotApplicable
from advisor.generation._advice import quality_limits, quality_rule_text
from advisor.generation._quality import (
    RANDOM_WEIGHTS_NOTE,
    greedy_agreement,
    logit_fidelity,
    perplexity,
    prompts_from_text,
)
from advisor.generation._results import GenerationFigures, GenerationResult, GenerationRun
from advisor.generation._rounds import Batch, Layout, Live, Settle, collect, phase_rounds, plan_meta
from advisor.generation._techniques import GenSetup, build_variant, default_generation_ids
from advisor.measurement import (
    MIN_ROUNDS,
    EngineSettings,
    Variant,
    VariantSpec,
    derive,
    load_summary,
    median_interval,
    steady_allocator,
)
from advisor.measurement.quality import judge_quality

__all__ = ["MIN_NVML_WINDOW_S", "GenerationSettings", "measure_generation"]

MIN_NVML_WINDOW_S = 5.0  # ML.ENERGY: at least 5 s of steady state per NVML window
DEFAULT_WINDOW_S = 0.05


@dataclass(frozen=True)
class GenerationSettings:
    """The knobs of :func:`measure_generation` (each may also be passed to it as a keyword).

    Attributes:
        max_new_tokens: Tokens generated per prompt (at least 2: prefill is the first).
        batch_sizes: Prompts per ``generate`` call; every technique is measured at each.
        window_s: Shortest energy window (default: the meters' resolution, 5 s with NVML). Units: s.
        min_nvml_window_s: Shortest window when NVML is read. Units: s.
        min_rounds: Rounds before the interval rule may stop a batch size (6 give a 95 % interval).
        max_rounds: Rounds at most per batch size.
        target_rel: Stop when every end-to-end latency ratio's interval half-width is below this.
        warmup: Warm-up calls per variant, batch size and window (compilation happens here), the engine's pilot
            call included; one full generation also takes the output and the memory.
        prompt_tokens: Length of the synthetic prompts.
        real_weights: Whether the weights are trained (quality by agreement and perplexity) or random
            (logit fidelity only); None: trained when the model was loaded from a path.
        tdp_w: CPU TDP for the energy estimate. Units: W.
        meters: Energy meters (default: what this machine can read).
        sync: Called after every ``generate`` (default: ``torch.cuda.synchronize`` for a CUDA model).
        seed: Seed of the round order and the synthetic prompts.
        lock_path: The machine lock file (tests).
        lock_timeout_s: Give up waiting for the machine lock after this long (the engine's
            :class:`~advisor.MachineBusyError`; None: wait). Units: s.
        on_round: Called with (batch size, rounds done) for each batch size an engine round timed.
        store: A :class:`~advisor.measurement.ResultStore`, a path, None for the default store, or False to
            keep the run out of the store. Each batch size's results are written when the rounds end (on
            Ctrl-C or an error too), the whole run (``ResultStore.load_run`` returns it) after them.
        name: The model's name in the store (default: its class name).
        max_perplexity_ratio: Quality gate (real weights with a tokenizer): a variant whose perplexity on the
            shipped text exceeds this multiple of the baseline's is not timed (``skipped-quality``; its
            quality is recorded). None: every variant is timed.
        retire: Let a variant leave the rounds once another variant still timed is significantly faster and
            cheaper per token (>= 6 shared rounds; the rule the engine applies, ``advisor.generation._rounds``).
    """

    max_new_tokens: int = 64
    batch_sizes: Sequence[int] = (1, 4, 16)
    window_s: float | None = None
    min_nvml_window_s: float = MIN_NVML_WINDOW_S
    min_rounds: int = MIN_ROUNDS
    max_rounds: int = 60
    target_rel: float = 0.03
    warmup: int = 2
    prompt_tokens: int = 32
    real_weights: bool | None = None
    tdp_w: float | None = None
    meters: Sequence[Any] | None = None
    sync: Callable[[], None] | None = None
    seed: int = 0
    lock_path: Any = None
    lock_timeout_s: float | None = None
    on_round: Callable[[int, int], None] | None = None
    store: Any = None
    name: str | None = None
    max_perplexity_ratio: float | None = None
    retire: bool = True


# --- inputs --------------------------------------------------------------------------------------------
@dataclass
class _Prompts:
    """Prompts as token ids, batched with left padding."""

    ids: list[list[int]]
    pad_id: int
    source: str

    def batch(self, b: int, device: Any) -> tuple[Any, Any]:
        import torch

        rows = [self.ids[i % len(self.ids)] for i in range(b)]
        n = max(len(r) for r in rows)
        ids = torch.full((b, n), self.pad_id, dtype=torch.long)
        mask = torch.zeros((b, n), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, n - len(r) :] = torch.tensor(r)
            mask[i, n - len(r) :] = 1
        return ids.to(device), mask.to(device)


def _prompts(model: Any, tokenizer: Any, prompts: Sequence[Any] | None, prompt_tokens: int, seed: int) -> _Prompts:
    import torch

    cfg = getattr(model, "config", None)
    pad = getattr(cfg, "pad_token_id", None)
    if pad is None:
        eos = getattr(cfg, "eos_token_id", None)
        pad = (eos[0] if isinstance(eos, list) else eos) if eos is not None else 0
    if tokenizer is not None:
        texts = list(prompts) if prompts else prompts_from_text(4)
        if not all(isinstance(t, str) for t in texts):
            raise ConstraintError(
                f"prompts: with a tokenizer, expected strings; got {sorted({type(t).__name__ for t in texts})}"
            )
        ids = [tokenizer(t).input_ids for t in texts]
        tpad = getattr(tokenizer, "pad_token_id", None)
        return _Prompts(ids, tpad if tpad is not None else pad, "tokenizer" if prompts else "shipped text")
    if prompts:
        if not all(isinstance(p, list | tuple) and p and all(isinstance(i, int) for i in p) for p in prompts):
            raise ConstraintError(
                "prompts: without a tokenizer, expected lists of token ids (e.g. [[15, 27, 3]]); "
                "pass tokenizer= to give strings"
            )
        return _Prompts([list(p) for p in prompts], pad, "token ids")
    vocab = getattr(cfg, "vocab_size", None) or 1000
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (4, prompt_tokens), generator=g).tolist()
    return _Prompts(ids, pad, f"synthetic: 4 prompts of {prompt_tokens} random token ids (seed {seed})")


# --- sizes ---------------------------------------------------------------------------------------------
def _tensor_bytes(t: Any) -> int:
    """Bytes of a tensor, looking inside tensor subclasses (torchao) through ``__tensor_flatten__``."""
    import torch

    if type(t) is not torch.Tensor and hasattr(t, "__tensor_flatten__"):
        names, _ = t.__tensor_flatten__()
        return sum(_tensor_bytes(getattr(t, n)) for n in names)
    if type(t) is torch.nn.Parameter:
        t = t.data
    return t.numel() * t.element_size()


def weights_bytes(model: Any) -> int:
    """Bytes held by a model's parameters and buffers (0 for models that are not torch modules)."""
    if not hasattr(model, "parameters"):
        return 0
    return sum(_tensor_bytes(p) for p in model.parameters()) + sum(_tensor_bytes(b) for b in model.buffers())


def cache_bytes(obj: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Bytes of every tensor inside a KV cache object (DynamicCache, StaticCache, tuples of tensors)."""
    import torch

    seen = _seen if _seen is not None else set()
    if obj is None or _depth > 6 or id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return _tensor_bytes(obj)
    if isinstance(obj, list | tuple):
        return sum(cache_bytes(x, seen, _depth + 1) for x in obj)
    if isinstance(obj, dict):
        return sum(cache_bytes(x, seen, _depth + 1) for x in obj.values())
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("transformers"):
        return sum(cache_bytes(x, seen, _depth + 1) for x in vars(obj).values())
    return 0


class _PeakRss:
    """Samples this process's resident memory every few ms on a thread; ``peak_mib`` after ``stop``."""

    def __init__(self, period_s: float = 0.005) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(period_s,), daemon=True)
        self._t.start()

    def _run(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> float:
        self._stop.set()
        self._t.join(timeout=1)
        self.peak = max(self.peak, self._proc.memory_info().rss)
        return self.peak / 2**20


# --- one variant ---------------------------------------------------------------------------------------
def _generate_fns(s: GenSetup, ids: Any, mask: Any, n_new: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    import torch

    kw = {"attention_mask": mask, "do_sample": False, **s.generate_kwargs}
    pad = getattr(getattr(s.model, "generation_config", None), "pad_token_id", None)
    if pad is None:
        kw["pad_token_id"] = getattr(getattr(s.model, "config", None), "eos_token_id", None) or 0

    def prefill() -> Any:
        with torch.no_grad():
            return s.model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kw)

    def full() -> Any:
        with torch.no_grad():
            return s.model.generate(ids, max_new_tokens=n_new, min_new_tokens=n_new, **kw)

    return prefill, full


def _timed(fn: Callable[[], Any], sync: Callable[[], None] | None) -> float:
    t0 = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - t0


def _memory_and_output(s: GenSetup, ids: Any, mask: Any, n_new: int) -> tuple[Any, dict[str, Any]]:
    """One full generation with the cache returned: generated tokens, weights, KV cache and peak memory."""
    import torch

    cuda = torch.cuda.is_available() and any(
        getattr(p, "is_cuda", False) for p in getattr(s.model, "parameters", list)()
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    kw = {"attention_mask": mask, "do_sample": False, **s.generate_kwargs}
    rss = _PeakRss()
    with torch.no_grad():
        out = s.model.generate(ids, max_new_tokens=n_new, min_new_tokens=n_new, return_dict_in_generate=True, **kw)
    peak_rss = rss.stop()
    cache = getattr(out, "cache", None) if hasattr(out, "cache") else None
    if cache is None:
        cache = getattr(out, "past_key_values", None)
    mem = {
        "weights_mib": round(weights_bytes(s.model) / 2**20, 3),
        "kv_cache_mib": round(cache_bytes(cache) / 2**20, 3) if cache is not None else None,
        "peak_rss_mib": round(peak_rss, 1),
        "peak_cuda_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        "method": "KV cache: bytes of the cache generate() returned; peak: "
        + ("torch.cuda.max_memory_allocated" if cuda else "process RSS sampled every 5 ms"),
    }
    return out.sequences[:, ids.shape[1] :], mem


def _acceptance(s: GenSetup, ids: Any, mask: Any, n_new: int) -> dict[str, Any]:
    """Acceptance of proposed tokens in one greedy generation, from the target model's forward calls."""
    import torch

    lengths: list[int] = []

    def hook(_mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        x = kwargs.get("input_ids", args[0] if args else None)
        if x is not None:
            lengths.append(int(x.shape[-1]))

    h = s.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            out = s.model.generate(
                ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=n_new,
                min_new_tokens=n_new,
                **s.generate_kwargs,
            )
    finally:
        h.remove()
    generated = int(out.shape[1] - ids.shape[1])
    if not lengths:
        return {"note": "the target model's forward calls could not be counted"}
    proposed = (lengths[0] - ids.shape[1]) + sum(n - 1 for n in lengths[1:])
    accepted = max(generated - len(lengths), 0)
    return {
        "acceptance_rate": round(accepted / proposed, 4) if proposed else 0.0,
        "proposed": proposed,
        "accepted": accepted,
        "target_forward_passes": len(lengths),
        "tokens_per_forward": round(generated / len(lengths), 3),
        "method": "forward calls of the target model in one greedy generation (batch 1): accepted = generated "
        "tokens - passes; proposed = candidate tokens verified",
    }


def _set_up_live(
    name: str, s: GenSetup, *, ids: Any, mask: Any, n_new: int, sync: Callable[[], None] | None, warmup: int
) -> Live:
    """Warm a variant up at one batch size and take its output and memory (the engine times the pilot calls).

    Prefill: ``warmup - 1`` calls here. Full generation: ``warmup - 2`` calls, then the call that returns the
    output and the KV cache. The engine then makes one more call of each (its warm-up, the pilot time per call
    that sizes the windows). Compilation happens here.
    """
    prefill, full = _generate_fns(s, ids, mask, n_new)
    for _ in range(max(warmup - 1, 0)):
        _timed(prefill, sync)
    for _ in range(max(warmup - 2, 0)):
        _timed(full, sync)
    new_tokens, memory = _memory_and_output(s, ids, mask, n_new)
    if sync:
        sync()
    live = Live(name, s, prefill, full, new_tokens=new_tokens, memory=memory)
    if s.speculative:
        live.acceptance = _acceptance(s, ids, mask, n_new)
    return live


def _figures(v: Live, b: int, in_tokens: int, n_new: int, method: str | None) -> GenerationFigures:
    pre = [(pw / pc, pe / pc if pe is not None else None) for _, pc, pw, pe, _, _, _ in v.records]
    full = [(fw / fc, fe / fc if fe is not None else None) for _, _, _, _, fc, fw, fe in v.records]
    dec = [
        (f[0] - p[0], (f[1] - p[1]) if f[1] is not None and p[1] is not None else None)
        for p, f in zip(pre, full, strict=True)
    ]
    has_e = all(e is not None for _, e in pre + full)
    return GenerationFigures(
        ttft_ms=median_interval([t * 1000 for t, _ in pre]),
        prefill_j=median_interval([e for _, e in pre]) if has_e else None,
        prefill_j_per_input_token=median_interval([e / in_tokens for _, e in pre]) if has_e else None,
        decode_tokens_per_s=median_interval([b * (n_new - 1) / t for t, _ in dec if t > 0]),
        decode_j_per_output_token=(
            median_interval([max(e, 0.0) / (b * (n_new - 1)) for _, e in dec]) if has_e else None
        ),
        j_per_output_token=median_interval([e / (b * n_new) for _, e in full]) if has_e else None,
        request_latency_s=median_interval([t for t, _ in full]),
        energy_method=method if has_e else None,
    )


# --- quality -------------------------------------------------------------------------------------------
def _probe(s: GenSetup, base_model: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """Perplexity (real weights with a tokenizer) or logit fidelity (random weights) of one variant, once."""
    try:
        if ctx["real_weights"] and ctx["tokenizer"] is not None:
            ppl = perplexity(s.model, ctx["tokenizer"])
            ratio = round(ppl / ctx["base_ppl"], 4) if ctx.get("base_ppl") else None
            return {
                "perplexity": round(ppl, 3),
                "perplexity_ratio": ratio,
                "perplexity_text": "data/text/generation_eval.txt",
            }
        if not ctx["real_weights"]:
            return {**logit_fidelity(base_model, s.model, *ctx["fidelity_inputs"]), "note": RANDOM_WEIGHTS_NOTE}
        return {"note": "real weights but no tokenizer: perplexity not measured (pass tokenizer=)"}
    except Exception as exc:  # noqa: BLE001 - a quality probe failing must not lose the timing
        return {"note": f"quality probe failed: {type(exc).__name__}: {exc}"}


def _probe_all(
    setups: dict[str, GenSetup],
    bad: dict[str, tuple[str, str, dict[str, Any]]],
    ctx: dict[str, Any],
    max_perplexity_ratio: float | None,
) -> None:
    """Probe every variant that changes weights or kernels; with a gate, leave out those beyond it (not timed)."""
    base_model = setups["baseline"].model
    for name, s in list(setups.items()):
        if name == "baseline" or not s.changes_weights:
            continue
        q = ctx["per_variant"][name] = _probe(s, base_model, ctx)
        ratio = q.get("perplexity_ratio")
        if max_perplexity_ratio is not None and ratio is not None and ratio > max_perplexity_ratio:
            why = (
                f"not timed: perplexity x{ratio:.3f} of the baseline's on the shipped text, beyond the "
                f"x{max_perplexity_ratio:g} tolerance (max_perplexity_ratio)"
            )
            bad[name] = ("skipped-quality", why, s.settings)
            del setups[name]  # frees the copy


def _quality(base: Live, v: Live, ctx: dict[str, Any]) -> dict[str, Any] | None:
    if v is base:
        return None
    q: dict[str, Any] = {"greedy_agreement": round(greedy_agreement(base.new_tokens, v.new_tokens), 4)}
    if not v.setup.changes_weights:
        q["note"] = "the model's weights and kernels are unchanged: greedy output is the baseline's by construction"
        return q
    if v.name not in ctx["per_variant"]:
        ctx["per_variant"][v.name] = _probe(v.setup, base.setup.model, ctx)
    return {**q, **ctx["per_variant"][v.name]}


def _quality_bad(ctx: dict[str, Any]) -> Callable[[Batch, Live], bool]:
    """For the rounds: whether a variant's quality is known to fail the rule (it may not retire others)."""

    def bad(bt: Batch, v: Live) -> bool:
        q = _quality(bt.live[0], v, ctx)
        return judge_quality(q, **quality_limits(ctx["real_weights"])).status == "failed"

    return bad


# --- the public call -----------------------------------------------------------------------------------
def _check(batch_sizes: Sequence[int], max_new_tokens: int, budget_s: float, max_ppl: float | None = None) -> list[int]:
    bs = sorted({int(b) for b in batch_sizes}) if batch_sizes else []
    if not bs or any(b < 1 for b in bs):
        raise ConstraintError(f"batch_sizes: expected positive integers, got {list(batch_sizes)!r}; e.g. (1, 4, 16)")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 2:
        raise ConstraintError(
            f"max_new_tokens: expected an integer >= 2 (one prefill token and at least one decode "
            f"token), got {max_new_tokens!r}"
        )
    if not budget_s or budget_s <= 0:
        raise ConstraintError(f"budget_s: expected a positive number of seconds, got {budget_s!r}")
    if max_ppl is not None and not max_ppl > 0:
        raise ConstraintError(
            f"max_perplexity_ratio: expected a positive ratio such as 1.05 (or None: no gate), got {max_ppl!r}"
        )
    return bs


def _resolve_ids(model: Any, techniques: Sequence[str] | str | None) -> list[str]:
    if techniques is None or techniques == "default":
        return default_generation_ids(model)
    return [techniques] if isinstance(techniques, str) else list(techniques)


def _window_s(meters: Sequence[Any], window_s: float | None, min_nvml_window_s: float) -> float:
    w = window_s if window_s is not None else max([DEFAULT_WINDOW_S, *(getattr(m, "min_block_s", 0) for m in meters)])
    if any(getattr(m, "method", "") == "measured-nvml" for m in meters):
        w = max(w, min_nvml_window_s)
    return w


def _reporting(method: str | None, window_s: float, nvml: bool, quality_rule: str) -> str:
    lines = [f"Energy method: {method or 'none (no meter)'}; energy is gross (idle power not subtracted)."]
    if nvml:
        lines.append(
            f"NVML windows last at least {window_s:g} s (ML.ENERGY keeps >= 5 s of steady state per "
            "window), repeating generate() calls until the window is that long."
        )
    else:
        lines.append(f"Each window repeats generate() until it lasts at least {window_s:g} s.")
    lines.append(
        "Prefill = generate(max_new_tokens=1); decode = the full generation minus prefill, per call "
        "(optimum-benchmark). Intervals: 95 % order-statistic intervals of the median over paired rounds of the "
        "measurement engine; every round times every batch size; a variant significantly slower and costlier than "
        "another (>= 6 rounds) leaves the rounds."
    )
    lines.append(quality_rule)
    if method and method.startswith("estimated"):
        lines.append("ESTIMATED energy (no RAPL/NVML counter readable): ranks variants, is not a measurement.")
    return " ".join(lines)


def _setups(
    model: Any, ids: list[str], draft_model: Any
) -> tuple[dict[str, GenSetup], dict[str, tuple[str, str, dict[str, Any]]]]:
    """Build every variant once: (the built ones, baseline first; the others with (status, reason, settings))."""
    ok: dict[str, GenSetup] = {"baseline": GenSetup(model)}
    bad: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for vid in ids:
        try:
            ok[vid] = build_variant(vid, model, draft_model=draft_model)
        except NotApplicable as exc:
            bad[vid] = ("not-applicable", str(exc), {})
        except Exception as exc:  # noqa: BLE001 - a variant failing to build is recorded, the run goes on
            bad[vid] = ("failed", f"{type(exc).__name__}: {exc}", {})
    return ok, bad


def measure_generation(
    model: Any,
    tokenizer: Any = None,
    prompts: Sequence[Any] | None = None,
    *,
    techniques: Sequence[str] | str | None = "default",
    draft_model: Any = None,
    budget_s: float = 120.0,
    settings: GenerationSettings | None = None,
    **overrides: Any,
) -> GenerationRun:
    """Measure time and energy per token of ``model.generate``, prefill and decode, per batch size and technique.

    Args:
        model: A transformers causal LM (anything with ``generate`` and a ``config``).
        tokenizer: Its tokenizer (needed for string prompts and for perplexity).
        prompts: Strings (with a tokenizer) or lists of token ids; default: the shipped text's first
            sentences (with a tokenizer) or seeded random ids of ``prompt_tokens`` length.
        techniques: Variant ids (see ``advisor.generation._techniques``), ``"default"`` for all, or [] for the baseline.
        draft_model: A small decoder sharing the tokenizer, for ``speculative-decoding``.
        budget_s: Wall-clock budget for set-up and rounds (lock waits excluded). It is the engine's: every round
            times every batch size, so each gets the same number of rounds (``meta["plan"]`` gives one round's
            cost per batch size from the pilot times and the budget that ``min_rounds`` rounds need); no round
            starts that would end past it once ``min_rounds`` are done; short of them, rounds run on until they
            are done or 1.5x the budget has passed; variants not set up by then are ``skipped-budget``. Units: s.
        settings: The knobs (:class:`GenerationSettings`: tokens, batch sizes, windows, rounds, meters, store,
            quality gate, ...); any of its fields may also be given as a keyword (``max_new_tokens=16``), which
            overrides ``settings``. An unknown keyword is a :class:`~advisor.ConstraintError` naming the valid ones.
        **overrides: :class:`GenerationSettings` fields, e.g. ``batch_sizes=(1, 4)``, ``store=False``.

    Returns:
        A :class:`GenerationRun` (its ``run_id`` is the store's); Ctrl-C returns what was measured with status
        ``interrupted``.
    """
    from advisor._settings import merged
    from advisor.measurement import device_sync

    s = merged(GenerationSettings, settings, overrides, "measure_generation()")
    bs = _check(s.batch_sizes, s.max_new_tokens, budget_s, s.max_perplexity_ratio)
    if not hasattr(model, "generate"):
        raise ConstraintError(
            f"model: expected a causal LM with .generate() (transformers), got {type(model).__name__}"
        )
    model.eval()
    ids = _resolve_ids(model, techniques)
    meters, unavailable, method, nvml = _resolve_meters(s.meters, s.tdp_w)
    win = _window_s(meters, s.window_s, s.min_nvml_window_s)
    sync = s.sync if s.sync is not None else device_sync(model)
    real_weights = s.real_weights
    if real_weights is None:
        real_weights = bool(getattr(getattr(model, "config", None), "_name_or_path", ""))
    pr = _prompts(model, tokenizer, prompts, s.prompt_tokens, s.seed)
    meta = _meta(
        model,
        ids,
        metering=(meters, unavailable, method, nvml),
        win=win,
        pr=pr,
        real_weights=real_weights,
        tokenizer=tokenizer is not None,
        bs=bs,
        n_new=s.max_new_tokens,
        budget_s=budget_s,
    )
    meta.update({k: getattr(s, k) for k in ("max_perplexity_ratio", "retire", "min_rounds", "max_rounds", "warmup")})
    st = _open_store(s.store)
    run_id = st.start_run(s.name or type(model).__name__, "", {**meta, "kind": "generation"}) if st else None
    run = GenerationRun(run_id or uuid.uuid4().hex[:12], "finished", [], meta)
    setups, bad = _setups(model, ids, draft_model)
    qctx, device = _quality_context(model, tokenizer, real_weights, pr.batch, b=min(bs), meta=meta)
    eng = _engine_settings(s, win)
    meta["engine"] = eng.to_dict()
    w = _Work(
        Layout([Batch(b, 0) for b in bs]),
        setups,
        bad,
        ids,
        pr,
        device,
        s.max_new_tokens,
        s.warmup,
        sync,
        qctx,
        time.perf_counter(),
    )
    outcome = _measure(
        run,
        w,
        eng,
        st=st,
        method=method,
        max_perplexity_ratio=s.max_perplexity_ratio,
        meters=meters,
        budget_s=budget_s,
        retire=s.retire,
        on_round=s.on_round,
        lock_path=s.lock_path,
        label=f"generation {type(model).__name__}",
    )
    _outcome_meta(meta, w, outcome, budget_s=budget_s, min_rounds=s.min_rounds, hard_factor=eng.hard_budget_factor)
    _save(st, run)
    return run


def _engine_settings(s: GenerationSettings, win: float) -> EngineSettings:
    """The engine's settings for generation: windows of ``win`` s, one warm-up, no round past the budget."""
    return EngineSettings(
        block_s=win,
        warmup=1,
        min_rounds=s.min_rounds,
        max_rounds=s.max_rounds,
        target_rel=s.target_rel,
        seed=s.seed,
        lock_timeout_s=s.lock_timeout_s,
        stop_before_overrun=True,
    )


def _save(st: Any, run: GenerationRun) -> None:
    """Finish the stored run and write its whole record (nothing when the run is kept out of the store)."""
    if st is not None:
        run.meta["store"] = str(st.path)
        st.finish_run(run.run_id, run.status)
        st.save_run(run)


def _quality_context(
    model: Any, tokenizer: Any, real_weights: bool, batch: Callable[[int, Any], Any], *, b: int, meta: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    """What the quality probes need (the baseline's perplexity, the fidelity inputs), and the model's device."""
    qctx = {"real_weights": real_weights, "tokenizer": tokenizer, "per_variant": {}, "base_ppl": None}
    if real_weights and tokenizer is not None:
        qctx["base_ppl"] = perplexity(model, tokenizer)
        meta["baseline_perplexity"] = round(qctx["base_ppl"], 3)
    device = next((p.device for p in model.parameters()), None)
    qctx["fidelity_inputs"] = batch(b, device)
    return qctx, device


# --- on the engine -------------------------------------------------------------------------------------
@dataclass
class _Work:
    """What the engine's set-ups need: the layout, the built variants, the prompts, the settings of a run."""

    layout: Layout
    setups: dict[str, GenSetup]
    bad: dict[str, tuple[str, str, dict[str, Any]]]
    ids: list[str]
    pr: _Prompts
    device: Any
    n_new: int
    warmup: int
    sync: Callable[[], None] | None
    qctx: dict[str, Any]
    t0: float
    t_engine: float | None = None


def _measure(
    run: GenerationRun,
    w: _Work,
    eng: EngineSettings,
    *,
    st: Any,
    method: str | None,
    max_perplexity_ratio: float | None,
    **engine_kw: Any,
) -> Any:
    """Probe quality, run the engine, and turn what it measured into the run's results (stored per batch size).

    On Ctrl-C (the engine's: every finished round kept) or an error too, what was measured is kept and stored.
    Returns the engine's outcome (None when the rounds never started).
    """
    outcome = None
    try:
        _probe_all(w.setups, w.bad, w.qctx, max_perplexity_ratio)
        outcome = _on_engine(w, eng, **engine_kw)
        run.status = outcome.status
    except KeyboardInterrupt:  # before the rounds (quality probes); in the rounds the engine keeps them
        run.status = "interrupted"
    finally:
        _close_batches(w, outcome)
        for bt in w.layout.batches:
            run.results += _derive_batch(
                bt, ["baseline", *w.ids], n_new=w.n_new, method=method, qctx=w.qctx, loads=w.layout.loads
            )
            _store_results(st, run, bt.b)
    if run.status == "interrupted":
        done = {(r.technique, r.batch_size) for r in run.results}
        run.results += [
            GenerationResult(v, bt.b, "interrupted", "interrupted (Ctrl-C) before it was measured")
            for bt in w.layout.batches
            for v in ["baseline", *w.ids]
            if (v, bt.b) not in done
        ]
    return outcome


def _resolve_meters(
    meters: Sequence[Any] | None, tdp_w: float | None
) -> tuple[Sequence[Any], dict[str, str], str | None, bool]:
    """The meters (default: what this machine can read), those unavailable, the energy method, whether NVML."""
    from advisor.measurement.energy import get_meters

    unavailable: dict[str, str] = {}
    if meters is None:
        meters, unavailable = get_meters(tdp_w)
    method = "+".join(sorted({m.method for m in meters})) or None
    return meters, unavailable, method, any(getattr(m, "method", "") == "measured-nvml" for m in meters)


def _on_engine(
    w: _Work,
    eng: EngineSettings,
    *,
    meters: Sequence[Any],
    budget_s: float,
    retire: bool,
    on_round: Callable[[int, int], None] | None,
    lock_path: Any,
    label: str,
) -> Any:
    """Every window a variant of one engine run; generation's rule settles batch sizes (:class:`Settle`).

    The baseline's prefill window at the smallest batch size is the engine's baseline (set up here: its failure
    raises); the other baselines are essential (set up whatever the budget). The budget left after the quality
    probes is the engine's.
    """
    from advisor.measurement import run_engine

    specs = _specs(w)
    baseline = specs.pop(0).setup()
    rule = Settle(w.layout, eng.min_rounds, eng.target_rel, retire=retire, quality_bad=_quality_bad(w.qctx))
    w.t_engine = time.perf_counter()
    return run_engine(
        baseline,
        specs,
        meters=meters,
        settings=eng,
        budget_s=max(budget_s - (w.t_engine - w.t0), 0.0),
        sync=w.sync,
        label=label,
        on_round=lambda r: w.layout.on_round(r, on_round),
        lock_path=lock_path,
        settle=rule,
    )


def _specs(w: _Work) -> list[VariantSpec]:
    """Two engine variants (prefill, generation window) per variant and batch size; the rest's results now."""
    specs: list[VariantSpec] = []
    for bt in w.layout.batches:
        inp, mask = w.pr.batch(bt.b, w.device)
        bt.in_tokens = int(mask.sum())
        for name in ["baseline", *w.ids]:
            if name in w.bad:
                status, reason, settings = w.bad[name]
                bt.out[name] = _not_run(name, bt.b, status, reason, settings, quality=w.qctx["per_variant"].get(name))
                continue
            s = w.setups[name]
            if s.max_batch is not None and bt.b > s.max_batch:
                bt.out[name] = _not_run(
                    name, bt.b, "not-applicable", f"batch size {bt.b}: supported up to {s.max_batch}", s.settings
                )
                continue
            specs += _window_specs(w, bt, name, inp, mask)
    return specs


def _window_specs(w: _Work, bt: Batch, name: str, inp: Any, mask: Any) -> list[VariantSpec]:
    """The prefill window (sets the variant up at this batch size) and the generation window of one variant."""
    s = w.setups[name]
    pre, gen = w.layout.name(name, bt.b, "prefill"), w.layout.name(name, bt.b, "generation")

    def set_up_prefill() -> Variant:
        if name != "baseline" and bt.get("baseline") is None:
            bt.out[name] = _not_run(
                name, bt.b, "failed", f"the baseline could not be set up at batch size {bt.b}", s.settings
            )
            raise NotApplicable(bt.out[name].reason)
        try:
            live = _set_up_live(name, s, ids=inp, mask=mask, n_new=w.n_new, sync=w.sync, warmup=w.warmup)
        except NotApplicable as exc:
            bt.out[name] = _not_run(name, bt.b, "not-applicable", str(exc), s.settings)
            raise
        except Exception as exc:
            bt.out[name] = _not_run(name, bt.b, "failed", f"{type(exc).__name__}: {str(exc)[:300]}", s.settings)
            raise
        bt.live.append(live)
        return Variant(pre, live.prefill, items_per_call=bt.in_tokens)

    def set_up_generation() -> Variant:
        live = bt.get(name)
        if live is None:
            raise NotApplicable("its prefill window was not set up")
        return Variant(gen, live.full, items_per_call=bt.b * w.n_new)

    # the generation window is set up whenever the prefill window was (it only wraps the set-up variant), so a
    # budget running out between the two never leaves half a pair timed
    return [
        VariantSpec(pre, set_up_prefill, essential=name == "baseline"),
        VariantSpec(gen, set_up_generation, essential=True),
    ]


def _close_batches(w: _Work, outcome: Any) -> None:
    """After the engine: records, pilot costs, the set-ups it skipped, why each batch size stopped."""
    if outcome is None:
        return
    collect(w.layout, outcome.rounds)
    for bt in w.layout.batches:
        for v in bt.live:
            pre, gen = (f"{v.name} [batch {bt.b}] {ph}" for ph in ("prefill", "generation"))
            v.cost_s = v.calls_prefill * outcome.pilot_s.get(pre, 0.0) + v.calls_full * outcome.pilot_s.get(gen, 0.0)
        for n, (b, tech, _) in w.layout.windows.items():
            if b == bt.b and tech not in bt.out and bt.get(tech) is None and n in outcome.setups:
                status, reason, _ = outcome.setups[n]
                bt.out[tech] = _not_run(tech, b, status, reason or status, w.setups[tech].settings)
        if bt.stopped is None:
            bt.stopped = "interrupted" if outcome.status == "interrupted" else (outcome.stopped_by or ["budget"])[-1]


def _outcome_meta(
    meta: dict[str, Any], w: _Work, outcome: Any, *, budget_s: float, min_rounds: int, hard_factor: float
) -> None:
    """The run's plan, elapsed time, load and allocator, from the engine's outcome."""
    meta["elapsed_s"] = round(time.perf_counter() - w.t0, 1)
    rounds = outcome.rounds if outcome is not None else []
    meta["load"] = load_summary(rounds)
    if outcome is None:
        return
    setup_s = (w.t_engine or w.t0) - w.t0 + (outcome.setup_s or 0.0)
    meta["plan"] = plan_meta(w.layout.batches, setup_s, budget_s, min_rounds, hard_factor)
    meta["allocator"] = outcome.allocator or meta.get("allocator")
    meta["lock_waited_s"] = round(outcome.lock_waited_s, 3)
    meta["engine_stopped_by"] = outcome.stopped_by


def _open_store(store: Any) -> Any:
    """The results store to write to, or None when ``store`` is False."""
    from advisor.measurement.store import ResultStore

    if store is False:
        return None
    return store if isinstance(store, ResultStore) else ResultStore(store)


def _store_results(st: Any, run: GenerationRun, b: int) -> None:
    """Write one batch size's results now (a row per variant and batch size), so a crash keeps them."""
    if st is None:
        return
    for r in run.results:
        if r.batch_size == b:
            st.add_result(run.run_id, f"{r.technique} [batch {b}]", r.status, r.to_dict())


def _meta(
    model: Any,
    ids: list[str],
    *,
    metering: tuple[Sequence[Any], dict[str, str], str | None, bool],
    win: float,
    pr: _Prompts,
    real_weights: bool,
    tokenizer: bool,
    bs: list[int],
    n_new: int,
    budget_s: float,
) -> dict[str, Any]:
    """The run's meta: model, weights, machine, settings, meters (``metering``: meters, unavailable, method, nvml)."""
    from advisor.profile import detect_hardware

    meters, unavailable, method, nvml = metering

    hw = detect_hardware()
    return {
        "model": type(model).__name__,
        "model_path": getattr(getattr(model, "config", None), "_name_or_path", "") or None,
        "parameters": sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None,
        "weights": "real" if real_weights else "random",
        "weights_note": None if real_weights else RANDOM_WEIGHTS_NOTE,
        "hardware": hw.model_dump(mode="json"),
        "cpu": hw.cpu_model,
        "techniques": ids,
        "batch_sizes": bs,
        "max_new_tokens": n_new,
        "prompts": pr.source,
        "prompt_lengths": [len(p) for p in pr.ids],
        "budget_s": budget_s,
        "meters": [m.describe() for m in meters],
        "meters_unavailable": unavailable,
        "energy_method": method,
        "window_s": win,
        "reporting": _reporting(method, win, nvml, quality_rule_text(real_weights, tokenizer)),
        "harness": "interleaved-paired-rounds (the engine, run_engine): a prefill window and a generation window "
        "per variant and batch size, every batch size in every round",
        "allocator": steady_allocator(),  # before any round: see advisor.measurement.steady_allocator
    }


def _not_run(
    name: str,
    b: int,
    status: str,
    reason: str,
    settings: dict[str, Any] | None = None,
    *,
    quality: dict[str, Any] | None = None,
) -> GenerationResult:
    return GenerationResult(name, b, status, reason, settings=settings or {}, quality=quality)


def _derive_batch(
    bt: Batch,
    names: list[str],
    *,
    n_new: int,
    method: str | None,
    qctx: dict[str, Any],
    loads: dict[int, dict[str, Any]],
) -> list[GenerationResult]:
    """Every variant's result at one batch size, in ``names`` order: figures and comparisons from its rounds."""
    out = dict(bt.out)
    measured = [v for v in bt.live if v.records]
    status, why = (
        ("interrupted", "interrupted before its first round")
        if bt.stopped in (None, "interrupted")
        else ("skipped-budget", f"set up, but its rounds ended ({bt.stopped}) before its first one")
    )
    out.update({v.name: _not_run(v.name, bt.b, status, why, v.setup.settings) for v in bt.live if not v.records})
    if measured:
        phases = phase_rounds(measured, bt.b, bt.in_tokens, n_new, loads)
        comps = {
            ph: derive(rs, "baseline", [v.name for v in measured[1:]], energy_method=method)
            for ph, rs in phases.items()
        }
        for v in measured:
            out[v.name] = _result(v, bt, comps, n_new=n_new, method=method, qctx=qctx)
    return [out[n] for n in names if n in out]


def _result(
    v: Live, bt: Batch, comps: dict[str, Any], *, n_new: int, method: str | None, qctx: dict[str, Any]
) -> GenerationResult:
    stopped = bt.stopped or "interrupted"
    done = stopped != "interrupted" or v.retired is not None
    r = GenerationResult(
        v.name,
        bt.b,
        "ok" if done else "interrupted",
        None if done else f"interrupted after {len(v.records)} rounds; figures kept",
        settings=v.setup.settings,
    )
    r.figures = _figures(v, bt.b, bt.in_tokens, n_new, method)
    r.comparison = {ph: comps[ph][v.name] for ph in comps if v.name in comps[ph]}
    r.acceptance = v.acceptance
    r.quality = _quality(bt.live[0], v, qctx)
    r.memory = v.memory
    r.rounds = len(v.records)
    r.tokens = {
        "input_tokens": bt.in_tokens,
        "new_tokens_per_prompt": n_new,
        "batch_size": bt.b,
        "calls_per_prefill_window": v.calls_prefill,
        "calls_per_generation_window": v.calls_full,
        "stopped_by": "retired" if v.retired else stopped,
        "pilot_round_s": round(v.cost_s, 4),
    }
    if v.retired:
        r.tokens["retired_because"] = v.retired
    return r
