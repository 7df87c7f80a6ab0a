"""Notebook user interfaces (ipywidgets): the literature explorer and the advisor form.

Needs the ``notebook`` extra (``pip install "green-dl-advisor[notebook]"``). Both also run as a
Voila app (``voila notebooks/02-advise-my-model.ipynb``).

The functions share their names with the modules that define them, so they are bound here
eagerly, after those modules are imported: ``from advisor.ui import explorer`` is the function.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AdvisorUI", "Explorer", "advise", "explorer"]

try:
    import ipywidgets as _ipywidgets  # noqa: F401 - checks the extra is installed
except ImportError:  # pragma: no cover - exercised in an environment without the extra
    from advisor._errors import MissingExtraError

    def _missing(*_args: Any, **_kwargs: Any) -> Any:
        raise MissingExtraError("ipywidgets", "notebook", "The notebook UI")

    explorer = advise = _missing  # type: ignore[assignment]
    Explorer = AdvisorUI = None  # type: ignore[assignment,misc]
else:
    from advisor.ui.advise import AdvisorUI, advise
    from advisor.ui.explorer import Explorer, explorer
