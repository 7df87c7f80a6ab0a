"""Sub-commands that profile and advise: profile, doctor, recommend."""

from __future__ import annotations

import argparse
import json
from typing import Any

from advisor._errors import ProfileError
from advisor.cli._app import command, model_args, out, output_path
from advisor.profile.constraints import OBJECTIVES

__all__ = ["add_parsers"]


def _hardware(args: argparse.Namespace) -> Any:
    from advisor.profile.hardware import HardwareProfile, detect_hardware

    return HardwareProfile.from_file(args.hardware) if getattr(args, "hardware", None) else detect_hardware()


def _model_profile(args: argparse.Namespace) -> Any:
    from advisor.profile.model import load_profile_file, profile_model
    from advisor.profile.spec import load_spec

    if bool(args.model) == bool(args.profile):
        raise ProfileError("give exactly one of --model SPEC (module:factory or file.py:factory) or --profile FILE")
    if args.profile:
        return load_profile_file(args.profile)
    loaded = load_spec(args.model)
    name = args.model.rpartition(":")[2]
    return profile_model(loaded.model, loaded.inputs, name=name, phase=args.phase or "inference")


@command("profile")
def _profile(args: argparse.Namespace) -> int:
    prof = _model_profile(args)
    if args.format == "json":
        out(json.dumps(prof.model_dump(), indent=2))
    else:
        out("\n".join(prof.summary_lines()))
    return 0


@command("doctor")
def _doctor(args: argparse.Namespace) -> int:
    save = output_path(args.save, "--save")
    hw = _hardware(args)
    if save:
        save.write_text(hw.to_yaml(), encoding="utf-8")
        out(f"wrote {args.save} (edit it to plan for other hardware; pass it with --hardware)")
        return 0
    if args.format == "json":
        out(json.dumps(hw.model_dump(mode="json"), indent=2))
        return 0
    lines = hw.summary_lines()
    for label, src in (("CPU energy (RAPL)", hw.rapl), ("GPU energy (NVML)", hw.nvml)):
        lines.append(f"{label}: {'readable' if src.readable else 'NOT readable'}: {src.detail}")
        if src.fix and not src.readable:
            lines.append(f"  fix: {src.fix}")
    if not hw.rapl.readable and not hw.nvml.readable:
        lines.append("=> energy figures on this machine are ESTIMATES (CPU time x power model), labelled as such.")
    if not hw.has("int8-dot-product") and hw.arch in ("x86_64", "AMD64"):
        lines.append("note: no VNNI/AMX int8 instructions: int8 quantization gains will be small on this CPU.")
    out("\n".join(lines))
    return 0


@command("recommend")
def _recommend(args: argparse.Namespace) -> int:
    from advisor.catalog import load_catalog
    from advisor.profile.constraints import Constraints
    from advisor.recommendation import recommend

    constraints = Constraints.make(
        phase=args.phase,
        objective=args.objective,
        max_accuracy_drop_pp=args.max_accuracy_drop,
        retraining=args.retraining,
        data=args.data_available,
        target=args.target,
        effort=args.effort,
    )
    prof = _model_profile(args)
    if args.phase is None:
        constraints = Constraints.make(**{**constraints.model_dump(), "phase": prof.phase})
    hw = _hardware(args)
    measurable, knowledge = _measurable_and_knowledge(args, hw)
    result = recommend(prof, hw, constraints, load_catalog(args.data), measurable=measurable, knowledge=knowledge)
    if args.format == "json":
        out(result.to_json())
        return 0
    lines = [*prof.summary_lines(), ""]
    c = result.constraints
    lines.append(
        f"goal: less {c.objective} for {c.phase}; max accuracy drop {c.max_accuracy_drop_pp:g} pp; "
        f"retraining {c.retraining}; data {c.data}; target {c.target}; effort {c.effort}"
    )
    lines.append(
        f"{len(result)} recommended in five groups ({len(result.excluded_items)} excluded); "
        f"this machine counts as {result.machine_class}"
    )
    if result.observations_used:
        lines.append(f"{result.observations_used} technique(s) ranked with measurements made on this machine")
    lines += _group_lines(result, args.top)
    stacks = result.stacks()
    if stacks:
        lines += ["", "Compatible stacks (combined estimate discounts overlapping savings):"]
        lines += [f"  - {s}" for s in stacks]
    lines += ["", "Excluded (first reason; `--explain ID` for all):"]
    for e in result.excluded_items[: args.top]:
        lines.append(f"  - {e.id}: {e.reasons[0].text}")
    if len(result.excluded_items) > args.top:
        lines.append(f"  ... and {len(result.excluded_items) - args.top} more (use --format json)")
    for tid in args.explain or []:
        lines += ["", result.explain(tid)]
    out("\n".join(lines))
    return 0


def _measurable_and_knowledge(args: argparse.Namespace, hw: Any) -> tuple[list[str], list[Any]]:
    """What can be measured here, and this machine's earlier measurements (none for a planned hardware file)."""
    if getattr(args, "hardware", None):
        return [], []
    from advisor.measurement.store import ResultStore
    from advisor.tuning import knowledge_for, measurable_here

    phase = "training" if args.phase == "training" else "inference"
    return measurable_here(phase), knowledge_for(ResultStore(args.store), hw)


def _group_lines(result: Any, top: int) -> list[str]:
    """Each group's title and its first ``top`` rows; children are indented under their parent."""
    lines: list[str] = []
    for i, g in enumerate(result.groups(), 1):
        rows = g.rows()
        if not rows:
            continue
        lines += ["", f"({i}) {g.title}:"]
        for depth, r in rows[:top]:
            pad = "     " + "   " * depth
            lines.append(f"{pad}{r.rank:>3}. {r.id}  score {r.score:.1f}: {r.expected_text()}")
            first = [f for f in r.why if f.kind == "measurement"][:1] or [f for f in r.why if f.kind == "evidence"][:1]
            reasons = first + [f for f in r.why if f.kind in ("profile", "hardware", "constraint")][:1]
            lines += [f"{pad}       why: {f.text}" for f in reasons]
            lines += [f"{pad}       WARNING: {w.text}" for w in r.warnings]
        if len(rows) > top:
            lines.append(f"       ... and {len(rows) - top} more in this group (use --format json)")
    return lines


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    p = add("profile", "profile a model: parameters, bytes, FLOPs, layer mix, family")
    model_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")

    d = add("doctor", "show this machine's hardware and energy counters, with fixes")
    d.add_argument("--hardware", metavar="FILE", help="read a hardware profile instead of detecting")
    d.add_argument("--save", metavar="FILE", help="write the detected profile as editable YAML")
    d.add_argument("--format", choices=["text", "json"], default="text")

    r = add("recommend", "rank techniques for a model, this hardware and your constraints")
    model_args(r)
    r.add_argument("--objective", choices=OBJECTIVES, default=None)
    r.add_argument("--max-accuracy-drop", type=float, default=None, metavar="PP", help="percentage points (>= 0)")
    r.add_argument("--retraining", choices=["none", "fine-tuning", "full"], default=None)
    r.add_argument("--data-available", choices=["none", "calibration", "unlabelled", "labelled"], default=None)
    r.add_argument("--target", choices=["server", "desktop", "edge", "mobile"], default=None)
    r.add_argument("--effort", choices=["low", "medium", "high"], default=None)
    r.add_argument("--hardware", metavar="FILE", help="plan for the hardware in this file instead of this machine")
    r.add_argument("--top", type=int, default=5, help="rows shown per group")
    r.add_argument("--store", metavar="PATH", help="results store whose runs here inform the ranking")
    r.add_argument("--explain", action="append", metavar="ID", help="explain why (or why not) this technique")
    r.add_argument("--format", choices=["table", "json"], default="table")
