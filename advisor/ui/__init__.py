"""Notebook user interfaces (ipywidgets): the literature explorer and the advisor form.

Needs the ``notebook`` extra (``pip install "green-dl-advisor[notebook]"``). Both also run as a
Voila app (``voila notebooks/02-advise-my-model.ipynb``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["advise", "explorer"]


def _need_widgets() -> None:
    from advisor._errors import MissingExtraError

    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        raise MissingExtraError("ipywidgets", "notebook", "The notebook UI") from None


def explorer(catalog: Any = None) -> Any:
    """Open the literature explorer (see :mod:`advisor.ui.explorer`)."""
    _need_widgets()
    from advisor.ui.explorer import explorer as _explorer

    return _explorer(catalog)


def advise(model: Any = None, example_inputs: Any = None, **kwargs: Any) -> Any:
    """Open the advisor form for a model (see :mod:`advisor.ui.advise`)."""
    _need_widgets()
    from advisor.ui.advise import advise as _advise

    return _advise(model, example_inputs, **kwargs)
