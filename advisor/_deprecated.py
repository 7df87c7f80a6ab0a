"""Old import paths kept working for one release, with a :class:`DeprecationWarning`.

Until 0.2 the sub-packages ``advisor.measure``, ``advisor.recommend`` and ``advisor.report`` had the
same names as the functions ``advisor.measure()``, ``advisor.recommend()`` and ``advisor.report()``,
so one name meant two things. They are now ``advisor.measurement``, ``advisor.recommendation`` and
``advisor.reports``. ``from advisor.measure.carbon import X`` still works (it warns and hands out
the module under its new name) while ``advisor.measure`` stays the function.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

__all__ = ["RENAMED", "install"]

RENAMED = {
    "advisor.measure": "advisor.measurement",
    "advisor.recommend": "advisor.recommendation",
    "advisor.report": "advisor.reports",
}


def _new_name(fullname: str) -> str | None:
    for old, new in RENAMED.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(
            f"{spec.name!r} was renamed to {self.new!r}; the old path works until green-dl-advisor 0.3. "
            f"Change the import to `{self.new}`.",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module is the renamed one, already imported."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new), is_package=True)


class _PackageModule(types.ModuleType):
    """The ``advisor`` package's module type: an old sub-package import never replaces a function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if f"advisor.{name}" in RENAMED and isinstance(value, types.ModuleType):
            return  # importing advisor.measure.X must not shadow advisor.measure()
        super().__setattr__(name, value)


def install(package_name: str = "advisor") -> None:
    """Put the alias finder on ``sys.meta_path`` once and guard the package's function names."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
    sys.modules[package_name].__class__ = _PackageModule
