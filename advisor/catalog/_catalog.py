"""The :class:`Catalog`: the validated technique database and its queries."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor._errors import DataValidationError, UnknownTechniqueError
from advisor.catalog import schema as S
from advisor.catalog._files import read_data_dir
from advisor.catalog._query import CatalogQuery
from advisor.catalog.validate import parse

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

__all__ = ["Catalog", "load_catalog"]


class Catalog:
    """The technique database: techniques, references and the three surveys' trees.

    Build one with :func:`load_catalog`. A catalog is immutable; :meth:`filter` and
    :meth:`search` return smaller catalogs (or lists) that share the same references.
    """

    def __init__(
        self,
        techniques: dict[str, S.Technique],
        references: dict[str, S.Reference],
        surveys: dict[str, S.SurveyTree],
        vocab: dict[str, Any] | None = None,
        root: Path | None = None,
    ) -> None:
        self._techniques = dict(sorted(techniques.items()))
        self.references = references
        self.surveys = surveys
        self.vocab = vocab or {}
        self.root = root

    # --- container protocol --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._techniques)

    def __iter__(self) -> Iterator[S.Technique]:
        return iter(self._techniques.values())

    def __contains__(self, technique_id: object) -> bool:
        return technique_id in self._techniques

    def __repr__(self) -> str:
        return f"<Catalog: {len(self)} techniques, {len(self.references)} references>"

    @property
    def ids(self) -> list[str]:
        """Technique ids, sorted."""
        return list(self._techniques)

    def get(self, technique_id: str) -> S.Technique:
        """Return the technique with this id.

        Raises:
            UnknownTechniqueError: with close matches as suggestions.
        """
        try:
            return self._techniques[technique_id]
        except KeyError:
            close = difflib.get_close_matches(technique_id, self._techniques, n=3, cutoff=0.6)
            close += [i for i in self._techniques if technique_id in i and i not in close][: 3 - len(close)]
            raise UnknownTechniqueError(technique_id, close) from None

    def _subset(self, techniques: Iterable[S.Technique]) -> Catalog:
        return Catalog({t.id: t for t in techniques}, self.references, self.surveys, self.vocab, self.root)

    def filter(self, query: CatalogQuery | None = None, /, **criteria: Any) -> Catalog:
        """Return the techniques matching every given criterion (any of several values per axis).

        ``cat.filter(stage="deployment", level="none")``, or a :class:`CatalogQuery` (then keywords replace its
        fields). ``category="none"`` or ``level="none"`` selects techniques where that axis is null.
        ``hardware``, ``family`` and ``architecture`` also match entries marked ``any``. ``hardware_class``
        selects techniques with at least one evidence item from that class of hardware.

        Raises:
            CatalogError: an unknown criterion or term.
        """
        q = CatalogQuery.of(query, criteria)
        checks = q.checks()
        out = [
            t
            for t in self
            if all(wanted & values_of(t) for wanted, values_of in checks)
            and (q.survey_node is None or q.survey_node in self.survey_nodes_of(t))
            and (q.has_evidence is None or bool(t.evidence) == q.has_evidence)
        ]
        return self._subset(out)

    @staticmethod
    def survey_nodes_of(t: S.Technique) -> list[str]:
        """All survey node ids a technique is placed under."""
        return [*t.surveys.xu2021, *t.surveys.mehlin2023, *t.surveys.lee2021]

    def search(self, text: str) -> list[S.Technique]:
        """Free-text search over ids, names, aliases, summaries and library calls.

        Every word must match somewhere (case-insensitive). Results are ranked: matches in the
        id, name or aliases first, then by how often the words occur.
        """
        words = [w for w in re.split(r"\s+", text.lower().strip()) if w]
        if not words:
            return list(self)
        scored = []
        for t in self:
            head = " ".join([t.id, t.name, *t.aliases]).lower()
            body = " ".join([t.summary, *(i.call for i in t.implementations), t.costs.notes or ""]).lower()
            if not all(w in head or w in body for w in words):
                continue
            score = sum(10 * head.count(w) + body.count(w) for w in words)
            scored.append((-score, t.id, t))
        return [t for *_, t in sorted(scored, key=lambda x: (x[0], x[1]))]

    def to_frame(self) -> pd.DataFrame:
        """One row per technique, with the list fields joined by ``;`` where a flat value reads better."""
        import pandas as pd

        rows = []
        for t in self:
            app = t.applicability
            rows.append(
                {
                    "id": t.id,
                    "name": t.name,
                    "category": t.category,
                    "kind": t.kind,
                    "parent": t.parent,
                    "lifecycle_stages": list(t.lifecycle_stages),
                    "level": t.level,
                    "saves": list(t.saves),
                    "accuracy_risk": t.costs.accuracy_risk,
                    "effort": t.costs.effort,
                    "model_families": list(app.model_families),
                    "architectures": list(app.architectures),
                    "phases": list(app.phases),
                    "hardware": list(app.hardware),
                    "needs_retraining": app.needs_retraining,
                    "needs_data": app.needs_data,
                    "n_evidence": len(t.evidence),
                    "hardware_classes": sorted({ev.hardware_class for ev in t.evidence}),
                    "n_references": len(t.references),
                    "n_relations": len(t.relations),
                    "implementations": [i.call for i in t.implementations],
                    "survey_nodes": self.survey_nodes_of(t),
                    "summary": t.summary,
                }
            )
        columns = list(rows[0]) if rows else ["id"]
        return pd.DataFrame(rows, columns=columns).set_index("id", drop=False)

    def evidence_frame(self) -> pd.DataFrame:
        """One row per evidence item, with its technique id and reference."""
        import pandas as pd

        rows = [{"technique": t.id, **ev.model_dump()} for t in self for ev in t.evidence]
        return pd.DataFrame(rows)

    def graph(self) -> nx.MultiDiGraph:
        """The catalog as a graph; see :func:`advisor.catalog.graph.build_graph`."""
        from advisor.catalog.graph import build_graph  # networkx loads only when a graph is asked for

        return build_graph(self)

    def to_records(self) -> list[dict[str, Any]]:
        """Every technique as a JSON-ready dict with the schema's field names."""
        return [t.model_dump(mode="json") for t in self]


def load_catalog(path: Path | str | None = None, *, strict: bool = True) -> Catalog:
    """Load and validate the technique database.

    Args:
        path: The data directory (holding ``techniques/``, ``references.json``, ``surveys/``).
            Defaults to the copy shipped with the package, or ``data/`` of a source checkout.
        strict: Raise on any validation problem (default). With ``strict=False`` the entries
            that parse are loaded and the problems are kept in ``catalog.problems``.

    Raises:
        CatalogError: the directory is missing or not a data directory.
        DataValidationError: the data breaks the schema or a cross-entry rule (``strict``).
    """
    parsed = parse(read_data_dir(path))
    errors = [p for p in parsed.problems if p.severity == "error"]
    if strict and errors:
        raise DataValidationError(errors)
    cat = Catalog(parsed.techniques, parsed.references, parsed.surveys, parsed.vocab, parsed.raw.root)
    cat.problems = parsed.problems  # type: ignore[attr-defined]
    return cat
