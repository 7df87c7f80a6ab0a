"""Campaigns: plan validation, the local runner and a real local Ray cluster, faults, interrupt and resume.

The model factories live in tests/fixtures/campaign/models.py; each test copies that folder, so a
``control.json`` written there can make a factory record its pid and stall on the first attempt
(the test then kills that worker mid-cell).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from advisor import CampaignError
from advisor.campaign import Ledger, load_plan, resume_campaign, run_campaign
from advisor.cli import main
from advisor.measurement.store import ResultStore
from advisor.reports import campaign_data, campaign_report

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).parent / "fixtures" / "campaign"

PLAN_2 = """
name: fleet
models:
  - {name: cnn, spec: models.py:cnn}
  - {name: encoder, spec: models.py:encoder}
techniques: [inference-mode-and-no-grad]
budget_s: 1
retries: 2
node_groups:
  - {name: group-a, resources: {group_a: 1}, region: FRA, pue: 1.2}
"""


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plan"
    shutil.copytree(FIXTURE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "campaign.yaml").write_text(PLAN_2)
    return folder


def _write_control(folder: Path, tmp: Path, model: str, stall_s: float = 60) -> Path:
    pid_file = tmp / f"pid-{model}"
    (folder / "control.json").write_text(json.dumps({
        "model": model, "pid_file": str(pid_file), "first_attempt_marker": str(tmp / f"marker-{model}"),
        "stall_s": stall_s,
    }))  # fmt: skip
    return pid_file


def _kill_when_started(pid_file: Path, timeout_s: float = 120) -> threading.Thread:
    def killer() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if pid_file.is_file() and pid_file.read_text().strip():
                time.sleep(0.5)  # mid-cell: the factory is stalling
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
                return
            time.sleep(0.1)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    return t


# --- plan validation -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: []\n", "models: expected List should have at least 1 item"),
        ("models: [{name: a, spec: models.py:cnn}]\ntechniques: 5\n", "techniques"),
        ("models: [{name: a, spec: nofactory}]\n", "models[0] (a): models.0.spec"),
        ("models: [{name: a, spec: missing.py:f}]\n", "models[0] (a): spec: expected a file relative"),
        ("models: [{name: a, spec: models.py:cnn}]\nbudget_s: -1\n", "budget_s: expected Input should be greater"),
        ("models: [{name: a, spec: models.py:cnn}, {name: a, spec: models.py:cnn}]\n", "unique names"),
        ("models: [{name: 'a b', spec: models.py:cnn}]\n", "letters, digits"),
        ("models: [{name: a, spec: models.py:cnn}]\nnode_groups: [{name: g, pue: 0.5}]\n", "pue"),
        ("models: [{name: a, spec: models.py:cnn}]\nbogus: 1\n", "bogus"),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_bad_plans_name_file_entry_and_field(plan_dir: Path, text: str, message: str) -> None:
    bad = plan_dir / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(CampaignError) as err:
        load_plan(bad)
    assert str(bad) in str(err.value) and message in str(err.value), str(err.value)


def test_cells_are_models_times_groups_times_batches(plan_dir: Path) -> None:
    (plan_dir / "p.yaml").write_text(PLAN_2.replace("retries: 2", "retries: 2\nbatch_sizes: [1, 4]")
                                     + "  - {name: group-b, resources: {group_b: 1}}\n")  # fmt: skip
    plan = load_plan(plan_dir / "p.yaml")
    ids = [c.cell_id for c in plan.cells()]
    assert len(ids) == 2 * 2 * 2 == len(set(ids))
    assert "encoder@group-b#b4" in ids
    assert plan.cells()[0].task()["techniques"] == ["inference-mode-and-no-grad"]


# --- local runner ----------------------------------------------------------------------------------------
def test_local_campaign_stores_every_cell_and_reports(plan_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    result = run_campaign(plan_dir / "campaign.yaml", store=store, progress=False)
    assert result.status == "finished" and result.runner == "local"
    assert result.counts() == {"ok": 2}
    rs = ResultStore(store)
    for cell in result.cells:
        assert cell["hardware"]["fingerprint"] and cell["hardware"]["cpu_model"]
        techniques = [r["technique"] for r in rs.results(cell["run_id"])]
        assert techniques[0] == "baseline" and "inference-mode-and-no-grad" in techniques
    runs = {r["run_id"]: r for r in rs.runs(10)}
    assert {c["run_id"] for c in result.cells} <= set(runs)
    paths = campaign_report(result.campaign_id, store=store, out=tmp_path / "rep")
    assert sorted(p.name for p in paths) == ["campaign.html", "campaign.json", "campaign.md"]
    data = json.loads((tmp_path / "rep" / "campaign.json").read_text())
    assert {c["cell_id"] for c in data["cells"]} == {"cnn@group-a", "encoder@group-a"}
    assert data["co2e_by_group"][0]["region"] == "FRA"
    assert "Reporting" in (tmp_path / "rep" / "campaign.md").read_text()


def test_a_cell_and_its_knowledge_entries_name_the_machine_alike(plan_dir: Path, tmp_path: Path) -> None:
    """One fingerprint (advisor.profile.hardware_fingerprint): the campaign's node record, the run's meta and
    the exported knowledge file agree on which machine measured."""
    from advisor.profile import detect_hardware, hardware_fingerprint
    from advisor.tuning import export_knowledge, knowledge_for

    (plan_dir / "one.yaml").write_text(PLAN_2.replace("  - {name: encoder, spec: models.py:encoder}\n", ""))
    store = tmp_path / "store.sqlite"
    result = run_campaign(plan_dir / "one.yaml", store=store, progress=False)
    assert result.counts() == {"ok": 1}
    cell_fp = result.cells[0]["hardware"]["fingerprint"]
    assert cell_fp == hardware_fingerprint(detect_hardware()) == hardware_fingerprint(result.cells[0]["hardware"])
    rs = ResultStore(store)
    assert hardware_fingerprint(rs.load_run(result.cells[0]["run_id"]).meta["hardware"]) == cell_fp
    assert export_knowledge(rs, tmp_path / "k.json") >= 1
    entries = json.loads((tmp_path / "k.json").read_text())["entries"]
    assert {e["fingerprint"] for e in entries} == {cell_fp}
    assert knowledge_for(rs, detect_hardware()), "this machine's knowledge is found under the cell's fingerprint"


PLAN_TRAIN = """
name: train-fleet
models:
  - {name: digits, spec: advisor.examples:digits_training}
techniques:
  train: {target: 0.8, techniques: [early-stopping], seeds: 2}
budget_s: 60
batch_sizes: [32, 64]
node_groups:
  - {name: local, region: FRA}
"""


def test_a_training_cell_trains_to_the_target_per_batch_size(plan_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from advisor.training import ToTargetRun
    from advisor.tuning import observations_from_store

    (plan_dir / "train.yaml").write_text(PLAN_TRAIN)
    plan = load_plan(plan_dir / "train.yaml")
    train = {"train": {"target": 0.8, "techniques": ["early-stopping"], "seeds": 2}}
    assert plan.cells()[0].task()["techniques"] == train
    store = tmp_path / "store.sqlite"
    result = run_campaign(plan_dir / "train.yaml", store=store, progress=False)
    assert result.counts() == {"ok": 2}, [c.get("error") for c in result.cells]
    rs = ResultStore(store)
    sizes = set()
    for cell in result.cells:
        run = rs.load_run(cell["run_id"])
        assert isinstance(run, ToTargetRun) and run.target == 0.8
        assert [r.variant for r in run.results] == ["early-stopping"] and run.baseline.n_seeds == 2
        assert run.meta["campaign"]["cell_id"] == cell["cell_id"]
        sizes.add(run.meta["batch_size"])
        assert next(r["technique"] for r in rs.results(cell["run_id"])) == "baseline"
    assert sizes == {32, 64}  # the training batch size of each cell
    obs = observations_from_store(rs)
    assert all(o.basis == "to-target" and o.technique == "early-stopping" for o in obs)
    data = campaign_data(result.campaign_id, store=store)
    for view in data["cells"]:
        assert view["kind"] == "to-target" and [r["technique"] for r in view["results"]] == ["early-stopping"]
        assert view["results"][0]["text"].startswith(("energy to 80 % accuracy", "did not reach"))
        assert view["winner"] in ("early-stopping", "baseline (nothing saved energy to 80 % accuracy)")
    paths = campaign_report(result.campaign_id, store=store, out=tmp_path / "rep")
    assert "early-stopping" in (tmp_path / "rep" / "campaign.md").read_text()
    assert {p.name for p in paths} == {"campaign.html", "campaign.json", "campaign.md"}
    bad = plan_dir / "bad.yaml"
    bad.write_text(PLAN_TRAIN.replace("seeds: 2", "seeds: 0"))
    with pytest.raises(CampaignError, match="seeds"):
        load_plan(bad)


def test_local_worker_killed_mid_cell_is_retried_and_nothing_is_lost(plan_dir: Path, tmp_path: Path) -> None:
    pid_file = _write_control(plan_dir, tmp_path, "encoder")
    killer = _kill_when_started(pid_file)
    store = tmp_path / "store.sqlite"
    result = run_campaign(plan_dir / "campaign.yaml", store=store, progress=False)
    killer.join(timeout=5)
    cells = {c["cell_id"]: c for c in result.cells}
    assert cells["cnn@group-a"]["status"] == "ok" and cells["cnn@group-a"]["attempts"] == 1
    assert cells["encoder@group-a"]["status"] == "ok" and cells["encoder@group-a"]["attempts"] == 2


def test_a_broken_spec_fails_its_cell_with_the_workers_traceback_and_the_campaign_goes_on(
    plan_dir: Path, tmp_path: Path
) -> None:
    (plan_dir / "campaign.yaml").write_text(PLAN_2.replace("models.py:encoder", "models.py:broken"))
    result = run_campaign(plan_dir / "campaign.yaml", store=tmp_path / "s.sqlite", progress=False)
    cells = {c["cell_id"]: c for c in result.cells}
    assert cells["cnn@group-a"]["status"] == "ok"
    failed = cells["encoder@group-a"]
    assert failed["status"] == "failed" and failed["attempts"] == 1  # a deterministic error is not retried
    assert failed["error"].startswith("failed: ProfileError") and "broken on purpose" in failed["error"]
    assert "Traceback" in failed["error"] or "File " in failed["error"]


def test_interrupted_driver_keeps_finished_cells_and_resume_runs_only_the_missing(
    plan_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"

    def stop_after_first(cell: dict) -> None:
        raise KeyboardInterrupt

    first = run_campaign(plan_dir / "campaign.yaml", store=store, progress=False, on_cell=stop_after_first)
    assert first.status == "interrupted"
    assert sorted(c["status"] for c in first.cells) == ["ok", "pending"]
    done = next(c for c in first.cells if c["status"] == "ok")
    again = resume_campaign(first.campaign_id, store=store, progress=False)
    assert again.status == "finished" and again.campaign_id == first.campaign_id
    cells = {c["cell_id"]: c for c in again.cells}
    assert all(c["status"] == "ok" for c in cells.values())
    assert cells[done["cell_id"]]["run_id"] == done["run_id"] and cells[done["cell_id"]]["attempts"] == 1
    ledger = Ledger(store)
    assert ledger.campaign(first.campaign_id)["status"] == "finished"
    ledger.close()


def test_cli_campaign_run_list_report_and_bad_input(plan_dir: Path, tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "s.sqlite")
    assert main(["campaign", "run", str(plan_dir / "campaign.yaml"), "--store", store, "--quiet"]) == 0
    assert "finished, local" in capsys.readouterr().out
    assert main(["campaign", "list", "--store", store]) == 0
    assert "ok 2" in capsys.readouterr().out
    assert main(["campaign", "report", "--store", store, "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "campaign.html").read_text().startswith("<!doctype html>")
    capsys.readouterr()
    assert main(["campaign", "run", str(tmp_path / "nope.yaml"), "--store", store]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "Traceback" not in err
    assert main(["campaign", "resume", "no-such-campaign", "--store", store]) == 2
    assert "no campaign" in capsys.readouterr().err


# --- a real local Ray cluster ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is the 'cluster' extra: pip install 'green-dl-advisor[cluster]'")
    from advisor.campaign import SLOT

    ray.init(num_cpus=2, resources={SLOT: 1, "group_a": 1, "group_b": 1}, include_dashboard=False,
             log_to_driver=False, configure_logging=False)  # fmt: skip
    yield ray
    ray.shutdown()


def test_ray_campaign_two_node_groups_one_cell_at_a_time(ray_cluster, plan_dir: Path, tmp_path: Path) -> None:
    (plan_dir / "campaign.yaml").write_text(PLAN_2 + "  - {name: group-b, resources: {group_b: 1}, region: DEU}\n")
    store = tmp_path / "s.sqlite"
    result = run_campaign(plan_dir / "campaign.yaml", ray="local", store=store, progress=False)
    assert result.runner == "ray" and result.counts() == {"ok": 4}
    windows = sorted((c["started_at"], c["finished_at"]) for c in result.cells)  # as the workers saw them
    # all four were submitted at once; the one measuring slot let Ray run one cell at a time
    assert all(a_end <= b_start + 0.5 for (_, a_end), (b_start, _) in itertools.pairwise(windows))
    data = campaign_data(result.campaign_id, store)
    assert {c["node_group"] for c in data["cells"]} == {"group-a", "group-b"}


def test_ray_worker_killed_mid_cell_is_retried(ray_cluster, plan_dir: Path, tmp_path: Path) -> None:
    pid_file = _write_control(plan_dir, tmp_path, "cnn")
    killer = _kill_when_started(pid_file)
    result = run_campaign(plan_dir / "campaign.yaml", ray="local", store=tmp_path / "s.sqlite", progress=False)
    killer.join(timeout=5)
    cells = {c["cell_id"]: c for c in result.cells}
    assert cells["cnn@group-a"]["status"] == "ok" and cells["cnn@group-a"]["attempts"] == 2
    assert cells["encoder@group-a"]["status"] == "ok"


def test_ray_interrupt_and_resume(ray_cluster, plan_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"

    def stop(cell: dict) -> None:
        raise KeyboardInterrupt

    first = run_campaign(plan_dir / "campaign.yaml", ray="local", store=store, progress=False, on_cell=stop)
    assert first.status == "interrupted" and sorted(c["status"] for c in first.cells) == ["ok", "pending"]
    again = resume_campaign(plan_dir / "campaign.yaml", ray="local", store=store, progress=False)
    assert again.campaign_id == first.campaign_id and again.counts() == {"ok": 2}


def test_ray_cluster_without_the_slot_resource_is_refused_with_the_fix(plan_dir: Path, tmp_path: Path) -> None:
    from advisor.campaign._runners import RayRunner

    class FakeRay:  # a cluster that offers CPUs but no measuring slot
        @staticmethod
        def is_initialized() -> bool:
            return True

        @staticmethod
        def cluster_resources() -> dict:
            return {"CPU": 8.0}

    runner = RayRunner.__new__(RayRunner)
    runner.ray, runner.plan = FakeRay, load_plan(plan_dir / "campaign.yaml")
    with pytest.raises(CampaignError, match="ray start --resources"):
        runner._check_resources()
