"""Packaging: `import advisor` stays light, and the built wheel works outside the checkout."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_advisor_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, advisor; advisor.load_catalog; "
        "heavy = [m for m in ('torch', 'matplotlib', 'ipywidgets', 'pandas') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_dash_m_advisor_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "advisor", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "green-dl-advisor" in proc.stdout


@pytest.mark.slow
def test_wheel_installs_and_ships_the_data(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh venv and list techniques from another directory."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], check=True, capture_output=True
    )
    wheel = next(dist.glob("green_dl_advisor-*.whl"))
    env_dir = tmp_path / "venv"
    # system site packages give the dependencies (pandas, ...) without a network round trip;
    # the package itself comes only from the wheel
    venv.EnvBuilder(with_pip=True, system_site_packages=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-deps", "--force-reinstall", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    proc = subprocess.run(
        [str(env_dir / "bin" / "green-advisor"), "techniques", "--format", "json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    shipped = list((REPO / "data" / "techniques").rglob("*.yaml"))
    assert len(records) == len(shipped)
    where = subprocess.run(
        [str(py), "-c", "import advisor.catalog._files as f; print(f.default_data_dir())"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "site-packages" in where and "_data" in where
