"""Reports: every format from a real measurement and real recommendations, round trip, CLI, bad files, escaping."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import advisor
from advisor import AdvisorError
from advisor.cli import main
from advisor.measurement import MeasureRun
from advisor.profile.constraints import Constraints
from advisor.reports import ReportError, build_data, load_results, render

XSS = "<script>alert(1)</script>"


def tiny_mlp() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, torch.randn(16, 64)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real measurement (run once per module) and real recommendations for the same model."""
    model, x = tiny_mlp()
    store = tmp_path_factory.mktemp("report-store") / "r.sqlite"
    run = advisor.measure(model, x, ["post-training-dynamic-quantization", "inference-mode-and-no-grad",
                                     "knowledge-distillation"], budget_s=8, store=store, progress=False)  # fmt: skip
    assert run.results[0].status == "ok", run.results[0].reason  # the figures the tests compare
    prof = advisor.profile_model(model, x, name="tiny-mlp")
    rec = advisor.recommend(prof, advisor.detect_hardware(), Constraints(phase="inference", objective="energy"))
    return {"run": run, "rec": rec, "m": json.loads(run.to_json()), "r": json.loads(rec.to_json())}


@pytest.fixture(scope="module")
def written(inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return advisor.report(inputs["run"], inputs["rec"], out=tmp_path_factory.mktemp("rep") / "out")


def row_of(html: str, technique: str) -> str:
    """The measurement table row of one technique."""
    section = html[html.index('<section id="measurements">') :]
    section = section[: section.index("</table>")]
    rows = re.findall(r"<tr>\s*<td><code>(.*?)</code>(.*?)</tr>", section, flags=re.S)
    found = [body for name, body in rows if name == technique]
    assert found, f"no row for {technique}"
    return found[0]


def cited_keys(inputs: dict[str, Any]) -> list[str]:
    cat = inputs["rec"].catalog
    ids = [r.id for r in inputs["rec"].recommended] + [r.technique for r in inputs["run"].results]
    return list(dict.fromkeys(k for tid in ids if tid in cat for k in cat.get(tid).references))


# --- the four formats ----------------------------------------------------------------------------------
def test_a_directory_gets_all_four_files(written: dict[str, Path]) -> None:
    assert {f: p.name for f, p in written.items()} == {
        "html": "report.html",
        "md": "report.md",
        "json": "report.json",
        "bib": "references.bib",
    }
    assert all(p.stat().st_size > 0 for p in written.values())


def test_html_measurement_rows_show_the_input_figures(inputs: dict[str, Any], written: dict[str, Path]) -> None:
    html = written["html"].read_text()
    for r in [inputs["run"].baseline, *inputs["run"].results]:
        row = row_of(html, r.technique)
        if r.status != "ok":
            assert r.status in row and r.reason.split("'")[0] in row
            continue
        t = r.timing
        for value in (t.latency_ms_median, t.latency_ms_iqr, t.energy_j_per_call):
            assert f">{value:.3g}<" in row, (r.technique, value)
        if r.comparison is not None:  # the verdict with its interval, e.g. "1.42x faster (1.35-1.50)"
            assert f">{r.comparison.text()}<" in row
            e = r.comparison.energy_ratio
            assert f">{e.median:.2f} ({e.low:.2f}-{e.high:.2f}), {r.comparison.energy_verdict}<" in row
        assert t.energy_method in row and t.energy_method.startswith(("measured-", "estimated-"))
        if r.quality.top1_agreement is not None:
            assert f"top-1 agreement {r.quality.top1_agreement:.3f}" in row  # the deciding figure, on held-out inputs
            assert r.quality.quality_status in row.replace("FAILED", "failed")
    dq = next(r for r in inputs["run"].results if r.technique == "post-training-dynamic-quantization")
    row = row_of(html, dq.technique)
    lr = dq.comparison.latency_ratio
    assert f">{dq.predicted['adjusted_low']:.3g}" in row and f">{lr.median:.2f} ({lr.low:.2f}-{lr.high:.2f})<" in row
    assert ("OUTSIDE" if dq.outside_prediction else "inside") in row


def test_html_embeds_three_figures_and_loads_nothing_external(inputs: dict[str, Any], written: dict[str, Path]) -> None:
    html = written["html"].read_text()
    refs = inputs["rec"].catalog.references
    doc_urls = {refs[k].URL for k in cited_keys(inputs) if refs[k].is_documentation}  # documentation: its own page
    for fig in ("latency", "energy", "prediction"):
        assert re.search(rf'<figure id="fig-{fig}"><img src="data:image/png;base64,[A-Za-z0-9+/=]{{200,}}"', html), fig
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    for attr, url in re.findall(r"""(src|href)\s*=\s*["']?([^"'\s>]+)""", html):
        if attr == "src":
            assert url.startswith("data:image/png;base64,"), url
        else:
            assert url.startswith("#") or re.match(r"https://(doi\.org|arxiv\.org)/", url) or url in doc_urls, url


def test_html_recommendations_exclusions_and_reporting(inputs: dict[str, Any], written: dict[str, Path]) -> None:
    html = written["html"].read_text()
    rec = inputs["rec"]
    top = rec.recommended[0]
    assert f"<code>{top.id}</code>" in html and f'id="why-{top.id}"' in html
    assert top.expected_text() in html
    assert f"{len(rec.excluded_items)} techniques excluded" in html
    reporting = html[html.index('id="reporting"') :]
    assert inputs["run"].meta["versions"]["torch"] in reporting
    assert inputs["run"].meta["hardware"]["cpu_model"] in reporting
    method = inputs["run"].baseline.timing.energy_method
    assert method in reporting
    assert ("are estimates, not measurements" in reporting) == method.startswith("estimated")
    assert "CO2e not computed: no region given" in html


def test_every_cited_work_is_linked_in_html_and_in_bibtex(inputs: dict[str, Any], written: dict[str, Path]) -> None:
    keys = cited_keys(inputs)
    assert keys
    refs = inputs["rec"].catalog.references
    html, bib = written["html"].read_text(), written["bib"].read_text()
    entries = parse_bibtex(bib)
    assert list(entries) == keys
    for k in keys:
        ref = refs[k]
        if ref.DOI:
            assert f'href="https://doi.org/{ref.DOI}"' in html and entries[k]["doi"] == ref.DOI
        elif ref.is_documentation:  # official docs, a README, a vendor blog: linked by URL, with the day read
            assert f'href="{ref.URL}"' in html and entries[k]["url"] == ref.URL and entries[k]["urldate"]
        else:
            assert f'href="https://arxiv.org/abs/{ref.arxiv}"' in html and entries[k]["eprint"] == ref.arxiv
        assert str(ref.year) == entries[k]["year"]


def parse_bibtex(text: str) -> dict[str, dict[str, str]]:
    """A strict little BibTeX reader: balanced braces, `name = {value}` fields, no stray specials."""
    entries: dict[str, dict[str, str]] = {}
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    assert "@" not in re.sub(r"@\w+\{[^,\s]+,", "", body), "a stray @ would start an entry"
    for m in re.finditer(r"@(\w+)\{([^,\s{}]+),", body):
        i, depth = m.end(), 1
        start = i
        while depth:
            assert i < len(body), f"unbalanced braces in {m.group(2)}"
            depth += {"{": 1, "}": -1}.get(body[i], 0) if body[i - 1] != "\\" else 0
            i += 1
        fields = {}
        for fm in re.finditer(r"(\w+) = \{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\},?\n", body[start : i - 1] + "\n"):
            value = fm.group(2)
            assert value.count("{") - value.count("\\{") == value.count("}") - value.count("\\}")
            if fm.group(1) not in ("url", "doi"):
                assert not re.search(r"(?<!\\)[&%#_$]", value), (m.group(2), fm.group(1), value)
            fields[fm.group(1)] = value
        assert {"title", "author", "year"} <= set(fields), m.group(2)
        entries[m.group(2)] = fields
    return entries


def test_bibtex_escapes_special_characters() -> None:
    from advisor.catalog.schema import Reference
    from advisor.reports.bibtex import bibliography

    ref = {"id": "odd2020x", "type": "article-journal", "title": "50% of {Nets} & C# use a_b $x$ ~ ^ \\",
           "author": [{"family": "de Jong", "given": "M."}], "issued": {"date-parts": [[2020]]},
           "container-title": "J. A&B", "DOI": "10.1000/a_b"}  # fmt: skip
    bib = bibliography("t @{x}", {"odd2020x": Reference.model_validate(ref)})
    entry = parse_bibtex(bib)["odd2020x"]
    assert entry["doi"] == "10.1000/a_b" and entry["journal"] == r"J. A\&B"
    assert r"50\% of \{Nets\} \& C\# use a\_b \$x\$" in entry["title"]
    assert entry["author"] == "{de Jong}, M."


def test_bibtex_renders_a_documentation_reference_as_misc_with_url_and_urldate() -> None:
    """A README or documentation page (no DOI, no arXiv id) becomes @misc with url, urldate and who publishes it."""
    from advisor.catalog.schema import Reference
    from advisor.reports.bibtex import bibliography

    url = "https://github.com/pytorch/ao/blob/8482770a/torchao/quantization/README.md#benchmarks"
    ref = {"id": "doc2025x", "type": "software", "genre": "readme", "title": "torchao quantization README",
           "author": [{"literal": "PyTorch team"}], "issued": {"date-parts": [[2025, 10, 13]]},
           "publisher": "PyTorch Foundation", "URL": url, "accessed": {"date-parts": [[2026, 5, 20]]}}  # fmt: skip
    page = {**ref, "id": "page2024y", "type": "webpage", "container-title": "OpenVINO documentation",
            "publisher": "Intel", "accessed": {"date-parts": [[2026, 5, 2]]}}  # fmt: skip
    works = {k: Reference.model_validate(r) for k, r in (("doc2025x", ref), ("page2024y", page))}
    bib = bibliography("t", works)
    assert bib.count("@misc{") == 2, bib
    entries = parse_bibtex(bib)
    doc = entries["doc2025x"]
    assert doc["url"] == url and doc["urldate"] == "2026-05-20" and doc["note"] == "Accessed 2026-05-20"
    assert doc["howpublished"] == "PyTorch Foundation" and doc["author"] == "{PyTorch team}"
    assert entries["page2024y"]["howpublished"] == "OpenVINO documentation"
    assert entries["page2024y"]["organization"] == "Intel" and entries["page2024y"]["urldate"] == "2026-05-02"
    assert "doi" not in doc and "eprint" not in doc


def test_markdown_has_the_same_tables(inputs: dict[str, Any], written: dict[str, Path]) -> None:
    md = written["md"].read_text()
    for r in [inputs["run"].baseline, *inputs["run"].results]:
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {r.technique} |"))
        if r.status == "ok":
            assert f"| {r.timing.latency_ms_median:.3g} |" in line and f"| {r.timing.energy_method} |" in line
        else:
            assert r.status in line
    assert "## Reporting" in md and "## References" in md and "CO2e not computed: no region given" in md
    for k in cited_keys(inputs):
        assert f"`[{k}]`" in md
    first = inputs["rec"].recommended[0]
    assert re.search(rf"^\| 1 \| .*\| {re.escape(first.id)} \|", md, flags=re.M)


def test_json_is_the_normalised_data(inputs: dict[str, Any], written: dict[str, Path]) -> None:
    from advisor._version import RESULT_SCHEMA_VERSION

    data = json.loads(written["json"].read_text())
    assert data["kind"] == "green-advisor-report" and data["schema_version"] == RESULT_SCHEMA_VERSION
    assert data["measurement"]["run_id"] == inputs["run"].run_id
    assert [r["id"] for r in data["recommendations"]["recommended"]] == inputs["rec"].ids
    assert list(data["references"]) == cited_keys(inputs)
    assert data["reporting"]["items"] and data["reporting"]["statement"].startswith("We measured")
    assert "Infinity" not in written["json"].read_text() and "NaN" not in written["json"].read_text()


# --- loading, round trip ---------------------------------------------------------------------------------
def test_round_trip_json_renders_the_same_report(written: dict[str, Path], tmp_path: Path) -> None:
    args = load_results(written["json"])
    assert set(args) == {"measurement", "recommendations", "training", "generation", "title"}
    assert args["generation"] is None  # this report holds no generation run
    again = advisor.report(**args, out=tmp_path / "again")
    first, second = (json.loads(p.read_text()) for p in (written["json"], again["json"]))
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second
    strip = lambda s: re.sub(r"Generated \S+", "", s)  # noqa: E731
    assert strip(written["md"].read_text()) == strip(again["md"].read_text())
    assert written["bib"].read_text() == again["bib"].read_text()


def test_load_results_reads_measure_recommend_and_demo_files(inputs: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(inputs["run"].to_json())
    (tmp_path / "r.json").write_text(inputs["rec"].to_json())
    demo = {"demo": {"model": "tiny"}, **inputs["rec"].to_dict(), "measurement": inputs["run"].to_dict()}
    (tmp_path / "advice.json").write_text(json.dumps(demo, default=list))
    m = load_results(tmp_path / "m.json")  # the typed results, rebuilt from the files
    assert isinstance(m["measurement"], MeasureRun) and m["recommendations"] is None
    assert m["measurement"].run_id == inputs["run"].run_id
    assert [r.technique for r in m["measurement"].results] == [r.technique for r in inputs["run"].results]
    assert m["measurement"].results[0].comparison == inputs["run"].results[0].comparison
    r = load_results(tmp_path / "r.json")
    assert r["measurement"] is None and r["recommendations"].ids == inputs["rec"].ids
    assert r["recommendations"].recommended[0] == inputs["rec"].recommended[0]
    d = load_results(tmp_path / "advice.json")
    assert d["measurement"].run_id == inputs["run"].run_id and d["recommendations"].ids == inputs["rec"].ids
    data = build_data(**d)
    assert data.model.name == inputs["run"].meta["model"]["name"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"results": [1, 2\n  "x"]}', ["not valid JSON", "line 2, column 3", "green-advisor measure"]),
        ("", ["not valid JSON", "line 1, column 1"]),
        (
            '{"name": "x", "epochs": 3}',
            [
                "not a green-dl-advisor result",
                "found keys epochs, name",
                "run_id, baseline",
                "recommended, excluded",
                "green-advisor recommend",
            ],
        ),
        ("[1, 2]", ["found a JSON list, expected an object"]),
        ('{"kind": "green-advisor-report", "schema_version": 99}', ["schema_version 99", "upgrade"]),
        ('{"run_id": "a", "baseline": null, "results": [{"x": 1}], "meta": {}}', ["results[0]", "'technique'"]),
    ],
)
def test_malformed_and_foreign_files_raise_a_clear_error(tmp_path: Path, content: str, expected: list[str]) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ReportError) as exc:
        load_results(path)
    assert isinstance(exc.value, AdvisorError)
    assert str(path) in str(exc.value)
    for text in expected:
        assert text in str(exc.value)


def test_a_meta_record_that_is_not_a_profile_is_one_clear_error(inputs: dict[str, Any], tmp_path: Path) -> None:
    m = copy.deepcopy(inputs["m"])
    m["meta"]["model"] = {"name": "x", "n_parameters": -3}
    with pytest.raises(ReportError, match=r"ModelProfile.*n_parameters|n_parameters.*ModelProfile"):
        advisor.report(m, out=tmp_path / "r.md")


def test_missing_file_and_no_input(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot read the results file"):
        load_results(tmp_path / "nope.json")
    with pytest.raises(ReportError, match="nothing to report"):
        advisor.report(out=tmp_path / "r.html")
    with pytest.raises(ReportError, match="expected a result object"):
        advisor.report(measurement=[1, 2], out=tmp_path / "r.html")


def test_out_suffix_picks_the_format_and_conflicts_are_errors(inputs: dict[str, Any], tmp_path: Path) -> None:
    only = advisor.report(recommendations=inputs["r"], out=tmp_path / "x.bib")
    assert list(only) == ["bib"] and only["bib"].read_text().startswith("% Works cited")
    some = advisor.report(inputs["m"], out=tmp_path / "d", formats=["md", "json"])
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["report.json", "report.md"] and len(some) == 2
    with pytest.raises(ReportError, match=r"suffix '\.txt' names no report format"):
        advisor.report(inputs["m"], out=tmp_path / "x.txt")
    with pytest.raises(ReportError, match="is a html file but formats"):
        advisor.report(inputs["m"], out=tmp_path / "x.html", formats="md")
    with pytest.raises(ReportError, match="'pdf' is not one of"):
        advisor.report(inputs["m"], out=tmp_path / "d2", formats=["pdf"])


# --- escaping, carbon, training, reporting text -------------------------------------------------------------
def test_user_strings_are_escaped_in_html_and_markdown(inputs: dict[str, Any], tmp_path: Path) -> None:
    m = copy.deepcopy(inputs["m"])
    m["meta"]["model"]["name"] = XSS
    m["results"][0]["settings"]["note"] = XSS
    bad = next(r for r in m["results"] if r["status"] != "ok")
    bad["reason"] = f"failed {XSS}"
    out = advisor.report(m, out=tmp_path / "x", title=f"Report {XSS}", formats=["html", "md", "bib"])
    html, md = out["html"].read_text(), out["md"].read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "<script" not in md.lower() and "&lt;script&gt;" in md
    assert "<title>Report &lt;script&gt;" in html
    parse_bibtex(out["bib"].read_text())  # the title in the header comment breaks nothing


def test_co2e_is_rendered_when_the_run_has_a_region(inputs: dict[str, Any], tmp_path: Path) -> None:
    m = copy.deepcopy(inputs["m"])
    g_per_kwh, pue = 56.0, 1.2
    m["carbon"] = {"region": "FRA", "name": "France", "g_co2e_per_kwh": g_per_kwh, "year": 2023,
                   "source": "Our World in Data (Ember)", "pue": pue}  # fmt: skip
    expected = {}
    for r in [m["baseline"], *m["results"]]:
        if r["timing"] and r["timing"]["energy_j_per_call"] is not None:
            r["co2e_g_per_call"] = r["timing"]["energy_j_per_call"] * pue / 3.6e6 * g_per_kwh
            r["co2e_g_per_1k_calls"] = r["co2e_g_per_call"] * 1000
            expected[r["technique"]] = r["co2e_g_per_1k_calls"]
    out = advisor.report(m, out=tmp_path / "c", formats=["html", "md"])
    html = out["html"].read_text()
    assert "CO2e not computed" not in html
    for tid, value in expected.items():
        assert f">{value:.3g}<" in row_of(html, tid)
    reporting = html[html.index('id="reporting"') :]
    for text in ("region FRA (France)", "56 gCO2e/kWh", "Our World in Data (Ember), 2023", "PUE 1.2"):
        assert text in reporting
    assert "inherits the method of its energy figure" in reporting


def test_reporting_text_follows_the_energy_method(inputs: dict[str, Any]) -> None:
    m = copy.deepcopy(inputs["m"])
    m["meta"]["idle_power_w"] = 12.5
    for r in [m["baseline"], *m["results"]]:
        if r["timing"]:
            r["timing"]["energy_method"] = "measured-rapl"
    md = render(build_data(m), "md")
    assert "12.5 W, sampled before the runs, was subtracted" in md
    assert "measured-rapl figures are the CPU package" in md and "are estimates, not measurements" not in md


def test_a_training_run_is_rendered_as_tables(inputs: dict[str, Any]) -> None:
    from advisor.measurement import Projection, TrainingResult, TrainingRun

    base = inputs["run"].baseline.timing
    slow = dataclasses.replace(base, latency_ms_median=2 * base.latency_ms_median)
    proj = Projection(steps=1000, time_s=7200.0, time_s_iqr=None, time_s_ci95=None, energy_j=3000.0,
                      energy_j_iqr=None, energy_method="estimated-tdp", energy_kwh=3000.0 / 3.6e6, co2e_g=None,
                      co2e_g_iqr=None, co2e_method=None)  # fmt: skip
    run = TrainingRun("t-1", "finished", TrainingResult("baseline", "ok", timing=base, projection=proj),
                      [TrainingResult("gradient-accumulation", "ok", timing=slow, settings={"k": 4})],
                      [], {}, None, {"phase": "training"})  # fmt: skip
    for training in (run, run.to_dict()):  # the object and its dict (a file) render the same tables
        html = render(build_data(training=training), "html")
        section = html[html.index('id="training"') : html.index('id="reporting"')]
        assert f"{2 * base.latency_ms_median:.3g}" in section and "gradient-accumulation" in section
        assert ">settings.k<" in section and ">4<" in section and ">projected_time_h<" in section
        results = section[section.index(">results<") :]
        assert results.index(">baseline<") < results.index(">gradient-accumulation<")  # the baseline heads it
        assert "training steps" in html[html.index('id="reporting"') :]


def _to_target_run() -> Any:
    """A small to-target run: the baseline, a variant that reached the target with less energy, one that never did."""
    from advisor.measurement import Interval
    from advisor.training import ToTargetRun, VariantResult

    e = Interval(120.0, 110.0, 130.0, 3)
    base = VariantResult("baseline", n_seeds=3, n_reached=3, energy_j_to_target=e, energy_method="estimated-tdp")
    fast = VariantResult("large-batch", ["large-batch"], n_seeds=3, n_reached=3, energy_j_to_target=e,
                         energy_ratio=Interval(0.62, 0.55, 0.70, 3), verdict="less energy")  # fmt: skip
    never = VariantResult("pruning", n_seeds=3, n_reached=0)
    return ToTargetRun("tt-1", "finished", 0.9, "accuracy", base, [fast, never], outcome="two variants")


def test_an_energy_to_target_run_is_rendered_with_its_outcome_per_variant() -> None:
    run = _to_target_run()
    for training in (run, json.loads(run.to_json())):
        data = build_data(training=training)
        md = render(data, "md")
        assert "energy to 90 % accuracy x0.62 (0.55-0.70), 3/3 seeds reached it" in md
        assert "did not reach 90 % accuracy in 3 of 3 seeds" in md and "| pruning |" in md
        assert "Training to a target" in md and "from scratch to 0.9 accuracy" in md
        payload = json.loads(render(data, "json"))
        assert (
            payload["training"]["kind"] == "to-target" and payload["training"]["results"][0]["variant"] == "large-batch"
        )


def test_a_stored_to_target_run_is_reported_by_id_typed(tmp_path: Path) -> None:
    from advisor.measurement import ResultStore

    store = ResultStore(tmp_path / "s.sqlite")
    store.save_run(_to_target_run())
    md = advisor.report(run_id="tt-1", store=store, out=tmp_path / "r.md")["md"].read_text()
    assert "## Training to a target" in md and "x0.62 (0.55-0.70)" in md and "## Measurements" not in md


# --- CLI and package ---------------------------------------------------------------------------------------
def test_cli_end_to_end(inputs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results.json"
    results.write_text(inputs["run"].to_json())
    assert main(["report", str(results), "--out", str(tmp_path / "rep"), "--title", "Lab run"]) == 0
    out = capsys.readouterr().out
    assert out.count("wrote ") == 4 and "from measurement" in out
    assert "<title>Lab run</title>" in (tmp_path / "rep" / "report.html").read_text()
    assert main(["report", str(tmp_path / "rep" / "report.json"), "--out", str(tmp_path / "b"), "--format", "bib"]) == 0
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["references.bib"]
    capsys.readouterr()
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    assert main(["report", str(tmp_path / "foreign.json"), "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("green-advisor report: error:") and "found keys hello" in err and "Traceback" not in err


def test_report_is_the_function_and_import_stays_light() -> None:
    assert callable(advisor.report) and advisor.report.__module__ == "advisor.reports._report"
    assert advisor.load_results is load_results
    code = "import sys, advisor; print([m for m in ('jinja2', 'matplotlib', 'torch', 'pandas') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
