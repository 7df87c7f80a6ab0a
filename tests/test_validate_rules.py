"""Every validation rule, each with a broken fixture: the message names file, entry, field and rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from advisor.catalog.validate import RULES, validate_dir

Mutation = Callable[[dict[str, Any]], None]
A = "efficient-inference/tech-a"
B = "efficient-inference/tech-b"
C = "other/tech-c"


def _set(rel: str, **fields: Any) -> Mutation:
    def m(d: dict[str, Any]) -> None:
        d["techniques"][rel].update(fields)

    return m


def _ev(rel: str, **fields: Any) -> Mutation:
    def m(d: dict[str, Any]) -> None:
        d["techniques"][rel]["evidence"][0].update(fields)
        for k in [k for k, v in fields.items() if v is None]:
            del d["techniques"][rel]["evidence"][0][k]

    return m


def _ref(i: int, **fields: Any) -> Mutation:
    def m(d: dict[str, Any]) -> None:
        d["references"][i].update(fields)
        for k in [k for k, v in fields.items() if v is None]:
            del d["references"][i][k]

    return m


def _syntax(d: dict[str, Any]) -> None:
    d["techniques"][A] = "id: tech-a\nname: [unclosed\n"


def _dup(d: dict[str, Any]) -> None:
    d["techniques"]["efficient-inference/tech-a-copy"] = dict(d["techniques"][A])


def _move(d: dict[str, Any]) -> None:
    d["techniques"]["efficient-training/tech-a"] = d["techniques"].pop(A)


def _orphan(d: dict[str, Any]) -> None:
    d["references"].append({**d["references"][0], "id": "gamma2022three", "arxiv": "2201.00003"})


def _cycle(d: dict[str, Any]) -> None:
    d["techniques"][B]["relations"] = [{"type": "requires", "target": "tech-a"}]


def _app(rel: str, **fields: Any) -> Mutation:
    def m(d: dict[str, Any]) -> None:
        d["techniques"][rel]["applicability"].update(fields)

    return m


def _parent_cycle(d: dict[str, Any]) -> None:
    d["techniques"][A]["parent"] = "tech-b"
    d["techniques"][B]["parent"] = "tech-c"
    d["techniques"][C]["parent"] = "tech-a"


DOC_REF: dict[str, Any] = {
    "id": "vendor2024docs",
    "type": "webpage",
    "title": "Performance tuning guide",
    "author": [{"literal": "Example Project"}],
    "issued": {"date-parts": [[2024]]},
    "URL": "https://docs.example.org/performance.html",
    "accessed": {"date-parts": [[2026, 5, 1]]},
    "publisher": "Example Foundation",
    "genre": "documentation",
}


def _doc_ref(**fields: Any) -> Mutation:
    """tech-c cites a documentation reference (no DOI, no arXiv) in one evidence item, marked as a vendor figure."""

    def m(d: dict[str, Any]) -> None:
        ref = {**DOC_REF, **fields}
        for k in [k for k, v in fields.items() if v is None]:
            del ref[k]
        d["references"].append(ref)
        c = d["techniques"][C]
        c["references"] = ["beta2021two", "vendor2024docs"]
        ev = dict(d["techniques"][A]["evidence"][0], reference="vendor2024docs", note="vendor figure")
        c["evidence"] = [ev]

    return m


def _doc_ev(**fields: Any) -> Mutation:
    def m(d: dict[str, Any]) -> None:
        _doc_ref()(d)
        d["techniques"][C]["evidence"][0].update(fields)

    return m


def _survey_parent(d: dict[str, Any]) -> None:
    pass  # handled in its own test (surveys are copied from the real data)


# rule -> (mutation, (file suffix, entry, field) expected in the message)
CASES: dict[str, tuple[Mutation, tuple[str, str, str]]] = {
    "file-syntax": (_syntax, ("tech-a.yaml", "(file)", "(file)")),
    "schema": (_set(A, saves=[]), ("tech-a.yaml", "tech-a", "saves")),
    "unit-vocabulary": (_ev(A, unit="furlongs"), ("tech-a.yaml", "tech-a", "evidence[0].unit")),
    "kind-vocabulary": (_set(A, kind="library"), ("tech-a.yaml", "tech-a", "kind")),
    "architecture-vocabulary": (
        _app(A, architectures=["transformer"]),
        ("tech-a.yaml", "tech-a", "applicability.architectures[0]"),
    ),
    "hardware-class-vocabulary": (
        _ev(A, hardware_class="gpu"),
        ("tech-a.yaml", "tech-a", "evidence[0].hardware_class"),
    ),
    "basis-vocabulary": (_ev(A, basis="speed-up"), ("tech-a.yaml", "tech-a", "evidence[0].basis")),
    "architectures-note": (
        _app(A, architectures=["convolutional"], architectures_note=None),
        ("tech-a.yaml", "tech-a", "applicability.architectures_note"),
    ),
    "parent-exists": (_set(A, parent="no-such-technique"), ("tech-a.yaml", "tech-a", "parent")),
    "parent-cycle": (_parent_cycle, ("tech-a.yaml", "tech-a", "parent")),
    "unique-id": (_dup, ("tech-a.yaml", "tech-a", "id")),
    "id-matches-filename": (_set(A, id="tech-z"), ("tech-a.yaml", "tech-z", "id")),
    "folder-matches-category": (_move, ("tech-a.yaml", "tech-a", "category")),
    "reference-exists": (_set(C, references=["nobody1999none"]), ("tech-c.yaml", "tech-c", "references[0]")),
    "evidence-reference-listed": (
        _ev(A, reference="beta2021two"),
        ("tech-a.yaml", "tech-a", "evidence[0].reference"),
    ),
    "relation-target-exists": (
        _set(C, relations=[{"type": "complements", "target": "no-such-technique"}]),
        ("tech-c.yaml", "tech-c", "relations[0].target"),
    ),
    "relation-self": (
        _set(C, relations=[{"type": "complements", "target": "tech-c"}]),
        ("tech-c.yaml", "tech-c", "relations[0].target"),
    ),
    "orphan-reference": (_orphan, ("references.json", "gamma2022three", "id")),
    "requires-cycle": (_cycle, ("tech-a.yaml", "tech-a", "relations")),
    "reference-identifier": (_ref(1, DOI=None), ("references.json", "beta2021two", "DOI")),
    "documentation-reference": (_doc_ref(accessed=None), ("references.json", "vendor2024docs", "accessed")),
    "vendor-figure-note": (_doc_ev(note="measured by the vendor"), ("tech-c.yaml", "tech-c", "evidence[0].note")),
    "doi-syntax": (_ref(1, DOI="https://doi.org/10.1000/xyz123"), ("references.json", "beta2021two", "DOI")),
    "arxiv-syntax": (_ref(0, arxiv="arXiv:2001.00001v2"), ("references.json", "alpha2020one", "arxiv")),
    "range-order": (_ev(A, value=None, low=5.0, high=2.0), ("tech-a.yaml", "tech-a", "evidence[0].low")),
    "magnitude-sign": (_ev(A, value=-3.0), ("tech-a.yaml", "tech-a", "evidence[0].value")),
    "percent-bounds": (_ev(A, value=140.0, unit="percent"), ("tech-a.yaml", "tech-a", "evidence[0].value")),
    "survey-node-exists": (
        _set(A, surveys={"xu2021": ["xu2021:no-such-node"]}),
        ("tech-a.yaml", "tech-a", "surveys.xu2021[0]"),
    ),
    "survey-node-survey": (
        _set(A, surveys={"xu2021": ["lee2021:pruning"]}),
        ("tech-a.yaml", "tech-a", "surveys.xu2021[0]"),
    ),
}


def test_minimal_fixture_is_valid(make_data) -> None:
    assert validate_dir(make_data()) == []


def test_every_rule_has_a_case() -> None:
    assert set(RULES) - set(CASES) == {"survey-node-parent", "vocab-matches-schema"}  # tested below


@pytest.mark.parametrize("rule", sorted(CASES), ids=str)
def test_rule_reports_file_entry_field(rule: str, make_data) -> None:
    mutate, (file_suffix, entry, field) = CASES[rule]
    problems = validate_dir(make_data(mutate))
    hits = [p for p in problems if p.rule == rule]
    assert hits, f"rule {rule} did not fire; got {[str(p) for p in problems]}"
    p = hits[0]
    assert p.file.endswith(file_suffix)
    assert p.entry == entry
    assert p.field == field
    line = str(p)
    assert line.startswith(p.file + ": ")
    assert f": {rule}: expected " in line and ", got " in line


def test_survey_node_parent(make_data) -> None:
    root = make_data()
    path = root / "surveys" / "xu2021.yaml"
    path.write_text(path.read_text().replace('parent: "xu2021:compact-networks"', 'parent: "xu2021:nowhere"', 1))
    hits = [p for p in validate_dir(root) if p.rule == "survey-node-parent"]
    assert hits and hits[0].got == "xu2021:nowhere" and hits[0].file.endswith("xu2021.yaml")


def test_vocab_matches_schema(make_data) -> None:
    root = make_data()
    path = root / "vocab.yaml"
    path.write_text(path.read_text().replace("  evaluation: {label: Evaluation", "  evaluations: {label: Evaluation"))
    hits = [p for p in validate_dir(root) if p.rule == "vocab-matches-schema"]
    assert hits and "evaluation" in hits[0].expected and "evaluations" in hits[0].got


def test_schema_error_names_missing_field(make_data) -> None:
    def drop_name(d: dict[str, Any]) -> None:
        del d["techniques"][A]["name"]

    p = next(p for p in validate_dir(make_data(drop_name)) if p.rule == "schema")
    assert (p.entry, p.field, p.got) == ("tech-a", "name", "nothing")
    assert "required" in p.expected


def test_unknown_field_is_rejected(make_data) -> None:
    p = next(p for p in validate_dir(make_data(_set(A, colour="green"))) if p.rule == "schema")
    assert p.field == "colour" and "'green'" in p.got


@pytest.mark.parametrize(
    ("mutate", "rule", "field"),
    [
        (lambda d: d["techniques"][A].pop("kind"), "kind-vocabulary", "kind"),
        (_app(A, architectures=[]), "architecture-vocabulary", "applicability.architectures"),
        (lambda d: d["techniques"][A]["applicability"].pop("architectures"), "architecture-vocabulary", None),
        (_ev(A, hardware_class=None), "hardware-class-vocabulary", "evidence[0].hardware_class"),
        (_ev(A, basis=None), "basis-vocabulary", "evidence[0].basis"),
        (lambda d: d["techniques"][A].pop("parent"), "schema", "parent"),
        (_app(A, architectures=["any", "convolutional"]), "architectures-note", "applicability.architectures"),
        (_set(A, parent="tech-a"), "relation-self", "parent"),
    ],
    ids=[
        "kind-missing",
        "architectures-empty",
        "architectures-missing",
        "hardware-class-missing",
        "basis-missing",
        "parent-missing",
        "any-not-alone",
        "parent-self",
    ],
)
def test_classification_fields_present(mutate: Mutation, rule: str, field: str | None, make_data) -> None:
    problems = validate_dir(make_data(mutate))
    assert [p.rule for p in problems] == [rule], [str(p) for p in problems]
    assert problems[0].field == (field or "applicability.architectures")


def test_valid_architectures_with_note_and_parent_pass(make_data) -> None:
    def m(d: dict[str, Any]) -> None:
        _app(A, architectures=["generative-decoder"], architectures_note="Needs a KV cache.")(d)
        d["techniques"][B]["parent"] = "tech-a"
        d["techniques"][A]["kind"] = "runtime"

    assert validate_dir(make_data(m)) == []


def test_parent_cycle_is_reported_once(make_data) -> None:
    hits = [p for p in validate_dir(make_data(_parent_cycle)) if p.rule == "parent-cycle"]
    assert len(hits) == 1 and hits[0].got == "tech-a -> tech-b -> tech-c -> tech-a"


def test_schema_error_stays_in_its_own_file(make_data) -> None:
    """A broken entry is still a known technique and still cites its references: no errors elsewhere."""

    def m(d: dict[str, Any]) -> None:
        _orphan(d)  # a reference only tech-b cites
        d["techniques"][B]["references"] = ["alpha2020one", "gamma2022three"]
        del d["techniques"][B]["name"]
        d["techniques"][C]["parent"] = "tech-b"

    problems = validate_dir(make_data(m))
    assert [(p.entry, p.field, p.rule) for p in problems] == [("tech-b", "name", "schema")], [str(p) for p in problems]


def test_broken_entry_still_has_its_relations_and_references_checked(make_data) -> None:
    def m(d: dict[str, Any]) -> None:
        b = d["techniques"][B]
        del b["name"]
        b["references"] = ["alpha2020one", "nobody1999none"]
        b["relations"] = [
            {"type": "complements", "target": "no-such-technique"},
            {"type": "requires", "target": "tech-b"},
        ]
        b["parent"] = "nowhere"

    found = {(p.field, p.rule) for p in validate_dir(make_data(m)) if p.entry == "tech-b"}
    assert found == {
        ("name", "schema"),
        ("references[1]", "reference-exists"),
        ("relations[0].target", "relation-target-exists"),
        ("relations[1].target", "relation-self"),
        ("parent", "parent-exists"),
    }


def test_every_rule_is_one_function() -> None:
    """The rule table, RULES and the checks agree: one ``_rule_*`` function per cross-entry rule."""
    import advisor.catalog.validate as V

    functions = {f.__name__.removeprefix("_rule_").replace("_", "-") for f in V._CHECKS}
    loading = {
        "file-syntax",
        "schema",
        "unit-vocabulary",
        "kind-vocabulary",
        "architecture-vocabulary",
        "hardware-class-vocabulary",
        "basis-vocabulary",
    }
    assert functions | loading == set(RULES)
    for rule in RULES:
        assert f"\n{rule} " in V.__doc__, f"{rule} missing from the rule table in the module docstring"


def test_rule_table_in_curation_doc_matches() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "curation.md").read_text()
    for rule in RULES:
        assert f"| `{rule}` |" in doc, f"{rule} missing from the rule table in docs/curation.md"


def test_documentation_reference_with_vendor_figure_passes(make_data) -> None:
    """Official documentation without DOI or arXiv id is valid when it says where, when and whose."""
    assert validate_dir(make_data(_doc_ref())) == []
    assert validate_dir(make_data(_doc_ref(type="software", genre="readme"))) == []


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"URL": "docs.example.org/x"}, "URL", "documentation-reference"),
        ({"URL": None}, "URL", "documentation-reference"),
        ({"accessed": {"date-parts": [[2026]]}}, "accessed", "documentation-reference"),
        ({"publisher": None}, "publisher", "documentation-reference"),
        ({"genre": "forum-post"}, "genre", "documentation-reference"),
        ({"genre": None}, "genre", "documentation-reference"),
        ({"type": "article-journal"}, "DOI", "reference-identifier"),
        ({"type": "paper-conference"}, "DOI", "reference-identifier"),
    ],
    ids=[
        "url-not-http",
        "url-missing",
        "accessed-year-only",
        "publisher-missing",
        "genre-other",
        "genre-missing",
        "paper-without-doi",
        "proceedings-without-doi",
    ],
)
def test_documentation_reference_rules(fields: dict[str, Any], field: str, rule: str, make_data) -> None:
    problems = validate_dir(make_data(_doc_ref(**fields)))
    assert [(p.entry, p.field, p.rule) for p in problems] == [("vendor2024docs", field, rule)], [
        str(p) for p in problems
    ]


def test_container_title_stands_for_publisher(make_data) -> None:
    assert validate_dir(make_data(_doc_ref(publisher=None, **{"container-title": "Example docs"}))) == []


def test_vendor_figure_note_is_needed_only_for_documentation(make_data) -> None:
    missing = [p for p in validate_dir(make_data(_doc_ev(note=None))) if p.rule == "vendor-figure-note"]
    assert len(missing) == 1 and missing[0].got == "None"
    assert validate_dir(make_data(_doc_ev(note="Vendor figure: measured by the project on its own hardware."))) == []
    assert validate_dir(make_data(_ev(A, note="from the paper"))) == []  # a paper's figure needs no such note
