"""A real browser against the Voila app: headless Debian Chromium driven by Playwright.

The app is ``voila notebooks/02-advise-my-model.ipynb`` on 127.0.0.1. The test sets a filter (the
objective), clicks Recommend, reads the ranked results, exports the HTML report and checks the file.
Screenshots of each step go to ``test-artifacts/browser/``. Never runs ``playwright install``: it
uses the system Chromium (``CHROMIUM`` env var, else ``/usr/bin/chromium``); without one it skips
locally and fails under CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve the advisor notebook with Voila; yield its URL and the folder exports go to."""
    pytest.importorskip("voila")
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        why = f"no Chromium at {CHROMIUM}; install Debian's chromium (apt-get install chromium) or set CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must run the browser test)")
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("voila")
    port = _free_port()
    env = {**os.environ, "GREEN_ADVISOR_SMALL": "1", "GREEN_ADVISOR_OUT": str(tmp / "report"),
           "GREEN_ADVISOR_STORE": str(tmp / "store.sqlite"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "GREEN_ADVISOR_EXPORT_DIR": str(tmp / "report"),  # app mode (Voila): a session folder inside it
           "MPLBACKEND": "Agg"}  # fmt: skip
    log = (tmp / "voila.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", str(ROOT / "notebooks" / "02-advise-my-model.ipynb"), "--no-browser",
         f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.tornado_settings={'allow_origin': '*'}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"voila exited with {proc.returncode}:\n{(tmp / 'voila.log').read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"voila did not listen on {port} within 90 s:\n{(tmp / 'voila.log').read_text()}")
    try:
        yield url, tmp / "report"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_recommend_and_export_in_a_real_browser(voila_app: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, report_dir = voila_app
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, timeout=180_000)
            recommend = page.get_by_role("button", name="Recommend")
            recommend.wait_for(timeout=180_000)  # the notebook trains the model first
            page.screenshot(path=ARTIFACTS / "1-loaded.png", full_page=True)

            objective = page.locator("select").filter(has=page.locator("option[value='latency']")).first
            objective.select_option("latency")
            recommend.click()
            ranking = page.locator("table.gda-t").first
            ranking.wait_for(timeout=60_000)
            expect(page.get_by_text("techniques recommended")).to_be_visible(timeout=60_000)
            rows = ranking.locator("tbody tr")
            assert rows.count() >= 3
            assert "rank" in ranking.locator("thead").inner_text()
            page.screenshot(path=ARTIFACTS / "2-recommended.png", full_page=True)

            page.get_by_role("tab", name="Export").click()
            page.get_by_role("button", name="Export HTML").click()
            expect(page.get_by_text("wrote")).to_be_visible(timeout=120_000)
            link = page.get_by_role("link", name="download report.html")
            expect(link).to_be_visible()
            page.screenshot(path=ARTIFACTS / "3-exported.png", full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    (html_file,) = report_dir.glob("session-*/report.html")  # app mode: this session's private folder
    html = html_file.read_text(encoding="utf-8")
    assert "digits-cnn" in html and "latency" in html
