"""The report as Markdown: the same sections and figures-as-tables as the HTML (no images)."""

from __future__ import annotations

import html
from typing import Any

from advisor.reports._generation import generation_markdown
from advisor.reports._text import md_table
from advisor.reports._training import training_markdown
from advisor.reports._view import view
from advisor.training import ToTargetRun

__all__ = ["md_table", "render_markdown"]

REC_HEADERS = [
    "#",
    "technique",
    "id",
    "expected saving",
    "ratio (range)",
    "confidence",
    "accuracy risk",
    "effort",
    "measurable here",
    "warnings",
    "sources",
]
REC_KEYS = ["rank", "name", "id", "expected", "ratio", "confidence", "risk", "effort", "measurable"]
MEASURE_HEADERS = [
    "technique",
    "status",
    "latency ms (median)",
    "IQR ms",
    "speed-up (95% interval)",
    "energy J/call",
    "IQR J",
    "energy method",
    "energy ratio (95% interval)",
    "CO2e g / 1k calls",
    "quality",
    "predicted latency ratio",
    "measured latency ratio (95%)",
    "vs prediction",
    "settings",
]
MEASURE_KEYS = [
    "technique",
    "status",
    "latency",
    "latency_iqr",
    "speedup",
    "energy",
    "energy_iqr",
    "method",
    "energy_ratio",
    "co2e_1k",
    "quality",
    "predicted",
    "measured_ratio",
    "outside",
]


def _text(x: Any) -> str:
    return html.escape(str(x), quote=False)


def _refs(ns: list[int]) -> str:
    return " ".join(f"[{n}]" for n in ns)


def render_markdown(data: Any) -> str:
    """Render a :class:`ReportData` as Markdown."""
    v = view(data)
    out = [f"# {_text(v['title'])}", "", f"Generated {_text(v['generated_at'])} by green-dl-advisor.", ""]
    out += ["## Model and hardware", "", md_table(["", ""], [*v["model_facts"], *v["hardware_facts"]]), ""]
    if v["recommendations"]:
        out += _recommendations_md(v["recommendations"])
    if v["measurement"]:
        out += _measurement_md(v["measurement"])
    if v["training"]:
        out += ["## Training run", ""]
        for t in v["training"]:
            out += [f"### {_text(t['caption'])}", "", md_table(t["headers"], t["rows"]), ""]
    if isinstance(data.training, ToTargetRun):
        out += [training_markdown(data.training), ""]
    if data.generation is not None:
        out += [generation_markdown(data.generation), ""]
    out += _reporting_md(v)
    return "\n".join(out)


def _recommendations_md(rec: dict[str, Any]) -> list[str]:
    out = [
        "## Recommendations",
        "",
        f"Constraints: {_text(rec['constraints'])}. {len(rec['rows'])} techniques recommended, "
        f"{rec['n_excluded']} excluded. Ratios are new/baseline for {_text(rec['objective'])} (lower is better).",
        "",
        md_table(
            REC_HEADERS,
            [[*(r[k] for k in REC_KEYS), "; ".join(r["warnings"]) or "-", _refs(r["refs"])] for r in rec["rows"]],
        ),
        "",
    ]
    if rec["top"]:
        out += [f"### The top {len(rec['top'])} explained", ""]
    for t in rec["top"]:
        out += _explained_md(t)
    if rec["stacks"]:
        out += [
            "### Compatible stacks",
            "",
            md_table(
                ["techniques", "combined ratio", "naive product"],
                [[s["ids"], s["ratio"], s["naive"]] for s in rec["stacks"]],
            ),
            "",
        ]
    out += [
        "### Exclusions",
        "",
        f"{rec['n_excluded']} techniques excluded. Reasons (a technique can have several):",
        "",
        md_table(
            ["reason", "techniques", "example"],
            [[e["reason"], e["count"], e["example"]] for e in rec["exclusion_reasons"]],
        ),
        "",
    ]
    return out


def _explained_md(t: dict[str, Any]) -> list[str]:
    out = [f"#### #{t['rank']} {_text(t['name'])} (`{t['id']}`): {_text(t['expected'])}", "", "Why:", ""]
    out += [f"- {_text(w)}" for w in t["why"]]
    if t["adjustments"]:
        out += ["", "Adjusted for this model and machine:", "", *[f"- {_text(a)}" for a in t["adjustments"]]]
    if t["warnings"]:
        out += ["", "Warnings:", "", *[f"- {_text(w)}" for w in t["warnings"]]]
    if t["implementations"]:
        out += ["", "Apply with: " + ", ".join(f"`{i}`" for i in t["implementations"])]
    return [*out, "", f"Sources: {_refs(t['refs'])}", ""]


def _measurement_md(m: dict[str, Any]) -> list[str]:
    out = [
        "## Measurements on this machine",
        "",
        md_table(MEASURE_HEADERS, [[*(r[k] for k in MEASURE_KEYS), r["settings"] or "-"] for r in m["rows"]]),
        "",
    ]
    if m["co2e_note"]:
        out += [f"{m['co2e_note']}.", ""]
    if m["carbon_facts"]:
        out += [md_table(["carbon", ""], list(m["carbon_facts"].items())), ""]
    if m["what_if"]:
        out += ["### What if it ran elsewhere", "", md_table(m["what_if"]["headers"], m["what_if"]["rows"]), ""]
    return [*out, "Figures (latency, energy, predicted vs measured) are in the HTML report.", ""]


def _reporting_md(v: dict[str, Any]) -> list[str]:
    out = ["## Reporting", "", f"> {_text(v['statement'])}", ""]
    out += [f"- **{_text(i['topic'])}**: {_text(i['text'])}" for i in v["reporting"]]
    out.append("")
    if v["references"]:
        out += ["## References", ""]
        for r in v["references"]:
            link = f" [{r['link_label']}]({r['url']})" if r["url"] else ""
            out.append(f"{r['n']}. {_text(r['text'])}{link} `[{r['key']}]`")
        out.append("")
    return out
