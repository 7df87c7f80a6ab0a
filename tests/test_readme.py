"""The README stays true: its Python quickstart runs, and its two set-up commands are well-formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_python_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write reports into the working directory
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_two_setup_commands() -> None:
    for marker, tail in (("main-command", "green-advisor demo"), ("test-command", "python -m pytest")):
        m = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)\n```", README, flags=re.S)
        assert m, marker
        assert m.group(1).strip().endswith(tail)
        assert 'pip install "torch==2.13.0"' in m.group(1)


def test_cli_examples_name_real_commands() -> None:
    from advisor.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    used = set(re.findall(r"^green-advisor (\w+)", README, flags=re.M))
    assert used <= commands, used - commands
