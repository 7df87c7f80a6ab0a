"""App mode (issue 15): nothing a visitor or an app-mode command line types writes outside the allowed folder.

Every form field and every CLI option that reaches the file system is tried with ``../``, absolute
paths, ``~``, a symlink out of the folder and very long names; the whole sandbox is listed on disk
before and after, and every new file must lie inside the allowed folders.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
torch = pytest.importorskip("torch")

from advisor import ConstraintError  # noqa: E402
from advisor.cli import build_parser, main  # noqa: E402
from advisor.cli._app import PATH_DESTS, SPEC_DESTS, confine_paths  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _hostile(sandbox: Path) -> list[str]:
    return ["../escaped", "../../escaped.html", str(sandbox / "outside" / "abs.html"), "/tmp/green-advisor-abs-x",
            "~/home-x", "~", "evil/through-link.html", "a" * 300, "b/" * 600 + "c", "x/../../escaped"]  # fmt: skip


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sandbox: home, cwd, temp, state (store + lock), the allowed folder with a symlink out, and outside."""
    for d in ("home", "cwd", "tmp", "state", "allowed", "outside"):
        (tmp_path / d).mkdir()
    (tmp_path / "allowed" / "evil").symlink_to(tmp_path / "outside", target_is_directory=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("GREEN_ADVISOR_STORE", str(tmp_path / "state" / "store.sqlite"))
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(tmp_path / "state" / "no-config.toml"))
    monkeypatch.setenv("GREEN_ADVISOR_APP_MODE", "1")
    monkeypatch.setenv("GREEN_ADVISOR_EXPORT_DIR", str(tmp_path / "allowed"))
    monkeypatch.delenv("GREEN_ADVISOR_LOCK", raising=False)
    monkeypatch.chdir(tmp_path / "cwd")
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    return tmp_path


def _files(root: Path) -> set[Path]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        out.update(Path(dirpath) / f for f in filenames)
        out.update(Path(dirpath) / d for d in dirnames if (Path(dirpath) / d).is_symlink())
    return out


def _assert_inside(sandbox: Path, before: set[Path], allowed: list[Path]) -> set[Path]:
    new = _files(sandbox) - before
    outside = [p for p in new if not any(a == p or a in p.parents for a in allowed)]
    assert not outside, f"written outside the allowed folders: {sorted(outside)}"
    for d in ("home", "cwd", "outside"):
        assert not any((sandbox / d).iterdir()), f"{d} is not empty: {list((sandbox / d).iterdir())}"
    assert not Path("/tmp/green-advisor-abs-x").exists()
    return new


def _tiny() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).eval()
    return model, torch.randn(8, 32)


# --- the form ---------------------------------------------------------------------------------------------
def test_form_fields_never_become_server_paths(sandbox: Path) -> None:
    from advisor.ui.advise import advise

    before = _files(sandbox)
    model, x = _tiny()
    ui = advise(model, x, name="tiny", out_dir="../escaped-by-the-notebook")
    assert ui.app.enabled and ui.out_dir.disabled and ui.out_dir.layout.display == "none"
    assert ui.budget_s.layout.display != "none" and ui.name.layout.display != "none"  # only the path field hides
    assert "at most 4 techniques and 120 s per run" in ui.widget.children[-1].children[2].children[0].value
    ui.recommend_button.click()
    assert ui.recommendations is not None
    for value in _hostile(sandbox):
        ui.out_dir.value = value  # a visitor re-enabling the field in the browser changes nothing
        ui.name.value = value
        ui.region.value = ""
        for kind in ("html", "json", "md", "bib"):
            ui.export_buttons[kind].click()
            assert "wrote " in ui.exported.value and 'href="data:' in ui.exported.value, ui.exported.value
            assert str(sandbox) not in ui.exported.value.split("<a ")[0]  # no server path shown
    sessions = list((sandbox / "allowed").glob("session-*"))
    assert len(sessions) == 1 and (sessions[0] / "report.html").is_file()
    assert oct(sessions[0].stat().st_mode & 0o777) == "0o700"
    new = _assert_inside(sandbox, before, [sessions[0], sandbox / "state"])
    assert {p.name for p in new if sessions[0] in p.parents} == {"report.html", "report.json", "report.md",
                                                                 "references.bib"}  # fmt: skip


def test_without_an_export_folder_each_session_gets_a_private_temporary_one(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from advisor.ui.advise import advise

    monkeypatch.delenv("GREEN_ADVISOR_EXPORT_DIR")
    before = _files(sandbox)
    model, x = _tiny()
    a, b = advise(model, x, name="a"), advise(model, x, name="b")
    for ui in (a, b):
        ui.recommend_button.click()
        ui.out_dir.value = "../../escaped"
        ui.export_buttons["html"].click()
    da, db = a.app.session_dir(), b.app.session_dir()
    assert da != db and da.parent == db.parent == (sandbox / "tmp").resolve()
    assert (da / "report.html").is_file() and (db / "report.html").is_file()
    _assert_inside(sandbox, before, [da, db, sandbox / "state"])


def test_caps_are_enforced_on_the_server_with_a_message(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from advisor.measurement import ResultStore
    from advisor.ui.advise import advise

    monkeypatch.setenv("GREEN_ADVISOR_MAX_TECHNIQUES", "2")
    monkeypatch.setenv("GREEN_ADVISOR_MAX_BUDGET_S", "5")
    model, x = _tiny()
    ui = advise(model, x, name="tiny")
    ids = ("post-training-dynamic-quantization", "inference-mode-and-no-grad", "thread-tuning")
    ui.techniques.options = list(ids)
    ui.techniques.value = ids
    ui.budget_s.value = 3
    ui.measure_button.click()
    assert "at most 2 techniques per run" in ui.status.value and "you chose 3" in ui.status.value
    ui.techniques.value = ids[:1]
    ui.budget_s.value = 24 * 3600
    ui.measure_button.click()
    assert "at most 5 s per run" in ui.status.value and "86400" in ui.status.value
    assert ui.run is None and ResultStore().runs() == []  # nothing was measured


HOLD = textwrap.dedent(
    """
    import sys, time
    from advisor.measurement import machine_lock
    with machine_lock(label="measure somebody-else", expected_s=6):
        print("HELD", flush=True)
        time.sleep(6)  # longer than the form's set-up on a loaded machine
    """
)


@pytest.mark.slow
def test_form_measurement_queues_behind_another_and_says_so(sandbox: Path) -> None:
    from advisor.ui.advise import advise

    model, x = _tiny()
    ui = advise(model, x, name="tiny")
    ui.techniques.options = ["post-training-dynamic-quantization"]
    ui.techniques.value = ("post-training-dynamic-quantization",)
    ui.budget_s.value = 2
    seen: list[str] = []
    ui.progress_text.observe(lambda c: seen.append(c["new"]), names="value")
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env=os.environ.copy())  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
        ui.measure_button.click()
    finally:
        holder.wait(30)
    assert ui.run is not None and ui.run.status == "finished", ui.status.value
    assert ui.run.meta["lock_waited_s"] > 0.5
    assert "waited" in ui.status.value and "for the machine" in ui.status.value
    assert any("waiting for a measurement started by" in s and "somebody-else" in s for s in seen), seen


# --- the command line ----------------------------------------------------------------------------------------
def _path_actions() -> list[tuple[str, str]]:
    """(command, dest) of every CLI option that names a file or folder, found by walking the parser."""
    found = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}".strip())
            elif action.dest not in ("help", "version"):
                meta = str(action.metavar or "")
                if any(k in meta for k in ("FILE", "DIR", "PATH", "PLAN", "SPEC", ".json")):
                    found.append((prefix, action.dest))

    walk(build_parser(), "")
    return found


def test_every_cli_path_option_is_confined(sandbox: Path) -> None:
    actions = _path_actions()
    assert len(actions) >= 20
    dests = {d for _, d in actions}
    assert dests <= set(PATH_DESTS) | set(SPEC_DESTS) | {"campaign"}, dests - set(PATH_DESTS) - set(SPEC_DESTS)
    for command, dest in actions:
        for raw in _hostile(sandbox):
            value = raw + ".py:make" if dest in SPEC_DESTS else raw + ".yaml" if dest == "campaign" else raw
            with pytest.raises(ConstraintError, match="app mode"):
                confine_paths(argparse.Namespace(command=command, **{dest: value}))
    ns = argparse.Namespace(out="reports/r.html", model="models/m.py:make", campaign="plans/c.yaml")
    confine_paths(ns)
    allowed = (sandbox / "allowed").resolve()
    assert ns.out == str(allowed / "reports" / "r.html") and ns.model == f"{allowed / 'models' / 'm.py'}:make"
    assert ns.campaign == str(allowed / "plans" / "c.yaml")
    ns = argparse.Namespace(model="torch.nn:Linear")  # a module spec names no file: left alone
    confine_paths(ns)
    assert ns.model == "torch.nn:Linear"


def test_cli_in_app_mode_writes_only_inside_the_allowed_folder(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(sandbox)
    for value in _hostile(sandbox):
        assert main(["doctor", "--save", value]) == 2
        err = capsys.readouterr().err
        assert "app mode" in err and err.count("\n") == 1
        assert main(["schema", "--write", value]) == 2
        capsys.readouterr()
    assert main(["schema", "--write"]) == 2  # the default (the package's data folder) is refused too
    assert main(["doctor", "--save", "this-machine.yaml"]) == 0
    assert main(["schema", "--write", "schemas"]) == 0
    capsys.readouterr()
    allowed = (sandbox / "allowed").resolve()
    assert (allowed / "this-machine.yaml").is_file() and any((allowed / "schemas").glob("*.json"))
    _assert_inside(sandbox, before, [sandbox / "allowed", sandbox / "state"])


def test_outside_app_mode_paths_are_the_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("GREEN_ADVISOR_APP_MODE", "VOILA_KERNEL_ID", "VOILA_BASE_URL", "VOILA_SERVER_URL", "VOILA_APP_PORT",
              "VOILA_REQUEST_URL"):  # fmt: skip
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(tmp_path / "none.toml"))
    ns = argparse.Namespace(out=str(tmp_path / "elsewhere" / "r.html"))
    confine_paths(ns)
    assert ns.out == str(tmp_path / "elsewhere" / "r.html")
    monkeypatch.setenv("VOILA_KERNEL_ID", "k")  # under Voila app mode is on by default ...
    with pytest.raises(ConstraintError):
        confine_paths(argparse.Namespace(out=str(tmp_path / "x")))
    monkeypatch.setenv("GREEN_ADVISOR_APP_MODE", "0")  # ... unless the operator turns it off
    confine_paths(argparse.Namespace(out=str(tmp_path / "x")))


def test_tune_and_generate_tabs_obey_the_caps(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from advisor.measurement import ResultStore
    from advisor.ui._advise_generate import GeneratePanel
    from advisor.ui.advise import advise

    monkeypatch.setenv("GREEN_ADVISOR_MAX_BUDGET_S", "5")
    model, x = _tiny()
    ui = advise(model, x, name="tiny")
    panel = ui.tune_panel
    panel.budget_s.value = 3600
    panel.tune()
    assert "at most 5 s per run" in panel.status.value
    gen = GeneratePanel(model=None, tokenizer=None)
    gen.techniques.value = tuple(gen.techniques.options)[:5]
    gen.measure()
    assert "at most 4 techniques per run" in gen.status.value
    gen.techniques.value = tuple(gen.techniques.options)[:1]
    gen.budget_s.value = 3600
    gen.measure()
    assert "at most 5 s per run" in gen.status.value
    assert ResultStore().runs() == []  # nothing was measured
