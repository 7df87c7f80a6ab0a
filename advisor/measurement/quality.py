"""Quality of a transformed model, and the one rule that judges it (:func:`judge_quality`).

Every measured variant is compared with the original model on inputs the variant was not
calibrated on (see :mod:`advisor.measurement._held_out`); with the user's ``eval_fn`` its accuracy
change is measured too. The figure that decides follows the output (:func:`output_kind`):

- ``classifier`` (N x C logits, C > 1): ``top1_agreement`` (share of inputs whose arg-max matches the
  original's) decides; ``top5_overlap`` (mean share of the original's top 5 classes among the variant's,
  C > 5) is reported;
- ``tokens`` (N x T x V logits of a decoder run as a forward pass): ``token_agreement`` (share of
  positions whose arg-max token matches) decides;
- ``embedding`` (N x D rows of unit length, or a model's hidden state) and ``features`` (any other
  tensor of 3 or more dimensions): ``cosine_similarity`` (mean over inputs of the flattened outputs) decides;
- ``regression`` (N, N x 1 or a scalar): ``relative_error`` (``||out - ref|| / ||ref||``) decides.

``cosine_similarity`` and ``max_abs_error`` are reported for every kind. Outputs that cannot be
scored (non-finite, one constant value, the same row for every input) are reported instead of
scores: the variant is ``unverified`` when the *original* model's outputs are so, and ``failed``
when only the variant's are (it collapsed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

__all__ = [
    "DEFAULT_MAX_ACCURACY_DROP_PP",
    "DEFAULT_MIN_FIDELITY",
    "FIDELITY_MIN",
    "OUTPUT_KINDS",
    "PRIMARY_METRIC",
    "Quality",
    "QualityVerdict",
    "degenerate_reason",
    "fidelity",
    "first_tensor",
    "judge_quality",
    "output_kind",
    "quality_figure",
    "wilson_upper",
    "with_accuracy",
]

DEFAULT_MIN_FIDELITY = 0.99
DEFAULT_MAX_ACCURACY_DROP_PP = 1.0
# below either figure a variant is flagged as losing fidelity (``fidelity_flag``), whatever its output kind
FIDELITY_MIN = {
    "cosine_similarity": DEFAULT_MIN_FIDELITY,
    "top1_agreement": DEFAULT_MIN_FIDELITY,
    "token_agreement": DEFAULT_MIN_FIDELITY,
}
OUTPUT_KINDS = ("classifier", "tokens", "embedding", "features", "regression")
PRIMARY_METRIC = {
    "classifier": "top1_agreement",
    "tokens": "token_agreement",
    "embedding": "cosine_similarity",
    "features": "cosine_similarity",
    "regression": "relative_error",
}
_LABEL = {
    "top1_agreement": "top-1 agreement",
    "top5_overlap": "top-5 overlap",
    "token_agreement": "token agreement",
    "cosine_similarity": "cosine similarity",
    "relative_error": "relative error",
}
_HIDDEN_FIELDS = ("last_hidden_state", "pooler_output", "sentence_embedding", "embeddings", "hidden_states")
Status = Literal["verified", "failed", "unverified"]


@dataclass(frozen=True)
class Quality:
    """Quality figures of one variant against the original model.

    Attributes:
        accuracy: ``eval_fn(model)`` of the variant, in the eval_fn's units (percent; None without eval_fn).
        accuracy_change_pp: Variant minus baseline accuracy, in percentage points.
        output_kind: What the output looks like (one of :data:`OUTPUT_KINDS`): which figure decides.
        top1_agreement: Share of held-out inputs whose arg-max matches the original's (classifiers).
        top5_overlap: Mean share of the original's top-5 classes among the variant's (classifiers, C > 5).
        token_agreement: Share of positions whose arg-max token matches (decoder logits, N x T x V).
        cosine_similarity: Mean cosine similarity of the flattened outputs per input.
        relative_error: ``||variant - original|| / ||original||`` over all outputs (regression).
        max_abs_error: Largest absolute difference from the original outputs.
        quality_inputs: What the figures were measured on, e.g. ``64 held-out inputs, generated like the examples``.
        n_quality_inputs: How many inputs the output figures rest on.
        quality_status: ``verified``, ``failed`` or ``unverified`` under the default gate (:func:`judge_quality`
            with 1 pp and :data:`DEFAULT_MIN_FIDELITY`; ``tune`` judges again with the user's constraints).
        quality_reason: The figure that failed, or why nothing could be verified (one line).
        error: Why quality could not be measured, if so (``eval_fn raised ...``, no tensor output).
        degenerate: Why the outputs cannot be scored (``original model: ...`` or ``variant: ...``).
        fidelity_flag: Set when cosine, top-1 or token agreement falls below :data:`FIDELITY_MIN`.
    """

    accuracy: float | None = None
    accuracy_change_pp: float | None = None
    output_kind: str | None = None
    top1_agreement: float | None = None
    top5_overlap: float | None = None
    token_agreement: float | None = None
    cosine_similarity: float | None = None
    relative_error: float | None = None
    max_abs_error: float | None = None
    quality_inputs: str | None = None
    n_quality_inputs: int | None = None
    quality_status: str | None = None
    quality_reason: str | None = None
    error: str | None = None
    degenerate: str | None = None
    fidelity_flag: str | None = None

    @property
    def accuracy_change(self) -> float | None:
        """The accuracy change (older name of :attr:`accuracy_change_pp`)."""
        return self.accuracy_change_pp

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (one field per metric)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quality:
        """The quality from :meth:`to_dict`, also of older runs (``accuracy_change`` without ``_pp``)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if kw.get("accuracy_change_pp") is None and d.get("accuracy_change") is not None:
            kw["accuracy_change_pp"] = d["accuracy_change"]
        return cls(**kw)

    def judged(self, **gate: Any) -> Quality:
        """A copy with ``quality_status``/``quality_reason`` set by :func:`judge_quality` (``gate``: its limits)."""
        v = judge_quality(self, **gate)
        return Quality(**{**self.to_dict(), "quality_status": v.status, "quality_reason": v.reason})


@dataclass(frozen=True)
class QualityVerdict:
    """What :func:`judge_quality` found.

    Attributes:
        status: ``verified`` (passes the gate), ``failed`` (the reason names the figure) or ``unverified``.
        reason: For ``failed``: the figure and the limit; for ``unverified``: why, in one line; None when verified.
        figure: The deciding figure as text (``top-1 agreement 0.984 on 64 held-out inputs``), when there is one.
    """

    status: Status
    reason: str | None = None
    figure: str | None = None

    @property
    def ok(self) -> bool | None:
        """True (verified), False (failed) or None (unverified): the old ``quality_ok`` triple."""
        return {"verified": True, "failed": False}.get(self.status)


def _get(q: Any, key: str) -> Any:
    if isinstance(q, dict):
        return q.get(key)
    return getattr(q, key, None)


def _on(q: Any) -> str:
    n, how = _get(q, "n_quality_inputs"), _get(q, "quality_inputs")
    if how:
        return f" on {how}"
    return f" on {n} inputs" if n else ""


def _num(metric: str, v: float) -> str:
    return f"{v:.3g}" if metric == "relative_error" else f"{v:.5f}" if metric == "cosine_similarity" else f"{v:.3f}"


def quality_figure(q: Any) -> str | None:
    """The deciding figures of a quality (object or dict) as text, e.g. ``top-1 agreement 0.984 on 64 held-out ...``.

    With an accuracy change it comes first (``accuracy -0.3 pp; top-1 agreement 0.98 on ...``);
    generation figures (perplexity ratio, greedy agreement) and training's loss change are named too.
    """
    if q is None:
        return None
    parts = []
    acc = _get(q, "accuracy_change_pp")
    acc = _get(q, "accuracy_change") if acc is None else acc
    if acc is not None:
        parts.append(f"accuracy {acc:+.1f} pp")
    kind = _get(q, "output_kind")
    metric = PRIMARY_METRIC.get(kind or "") or next(
        (
            m
            for m in ("top1_agreement", "token_agreement", "cosine_similarity", "relative_error")
            if _get(q, m) is not None
        ),
        None,
    )
    if metric and _get(q, metric) is not None:
        parts.append(f"{_LABEL[metric]} {_num(metric, _get(q, metric))}{_on(q)}")
    if _get(q, "perplexity_ratio") is not None:
        parts.append(f"perplexity x{_get(q, 'perplexity_ratio'):.3f}")
    elif _get(q, "greedy_agreement") is not None:
        parts.append(f"greedy agreement {_get(q, 'greedy_agreement'):.0%}")
    if _get(q, "loss_rel_change") is not None:
        parts.append(f"loss {_get(q, 'loss_rel_change'):+.1%} after the same steps")
    return "; ".join(parts) or None


def judge_quality(
    quality: Any,
    max_accuracy_drop_pp: float = DEFAULT_MAX_ACCURACY_DROP_PP,
    min_fidelity: float = DEFAULT_MIN_FIDELITY,
    *,
    max_loss_rel_change: float = 0.05,
    max_perplexity_ratio: float = 1.05,
    min_greedy_agreement: float | None = 0.9,
) -> QualityVerdict:
    """The one quality rule: is this variant's quality verified within the limits, failed, or unverified?

    ``quality`` is an inference :class:`Quality`, a training ``TrainingQuality``, a generation quality
    dict, a stored dict of any of them, or None. The rule, in order:

    1. None: ``unverified`` (quality not measured).
    2. Generation (``perplexity_ratio``, ``note``, ``greedy_agreement``): the perplexity ratio decides
       (``<= max_perplexity_ratio``); else a note saying the weights and kernels are unchanged verifies;
       else greedy agreement ``>= min_greedy_agreement`` decides (pass ``min_greedy_agreement=None``
       to leave it unjudged, as generation does for random weights); logit figures alone are not judged.
       Generation passes its limits as ``judge_quality(q, **advisor.generation.quality_limits(real_weights))``
       (greedy agreement judged only with real weights); it has no rule of its own.
    3. Training (``finite``, ``loss_rel_change``): a non-finite loss, or a final loss more than
       ``max_loss_rel_change`` above the baseline's, fails; an ``error`` leaves it unverified; else verified.
    4. Inference with an accuracy change (``eval_fn``): ``accuracy_change_pp >= -max_accuracy_drop_pp``
       decides; the output figures are reported beside it.
    5. Inference without one: ``eval_fn raised``, no tensor output or degenerate *original* outputs
       leave it unverified; degenerate *variant* outputs (the original's are fine) or a changed output
       shape fail it; else the output kind's figure decides: top-1 agreement, token agreement or cosine
       similarity ``>= min_fidelity``, or ``1 - relative_error >= min_fidelity`` (regression).

    Args:
        quality: The figures (object or dict), see above.
        max_accuracy_drop_pp: Largest accuracy loss accepted with an eval_fn. Units: percentage points.
        min_fidelity: The fidelity floor for output comparisons (0-1).
        max_loss_rel_change: Training: largest relative rise of the final loss.
        max_perplexity_ratio: Generation: largest perplexity ratio against the baseline.
        min_greedy_agreement: Generation: smallest greedy agreement, or None to not judge it.

    Returns:
        A :class:`QualityVerdict`; a ``failed`` reason names the figure and the limit.
    """
    q = quality
    if q is None:
        return QualityVerdict("unverified", "quality not measured")
    ppl = _get(q, "perplexity_ratio")
    if ppl is not None:
        why = f"perplexity x{ppl:.3f} of the baseline's (tolerance x{max_perplexity_ratio:g})"
        return (
            QualityVerdict("verified", None, why)
            if ppl <= max_perplexity_ratio
            else QualityVerdict("failed", f"{why}: quality changed", why)
        )
    if "the model's weights and kernels are unchanged" in str(_get(q, "note") or ""):
        return QualityVerdict("verified", None, "weights and kernels unchanged")
    greedy = _get(q, "greedy_agreement")
    if greedy is not None or _get(q, "note") is not None:
        if greedy is None or min_greedy_agreement is None:
            return QualityVerdict("unverified", "generation quality not judged here (random weights or no figure)")
        fig = f"greedy agreement {greedy:.0%}"
        if greedy >= min_greedy_agreement:
            return QualityVerdict("verified", None, fig)
        return QualityVerdict("failed", f"greedy output agrees with the baseline on {greedy:.0%} of tokens", fig)
    if _get(q, "finite") is not None or _get(q, "losses") is not None:
        return _judge_training(q, max_loss_rel_change)
    return _judge_inference(q, max_accuracy_drop_pp, min_fidelity)


def _judge_training(q: Any, max_rel: float) -> QualityVerdict:
    if _get(q, "finite") is False:
        return QualityVerdict("failed", "the loss became non-finite")
    rel = _get(q, "loss_rel_change")
    fig = quality_figure(q)
    if rel is not None and rel > max_rel:
        return QualityVerdict("failed", f"loss {rel:+.1%} against the baseline after the same steps", fig)
    if _get(q, "error") and rel is None:
        return QualityVerdict("unverified", str(_get(q, "error")).splitlines()[0])
    return QualityVerdict("verified", None, fig)


def _judge_inference(q: Any, max_drop: float, min_fid: float) -> QualityVerdict:
    fig = quality_figure(q)
    change = _get(q, "accuracy_change_pp")
    change = _get(q, "accuracy_change") if change is None else change
    if change is not None:
        if change >= -max_drop:
            return QualityVerdict("verified", None, fig)
        return QualityVerdict("failed", f"accuracy {change:+.1f} pp, beyond your {max_drop:g} pp budget", fig)
    error, degenerate = _get(q, "error"), _get(q, "degenerate")
    if error and str(error).startswith("eval_fn raised"):
        return QualityVerdict("unverified", str(error).splitlines()[0])
    if degenerate and str(degenerate).startswith("variant"):
        return QualityVerdict("failed", f"the variant's outputs collapsed ({degenerate.split(': ', 1)[-1]})")
    if error and str(error).startswith("output shape changed"):
        return QualityVerdict("failed", str(error))
    if degenerate:
        return QualityVerdict("unverified", f"outputs cannot be scored ({degenerate})")
    if error:
        return QualityVerdict("unverified", str(error).splitlines()[0])
    kind = _get(q, "output_kind")
    metric = PRIMARY_METRIC.get(kind or "") or next(
        (m for m in ("top1_agreement", "cosine_similarity") if _get(q, m) is not None), None
    )
    value = _get(q, metric) if metric else None
    if value is None:
        return QualityVerdict("unverified", "no output figure to judge")
    score = 1 - value if metric == "relative_error" else value
    if score >= min_fid:
        return QualityVerdict("verified", None, fig)
    n = _get(q, "n_quality_inputs")
    if metric in ("top1_agreement", "token_agreement") and n and wilson_upper(value, int(n)) >= min_fid:
        return QualityVerdict(
            "unverified",
            f"{_LABEL[metric]} {_num(metric, value)} on {n} inputs is below {min_fid:g} but within sampling error "
            "(95 % upper bound): more inputs or an eval_fn would tell",
            fig,
        )
    limit = f"> {1 - min_fid:.2g}" if metric == "relative_error" else f"< {min_fid:g}"
    return QualityVerdict(
        "failed", f"{_LABEL[metric]} {_num(metric, value)} {limit}{_on(q)}: outputs changed too much", fig
    )


def wilson_upper(p: float, n: int, z: float = 1.96) -> float:
    """Upper end of the Wilson 95 % interval of a share ``p`` of ``n`` trials (an agreement on ``n`` inputs)."""
    if n <= 0:
        return 1.0
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return min(1.0, (centre + half) / (1 + z * z / n))


# --- measuring ---------------------------------------------------------------------------------------------
def output_tensor(out: Any) -> tuple[Any, str | None]:
    """The main tensor of a model output and a hint of what it is (``logits``, ``hidden`` or None).

    Tensors, tuples, lists, dicts and objects with ``.logits`` (Hugging Face outputs) are searched.
    """
    import torch

    if isinstance(out, torch.Tensor):
        return out, None
    if getattr(out, "logits", None) is not None:
        return out.logits, "logits"
    for name in _HIDDEN_FIELDS:
        t = out.get(name) if isinstance(out, dict) else getattr(out, name, None)
        if isinstance(t, torch.Tensor):
            return t, "hidden"
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        for x in out:
            t, hint = output_tensor(x)
            if t is not None:
                return t, hint
    return None, None


def first_tensor(out: Any) -> Any:
    """The first tensor in a model output (tensor, tuple, list, dict or object with .logits)."""
    return output_tensor(out)[0]


def output_kind(t: Any, hint: str | None = None, decoder: bool = False) -> str:
    """Which of :data:`OUTPUT_KINDS` an output tensor is (decides the figure that is judged).

    Args:
        t: The original model's output tensor (batch first).
        hint: ``logits`` (a ``.logits`` field) or ``hidden`` (``last_hidden_state`` and the like), if known.
        decoder: The model is a decoder (has ``generate`` or ``lm_head``): 3-D outputs are token logits.
    """
    if t.dim() <= 1 or (t.dim() == 2 and t.shape[1] == 1):
        return "regression"
    if t.dim() == 2:
        if hint == "hidden":
            return "embedding"
        norms = t.detach().float().norm(dim=1)
        if hint != "logits" and bool(((norms - 1).abs() < 1e-3).all()):
            return "embedding"  # rows of unit length: normalised embeddings, not logits
        return "classifier"
    if t.dim() == 3 and (hint == "logits" or decoder) and hint != "hidden":
        return "tokens"
    return "features"


def degenerate_reason(t: Any, reference: Any = None) -> str | None:
    """Why an output tensor cannot be scored: non-finite values, one constant value, or the same row for every input.

    The last is checked only against a ``reference`` whose rows differ (identical example inputs give
    identical rows legitimately). Such outputs (e.g. constant logits from a broken quantization, or
    vanishing activations) make cosine and top-1 agreement meaningless: they are reported, not scored.
    """
    import torch

    t = t.detach().float()
    if t.numel() == 0:
        return "empty output"
    if not bool(torch.isfinite(t).all()):
        return f"non-finite output values ({int((~torch.isfinite(t)).sum())} NaN/inf of {t.numel()})"
    scale = float(t.abs().max())
    spread = float(t.max() - t.min())
    if t.numel() > 1 and spread <= 1e-6 * max(1.0, scale):
        return f"constant output (every value within {spread:.3g} of {float(t.flatten()[0]):.3g})"
    if t.dim() > 1 and t.shape[0] > 1:
        same = float((t - t[:1]).abs().max()) <= 1e-6 * max(1.0, scale)
        if reference is None and same and t.dim() == 2 and t.shape[0] >= 4:
            return "the same output for every input in the batch"
        if reference is not None and same:
            ref = reference.detach().float()
            if float((ref - ref[:1]).abs().max()) > 1e-6 * max(1.0, float(ref.abs().max())):
                return "the same output for every input in the batch (constant logits)"
    return None


def _flag(q: dict[str, Any]) -> dict[str, Any]:
    low = [
        f"{name.replace('_', ' ')} {q[name]:.4f} < {floor}"
        for name, floor in FIDELITY_MIN.items()
        if q.get(name) is not None and q[name] < floor
    ]
    return {**q, "fidelity_flag": "fidelity loss: " + "; ".join(low)} if low else q


def _as_float(x: Any) -> Any:
    x = x.detach()
    return (x.dequantize() if x.is_quantized else x).float()  # a quantized output must be dequantized first


def _metrics(ref: Any, out: Any, kind: str) -> dict[str, Any]:
    import torch

    m: dict[str, Any] = {"max_abs_error": float((ref - out).abs().max())}
    flat_r = ref.reshape(ref.shape[0], -1) if ref.dim() > 1 else ref.reshape(1, -1)
    flat_o = out.reshape(out.shape[0], -1) if out.dim() > 1 else out.reshape(1, -1)
    m["cosine_similarity"] = float(torch.nn.functional.cosine_similarity(flat_r, flat_o, dim=1).mean())
    if kind == "classifier":
        m["top1_agreement"] = float((ref.argmax(1) == out.argmax(1)).float().mean())
        if ref.shape[1] > 5:
            a, b = ref.topk(5, dim=1).indices, out.topk(5, dim=1).indices
            m["top5_overlap"] = float((a.unsqueeze(2) == b.unsqueeze(1)).any(2).float().mean())
    elif kind == "tokens":
        m["token_agreement"] = float((ref.argmax(-1) == out.argmax(-1)).float().mean())
    elif kind == "regression":
        m["relative_error"] = float((out - ref).norm() / ref.norm().clamp_min(1e-12))
    return m


def fidelity(
    reference: Any, output: Any, *, inputs_text: str | None = None, rows: Any = None, decoder: bool = False
) -> Quality:
    """Compare a variant's output with the original's; the figures follow the output kind (:func:`output_kind`).

    Args:
        reference: The original model's output (any output type; its main tensor is compared).
        output: The variant's output on the same inputs.
        inputs_text: What the inputs were (``64 held-out inputs, generated like the examples``), for the record.
        rows: Only these rows (batch indices, a slice or index tensor) are compared (the held-out part of a batch).
        decoder: The model is a decoder (3-D outputs are token logits).

    Returns:
        A :class:`Quality` with its default-gate status; degenerate outputs are reported, not scored.
    """
    ref, hint = output_tensor(reference)
    out, _ = output_tensor(output)
    return _compare(ref, out, hint, inputs_text=inputs_text, rows=rows, decoder=decoder)


def fidelity_over(
    references: list[Any],
    outputs: list[Any],
    *,
    inputs_text: str | None = None,
    rows: Any = None,
    decoder: bool = False,
) -> Quality:
    """:func:`fidelity` over several batches: the main tensors of each pair (``rows`` of each) are concatenated."""
    import torch

    pairs = [(output_tensor(r), output_tensor(o)[0]) for r, o in zip(references, outputs, strict=True)]
    hint = pairs[0][0][1] if pairs else None
    if not pairs or any(r is None or o is None for (r, _), o in pairs):
        return _compare(None, None, hint, inputs_text=inputs_text)
    if len(pairs) == 1:
        return _compare(pairs[0][0][0], pairs[0][1], hint, inputs_text=inputs_text, rows=rows, decoder=decoder)
    refs, outs = [_as_float(r) for (r, _), _o in pairs], [_as_float(o) for _r, o in pairs]
    if any(r.shape != o.shape or r.dim() == 0 for r, o in zip(refs, outs, strict=True)):
        bad = next((r, o) for r, o in zip(refs, outs, strict=True) if r.shape != o.shape or r.dim() == 0)
        return _compare(bad[0], bad[1], hint, inputs_text=inputs_text)
    if rows is not None:
        refs, outs = [r[rows] for r in refs], [o[rows] for o in outs]
    return _compare(torch.cat(refs), torch.cat(outs), hint, inputs_text=inputs_text, decoder=decoder)


def _compare(
    ref: Any, out: Any, hint: str | None, *, inputs_text: str | None, rows: Any = None, decoder: bool = False
) -> Quality:
    base: dict[str, Any] = {"quality_inputs": inputs_text}
    if ref is None or out is None:
        return Quality(**base, error="outputs contain no tensor to compare").judged()
    ref, out = _as_float(ref), _as_float(out)
    if ref.shape != out.shape:
        return Quality(**base, error=f"output shape changed from {tuple(ref.shape)} to {tuple(out.shape)}").judged()
    if rows is not None and ref.dim() > 0:
        ref, out = ref[rows], out[rows]
    kind = output_kind(ref, hint, decoder)
    n = int(ref.shape[0]) if ref.dim() > 0 else 1
    base |= {"output_kind": kind, "n_quality_inputs": n}
    bad_ref, bad_out = degenerate_reason(ref), degenerate_reason(out, ref)
    if bad_ref or bad_out:
        which = f"original model: {bad_ref}" if bad_ref else f"variant: {bad_out}"
        return Quality(**base, degenerate=which, error=f"degenerate outputs, not scored ({which})").judged()
    return Quality(**_flag({**base, **_metrics(ref, out, kind)})).judged()


def with_accuracy(q: Quality, eval_fn: Callable[[Any], float] | None, model: Any, baseline: float | None) -> Quality:
    """Add the eval_fn accuracy (and its change) to a fidelity result; an eval_fn error is recorded."""
    if eval_fn is None:
        return q
    try:
        acc = float(eval_fn(model))
    except Exception as exc:  # noqa: BLE001 - user code: reported, never fatal
        first = str(exc).splitlines()[0] if str(exc) else ""
        return Quality(**{**q.to_dict(), "error": f"eval_fn raised {type(exc).__name__}: {first}"}).judged()
    change = None if baseline is None else acc - baseline
    return Quality(**{**q.to_dict(), "accuracy": acc, "accuracy_change_pp": change}).judged()
