"""Generation runs in the store, in reports (HTML/Markdown/JSON), and tune for generative decoders.

Random-weight decoders from transformers configs (``generation_models.tiny_gpt2``/``tiny_llama``), a few new
tokens, one or two rounds: no download, no timing assertions.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

pytest.importorskip("transformers")

import advisor
from advisor.cli import main
from advisor.generation import GenerationRun, measure_generation
from advisor.generation.models import tiny_gpt2
from advisor.measurement import ResultStore

warnings.filterwarnings("ignore")

FAST = {"min_rounds": 2, "max_rounds": 2, "warmup": 1, "prompt_tokens": 8}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[GenerationRun, ResultStore]:
    d = tmp_path_factory.mktemp("gen")
    store = ResultStore(d / "results.sqlite")
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1, 2), techniques=["prompt-lookup-decoding"],
                             budget_s=5, lock_path=d / "lock", store=store, name="tiny-gpt2", **FAST)  # fmt: skip
    return run, store


# --- the store --------------------------------------------------------------------------------------------
def test_a_generation_run_is_a_row_in_runs_and_loads_back_typed(stored) -> None:
    run, store = stored
    head = next(r for r in store.runs(10) if r["run_id"] == run.run_id)
    assert head["kind"] == "generation" and head["status"] == "finished" and head["model_name"] == "tiny-gpt2"
    assert head["n_results"] == len(run.results) == 4  # baseline and prompt lookup at batch 1 and 2
    back = store.load_run(run.run_id)
    assert isinstance(back, GenerationRun) and back.kind == "generation"
    assert back.to_dict() == json.loads(json.dumps(run.to_dict(), default=str))
    assert run.meta["store"] == str(store.path)


def test_a_run_that_died_before_its_record_is_rebuilt_from_its_results(stored, tmp_path: Path) -> None:
    run, _ = stored
    st = ResultStore(tmp_path / "r.sqlite")
    rid = st.start_run("m", "", {**run.meta, "kind": "generation"})
    for r in run.results:
        st.add_result(rid, f"{r.technique} [batch {r.batch_size}]", r.status, r.to_dict())
    back = st.load_run(rid)
    assert isinstance(back, GenerationRun) and back.status == "running"
    assert sorted((r.technique, r.batch_size) for r in back.results) == sorted(
        (r.technique, r.batch_size) for r in run.results
    )
    assert back.get("baseline", 2).figures.j_per_output_token == run.get("baseline", 2).figures.j_per_output_token


def test_store_false_keeps_the_run_out_of_the_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GREEN_ADVISOR_STORE", str(tmp_path / "default.sqlite"))
    run = measure_generation(tiny_gpt2(), max_new_tokens=2, batch_sizes=(1,), techniques=[], budget_s=2,
                             lock_path=tmp_path / "lock", store=False, **FAST)  # fmt: skip
    assert "store" not in run.meta
    assert ResultStore(tmp_path / "default.sqlite").runs() == []


def test_history_lists_and_shows_a_generation_run(stored, capsys) -> None:
    run, store = stored
    assert main(["history", "--store", str(store.path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(run.run_id))
    assert "generation" in line
    assert main(["history", "--store", str(store.path), "--run", run.run_id]) == 0
    text = capsys.readouterr().out
    assert "J/output token" in text and "Advice per batch size" in text


# --- reports ----------------------------------------------------------------------------------------------
def _check_report(written: dict[str, Path], run: GenerationRun) -> dict:
    md = written["md"].read_text()
    assert "## Generation: energy per token" in md and "### Advice per batch size" in md
    assert "J/output token" in md and "prompt-lookup-decoding" in md and "ESTIMATED" in md
    html = written["html"].read_text()
    assert '<section class="generation">' in html and "data:image/png;base64," in html
    assert "batch 1: use <b>" in html
    data = json.loads(written["json"].read_text())
    g = data["generation"]
    assert g["run"]["run_id"] == run.run_id
    assert {r["technique"] for r in g["rows"]} == {"baseline", "prompt-lookup-decoding"}
    assert set(g["advice"]["best"]) == {"1", "2"} and g["advice"]["lines"]
    pts = g["frontier"]
    assert {(p["technique"], p["batch_size"]) for p in pts} >= {("baseline", 1), ("baseline", 2)}
    assert any(p["on_frontier"] for p in pts) and "Prefill = generate(max_new_tokens=1)" in g["reporting"]
    topics = {i["topic"] for i in data["reporting"]["items"]}
    assert {"Generation", "Generation run"} <= topics and "Measurements" not in topics
    assert "text generation" in data["reporting"]["statement"]
    assert data["model"]["name"] == "GPT2LMHeadModel" and data["hardware"]["cpu_model"]
    return data


def test_report_of_a_generation_run_object_and_as_measurement(stored, tmp_path: Path) -> None:
    run, _ = stored
    _check_report(advisor.report(generation=run, out=tmp_path / "a"), run)
    _check_report(advisor.report(run, out=tmp_path / "b"), run)  # a GenerationRun passed as measurement=


def test_report_of_a_stored_generation_run_by_id_python_and_cli(stored, tmp_path: Path, capsys) -> None:
    run, store = stored
    _check_report(advisor.report(run_id=run.run_id, store=store, out=tmp_path / "a"), run)
    assert main(["report", "--run", run.run_id, "--store", str(store.path), "--out", str(tmp_path / "b")]) == 0
    assert f"from run {run.run_id}" in capsys.readouterr().out
    _check_report({f: tmp_path / "b" / n for f, n in
                   (("md", "report.md"), ("html", "report.html"), ("json", "report.json"))}, run)  # fmt: skip


def test_report_from_generate_out_json_and_report_json_round_trip(stored, tmp_path: Path, capsys) -> None:
    run, _ = stored
    src = tmp_path / "gen.json"
    src.write_text(run.to_json())
    assert main(["report", str(src), "--out", str(tmp_path / "r")]) == 0
    assert "from generation" in capsys.readouterr().out
    data = _check_report({f: tmp_path / "r" / n for f, n in
                          (("md", "report.md"), ("html", "report.html"), ("json", "report.json"))}, run)  # fmt: skip
    # a report.json reads back as the same generation run, typed
    kwargs = advisor.reports.load_results(tmp_path / "r" / "report.json")
    assert isinstance(kwargs["generation"], GenerationRun)
    assert kwargs["generation"].run_id == run.run_id == data["generation"]["run"]["run_id"]
    _check_report(advisor.report(**kwargs, out=tmp_path / "again"), run)


def test_generation_section_escapes_names_and_reasons_in_html_and_markdown(tmp_path: Path) -> None:
    import re

    from advisor.generation import GenerationResult
    from advisor.reports import generation_html, generation_markdown

    evil = "<script>alert(1)</script> & <b>bold</b> | pipe"
    run = GenerationRun("r1", "finished", [
        GenerationResult("baseline", 1, "failed", f"reason {evil}\nsecond line"),
        GenerationResult(f"tech|{evil}", 1, "not-applicable", evil),
    ], {"model": evil, "weights": "real", "cpu": "cpu & <co>", "reporting": evil, "max_new_tokens": 4})  # fmt: skip
    page = generation_html(run)
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in page and "cpu &amp; &lt;co&gt;" in page
    md = generation_markdown(run)
    assert "<script>" not in md and "&lt;script&gt;" in md
    table = [line for line in md.splitlines() if line.startswith("|")]
    n_cols = len(re.split(r"(?<!\\)\|", table[0])) - 2
    assert n_cols >= 10 and len(table) == 4  # header, rule, two rows: a | in a cell does not add a column
    for line in table[2:]:
        assert len(re.split(r"(?<!\\)\|", line)) - 2 == n_cols
    assert "second line" in table[2]  # the newline in the reason does not end the row
    # the full report (HTML and Markdown files) carries the same escaping
    written = advisor.report(generation=run, out=tmp_path / "r")
    assert "<script>alert" not in written["html"].read_text() and "<script>alert" not in written["md"].read_text()


def test_a_broken_generation_file_names_what_was_expected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "generation", "run_id": "x", "results": [{"technique": "baseline"}]}))
    with pytest.raises(advisor.ReportError, match=r"results\[0\].*'batch_size'"):
        advisor.reports.load_results(bad)
    with pytest.raises(advisor.ReportError, match="two generation runs"):
        advisor.report(json.loads(bad.read_text()), generation={}, out=tmp_path / "o")


# --- the CLI ----------------------------------------------------------------------------------------------------
def test_cli_generate_prints_the_section_and_rejects_bad_input_in_one_line(tmp_path: Path, capsys) -> None:
    spec = "advisor.generation.models:tiny_gpt2"
    base = ["generate", "--model", spec, "--max-new-tokens", "3", "--techniques", "prompt-lookup-decoding",
            "--budget-s", "1", "--no-store"]  # fmt: skip
    assert main([*base, "--batch-sizes", "1,2", "--max-perplexity-ratio", "1.05", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["meta"]["max_perplexity_ratio"] == 1.05 and set(d["meta"]["plan"]["round_cost_s"]) == {"1", "2"}
    assert {(r["technique"], r["batch_size"]) for r in d["results"]} >= {("baseline", 1), ("baseline", 2)}
    assert main([*base, "--batch-sizes", "1"]) == 0
    text = capsys.readouterr().out
    assert "## Generation: energy per token" in text and "| rounds |" in text and "best per batch size" in text
    for bad, what in ((["--batch-sizes", "one"], "--batch-sizes"), (["--max-perplexity-ratio", "0"],
                                                                     "max_perplexity_ratio")):  # fmt: skip
        assert main([*base, *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert what in err and len(err.splitlines()) == 1 and "Traceback" not in err


# --- tune for generative decoders --------------------------------------------------------------------------
@pytest.mark.slow
def test_tune_measures_a_generative_decoder_per_token_and_picks_per_batch_size(tmp_path: Path) -> None:
    import torch

    from advisor.generation import generation_measurable
    from advisor.generation.models import tiny_llama
    from advisor.tuning import BatchPick, TunePlan

    spec = tiny_llama()
    store = ResultStore(tmp_path / "r.sqlite")
    opts = {**FAST, "lock_path": tmp_path / "lock"}
    decoder = advisor.ModelSpec(spec["model"], torch.randint(3, 256, (1, 8)), draft_model=spec["draft_model"])
    gen = advisor.GenerationOptions(batch_sizes=(1, 2), max_new_tokens=3, measure_options=opts)
    plan = advisor.tune(decoder, budget_s=6, store=store, progress=False, max_variants=2, generation=gen)
    assert isinstance(plan, TunePlan) and plan.phase == "inference"
    assert [p.batch_size for p in plan.per_batch] == [1, 2] and all(isinstance(p, BatchPick) for p in plan.per_batch)
    run = plan.run
    assert isinstance(run, GenerationRun) and plan.run_ids == [run.run_id]
    measured = {r.technique for r in run.results} - {"baseline"}
    assert len(measured) == 2 and measured <= set(generation_measurable(spec["model"], spec["draft_model"]))
    # every candidate is one (variant, batch size), judged per output token
    for cand in [*plan.runners_up, *plan.no_payoff, *([plan.winner] if plan.winner else [])]:
        assert cand.batch_size in (1, 2) and cand.variant in measured
    speculative = [x for x in plan.no_payoff + plan.runners_up if x.acceptance_rate is not None]
    assert all(x.batch_size == 1 for x in speculative)
    # the crossover lines come from generation_advice, one per technique (plus batching)
    assert plan.crossover and any(line.startswith("batching first") for line in plan.crossover)
    text = str(plan)
    assert "per batch size (generation, per output token):" in text and "where each technique pays off" in text
    assert plan.headline().startswith("do this per batch size")
    d = json.loads(plan.to_json())
    assert [p["batch_size"] for p in d["per_batch"]] == [1, 2] and d["crossover"] == plan.crossover
    # both the generation run and the plan are in the store
    assert isinstance(store.load_run(run.run_id), GenerationRun)
    kinds = {r["run_id"]: r["kind"] for r in store.runs(10)}
    assert kinds[run.run_id] == "generation" and kinds[plan.plan_id] == "tune"


def test_a_winner_per_batch_size_is_the_advices_pick_when_it_pays_off() -> None:
    from advisor.generation import GenerationAdvice, GenerationResult, RankedVariant
    from advisor.measurement import Comparison, Interval
    from advisor.profile.constraints import Constraints
    from advisor.tuning._generation import _candidate, _overall, _picks

    def res(tech: str, b: int, ratio: float) -> GenerationResult:
        iv = Interval(ratio, ratio * 0.95, ratio * 1.05, 6)
        verdict = "less energy" if ratio < 1 else "more energy"
        comp = Comparison(latency_ratio=iv, energy_ratio=iv, verdict="faster" if ratio < 1 else "slower",
                          energy_verdict=verdict)  # fmt: skip
        return GenerationResult(tech, b, comparison={"end_to_end": comp}, quality={"greedy_agreement": 1.0,
                                "note": "the model's weights and kernels are unchanged"})  # fmt: skip

    c = Constraints.make(phase="inference", objective="energy")
    rs = [res("int4", 1, 1.3), res("int4", 8, 0.7), res("lookup", 1, 0.8)]
    run = GenerationRun("r", "finished", rs)
    cands = [_candidate(r, c, advisor.load_catalog(), "r", True) for r in rs]
    adv = GenerationAdvice(ranking={1: [RankedVariant("lookup", 1, 0.1, 1.2, 0.8, "faster", "less energy")],
                                    8: [RankedVariant("int4", 8, 0.1, 1.4, 0.7, "faster", "less energy")]},
                           best={1: "lookup", 8: "int4"})  # fmt: skip
    picks = _picks(run, adv, cands, "energy")
    assert [(p.batch_size, p.winner.variant) for p in picks] == [(1, "lookup"), (8, "int4")]
    assert "batch 8: int4" in picks[1].text() and _overall(picks).variant == "lookup"
    assert next(x for x in cands if x.batch_size == 1 and x.variant == "int4").reason == "more energy here"


@pytest.mark.slow
def test_cli_tune_with_a_generation_spec(tmp_path: Path, capsys) -> None:
    spec = "advisor.generation.models:tiny_gpt2"
    code = main(["tune", "--model", spec, "--budget-s", "3", "--max-variants", "1", "--batch-sizes", "1,2",
                 "--max-new-tokens", "3", "--store", str(tmp_path / "r.sqlite"), "--format", "json"])  # fmt: skip
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert [p["batch_size"] for p in d["per_batch"]] == [1, 2] and d["crossover"]
    assert main(["tune", "--model", spec, "--batch-sizes", "one", "--store", str(tmp_path / "r.sqlite")]) == 2
    assert "--batch-sizes" in capsys.readouterr().err
