"""Benchmark: the advisor app under load: N Voila sessions opened at once on 127.0.0.1 (issue 15).

Serves ``notebooks/02-advise-my-model.ipynb`` with Voila (app mode is on under Voila), opens N
pages at the same moment in headless Chromium (Playwright, the system Chromium; never
``playwright install``), and records per session the page-ready time (from the request until the
form's Recommend button is visible: kernel start, the notebook's model training with
``GREEN_ADVISOR_SMALL=1``, and widget rendering), page errors, and the server's memory: resident
set of Voila and all its kernels before and after, per session. Bounded: at most ``--sessions``
pages and ``--timeout-s`` per page. Writes ``benchmarks/results/app_load.json``.

    python benchmarks/bench_app_load.py [--quick] [--sessions 10] [--timeout-s 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _bench_common import add_common_args, machine_info, spread, versions, write_result

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02-advise-my-model.ipynb"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-sync"]
MAX_SESSIONS = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_rss_mib(pid: int) -> tuple[float, int]:
    """Resident memory of a process and all its descendants (MiB), and how many processes that is."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20, len(procs)


def _start_voila(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "GREEN_ADVISOR_SMALL": "1", "GREEN_ADVISOR_STORE": str(tmp / "store.sqlite"),
           "GREEN_ADVISOR_EXPORT_DIR": str(tmp / "exports"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "MPLBACKEND": "Agg"}  # fmt: skip
    log = (tmp / "voila.log").open("wb")
    cmd = [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}: {(tmp / 'voila.log').read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/"
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("voila did not listen within 120 s")


async def _session(browser: Any, url: str, timeout_s: float) -> dict[str, Any]:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    t0 = time.perf_counter()
    try:
        await page.goto(url, timeout=timeout_s * 1000)
        await page.get_by_role("button", name="Recommend").wait_for(timeout=timeout_s * 1000)
        ready_s = time.perf_counter() - t0
        ok = True
    except Exception as exc:  # noqa: BLE001 - a failed session is a result, not a crash of the benchmark
        ready_s, ok = None, False
        errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
    return {"ok": ok, "ready_s": ready_s, "errors": errors, "page": page, "ctx": ctx}


async def _open_all(url: str, n: int, timeout_s: float) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            sessions = await asyncio.gather(*[_session(browser, url, timeout_s) for _ in range(n)])
            rows = [{k: s[k] for k in ("ok", "ready_s", "errors")} for s in sessions]
            return rows
        finally:
            await browser.close()


def main() -> None:
    """Run the load test and write the result."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--sessions", type=int, default=10, help="pages opened at once (at most 20)")
    ap.add_argument("--timeout-s", type=float, default=300.0, help="longest wait for one page to be ready")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM")
    n = max(1, min(args.sessions, MAX_SESSIONS))
    with tempfile.TemporaryDirectory(prefix="bench-app-load-") as d:
        tmp = Path(d)
        proc, url = _start_voila(tmp)
        try:
            time.sleep(2.0)
            base_mib, base_procs = _tree_rss_mib(proc.pid)
            peak = {"mib": base_mib, "procs": base_procs}
            stop = False

            async def sample() -> None:  # the server's memory while the sessions load
                while not stop:
                    mib, procs = _tree_rss_mib(proc.pid)
                    if mib > peak["mib"]:
                        peak.update(mib=mib, procs=procs)
                    await asyncio.sleep(0.5)

            async def run() -> list[dict[str, Any]]:
                nonlocal stop
                task = asyncio.create_task(sample())
                t0 = time.perf_counter()
                rows = await _open_all(url, n, args.timeout_s)
                rows[0]["_wall_s"] = time.perf_counter() - t0
                stop = True
                await task
                return rows

            rows = asyncio.run(run())
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    wall = rows[0].pop("_wall_s")
    ready = [r["ready_s"] for r in rows if r["ok"]]
    result = {
        "benchmark": "app_load",
        "method": "N Playwright pages (headless Chromium) request the Voila app at once on 127.0.0.1; page-ready = "
        "request until the form's Recommend button is visible (kernel start + the notebook's small model "
        "training + widget rendering); server memory = RSS of Voila and all its kernels (psutil), sampled "
        "every 0.5 s; per session = (peak - idle server) / sessions",
        "quick": args.quick,
        "sessions": n,
        "sessions_ok": len(ready),
        "session_errors": [e for r in rows for e in r["errors"]],
        "page_ready_s": spread(ready),
        "page_ready_s_each": ready,
        "all_ready_wall_s": wall,
        "server_idle_rss_mib": round(base_mib, 1),
        "server_peak_rss_mib": round(peak["mib"], 1),
        "server_peak_processes": peak["procs"],
        "server_rss_mib_per_session": round((peak["mib"] - base_mib) / n, 1),
        "machine": machine_info(args.shared),
        "versions": versions("voila", "ipywidgets", "torch", "playwright"),
    }
    path = write_result(args.out, "app_load", result)
    pr = result["page_ready_s"]
    print(f"{len(ready)}/{n} sessions ready; page-ready median {pr.get('median', float('nan')):.1f} s "
          f"(max {pr.get('max', float('nan')):.1f} s); server {base_mib:.0f} MiB idle, "
          f"{peak['mib']:.0f} MiB peak, {result['server_rss_mib_per_session']:.0f} MiB per session; errors: "
          f"{len(result['session_errors'])}; wrote {path}")  # fmt: skip


if __name__ == "__main__":
    main()
