"""The notebooks: committed without outputs, in sync with their jupytext scripts, and they run.

Each is executed top to bottom in a fresh kernel with ``GREEN_ADVISOR_SMALL=1`` (fewer training
epochs, shorter budgets), exports go to a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))

nbformat = pytest.importorskip("nbformat")


def test_the_three_notebooks_exist() -> None:
    assert NAMES == ["01-explore-the-literature", "02-advise-my-model", "03-measure-and-report"]


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}.ipynb cell {i} has outputs"


@pytest.mark.parametrize("name", NAMES)
def test_paired_script_matches(name: str) -> None:
    jupytext = pytest.importorskip("jupytext")
    script = jupytext.read(NOTEBOOKS / f"{name}.py")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in script.cells] == [(c.cell_type, c.source) for c in nb.cells], (
        f"{name}.ipynb and {name}.py differ: run `jupytext --sync notebooks/{name}.py`"
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_runs_top_to_bottom(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    pytest.importorskip("ipykernel")
    monkeypatch.setenv("GREEN_ADVISOR_SMALL", "1")
    monkeypatch.setenv("GREEN_ADVISOR_OUT", str(tmp_path / "report"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if name == "03-measure-and-report":
        assert (tmp_path / "report" / "report.html").is_file()
