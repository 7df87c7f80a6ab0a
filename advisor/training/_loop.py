"""One training run to a target: a fresh model, a recipe and a seed; training, overhead and evaluation metered apart.

The run trains in segments of ``eval_every`` optimizer steps; each segment is one meter window (training
energy and wall time), each evaluation another (evaluation energy, kept out of the to-target figures). A recipe
that scores its data first (EL2N pruning, curriculum) runs the warm-up in a window of its own, counted as
overhead *in* the training figures: it is part of what the technique costs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from advisor.training._results import SeedRun
from advisor.training._techniques import Recipe

__all__ = ["Batches", "Caps", "MeterSet", "Trainer", "make_schedule", "train_run"]


class MeterSet:
    """The energy meters read together: one window's energy is the sum over meters."""

    def __init__(self, meters: list[Any]) -> None:
        self.meters = meters
        self.method = "+".join(sorted({m.method for m in meters})) or None

    def begin(self) -> tuple[float, list[Any]]:
        """Open a window on every meter."""
        return time.perf_counter(), [m.begin() for m in self.meters]

    def end(self, token: tuple[float, list[Any]]) -> tuple[float, float]:
        """Close the window: (energy J, wall time s)."""
        t0, toks = token
        energy = sum(m.end(t).energy_j for m, t in zip(self.meters, toks, strict=True))
        return energy, time.perf_counter() - t0


@dataclass(frozen=True)
class Caps:
    """When a run gives up and how often it evaluates.

    Attributes:
        eval_every: Optimizer steps between evaluations.
        max_steps: Steps after which a run that has not reached the target stops (``not-reached``).
        max_run_s: Training seconds after which it stops. Units: s.
    """

    eval_every: int
    max_steps: int
    max_run_s: float


class Batches:
    """Endless batches of a recipe's data: epoch-wise shuffles of a pool, a curriculum's growing prefix, or a loader."""

    def __init__(self, r: Recipe, seed: int, pool: Any = None) -> None:
        import torch

        self.r, self.seed, self.epoch = r, seed, 0
        self.gen = torch.Generator().manual_seed(seed)
        self.pool = pool if pool is not None or r.x is None else torch.arange(len(r.x))
        self._it: Iterator[Any] = iter(())

    def _epoch(self) -> Iterator[Any]:
        import torch

        self.epoch += 1
        if self.r.loader is not None:
            return iter(self.r.loader(self.r.batch_size, self.seed * 1000 + self.epoch))
        perm = self.pool[torch.randperm(len(self.pool), generator=self.gen)]
        b = self.r.batch_size
        return iter(perm[i : i + b] for i in range(0, len(perm) - b + 1, b))  # full batches only

    def next(self, step: int) -> tuple[Any, Any]:
        """The batch of optimizer step ``step`` (0-based)."""
        if self.r.curriculum:
            return self._curriculum(step)
        for _ in range(2):
            got = next(self._it, None)
            if got is not None:
                return got if self.r.loader is not None else (self.r.x[got], self.r.y[got])
            self._it = self._epoch()
        raise StopIteration("the training data gave no batch (fewer samples than one batch?)")

    def _curriculum(self, step: int) -> tuple[Any, Any]:
        """A batch drawn from the easiest ``m(step)`` samples: m grows linearly to all by ``pace`` of the schedule."""
        import torch

        k = self.r.knobs
        pace = max(1, round(k.curriculum_pace * self.r.schedule_steps))
        frac = k.curriculum_start + (1 - k.curriculum_start) * min(1.0, step / pace)
        m = max(self.r.batch_size, math.ceil(frac * len(self.pool)))
        idx = self.pool[:m][torch.randperm(m, generator=self.gen)[: self.r.batch_size]]
        return self.r.x[idx], self.r.y[idx]


def make_schedule(r: Recipe, opt: Any) -> Any:
    """The recipe's learning-rate scheduler on ``opt`` (None: a constant learning rate)."""
    import torch

    sch = torch.optim.lr_scheduler
    n = max(1, r.schedule_steps)
    if r.schedule == "one-cycle":
        return sch.OneCycleLR(opt, max_lr=r.lr * r.knobs.one_cycle_max_lr, total_steps=n + 1)
    if r.schedule == "cosine":
        return sch.CosineAnnealingLR(opt, T_max=n)
    if r.schedule == "warmup":
        w = max(1, round(r.knobs.warmup_frac * n))
        return sch.LambdaLR(opt, lambda s: min(1.0, (s + 1) / w))
    return None


class _AutocastProbe:
    """Records the autocast dtype seen inside the model's forward (what the run really trained under)."""

    def __init__(self, model: Any) -> None:
        self.seen: str | None = None
        self.handle = model.register_forward_pre_hook(self._hook)

    def _hook(self, _module: Any, _args: Any) -> None:
        import torch

        if self.seen is None and torch.is_autocast_enabled("cpu"):
            self.seen = str(torch.get_autocast_dtype("cpu")).removeprefix("torch.")
        elif self.seen is None and torch.cuda.is_available() and torch.is_autocast_enabled("cuda"):
            self.seen = str(torch.get_autocast_dtype("cuda")).removeprefix("torch.")


def _device(model: Any) -> Any:
    import torch

    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _kd_loss(r: Recipe, out: Any, xb: Any, yb: Any) -> Any:
    import torch

    fn = torch.nn.functional
    with torch.no_grad():
        soft = r.teacher(xb)
    t, a = r.knobs.kd_temperature, r.knobs.kd_alpha
    kd = fn.kl_div(fn.log_softmax(out.float() / t, -1), fn.softmax(soft.float() / t, -1), reduction="batchmean")
    return (1 - a) * r.loss_fn(out, yb) + a * t * t * kd


@dataclass
class Trainer:
    """A recipe's model, optimizer, scheduler and batches, ready to step."""

    r: Recipe
    model: Any
    opt: Any
    sched: Any
    batches: Batches

    @classmethod
    def fresh(cls, r: Recipe, seed: int, pool: Any = None, schedule: bool = True) -> Trainer:
        """A fresh model (``seed``) with its own optimizer and scheduler."""
        import torch

        torch.manual_seed(seed)
        model = r.build(seed)
        model.train()
        opt = r.make_optimizer(model.parameters(), r.lr)
        return cls(r, model, opt, make_schedule(r, opt) if schedule else None, Batches(r, seed, pool))

    def steps(self, start: int, n: int) -> tuple[int, bool]:
        """Run ``n`` optimizer steps from step ``start``; return (steps done, loss finite)."""
        import torch

        r, model, opt = self.r, self.model, self.opt
        dev = _device(model)
        ctx: Callable[[], Any] = (lambda: torch.autocast(dev.type, dtype=r.autocast)) if r.autocast else nullcontext
        for i in range(n):
            xb, yb = self.batches.next(start + i)
            xb, yb = xb.to(dev), yb.to(dev)
            opt.zero_grad(set_to_none=True)
            with ctx():
                out = model(xb)
                loss = _kd_loss(r, out, xb, yb) if r.distil else r.loss_fn(out, yb)
            if not torch.isfinite(loss.detach()).all():
                return i, False
            loss.backward()
            opt.step()
            if self.sched is not None:
                self.sched.step()
        return n, True


def _evaluate(model: Any, eval_fn: Callable[[Any], float]) -> float:
    import torch

    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(eval_fn(model))
    finally:
        model.train(was)


def _scores(r: Recipe, seed: int, warm_steps: int) -> Any:
    """Per-sample scores from a short warm-up of the baseline recipe: EL2N or the loss (Paul et al. 2021)."""
    import torch

    warm = replace(
        r, schedule=None, autocast=None, distil=False, curriculum=False, data_select=None, settings={}, notes=[]
    )
    trainer = Trainer.fresh(warm, seed + 7919, schedule=False)
    trainer.steps(0, warm_steps)
    model = trainer.model
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(r.x), 512):
            logits = model(r.x[i : i + 512]).float()
            y = r.y[i : i + 512]
            if r.curriculum:
                out.append(torch.nn.functional.cross_entropy(logits, y, reduction="none"))
            else:
                onehot = torch.nn.functional.one_hot(y, logits.shape[-1]).float()
                out.append((logits.softmax(-1) - onehot).norm(dim=-1))
    return torch.cat(out)


def _pool(r: Recipe, seed: int, warm_steps: int) -> Any:
    """The indices this seed trains on (None: all, in epoch-wise shuffles)."""
    import torch

    if r.x is None or (r.data_select is None and not r.curriculum):
        return None
    n = len(r.x)
    keep = max(r.batch_size, round(r.knobs.keep_frac * n))
    if r.data_select == "random":
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed + 104729))[:keep]
    scores = _scores(r, seed, warm_steps)
    if r.data_select == "el2n":
        return torch.argsort(scores, descending=True)[:keep]
    return torch.argsort(scores)  # curriculum: easiest (lowest loss) first


def train_run(
    r: Recipe,
    seed: int,
    *,
    target: float,
    eval_fn: Callable[[Any], float],
    caps: Caps,
    meters: MeterSet,
    warm_steps: int,
) -> SeedRun:
    """Train ``r`` from a fresh model (``seed``) until ``eval_fn`` reaches ``target``, a stop or a cap."""
    run = SeedRun(variant="", seed=seed, status="not-reached")
    tok = meters.begin()
    pool = _pool(r, seed, warm_steps)
    if r.needs_scores or r.data_select:
        run.overhead_energy_j, run.overhead_time_s = meters.end(tok)
    trainer = Trainer.fresh(r, seed, pool)
    run.train_samples = len(pool) if pool is not None else (len(r.x) if r.x is not None else None)
    probe = _AutocastProbe(trainer.model)
    try:
        _segments(run, trainer, target=target, eval_fn=eval_fn, caps=caps, meters=meters)
    finally:
        probe.handle.remove()
    run.autocast = probe.seen
    run.n_params = sum(p.numel() for p in trainer.model.parameters())
    run.lr_last = float(trainer.opt.param_groups[0]["lr"])
    return run


def _segments(
    run: SeedRun, tr: Trainer, *, target: float, eval_fn: Callable[[Any], float], caps: Caps, meters: MeterSet
) -> None:
    """The training/evaluation alternation of :func:`train_run` (fills ``run`` in place)."""
    energy, secs, since_best = run.overhead_energy_j, run.overhead_time_s, 0
    while True:
        tok = meters.begin()
        done, finite = tr.steps(run.steps, min(caps.eval_every, caps.max_steps - run.steps))
        e, t = meters.end(tok)
        energy, secs, run.steps = energy + e, secs + t, run.steps + done
        run.samples_seen += done * tr.r.batch_size
        run.energy_j, run.time_s = energy, secs
        if not finite:
            run.status, run.reason = "diverged", f"the loss was not finite at step {run.steps + 1}"
            return
        tok = meters.begin()
        metric = _evaluate(tr.model, eval_fn)
        e, t = meters.end(tok)
        run.eval_energy_j, run.eval_time_s, run.evals = run.eval_energy_j + e, run.eval_time_s + t, run.evals + 1
        run.curve.append({"step": run.steps, "energy_j": energy, "time_s": secs, "metric": metric})
        improved = run.best_metric is None or metric > run.best_metric
        run.final_metric, run.best_metric = metric, metric if improved else run.best_metric
        since_best = 0 if improved else since_best + 1
        if _ended(run, metric, target, since_best=since_best, patience=tr.r.patience, caps=caps):
            return


def _ended(run: SeedRun, metric: float, target: float, *, since_best: int, patience: int | None, caps: Caps) -> bool:
    """After an evaluation: whether the run reached the target, ran out of patience or hit a cap (sets status)."""
    if math.isfinite(metric) and metric >= target:
        run.status, run.reason = "reached", f"{metric:.4g} >= {target:g} at step {run.steps}"
        run.steps_to_target, run.energy_j_to_target, run.time_s_to_target = run.steps, run.energy_j, run.time_s
        return True
    if patience is not None and since_best >= patience:
        run.status = "stopped-early"
        run.reason = f"no new best for {patience} evaluations (best {run.best_metric:.4g}) at step {run.steps}"
        return True
    if run.steps >= caps.max_steps or run.time_s >= caps.max_run_s:
        cap = f"{caps.max_steps} steps" if run.steps >= caps.max_steps else f"{caps.max_run_s:g} s"
        run.reason = f"the cap of {cap} came first (best {run.best_metric:.4g})"
        return True
    return False
