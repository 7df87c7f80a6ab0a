"""Validation of the technique data: the schema, then every cross-entry rule.

Every problem is one :class:`Problem`, printed as
``FILE: ENTRY: FIELD: rule: expected ..., got ...``. The rules, each with its own test:

=========================  ===========================================================
rule                       what it checks
=========================  ===========================================================
file-syntax                the file is readable YAML/JSON
schema                     the entry matches the pydantic model (types, required fields)
unit-vocabulary            an evidence unit is from the closed vocabulary
unique-id                  no two techniques (or references, or survey nodes) share an id
id-matches-filename        a technique's id equals its file name
folder-matches-category    a technique lies in the folder of its category (``other`` for null)
reference-exists           every reference key used by a technique or survey exists
evidence-reference-listed  an evidence item's source is also in the entry's ``references``
relation-target-exists     every relation points at an existing technique
relation-self              no relation points at its own technique
orphan-reference           every bibliography item is cited somewhere
requires-cycle             the ``requires`` relations form no cycle
reference-identifier       every reference has a DOI or an arXiv id
doi-syntax                 DOIs look like ``10.NNNN/suffix`` (bare, no URL prefix)
arxiv-syntax               arXiv ids look like ``2111.05193`` (no version, no prefix)
range-order                ``low <= high``
magnitude-sign             a decrease/increase is given as a non-negative magnitude
percent-bounds             a percent decrease is at most 100
survey-node-exists         a technique's survey node exists in that survey's tree
survey-node-survey         a node listed under a survey belongs to that survey
survey-node-parent         a survey node's parent exists
vocab-matches-schema       data/vocab.yaml describes exactly the schema's vocabularies
=========================  ===========================================================
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.catalog import schema as S
from advisor.catalog._files import RawData, RawFile, read_data_dir

__all__ = ["RULES", "Parsed", "Problem", "parse", "validate_dir"]

RULES: tuple[str, ...] = (
    "file-syntax",
    "schema",
    "unit-vocabulary",
    "unique-id",
    "id-matches-filename",
    "folder-matches-category",
    "reference-exists",
    "evidence-reference-listed",
    "relation-target-exists",
    "relation-self",
    "orphan-reference",
    "requires-cycle",
    "reference-identifier",
    "doi-syntax",
    "arxiv-syntax",
    "range-order",
    "magnitude-sign",
    "percent-bounds",
    "survey-node-exists",
    "survey-node-survey",
    "survey-node-parent",
    "vocab-matches-schema",
)

VOCAB_KEYS = {
    "categories": S.CATEGORIES,
    "lifecycle_stages": S.STAGES,
    "levels": S.LEVELS,
    "units": S.UNITS,
    "metrics": S.METRICS,
    "relation_types": S.RELATION_TYPES,
    "kinds": S.KINDS,
    "architectures": S.ARCHITECTURES,
    "hardware_classes": S.HARDWARE_CLASSES,
    "bases": S.BASES,
}


@dataclass(frozen=True)
class Problem:
    """One broken rule in one place of the data."""

    file: str
    entry: str
    field: str
    rule: str
    expected: str
    got: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.entry}: {self.field}: {self.rule}: expected {self.expected}, got {self.got}"


@dataclass
class Parsed:
    """The data after validation: the entries that parsed, and every problem found."""

    raw: RawData
    techniques: dict[str, S.Technique]
    technique_files: dict[str, Path]
    references: dict[str, S.Reference]
    surveys: dict[str, S.SurveyTree]
    vocab: dict[str, Any]
    problems: list[Problem]


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(entry)"


def _schema_problems(file: str, entry: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = _loc(loc)
        rule = "schema"
        expected = err["msg"]
        if err["type"] == "literal_error":
            expected = "one of " + str(err.get("ctx", {}).get("expected", ""))
            if loc and loc[-1] == "unit":
                rule = "unit-vocabulary"
        elif err["type"] == "missing":
            expected = "a value (the field is required)"
        elif err["type"] == "extra_forbidden":
            expected = "no such field (see docs/curation.md for the allowed fields)"
        elif err["type"] == "string_pattern_mismatch":
            expected = f"text matching {err.get('ctx', {}).get('pattern')}"
        got = "nothing" if err["type"] == "missing" else _short(err.get("input"))
        problems.append(Problem(file, entry, field, rule, expected, got))
    return problems


def _entry_name(content: Any, fallback: str) -> str:
    if isinstance(content, dict) and isinstance(content.get("id"), str):
        return content["id"]
    return fallback


def _syntax(raw: RawData, f: RawFile, kind: str) -> Problem:
    return Problem(raw.rel(f.path), "(file)", "(file)", "file-syntax", f"a readable {kind} file", f.error or "?")


def parse(raw: RawData) -> Parsed:
    """Validate raw data files and return the parsed entries with every problem found."""
    problems: list[Problem] = []
    techniques: dict[str, S.Technique] = {}
    technique_files: dict[str, Path] = {}

    # --- techniques: schema, unique ids, file and folder names -------------------------------
    for f in raw.techniques:
        file = raw.rel(f.path)
        if f.error:
            problems.append(_syntax(raw, f, "YAML"))
            continue
        entry = _entry_name(f.content, f.path.stem)
        if not isinstance(f.content, dict):
            problems.append(Problem(file, entry, "(entry)", "schema", "a mapping of fields", _short(f.content)))
            continue
        try:
            t = S.Technique.model_validate(f.content)
        except ValidationError as exc:
            problems.extend(_schema_problems(file, entry, exc))
            continue
        if t.id in techniques:
            other = raw.rel(technique_files[t.id])
            problems.append(Problem(file, t.id, "id", "unique-id", f"an id not used elsewhere (also in {other})", t.id))
            continue
        if t.id != f.path.stem:
            problems.append(
                Problem(file, t.id, "id", "id-matches-filename", f"the file name {f.path.stem!r}", repr(t.id))
            )
        folder = t.category or "other"
        if f.path.parent.name != folder:
            problems.append(
                Problem(
                    file,
                    t.id,
                    "category",
                    "folder-matches-category",
                    f"the file in techniques/{folder}/ (category {t.category})",
                    f"folder {f.path.parent.name!r}",
                )
            )
        techniques[t.id] = t
        technique_files[t.id] = f.path

    # --- references ---------------------------------------------------------------------------
    references: dict[str, S.Reference] = {}
    ref_file = raw.rel(raw.references.path) if raw.references else raw.rel(raw.root / "references.json")
    if raw.references is None:
        problems.append(Problem(ref_file, "(file)", "(file)", "file-syntax", "a CSL-JSON bibliography", "no file"))
    elif raw.references.error:
        problems.append(_syntax(raw, raw.references, "JSON"))
    elif not isinstance(raw.references.content, list):
        problems.append(
            Problem(ref_file, "(file)", "(file)", "schema", "a JSON array of CSL items", _short(raw.references.content))
        )
    else:
        for i, item in enumerate(raw.references.content):
            entry = _entry_name(item, f"item {i}")
            try:
                ref = S.Reference.model_validate(item)
            except ValidationError as exc:
                problems.extend(_schema_problems(ref_file, entry, exc))
                continue
            if ref.id in references:
                problems.append(Problem(ref_file, ref.id, "id", "unique-id", "a key used once", f"{ref.id!r} again"))
                continue
            references[ref.id] = ref
            if not ref.DOI and not ref.arxiv:
                problems.append(
                    Problem(ref_file, ref.id, "DOI", "reference-identifier", "a DOI or an arxiv id", "neither")
                )
            if ref.DOI and not S.DOI_RE.match(ref.DOI):
                problems.append(
                    Problem(ref_file, ref.id, "DOI", "doi-syntax", "a bare DOI such as 10.1145/3381831", repr(ref.DOI))
                )
            if ref.arxiv and not S.ARXIV_RE.match(ref.arxiv):
                problems.append(
                    Problem(
                        ref_file, ref.id, "arxiv", "arxiv-syntax", "a bare arXiv id such as 2111.05193", repr(ref.arxiv)
                    )
                )

    # --- surveys --------------------------------------------------------------------------------
    surveys: dict[str, S.SurveyTree] = {}
    node_owner: dict[str, str] = {}
    for f in raw.surveys:
        file = raw.rel(f.path)
        if f.error:
            problems.append(_syntax(raw, f, "YAML"))
            continue
        try:
            tree = S.SurveyTree.model_validate(f.content)
        except ValidationError as exc:
            problems.extend(_schema_problems(file, f.path.stem, exc))
            continue
        surveys[tree.survey] = tree
        ids = Counter(n.id for n in tree.nodes)
        for node in tree.nodes:
            if ids[node.id] > 1:
                problems.append(
                    Problem(file, node.id, "id", "unique-id", "a node id used once", f"{ids[node.id]} uses")
                )
            node_owner[node.id] = tree.survey
            if not node.id.startswith(tree.survey + ":"):
                problems.append(
                    Problem(file, node.id, "id", "survey-node-survey", f"an id starting '{tree.survey}:'", node.id)
                )
            if node.parent and node.parent not in ids:
                problems.append(
                    Problem(file, node.id, "parent", "survey-node-parent", "a node id of this survey", node.parent)
                )
        if tree.reference not in references:
            problems.append(
                Problem(file, tree.survey, "reference", "reference-exists", "a key in references.json", tree.reference)
            )

    # --- cross-entry rules on techniques -------------------------------------------------------
    import networkx as nx

    cited: set[str] = {t.reference for t in surveys.values()}
    requires = nx.DiGraph()
    for t in techniques.values():
        file = raw.rel(technique_files[t.id])
        for i, key in enumerate(t.references):
            cited.add(key)
            if key not in references:
                problems.append(
                    Problem(file, t.id, f"references[{i}]", "reference-exists", "a key in references.json", key)
                )
        for i, ev in enumerate(t.evidence):
            where = f"evidence[{i}]"
            cited.add(ev.reference)
            if ev.reference not in references:
                problems.append(
                    Problem(
                        file, t.id, f"{where}.reference", "reference-exists", "a key in references.json", ev.reference
                    )
                )
            elif ev.reference not in t.references:
                problems.append(
                    Problem(
                        file,
                        t.id,
                        f"{where}.reference",
                        "evidence-reference-listed",
                        "the key also listed under 'references'",
                        ev.reference,
                    )
                )
            lo, hi = ev.magnitude
            if ev.low is not None and lo > hi:
                problems.append(Problem(file, t.id, f"{where}.low", "range-order", f"low <= high ({hi})", str(lo)))
            if ev.direction != "change" and lo < 0:
                problems.append(
                    Problem(
                        file,
                        t.id,
                        f"{where}.value",
                        "magnitude-sign",
                        f"a non-negative magnitude (direction '{ev.direction}' carries the sign)",
                        str(lo),
                    )
                )
            if ev.unit == "percent" and ev.direction == "decrease" and hi > 100:
                problems.append(
                    Problem(
                        file, t.id, f"{where}.value", "percent-bounds", "a percent decrease between 0 and 100", str(hi)
                    )
                )
        for i, rel in enumerate(t.relations):
            where = f"relations[{i}].target"
            if rel.target == t.id:
                problems.append(Problem(file, t.id, where, "relation-self", "another technique's id", rel.target))
            elif rel.target not in techniques:
                problems.append(
                    Problem(file, t.id, where, "relation-target-exists", "an existing technique id", rel.target)
                )
            elif rel.type == "requires":
                requires.add_edge(t.id, rel.target)
        for survey in S.SURVEYS:
            for j, node in enumerate(getattr(t.surveys, survey)):
                where = f"surveys.{survey}[{j}]"
                if node_owner.get(node) is None:
                    problems.append(
                        Problem(
                            file, t.id, where, "survey-node-exists", f"a node id of data/surveys/{survey}.yaml", node
                        )
                    )
                elif node_owner[node] != survey:
                    problems.append(
                        Problem(file, t.id, where, "survey-node-survey", f"a node of survey {survey}", node)
                    )

    for found in sorted(nx.simple_cycles(requires)):
        start = found.index(min(found))  # report each cycle from its smallest id: stable output
        cycle = found[start:] + found[:start]
        first = cycle[0]
        problems.append(
            Problem(
                raw.rel(technique_files[first]),
                first,
                "relations",
                "requires-cycle",
                "no cycle of 'requires' relations",
                " -> ".join([*cycle, first]),
            )
        )

    for key in sorted(set(references) - cited):
        problems.append(
            Problem(ref_file, key, "id", "orphan-reference", "a reference cited by a technique or survey", "uncited")
        )

    # --- vocabulary file ---------------------------------------------------------------------
    vocab: dict[str, Any] = {}
    if raw.vocab is not None:
        vfile = raw.rel(raw.vocab.path)
        if raw.vocab.error:
            problems.append(_syntax(raw, raw.vocab, "YAML"))
        elif isinstance(raw.vocab.content, dict):
            vocab = raw.vocab.content
            for key, allowed in VOCAB_KEYS.items():
                have = set((vocab.get(key) or {}).keys())
                if have != set(allowed):
                    missing = sorted(set(allowed) - have)
                    extra = sorted(have - set(allowed))
                    problems.append(
                        Problem(
                            vfile,
                            key,
                            key,
                            "vocab-matches-schema",
                            f"exactly the schema's terms (missing {missing})",
                            f"extra {extra}",
                        )
                    )

    return Parsed(raw, techniques, technique_files, references, surveys, vocab, problems)


def validate_dir(path: Path | str | None = None) -> list[Problem]:
    """Validate a data directory and return every problem (empty when the data is valid)."""
    return parse(read_data_dir(path)).problems
