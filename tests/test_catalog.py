"""The Catalog API: get, filter, search, to_frame, graph, gaps."""

from __future__ import annotations

import pandas as pd
import pytest

from advisor import CatalogError, DataValidationError, UnknownTechniqueError, load_catalog
from advisor.catalog.gaps import coverage_gaps
from advisor.catalog.graph import neighbourhood, relation_graph
from tests.test_validate_rules import _set


@pytest.fixture
def cat(make_data):
    return load_catalog(make_data())


def test_get_and_unknown_id_suggests(cat) -> None:
    assert cat.get("tech-a").name == "Tech A"
    with pytest.raises(UnknownTechniqueError) as exc:
        cat.get("tech-x")
    assert "tech-a" in str(exc.value) and "green-advisor techniques" in str(exc.value)
    assert isinstance(exc.value, KeyError)


def test_filter_by_axes(cat) -> None:
    assert cat.filter(category="efficient-inference").ids == ["tech-a", "tech-b"]
    assert cat.filter(category="none").ids == ["tech-c"]
    assert cat.filter(level="arithmetic").ids == ["tech-c"]
    assert cat.filter(stage="training").ids == []
    assert cat.filter(hardware="gpu").ids == []  # entries are cpu-only
    assert cat.filter(family="cnn").ids == ["tech-a", "tech-b", "tech-c"]  # 'any' matches
    assert cat.filter(has_evidence=False).ids == ["tech-c"]
    assert cat.filter(survey_node="xu2021:quantization").ids == ["tech-a", "tech-b", "tech-c"]


def test_filter_by_kind_architecture_and_hardware_class(make_data) -> None:
    def m(d) -> None:
        a = d["techniques"]["efficient-inference/tech-a"]
        a["kind"] = "runtime"
        a["applicability"].update(architectures=["generative-decoder"], architectures_note="Needs a KV cache.")
        d["techniques"]["efficient-inference/tech-b"]["evidence"][0]["hardware_class"] = "mobile-edge"

    cat = load_catalog(make_data(m))
    assert cat.filter(kind="runtime").ids == ["tech-a"]
    assert cat.filter(kind=["model", "practice"]).ids == ["tech-b", "tech-c"]
    assert cat.filter(architecture="generative-decoder").ids == ["tech-a", "tech-b", "tech-c"]  # 'any' matches
    assert cat.filter(architecture="convolutional").ids == ["tech-b", "tech-c"]
    assert cat.filter(hardware_class="mobile-edge").ids == ["tech-b"]
    assert cat.filter(hardware_class="server-cpu", kind="runtime").ids == ["tech-a"]
    df = cat.to_frame()
    assert df.loc["tech-a", "kind"] == "runtime" and df.loc["tech-a", "architectures"] == ["generative-decoder"]
    assert df.loc["tech-b", "hardware_classes"] == ["mobile-edge"] and df.loc["tech-c", "hardware_classes"] == []
    with pytest.raises(CatalogError, match="architecture"):
        cat.filter(architecture="transformer")


def test_filter_rejects_unknown_terms(cat) -> None:
    with pytest.raises(CatalogError, match="unknown value"):
        cat.filter(stage="inference")


def test_search_ranks_name_matches_first(cat) -> None:
    assert [t.id for t in cat.search("tech-c")] == ["tech-c"]
    assert cat.search("tech a")[0].id == "tech-a"
    assert len(cat.search("test technique")) == 3
    assert cat.search("nonexistentword") == []


def test_to_frame_one_row_per_technique(cat) -> None:
    df = cat.to_frame()
    assert list(df["id"]) == ["tech-a", "tech-b", "tech-c"]
    assert df.loc["tech-a", "n_evidence"] == 1
    assert pd.isna(df.loc["tech-c", "category"])


def test_graph_has_taxonomy_and_typed_relations(cat) -> None:
    g = cat.graph()
    assert g.nodes["tech-a"]["kind"] == "technique"
    assert g.nodes["stage:deployment"]["kind"] == "stage"
    types = {d["type"] for _, _, d in g.out_edges("tech-a", data=True)}
    assert {"requires", "in-category", "in-stage", "at-level", "discussed-in"} <= types
    rg = relation_graph(g)
    assert set(rg.nodes) == {"tech-a", "tech-b", "tech-c"}
    assert ("alternative-to", "in", "tech-c") in neighbourhood(g, "tech-a")


def test_gaps_counts_and_thinnest(cat) -> None:
    gaps = coverage_gaps(cat)
    assert gaps.stage_by_level.loc["deployment", "model"] == 2
    assert gaps.stage_by_level.loc["deployment", "arithmetic"] == 1
    assert gaps.thinnest[0][3] == 0
    assert "xu2021:pruning" in gaps.empty_survey_nodes
    assert "xu2021:quantization" not in gaps.empty_survey_nodes
    assert "xu2021:efficient-inference" not in gaps.empty_survey_nodes  # covered by its child


def test_strict_load_raises_with_problems(make_data) -> None:
    root = make_data(_set("other/tech-c", references=["nobody1999none"]))
    with pytest.raises(DataValidationError) as exc:
        load_catalog(root)
    assert exc.value.problems[0].rule == "reference-exists"
    assert "green-advisor validate" in str(exc.value)
    lenient = load_catalog(root, strict=False)
    assert len(lenient) == 3 and lenient.problems


def test_not_a_data_dir(tmp_path) -> None:
    with pytest.raises(CatalogError, match="not a technique data directory"):
        load_catalog(tmp_path)


def test_browse_by_survey_tree_and_crosswalk(cat) -> None:
    from advisor.catalog.surveys import crosswalk, node_techniques, survey_tree_frame, survey_tree_text

    assert node_techniques(cat, "xu2021:efficient-inference") == ["tech-a", "tech-b", "tech-c"]
    assert node_techniques(cat, "xu2021:efficient-inference", descendants=False) == []
    frame = survey_tree_frame(cat, "xu2021")
    row = frame.set_index("node").loc["xu2021:quantization"]
    assert (row["depth"], row["n_here"], row["n_total"]) == (1, 3, 3)
    assert "[xu2021:quantization]: 3" in survey_tree_text(cat, "xu2021")
    table = crosswalk(cat, "xu2021", "mehlin2023")
    assert table.values.sum() == 0  # the fixture maps nothing to Mehlin
    with pytest.raises(CatalogError, match="unknown survey"):
        node_techniques(cat, "nobody:x")


def test_shipped_crosswalk_is_populated() -> None:
    from advisor.catalog.surveys import crosswalk

    real = load_catalog()
    table = crosswalk(real, "mehlin2023", "xu2021")
    assert table.loc["mehlin2023:deployment", "xu2021:efficient-inference"] > 10


def test_filter_takes_a_query_object_and_keywords_replace_its_fields(cat) -> None:
    from advisor.catalog import CatalogQuery

    q = CatalogQuery(category="efficient-inference", family="cnn")
    assert cat.filter(q).ids == ["tech-a", "tech-b"] == cat.filter(category="efficient-inference", family="cnn").ids
    assert cat.filter(q, category="none").ids == ["tech-c"]  # the keyword wins over the query's field
    assert q.category == "efficient-inference"  # frozen: the query is not changed
    with pytest.raises(CatalogError, match=r"unknown criterion 'stages' \(did you mean stage\?\)"):
        cat.filter(stages="training")
