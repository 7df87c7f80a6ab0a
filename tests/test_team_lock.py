"""The machine-wide measurement lock and the store under concurrent writers (issue 15).

Every test uses real processes: a holder is a separate Python process holding the lock (killed,
interrupted or left to finish), the store test runs 8 writer processes against one SQLite file.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from advisor import MachineBusyError
from advisor.measurement import lock_log, lock_status, machine_lock
from advisor.measurement.engine._lock import default_lock_path

ROOT = Path(__file__).resolve().parents[1]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from advisor.measurement.engine._lock import machine_lock
    path, hold_s, label = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    with machine_lock(path=path, label=label, expected_s=hold_s,
                      on_wait=lambda i: print("WAIT", i["message"], flush=True)):
        print("HELD", flush=True)
        time.sleep(hold_s)
    print("DONE", flush=True)
    """
)


def _holder(tmp_path: Path, lock: Path, hold_s: float, label: str = "holder") -> subprocess.Popen[str]:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(lock), str(hold_s), label], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)  # fmt: skip
    return proc


def _wait_line(proc: subprocess.Popen[str], prefix: str, timeout_s: float = 60.0) -> str:
    """The first stdout line of ``proc`` that starts with ``prefix`` (fails on exit or timeout)."""
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(prefix):
                found.append(line.strip())
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout_s)
    assert found, f"no {prefix!r} line from pid {proc.pid} within {timeout_s} s (exit code {proc.poll()})"
    return found[0]


def _no_overlap(windows: list[tuple[float, float]]) -> None:
    windows = sorted(windows)
    for (a0, a1), (b0, b1) in itertools.pairwise(windows):
        assert b0 >= a1, f"windows overlap: [{a0}, {a1}] and [{b0}, {b1}]"


def test_grant_records_holder_and_ledger(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    with machine_lock(path=lock, label="unit", expected_s=5) as grant:
        assert grant.waited_s < 1.0 and grant.path == str(lock)
        st = lock_status(lock)
        assert st["busy"] and st["holder"]["pid"] == os.getpid() and st["holder"]["label"] == "unit"
        assert st["holder"]["expected_end"] > time.time()
        with machine_lock(path=lock, label="nested") as inner:  # re-entrant in one thread
            assert inner.waited_s == 0.0
    st = lock_status(lock)
    assert not st["busy"] and st["holder"] is None and st["queue"] == []
    (entry,) = lock_log(lock)
    assert entry["pid"] == os.getpid() and entry["label"] == "unit" and entry["released_at"] >= entry["acquired_at"]


def test_two_threads_exclude_each_other(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"

    def work() -> None:
        for _ in range(5):
            with machine_lock(path=lock, label=threading.current_thread().name):
                time.sleep(0.02)

    threads = [threading.Thread(target=work, name=f"t{i}") for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    log = lock_log(lock)
    assert len(log) == 15
    _no_overlap([(e["acquired_at"], e["released_at"]) for e in log])


def test_waiter_is_told_who_holds_and_how_long(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    holder = _holder(tmp_path, lock, 2.5, label="measure digits-cnn")
    try:
        _wait_line(holder, "HELD")
        seen: list[dict] = []
        with machine_lock(path=lock, label="second", on_wait=seen.append) as grant:
            assert holder.poll() is not None or _wait_line(holder, "DONE")
        assert grant.waited_s > 0.5
        (info,) = seen
        msg = info["message"]
        assert msg.startswith("waiting for a measurement started by ") and f"pid {holder.pid}" in msg
        assert "measure digits-cnn" in msg and " s left" in msg and info["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    windows = [(e["acquired_at"], e["released_at"]) for e in lock_log(lock)]
    assert len(windows) == 2
    _no_overlap(windows)


def test_timeout_raises_machine_busy_naming_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    holder = _holder(tmp_path, lock, 30, label="long run")
    try:
        _wait_line(holder, "HELD")
        t0 = time.monotonic()
        busy = pytest.raises(MachineBusyError, match=r"long run.*within the lock timeout of 0.8 s")
        with busy, machine_lock(path=lock, timeout_s=0.8, on_wait=lambda i: None):
            pass
        assert time.monotonic() - t0 < 10
        assert lock_status(lock)["queue"] == []  # the timed-out ticket is gone
    finally:
        holder.kill()
        holder.wait()


def test_killed_holder_never_blocks(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    holder = _holder(tmp_path, lock, 60)
    _wait_line(holder, "HELD")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    st = lock_status(lock)
    assert not st["busy"]  # the kernel released the OS lock with the process
    assert st["holder"] is not None and st["holder"]["pid"] == holder.pid and st["holder"]["stale"]
    with machine_lock(path=lock, timeout_s=5) as grant:
        assert grant.waited_s < 1.0
        assert lock_status(lock)["holder"]["pid"] == os.getpid()  # the stale record was replaced


def test_ctrl_c_while_waiting_leaves_nothing_behind(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    holder = _holder(tmp_path, lock, 60, label="first")
    try:
        _wait_line(holder, "HELD")
        waiter = _holder(tmp_path, lock, 0.1, label="waiter")
        line = _wait_line(waiter, "WAIT")
        assert "first" in line
        assert len(lock_status(lock)["queue"]) == 1
        waiter.send_signal(signal.SIGINT)
        waiter.wait(30)
        assert waiter.returncode != 0
        st = lock_status(lock)
        assert st["queue"] == [] and list((tmp_path / "m.lock.queue").iterdir()) == []
        assert st["busy"] and st["holder"]["pid"] == holder.pid  # the holder is untouched
        assert all(e["pid"] != waiter.pid for e in lock_log(lock))  # the waiter never held it
    finally:
        holder.kill()
        holder.wait()
    with machine_lock(path=lock, timeout_s=5) as grant:
        assert grant.waited_s < 1.0


def test_lock_folder_from_environment_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GREEN_ADVISOR_LOCK", raising=False)
    monkeypatch.setenv("GREEN_ADVISOR_LOCK_DIR", str(tmp_path / "env-locks"))
    assert default_lock_path() == tmp_path / "env-locks" / "measure.lock"
    monkeypatch.delenv("GREEN_ADVISOR_LOCK_DIR")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'lock_dir = "{tmp_path / "cfg-locks"}"\n', encoding="utf-8")
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(cfg))
    assert default_lock_path() == tmp_path / "cfg-locks" / "measure.lock"
    monkeypatch.setenv("GREEN_ADVISOR_LOCK", str(tmp_path / "explicit.lock"))
    assert default_lock_path() == tmp_path / "explicit.lock"


WRITER = textwrap.dedent(
    """
    import sys
    from advisor.measurement.store import ResultStore
    store = ResultStore(sys.argv[1])
    run_id = store.start_run(f"writer-{sys.argv[2]}", "fp", {"writer": int(sys.argv[2])})
    for i in range(int(sys.argv[3])):
        store.add_result(run_id, f"technique-{i}", "ok", {"writer": int(sys.argv[2]), "i": i})
    store.finish_run(run_id, "finished")
    print(run_id)
    """
)


@pytest.mark.slow
def test_eight_processes_write_one_store_without_loss(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, str(script), str(db), str(k), "300"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT) for k in range(8)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    run_ids = {o.strip() for o, _ in outs}
    assert len(run_ids) == 8
    import sqlite3

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for run_id in run_ids:
        rows = con.execute("SELECT technique, result_json FROM results WHERE run_id = ?", (run_id,)).fetchall()
        assert sorted(int(t.split("-")[1]) for t, _ in rows) == list(range(300))
        writers = {json.loads(j)["writer"] for _, j in rows}
        assert len(writers) == 1
        status = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        assert status == "finished"
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2400
    con.close()


def _measure_cli(tmp_path: Path, budget_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "GREEN_ADVISOR_STORE": str(tmp_path / "store.sqlite"), "GREEN_ADVISOR_CONFIG": "/nonexistent"}
    env.pop("GREEN_ADVISOR_LOCK", None)
    env.pop("GREEN_ADVISOR_LOCK_DIR", None)
    cmd = [sys.executable, "-m", "advisor", "measure", "--model", "tests/fixtures/user_model.py:make", "--techniques",
           "post-training-dynamic-quantization", "--budget-s", str(budget_s), "--format", "json"]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_cli_measurements_never_time_at_once(tmp_path: Path) -> None:
    procs = [_measure_cli(tmp_path, 3) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    runs = [json.loads(o) for o, _ in outs]
    log = lock_log(tmp_path / "measure.lock")
    assert {e["pid"] for e in log} == {p.pid for p in procs}  # both timed, under the one lock
    _no_overlap([(e["acquired_at"], e["released_at"]) for e in log])
    assert all("lock_waited_s" in r["meta"] for r in runs)
    assert all(r["status"] == "finished" for r in runs)


@pytest.mark.slow
def test_killing_a_measurement_mid_run_frees_the_machine(tmp_path: Path) -> None:
    lock = tmp_path / "measure.lock"
    first = _measure_cli(tmp_path, 60)
    deadline = time.monotonic() + 120
    while lock_status(lock)["holder"] is None or lock_status(lock)["holder"].get("pid") != first.pid:
        assert first.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.01)
    second = _measure_cli(tmp_path, 3)
    time.sleep(1.0)
    while lock_status(lock)["holder"] is None or lock_status(lock)["holder"].get("pid") != first.pid:
        time.sleep(0.005)  # kill it while it holds the lock, mid-round
    first.kill()
    first.wait()
    killed_at = time.time()
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-2000:]
    later = [e for e in lock_log(lock) if e["pid"] == second.pid and e["acquired_at"] >= killed_at]
    assert later, "the second run never got the lock after the first was killed"
    assert json.loads(out)["status"] == "finished"
    assert not lock_status(lock)["busy"]
