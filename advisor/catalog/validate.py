"""Validation of the technique data: the schema, then every cross-entry rule.

Every problem is one :class:`Problem`, printed as
``FILE: ENTRY: FIELD: rule: expected ..., got ...``. Each rule is one function below (``_rule_*``),
listed in :data:`RULES` in the order they run, each with its own broken-fixture test; the same table is
in ``docs/curation.md``:

===========================  ===========================================================
rule                         what it checks
===========================  ===========================================================
file-syntax                  the file is readable YAML/JSON
schema                       the entry matches the pydantic model (types, required fields)
unit-vocabulary              an evidence unit is from the closed vocabulary
kind-vocabulary              a technique has a ``kind`` from the closed vocabulary
architecture-vocabulary      ``applicability.architectures`` is a non-empty list from the vocabulary
hardware-class-vocabulary    every evidence item has a ``hardware_class`` from the vocabulary
basis-vocabulary             every evidence item has a ``basis`` from the vocabulary
unique-id                    no two techniques (or references, or survey nodes) share an id
id-matches-filename          a technique's id equals its file name
folder-matches-category      a technique lies in the folder of its category (``other`` for null)
architectures-note           ``any`` stands alone; any other list of architectures gives its reason
reference-identifier         a paper has a DOI or an arXiv id (only documentation types may go without)
documentation-reference      a reference without DOI/arXiv has URL, accessed date, publisher and genre
doi-syntax                   DOIs look like ``10.NNNN/suffix`` (bare, no URL prefix)
arxiv-syntax                 arXiv ids look like ``2111.05193`` (no version, no prefix)
survey-node-survey           a survey node's id (or a technique's node) belongs to that survey
survey-node-parent           a survey node's parent exists
reference-exists             every reference key used by a technique or survey exists
evidence-reference-listed    an evidence item's source is also in the entry's ``references``
vendor-figure-note           evidence from a documentation reference says "vendor figure" in its note
relation-self                no relation (or parent) points at its own technique
relation-target-exists       every relation points at an existing technique
parent-exists                a technique's ``parent`` is an existing technique
parent-cycle                 the ``parent`` links form no cycle
requires-cycle               the ``requires`` relations form no cycle
orphan-reference             every bibliography item is cited somewhere
range-order                  ``low <= high``
magnitude-sign               a decrease/increase is given as a non-negative magnitude
percent-bounds               a percent decrease is at most 100
survey-node-exists           a technique's survey node exists in that survey's tree
vocab-matches-schema         data/vocab.yaml describes exactly the schema's vocabularies
===========================  ===========================================================

Isolation: an entry that fails the schema is not parsed, but its id still counts as an existing
technique (so relations and parents pointing at it are not reported again), the references it cites
still count as cited (no false orphan), and its own references, relations and parent are still
checked from the raw file (:class:`Entry`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.catalog import schema as S
from advisor.catalog._files import RawData, RawFile, read_data_dir

__all__ = ["RULES", "Entry", "Parsed", "Problem", "parse", "validate_dir"]

RULES: tuple[str, ...] = (
    "file-syntax",
    "schema",
    "unit-vocabulary",
    "kind-vocabulary",
    "architecture-vocabulary",
    "hardware-class-vocabulary",
    "basis-vocabulary",
    "unique-id",
    "id-matches-filename",
    "folder-matches-category",
    "architectures-note",
    "reference-identifier",
    "documentation-reference",
    "doi-syntax",
    "arxiv-syntax",
    "survey-node-survey",
    "survey-node-parent",
    "reference-exists",
    "evidence-reference-listed",
    "vendor-figure-note",
    "relation-self",
    "relation-target-exists",
    "parent-exists",
    "parent-cycle",
    "requires-cycle",
    "orphan-reference",
    "range-order",
    "magnitude-sign",
    "percent-bounds",
    "survey-node-exists",
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

# schema errors on these fields (missing or not in the vocabulary) are reported under their own rule
_FIELD_RULES: dict[tuple[str, ...], str] = {
    ("unit",): "unit-vocabulary",
    ("kind",): "kind-vocabulary",
    ("applicability", "architectures"): "architecture-vocabulary",
    ("hardware_class",): "hardware-class-vocabulary",
    ("basis",): "basis-vocabulary",
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


@dataclass(frozen=True)
class Entry:
    """What the cross-entry rules need of one technique file, parsed or not.

    Built from the parsed :class:`~advisor.catalog.schema.Technique` when the entry is valid, or
    leniently from the raw mapping when it failed the schema (``parsed`` is False): only the parts
    of the right type are kept, so a broken entry's references, relations and parent are still checked.
    """

    id: str
    file: str
    parsed: bool
    references: tuple[tuple[int, str], ...] = ()
    evidence_refs: tuple[tuple[int, str], ...] = ()
    relations: tuple[tuple[int, str, str], ...] = ()  # (index, type, target)
    parent: str | None = None

    @classmethod
    def of(cls, t: S.Technique, file: str) -> Entry:
        """The view of a parsed technique."""
        return cls(
            t.id,
            file,
            True,
            tuple(enumerate(t.references)),
            tuple((i, ev.reference) for i, ev in enumerate(t.evidence)),
            tuple((i, r.type, r.target) for i, r in enumerate(t.relations)),
            t.parent,
        )

    @classmethod
    def lenient(cls, content: dict[str, Any], entry_id: str, file: str) -> Entry:
        """The view of an entry that failed the schema: keep what has the right type."""

        def items(key: str) -> list[tuple[int, Any]]:
            value = content.get(key)
            return list(enumerate(value)) if isinstance(value, list) else []

        refs = tuple((i, k) for i, k in items("references") if isinstance(k, str))
        ev_refs = tuple(
            (i, e["reference"])
            for i, e in items("evidence")
            if isinstance(e, dict) and isinstance(e.get("reference"), str)
        )
        rels = tuple(
            (i, str(r.get("type")), r["target"])
            for i, r in items("relations")
            if isinstance(r, dict) and isinstance(r.get("target"), str)
        )
        parent = content.get("parent") if isinstance(content.get("parent"), str) else None
        return cls(entry_id, file, False, refs, ev_refs, rels, parent)


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
    entries: dict[str, Entry] = field(default_factory=dict)


@dataclass
class _Ctx:
    """What the rules share: the raw data, what parsed so far, and the problems found."""

    raw: RawData
    techniques: dict[str, S.Technique] = field(default_factory=dict)
    technique_files: dict[str, Path] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)  # every technique id seen, parsed or not
    references: dict[str, S.Reference] = field(default_factory=dict)
    surveys: dict[str, S.SurveyTree] = field(default_factory=dict)
    node_owner: dict[str, str] = field(default_factory=dict)
    vocab: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    references_ok: bool = False

    @property
    def ref_file(self) -> str:
        raw = self.raw
        return raw.rel(raw.references.path) if raw.references else raw.rel(raw.root / "references.json")

    def add(self, *where: str) -> None:
        """Record a problem: file, entry, field, rule, expected, got."""
        self.problems.append(Problem(*where))

    def parsed(self) -> Iterator[tuple[str, S.Technique]]:
        """Each parsed technique with its file (relative, for messages)."""
        for t in self.techniques.values():
            yield self.raw.rel(self.technique_files[t.id]), t


# --- helpers -------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(entry)"


def _field_rule(loc: tuple[Any, ...]) -> str | None:
    names = tuple(p for p in loc if isinstance(p, str))
    for suffix, rule in _FIELD_RULES.items():
        if names[-len(suffix) :] == suffix:
            return rule
    return None


def _schema_problems(file: str, entry: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        expected = err["msg"]
        if err["type"] == "literal_error":
            expected = "one of " + str(err.get("ctx", {}).get("expected", ""))
        elif err["type"] == "missing":
            expected = "a value (the field is required)"
        elif err["type"] == "extra_forbidden":
            expected = "no such field (see docs/curation.md for the allowed fields)"
        elif err["type"] == "string_pattern_mismatch":
            expected = f"text matching {err.get('ctx', {}).get('pattern')}"
        elif err["type"] == "too_short":
            expected = "a non-empty list"
        rule = _field_rule(loc) if err["type"] in {"literal_error", "missing", "too_short"} else None
        got = "nothing" if err["type"] == "missing" else _short(err.get("input"))
        problems.append(Problem(file, entry, _loc(loc), rule or "schema", expected, got))
    return problems


def _entry_name(content: Any, fallback: str) -> str:
    if isinstance(content, dict) and isinstance(content.get("id"), str):
        return content["id"]
    return fallback


def _syntax(ctx: _Ctx, f: RawFile, kind: str) -> None:
    ctx.add(ctx.raw.rel(f.path), "(file)", "(file)", "file-syntax", f"a readable {kind} file", f.error or "?")


def _cycles(edges: dict[str, str | list[str]]) -> list[list[str]]:
    """Every simple cycle of a directed graph, each from its smallest node: a stable order."""
    import networkx as nx

    graph = nx.DiGraph()
    for node, targets in edges.items():
        for target in [targets] if isinstance(targets, str) else targets:
            graph.add_edge(node, target)
    out = []
    for found in sorted(nx.simple_cycles(graph)):
        start = found.index(min(found))
        out.append(found[start:] + found[:start])
    return out


# --- loading: file syntax and schema ----------------------------------------------------------------


def _load_technique(ctx: _Ctx, f: RawFile) -> None:
    file = ctx.raw.rel(f.path)
    if f.error:
        _syntax(ctx, f, "YAML")
        return
    entry = _entry_name(f.content, f.path.stem)
    if not isinstance(f.content, dict):
        ctx.add(file, entry, "(entry)", "schema", "a mapping of fields", _short(f.content))
        return
    try:
        t = S.Technique.model_validate(f.content)
    except ValidationError as exc:
        ctx.problems.extend(_schema_problems(file, entry, exc))
        ctx.entries.setdefault(entry, Entry.lenient(f.content, entry, file))
        return
    if t.id in ctx.techniques:
        other = ctx.raw.rel(ctx.technique_files[t.id])
        ctx.add(file, t.id, "id", "unique-id", f"an id not used elsewhere (also in {other})", t.id)
        return
    ctx.techniques[t.id] = t
    ctx.technique_files[t.id] = f.path
    ctx.entries[t.id] = Entry.of(t, file)


def _load_references(ctx: _Ctx) -> None:
    raw, ref_file = ctx.raw, ctx.ref_file
    if raw.references is None:
        ctx.add(ref_file, "(file)", "(file)", "file-syntax", "a CSL-JSON bibliography", "no file")
    elif raw.references.error:
        _syntax(ctx, raw.references, "JSON")
    elif not isinstance(raw.references.content, list):
        ctx.add(ref_file, "(file)", "(file)", "schema", "a JSON array of CSL items", _short(raw.references.content))
    else:
        ctx.references_ok = True
        for i, item in enumerate(raw.references.content):
            try:
                ref = S.Reference.model_validate(item)
            except ValidationError as exc:
                ctx.problems.extend(_schema_problems(ref_file, _entry_name(item, f"item {i}"), exc))
                continue
            if ref.id in ctx.references:
                ctx.add(ref_file, ref.id, "id", "unique-id", "a key used once", f"{ref.id!r} again")
                continue
            ctx.references[ref.id] = ref


def _load_surveys(ctx: _Ctx) -> None:
    for f in ctx.raw.surveys:
        if f.error:
            _syntax(ctx, f, "YAML")
            continue
        try:
            tree = S.SurveyTree.model_validate(f.content)
        except ValidationError as exc:
            ctx.problems.extend(_schema_problems(ctx.raw.rel(f.path), f.path.stem, exc))
            continue
        ctx.surveys[tree.survey] = tree
        for node in tree.nodes:
            ctx.node_owner[node.id] = tree.survey


def _load(ctx: _Ctx) -> None:
    """Rules file-syntax, schema and the *-vocabulary rules: read every file into the context."""
    for f in ctx.raw.techniques:
        _load_technique(ctx, f)
    _load_references(ctx)
    _load_surveys(ctx)
    if ctx.raw.vocab is not None:
        if ctx.raw.vocab.error:
            _syntax(ctx, ctx.raw.vocab, "YAML")
        elif isinstance(ctx.raw.vocab.content, dict):
            ctx.vocab = ctx.raw.vocab.content


# --- one function per rule -------------------------------------------------------------------------


def _rule_unique_id(ctx: _Ctx) -> None:
    """Survey node ids are unique within a survey (techniques and references: checked while loading)."""
    for tree in ctx.surveys.values():
        file = _survey_file(ctx, tree.survey)
        ids = Counter(n.id for n in tree.nodes)
        for node_id, n in sorted(ids.items()):
            if n > 1:
                ctx.add(file, node_id, "id", "unique-id", "a node id used once", f"{n} uses")


def _rule_id_matches_filename(ctx: _Ctx) -> None:
    for tid, path in ctx.technique_files.items():
        if tid != path.stem:
            ctx.add(ctx.raw.rel(path), tid, "id", "id-matches-filename", f"the file name {path.stem!r}", repr(tid))


def _rule_folder_matches_category(ctx: _Ctx) -> None:
    for file, t in ctx.parsed():
        folder = t.category or "other"
        actual = ctx.technique_files[t.id].parent.name
        if actual != folder:
            expected = f"the file in techniques/{folder}/ (category {t.category})"
            ctx.add(file, t.id, "category", "folder-matches-category", expected, f"folder {actual!r}")


def _rule_architectures_note(ctx: _Ctx) -> None:
    for file, t in ctx.parsed():
        archs, note = t.applicability.architectures, t.applicability.architectures_note
        if "any" in archs and len(archs) > 1:
            ctx.add(
                file,
                t.id,
                "applicability.architectures",
                "architectures-note",
                "either [any] alone or a list of specific architectures",
                _short(archs),
            )
        elif archs != ["any"] and not (note and note.strip()):
            ctx.add(
                file,
                t.id,
                "applicability.architectures_note",
                "architectures-note",
                f"the reason the technique needs {archs}",
                "nothing",
            )


def _rule_reference_identifier(ctx: _Ctx) -> None:
    """Papers need a DOI or an arXiv id; only documentation types may go without (checked below)."""
    for ref in ctx.references.values():
        if ref.is_documentation and ref.type not in S.DOC_TYPES:
            expected = f"a DOI or an arxiv id (only types {list(S.DOC_TYPES)} may cite documentation)"
            ctx.add(ctx.ref_file, ref.id, "DOI", "reference-identifier", expected, f"neither, type {ref.type!r}")


_DATE_PARTS = 3  # year, month, day


def _documentation_gaps(ref: S.Reference) -> Iterator[tuple[str, str, str]]:
    """(field, expected, got) for each part a documentation reference lacks."""
    url = ref.URL or ""
    if not url.lower().startswith(("https://", "http://")):
        yield "URL", "the http(s) address of the page, README or blog post", _short(ref.URL)
    parts = (ref.accessed or {}).get("date-parts") or [[]]
    if len(parts[0]) != _DATE_PARTS:
        yield "accessed", "the date it was read, {date-parts: [[year, month, day]]}", _short(ref.accessed)
    if not (ref.publisher or ref.container_title):
        yield "publisher", "who publishes it (publisher or container-title), e.g. 'Intel'", "nothing"
    if ref.genre not in S.DOC_GENRES:
        yield "genre", f"one of {list(S.DOC_GENRES)} (official docs, README, vendor blog)", _short(ref.genre)


def _rule_documentation_reference(ctx: _Ctx) -> None:
    """A reference with neither DOI nor arXiv id is documentation: it must say where, when and whose."""
    for ref in ctx.references.values():
        if ref.is_documentation and ref.type in S.DOC_TYPES:
            for where, expected, got in _documentation_gaps(ref):
                ctx.add(ctx.ref_file, ref.id, where, "documentation-reference", expected, got)


def _rule_doi_syntax(ctx: _Ctx) -> None:
    for ref in ctx.references.values():
        if ref.DOI and not S.DOI_RE.match(ref.DOI):
            ctx.add(ctx.ref_file, ref.id, "DOI", "doi-syntax", "a bare DOI such as 10.1145/3381831", repr(ref.DOI))


def _rule_arxiv_syntax(ctx: _Ctx) -> None:
    for ref in ctx.references.values():
        if ref.arxiv and not S.ARXIV_RE.match(ref.arxiv):
            expected = "a bare arXiv id such as 2111.05193"
            ctx.add(ctx.ref_file, ref.id, "arxiv", "arxiv-syntax", expected, repr(ref.arxiv))


def _survey_file(ctx: _Ctx, survey: str) -> str:
    for f in ctx.raw.surveys:
        if isinstance(f.content, dict) and f.content.get("survey") == survey:
            return ctx.raw.rel(f.path)
    return ctx.raw.rel(ctx.raw.root / "surveys" / f"{survey}.yaml")


def _rule_survey_node_survey(ctx: _Ctx) -> None:
    for tree in ctx.surveys.values():
        for node in tree.nodes:
            if not node.id.startswith(tree.survey + ":"):
                expected = f"an id starting '{tree.survey}:'"
                ctx.add(_survey_file(ctx, tree.survey), node.id, "id", "survey-node-survey", expected, node.id)
    for file, t in ctx.parsed():
        for survey in S.SURVEYS:
            for j, node in enumerate(getattr(t.surveys, survey)):
                owner = ctx.node_owner.get(node)
                if owner is not None and owner != survey:
                    where = f"surveys.{survey}[{j}]"
                    ctx.add(file, t.id, where, "survey-node-survey", f"a node of survey {survey}", node)


def _rule_survey_node_parent(ctx: _Ctx) -> None:
    for tree in ctx.surveys.values():
        ids = {n.id for n in tree.nodes}
        for node in tree.nodes:
            if node.parent and node.parent not in ids:
                file = _survey_file(ctx, tree.survey)
                ctx.add(file, node.id, "parent", "survey-node-parent", "a node id of this survey", node.parent)


def _rule_reference_exists(ctx: _Ctx) -> None:
    if not ctx.references_ok:
        return  # the bibliography itself is broken: already reported once
    for tree in ctx.surveys.values():
        if tree.reference not in ctx.references:
            file = _survey_file(ctx, tree.survey)
            ctx.add(file, tree.survey, "reference", "reference-exists", "a key in references.json", tree.reference)
    for e in ctx.entries.values():
        for i, key in e.references:
            if key not in ctx.references:
                ctx.add(e.file, e.id, f"references[{i}]", "reference-exists", "a key in references.json", key)
        for i, key in e.evidence_refs:
            if key not in ctx.references:
                where = f"evidence[{i}].reference"
                ctx.add(e.file, e.id, where, "reference-exists", "a key in references.json", key)


def _rule_evidence_reference_listed(ctx: _Ctx) -> None:
    for e in ctx.entries.values():
        listed = {k for _, k in e.references}
        for i, key in e.evidence_refs:
            if key in ctx.references and key not in listed:
                expected = "the key also listed under 'references'"
                ctx.add(e.file, e.id, f"evidence[{i}].reference", "evidence-reference-listed", expected, key)


def _rule_vendor_figure_note(ctx: _Ctx) -> None:
    """A figure from documentation, a README or a vendor blog is marked as such where it is shown."""
    for file, tid, where, ev in _evidence(ctx):
        ref = ctx.references.get(ev.reference)
        if ref is not None and ref.is_documentation and "vendor figure" not in (ev.note or "").lower():
            expected = "a note saying 'vendor figure' (the source is documentation, not a paper)"
            ctx.add(file, tid, f"{where}.note", "vendor-figure-note", expected, _short(ev.note))


def _rule_relation_self(ctx: _Ctx) -> None:
    for e in ctx.entries.values():
        for i, _type, target in e.relations:
            if target == e.id:
                ctx.add(e.file, e.id, f"relations[{i}].target", "relation-self", "another technique's id", target)
        if e.parent == e.id:
            ctx.add(e.file, e.id, "parent", "relation-self", "another technique's id (or null)", e.parent)


def _rule_relation_target_exists(ctx: _Ctx) -> None:
    for e in ctx.entries.values():
        for i, _type, target in e.relations:
            if target != e.id and target not in ctx.entries:
                where = f"relations[{i}].target"
                ctx.add(e.file, e.id, where, "relation-target-exists", "an existing technique id", target)


def _rule_parent_exists(ctx: _Ctx) -> None:
    for e in ctx.entries.values():
        if e.parent and e.parent != e.id and e.parent not in ctx.entries:
            ctx.add(e.file, e.id, "parent", "parent-exists", "an existing technique id (or null)", e.parent)


def _rule_parent_cycle(ctx: _Ctx) -> None:
    edges = {e.id: e.parent for e in ctx.entries.values() if e.parent and e.parent != e.id}
    for cycle in _cycles(edges):
        first = ctx.entries[cycle[0]]
        got = " -> ".join([*cycle, cycle[0]])
        ctx.add(first.file, first.id, "parent", "parent-cycle", "no cycle of 'parent' links", got)


def _rule_requires_cycle(ctx: _Ctx) -> None:
    edges: dict[str, list[str]] = {}
    for e in ctx.entries.values():
        edges[e.id] = [t for _, kind, t in e.relations if kind == "requires" and t in ctx.entries and t != e.id]
    for cycle in _cycles(edges):
        first = ctx.entries[cycle[0]]
        got = " -> ".join([*cycle, cycle[0]])
        ctx.add(first.file, first.id, "relations", "requires-cycle", "no cycle of 'requires' relations", got)


def _rule_orphan_reference(ctx: _Ctx) -> None:
    cited = {t.reference for t in ctx.surveys.values()}
    for e in ctx.entries.values():
        cited.update(k for _, k in e.references)
        cited.update(k for _, k in e.evidence_refs)
    if len(ctx.surveys) < len(ctx.raw.surveys):
        # a survey file failed: the reference it names still counts as cited
        cited.update(f.content.get("reference") for f in ctx.raw.surveys if isinstance(f.content, dict))
    for key in sorted(set(ctx.references) - cited):
        expected = "a reference cited by a technique or survey"
        ctx.add(ctx.ref_file, key, "id", "orphan-reference", expected, "uncited")


def _evidence(ctx: _Ctx) -> Iterator[tuple[str, str, str, S.Evidence]]:
    for file, t in ctx.parsed():
        for i, ev in enumerate(t.evidence):
            yield file, t.id, f"evidence[{i}]", ev


def _rule_range_order(ctx: _Ctx) -> None:
    for file, tid, where, ev in _evidence(ctx):
        lo, hi = ev.magnitude
        if ev.low is not None and lo > hi:
            ctx.add(file, tid, f"{where}.low", "range-order", f"low <= high ({hi:g})", f"{lo:g}")


def _rule_magnitude_sign(ctx: _Ctx) -> None:
    for file, tid, where, ev in _evidence(ctx):
        lo = min(ev.magnitude)
        if ev.direction != "change" and lo < 0:
            expected = f"a non-negative magnitude (direction '{ev.direction}' carries the sign)"
            ctx.add(file, tid, f"{where}.value", "magnitude-sign", expected, f"{lo:g}")


def _rule_percent_bounds(ctx: _Ctx) -> None:
    for file, tid, where, ev in _evidence(ctx):
        hi = max(ev.magnitude)
        if ev.unit == "percent" and ev.direction == "decrease" and hi > 100:
            ctx.add(file, tid, f"{where}.value", "percent-bounds", "a percent decrease between 0 and 100", f"{hi:g}")


def _rule_survey_node_exists(ctx: _Ctx) -> None:
    for file, t in ctx.parsed():
        for survey in S.SURVEYS:
            for j, node in enumerate(getattr(t.surveys, survey)):
                if node not in ctx.node_owner:
                    expected = f"a node id of data/surveys/{survey}.yaml"
                    ctx.add(file, t.id, f"surveys.{survey}[{j}]", "survey-node-exists", expected, node)


def _rule_vocab_matches_schema(ctx: _Ctx) -> None:
    if not ctx.vocab:
        return
    vfile = ctx.raw.rel(ctx.raw.vocab.path)  # type: ignore[union-attr]
    for key, allowed in VOCAB_KEYS.items():
        have = set((ctx.vocab.get(key) or {}).keys())
        if have != set(allowed):
            missing, extra = sorted(set(allowed) - have), sorted(have - set(allowed))
            expected = f"exactly the schema's terms (missing {missing})"
            ctx.add(vfile, key, key, "vocab-matches-schema", expected, f"extra {extra}")


# rules that run after loading, in order (file-syntax, schema and the vocabulary rules run while loading)
_CHECKS: tuple[Callable[[_Ctx], None], ...] = (
    _rule_unique_id,
    _rule_id_matches_filename,
    _rule_folder_matches_category,
    _rule_architectures_note,
    _rule_reference_identifier,
    _rule_documentation_reference,
    _rule_doi_syntax,
    _rule_arxiv_syntax,
    _rule_survey_node_survey,
    _rule_survey_node_parent,
    _rule_reference_exists,
    _rule_evidence_reference_listed,
    _rule_vendor_figure_note,
    _rule_relation_self,
    _rule_relation_target_exists,
    _rule_parent_exists,
    _rule_parent_cycle,
    _rule_requires_cycle,
    _rule_orphan_reference,
    _rule_range_order,
    _rule_magnitude_sign,
    _rule_percent_bounds,
    _rule_survey_node_exists,
    _rule_vocab_matches_schema,
)


def parse(raw: RawData) -> Parsed:
    """Validate raw data files and return the parsed entries with every problem found."""
    ctx = _Ctx(raw)
    _load(ctx)
    for check in _CHECKS:
        check(ctx)
    return Parsed(
        raw, ctx.techniques, ctx.technique_files, ctx.references, ctx.surveys, ctx.vocab, ctx.problems, ctx.entries
    )


def validate_dir(path: Path | str | None = None) -> list[Problem]:
    """Validate a data directory and return every problem (empty when the data is valid)."""
    return parse(read_data_dir(path)).problems
