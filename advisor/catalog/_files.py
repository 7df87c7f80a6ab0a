"""Finding and reading the data directory: YAML and JSON files, nothing interpreted yet."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is ~10x faster; fall back to pure Python where libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the build of PyYAML
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["DATA_ENV", "RawData", "RawFile", "default_data_dir", "read_data_dir"]

DATA_ENV = "GREEN_ADVISOR_DATA"
TECHNIQUES = "techniques"
REFERENCES = "references.json"
SURVEYS = "surveys"
VOCAB = "vocab.yaml"


def default_data_dir() -> Path:
    """Return the data directory used when none is given.

    Order: the ``GREEN_ADVISOR_DATA`` environment variable; the copy shipped inside the
    installed wheel (``advisor/_data``); the ``data/`` folder of a source checkout.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    packaged = Path(str(resources.files("advisor"))) / "_data"
    if (packaged / TECHNIQUES).is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "data"


@dataclass
class RawFile:
    """One data file as read from disk: its parsed content or the reason it could not be read."""

    path: Path
    content: Any = None
    error: str | None = None


@dataclass
class RawData:
    """Everything under a data directory, parsed from YAML/JSON but not yet validated."""

    root: Path
    techniques: list[RawFile] = field(default_factory=list)
    references: RawFile | None = None
    surveys: list[RawFile] = field(default_factory=list)
    vocab: RawFile | None = None

    def rel(self, path: Path) -> str:
        """Path relative to the data directory's parent, for messages (e.g. ``data/x.yaml``)."""
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)


def _read(path: Path) -> RawFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return RawFile(path, error=f"cannot read file: {exc.strerror}")
    except UnicodeDecodeError as exc:
        return RawFile(path, error=f"not UTF-8 text: {exc.reason} at byte {exc.start}")
    try:
        if path.suffix == ".json":
            return RawFile(path, content=json.loads(text))
        return RawFile(path, content=yaml.load(text, Loader=_Loader))
    except json.JSONDecodeError as exc:
        return RawFile(path, error=f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return RawFile(path, error=f"invalid YAML{where}: {problem}")


def read_data_dir(root: Path | str | None = None) -> RawData:
    """Read every data file under ``root`` (default: :func:`default_data_dir`).

    Raises:
        advisor.CatalogError: if ``root`` is not a directory holding ``techniques/``.
    """
    from advisor._errors import CatalogError

    root = Path(root) if root is not None else default_data_dir()
    if not (root / TECHNIQUES).is_dir():
        raise CatalogError(
            f"{root}: not a technique data directory: expected a folder '{TECHNIQUES}/' inside it. "
            f"Pass the repository's data/ folder (or set {DATA_ENV})."
        )
    raw = RawData(root=root)
    raw.techniques = [_read(p) for p in sorted((root / TECHNIQUES).rglob("*.yaml"))]
    raw.techniques += [_read(p) for p in sorted((root / TECHNIQUES).rglob("*.yml"))]
    if (root / REFERENCES).is_file():
        raw.references = _read(root / REFERENCES)
    if (root / SURVEYS).is_dir():
        raw.surveys = [_read(p) for p in sorted((root / SURVEYS).glob("*.yaml"))]
    if (root / VOCAB).is_file():
        raw.vocab = _read(root / VOCAB)
    return raw
