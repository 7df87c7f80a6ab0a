"""Two people press Measure at the same time in the served app (issue 15), in a real browser.

Two pages (two Voila sessions, two kernels) of ``voila notebooks/02-advise-my-model.ipynb`` measure one
technique with a 3 s budget at once. Both must finish; the lock's ledger shows that their timed
windows never overlapped; one of them says in the form that it waited for the machine. Reuses the
Voila server fixture of ``tests/test_browser.py`` (system Chromium, never ``playwright install``).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser import ARTIFACTS, CHROMIUM, FLAGS, voila_app  # noqa: F401 - the fixture is used by name

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TECHNIQUE = "post-training-dynamic-quantization"


def _prepare(page: Any, url: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(url, timeout=180_000)
    recommend = page.get_by_role("button", name="Recommend")
    recommend.wait_for(timeout=240_000)
    recommend.click()
    page.get_by_text("techniques recommended").wait_for(timeout=120_000)
    page.get_by_role("tab", name="Measure", exact=True).click()
    choices = page.locator("select[multiple]:visible").first
    label = choices.locator("option", has_text=TECHNIQUE).first.inner_text()  # "#3 <id>" or "(not recommended) <id>"
    choices.select_option(label=label)
    budget = page.locator(".widget-inline-hbox:visible", has_text="budget (s)").locator("input").first
    budget.fill("3")
    budget.press("Enter")


def test_two_sessions_measure_at_once_and_queue(voila_app: tuple[str, Path]) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url, report_dir = voila_app
    state = report_dir.parent  # the fixture's folder: store.sqlite and the machine lock live here
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            pages = [browser.new_context(viewport={"width": 1400, "height": 1100}).new_page() for _ in range(2)]
            errors: list[str] = []
            for page in pages:
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                _prepare(page, url)
            expect(pages[0].get_by_text("at most 4 techniques")).to_be_visible()  # the app-mode note
            for page in pages:  # "at the same time": both clicks within milliseconds
                page.get_by_role("button", name="Measure").click()
            for i, page in enumerate(pages):
                expect(page.get_by_text("measurement finished")).to_be_visible(timeout=240_000)
                page.screenshot(path=ARTIFACTS / f"queue-{i}.png", full_page=True)
            texts = [page.locator("body").inner_text() for page in pages]
            assert not errors, errors
        finally:
            browser.close()
    assert any("waited" in t and "for the machine" in t for t in texts), "neither session says it waited"
    log = [json.loads(line) for line in (state / "measure.lock.log.jsonl").read_text().splitlines()]
    assert len({e["pid"] for e in log}) == 2  # two kernels timed under the one lock
    windows = sorted((e["acquired_at"], e["released_at"]) for e in log)
    for (a0, a1), (b0, b1) in itertools.pairwise(windows):
        assert b0 >= a1, f"timed windows overlap: [{a0}, {a1}] and [{b0}, {b1}]"
    con = sqlite3.connect(state / "store.sqlite")
    metas = [json.loads(r)["meta"] for (r,) in con.execute("SELECT run_json FROM run_records")]
    con.close()
    assert len(metas) >= 2 and max(m["lock_waited_s"] for m in metas) > 0
