"""The literature explorer widget, driven in plain pytest by setting values and clicking buttons."""

from __future__ import annotations

import re
import subprocess
import sys
from html import escape
from typing import Any

import matplotlib
import pytest

matplotlib.use("Agg")

pytest.importorskip("ipywidgets")

from advisor import CatalogError, load_catalog
from advisor.catalog import schema as S
from advisor.catalog.gaps import coverage_gaps
from advisor.catalog.surveys import node_techniques, survey_tree_frame
from advisor.recommendation.estimate import evidence_ratio
from advisor.ui.explorer import TAB_TITLES, Explorer, explorer

ROW_ID = re.compile(r'<tr data-id="([^"]+)"')


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.fixture
def ex(cat) -> Explorer:
    return Explorer(cat)


def table_ids(ex: Explorer) -> list[str]:
    return ROW_ID.findall(ex.table.value)


def svg_of(image: Any) -> str:
    return bytes(image.value).decode()


def check_consistent(ex: Explorer, expected: set[str], total: int) -> None:
    """Count, table, id list and current_ids all show exactly ``expected``."""
    assert set(ex.current_ids) == expected
    assert len(ex.current_ids) == len(expected)
    assert ex.count.value == f"{len(expected)} of {total} techniques"
    assert table_ids(ex) == ex.current_ids
    assert [v for _, v in ex.select.options] == ex.current_ids


def test_starts_with_the_whole_catalog(ex, cat):
    check_consistent(ex, set(cat.ids), len(cat))
    assert ex.tabs.titles == TAB_TITLES
    assert ex.select.value is None
    assert ex.graph_image.layout.display == "none"


@pytest.mark.parametrize(
    "filters",
    [
        {"category": ("efficient-inference",)},
        {"category": ("none",)},
        {"stage": ("deployment", "training"), "level": ("arithmetic",)},
        {"level": ("none",), "phase": ("training",)},
        {"hardware": ("cpu",), "family": ("transformer",)},
        {"hardware": ("edge", "fpga"), "has_evidence": True},
        {"stage": ("data",), "family": ("cnn",), "phase": ("training",)},
        {"kind": ("runtime",)},
        {"kind": ("model", "training"), "architecture": ("generative-decoder",)},
        {"architecture": ("vision-transformer",), "phase": ("inference",)},
        {"hardware_class": ("server-cpu", "desktop-cpu")},
        {"kind": ("model",), "hardware_class": ("mobile-edge",), "has_evidence": True},
    ],
)
def test_filters_agree_with_catalog_filter(ex, cat, filters):
    expected = set(cat.filter(**{k: list(v) if isinstance(v, tuple) else v for k, v in filters.items()}).ids)
    assert 0 < len(expected) < len(cat), "pick filters that narrow the catalog without emptying it"
    for axis, value in filters.items():
        if axis == "has_evidence":
            ex.evidence_only.value = value
        else:
            getattr(ex, axis).value = value
    check_consistent(ex, expected, len(cat))


def test_kind_architecture_and_hardware_class_filters_select_by_their_fields(ex, cat):
    ex.kind.value = ("runtime",)
    assert ex.current_ids and all(cat.get(i).kind == "runtime" for i in ex.current_ids)
    ex.kind.value = ()
    ex.architecture.value = ("vision-transformer",)
    archs = [set(cat.get(i).applicability.architectures) for i in ex.current_ids]
    assert all(a & {"vision-transformer", "any"} for a in archs)
    assert any("vision-transformer" in a for a in archs), "token merging and ViT designs must be found"
    assert "kv-cache" not in ex.current_ids  # needs a generative decoder
    ex.architecture.value = ()
    ex.hardware_class.value = ("mobile-edge",)
    assert ex.current_ids
    for i in ex.current_ids:
        assert "mobile-edge" in {ev.hardware_class for ev in cat.get(i).evidence}
    assert ex.hardware_class.options[0][0] == "Datacenter GPU"  # labels from vocab.yaml
    ex.clear()
    check_consistent(ex, set(cat.ids), len(cat))


def test_unknown_kind_is_a_clear_error(cat):
    with pytest.raises(CatalogError, match="kind"):
        cat.filter(kind="library")


def test_evidence_toggle_keeps_only_techniques_with_evidence(ex, cat):
    ex.evidence_only.value = True
    expected = {t.id for t in cat if t.evidence}
    assert 0 < len(expected) < len(cat)
    check_consistent(ex, expected, len(cat))
    ex.evidence_only.value = False
    check_consistent(ex, set(cat.ids), len(cat))


def test_search_narrows_and_combines_with_filters(ex, cat):
    counts = []
    for n in range(1, len("quantization") + 1):  # typed one key at a time
        ex.search.value = "quantization"[:n]
        counts.append(len(ex.current_ids))
    assert counts == sorted(counts, reverse=True)
    assert set(ex.current_ids) == {t.id for t in cat.search("quantization")}
    assert 0 < counts[-1] < len(cat)

    ex.sort_by.value = "relevance"
    assert ex.current_ids == [t.id for t in cat.search("quantization")]

    ex.stage.value = ("training",)
    expected = {t.id for t in cat.search("quantization")} & set(cat.filter(stage="training").ids)
    assert expected
    check_consistent(ex, expected, len(cat))

    ex.search.value = "zzzz-no-such-word"
    check_consistent(ex, set(), len(cat))
    assert "No technique matches" in ex.table.value


def test_sort_by_name_both_directions(ex, cat):
    names = [cat.get(i).name.lower() for i in ex.current_ids]
    assert names == sorted(names)
    ex.ascending.value = False
    assert [cat.get(i).name.lower() for i in ex.current_ids] == sorted(names, reverse=True)
    assert ex.ascending.description == "descending"
    assert table_ids(ex) == ex.current_ids


@pytest.mark.parametrize(("column", "value_of"), [("n_evidence", "evidence"), ("n_references", "references")])
def test_sort_by_counts(ex, cat, column, value_of):
    ex.sort_by.value = column
    ex.ascending.value = False
    counts = [len(getattr(cat.get(i), value_of)) for i in ex.current_ids]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]
    ex.ascending.value = True
    assert [len(getattr(cat.get(i), value_of)) for i in ex.current_ids] == sorted(counts)


def test_sort_by_category_follows_vocabulary_order_with_none_last(ex, cat):
    ex.sort_by.value = "category"
    cats = [cat.get(i).category for i in ex.current_ids]
    known = [c for c in cats if c is not None]
    assert [S.CATEGORIES.index(c) for c in known] == sorted(S.CATEGORIES.index(c) for c in known)
    assert cats[len(known) :] == [None] * (len(cats) - len(known))
    assert None in cats


def test_sort_by_best_saving(ex, cat):
    ex.sort_by.value = "saving"
    ex.ascending.value = False
    ids = ex.current_ids

    def best_factor(tid: str, scopes: tuple[str, ...] = ("end-to-end",)) -> float | None:
        ratios = [
            r
            for ev in cat.get(tid).evidence
            if ev.metric != "accuracy" and ev.scope in scopes and (r := evidence_ratio(ev)) is not None and r < 1
        ]
        return 1 / min(ratios) if ratios else None

    # the top technique has the largest end-to-end saving in the catalog
    all_factors = [f for t in cat if (f := best_factor(t.id)) is not None]
    assert best_factor(ids[0]) == pytest.approx(max(all_factors))
    # techniques with no saving figure at all (no evidence, or none convertible) come last
    without = {t.id for t in cat if best_factor(t.id, ("end-to-end", "component")) is None}
    assert {t.id for t in cat if not t.evidence} <= without
    assert set(ids[-len(without) :]) == without
    assert "–" in ex.table.value.split(f'data-id="{ids[-1]}"')[1].split("</tr>")[0]
    ex.ascending.value = True
    assert set(ex.current_ids[-len(without) :]) == without
    assert best_factor(ex.current_ids[0], ("end-to-end", "component")) <= min(all_factors)


def _technique_with_doi_and_arxiv(cat) -> Any:
    for t in cat:
        refs = [cat.references[k] for k in t.references]
        if t.evidence and t.relations and any(r.DOI for r in refs) and any(r.arxiv for r in refs):
            return t
    pytest.skip("no technique with evidence, relations, a DOI and an arXiv reference")
    return None


def test_selecting_shows_evidence_references_relations_and_graph(ex, cat):
    t = _technique_with_doi_and_arxiv(cat)
    ex.select.value = t.id
    html = ex.detail.value
    assert escape(t.name) in html
    for ev in t.evidence:
        assert escape(ev.baseline) in html
        assert escape(ev.setting) in html
        assert escape(f"{ev.reference}, {ev.locator}") in html
        assert ev.value_text in html
        assert escape(cat.vocab["units"][ev.unit]["label"]) in html
    for key in t.references:
        ref = cat.references[key]
        if ref.DOI:
            assert f'href="https://doi.org/{escape(ref.DOI)}"' in html
        if ref.arxiv:
            assert f'href="https://arxiv.org/abs/{ref.arxiv}"' in html
    for rel in t.relations:
        assert escape(cat.get(rel.target).name) in html
    assert ex.graph_image.layout.display is None
    svg = svg_of(ex.graph_image)
    assert "<svg" in svg
    assert escape(t.name, quote=False).split()[0] in svg  # the selected node is labelled
    # the selected row is highlighted in the table
    assert f'<tr data-id="{t.id}" style="background' in ex.table.value


def test_selection_follows_the_filters(ex, cat):
    t = next(t for t in cat if t.category == "efficient-training")
    ex.select.value = t.id
    assert t.name.split()[0] in ex.detail.value
    ex.category.value = ("efficient-training",)  # still matches: keeps the selection
    assert ex.select.value == t.id
    ex.category.value = ("efficient-data",)  # filtered out: selection cleared
    assert ex.select.value is None
    assert "Pick one of the" in ex.detail.value
    assert ex.graph_image.layout.display == "none"


def test_reset_clears_every_filter(ex, cat):
    ex.category.value = ("compact-networks",)
    ex.search.value = "attention"
    ex.evidence_only.value = True
    ex.filter_to_section("xu2021:compact-networks")
    assert len(ex.current_ids) < len(cat)
    ex.reset.click()
    check_consistent(ex, set(cat.ids), len(cat))
    assert ex.search.value == ""
    assert ex.category.value == ()
    assert ex.section is None


def _hostile(content: dict[str, Any]) -> None:
    a = content["techniques"]["efficient-inference/tech-a"]
    a["name"] = '<script>alert("x")</script> Evil $x$ technique'
    a["summary"] = "Sums <b>bold</b> & more."
    a["evidence"][0]["baseline"] = "<img src=x onerror=alert(1)>"
    content["references"][0]["URL"] = "javascript:alert(1)"
    content["references"][0]["title"] = "<i>One</i>"


def test_user_strings_are_escaped(make_data):
    ex = explorer(make_data(_hostile))
    assert "<script>" not in ex.table.value
    assert "&lt;script&gt;" in ex.table.value
    ex.select.value = "tech-a"
    html = ex.detail.value
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "<b>bold</b>" not in html
    assert "<i>One</i>" not in html
    assert "javascript:" not in html
    assert 'href="https://arxiv.org/abs/2001.00001"' in html
    assert "<script>" not in svg_of(ex.graph_image)  # svg text is escaped too
    ex.tabs.selected_index = 3
    assert "<script>" not in svg_of(ex.savings_image)


def test_small_catalog_and_path_argument(make_data):
    ex = explorer(str(make_data()))
    assert ex.count.value == "3 of 3 techniques"
    ex.level.value = ("arithmetic",)
    assert ex.current_ids == ["tech-c"]
    ex.select.value = "tech-c"
    assert 'href="https://doi.org/10.1000/xyz123"' in ex.detail.value
    assert "alternative to" in ex.detail.value  # its relation, with the vocabulary label
    assert "No quantitative evidence" in ex.detail.value


def test_bad_catalog_argument_names_what_was_expected():
    with pytest.raises(CatalogError, match=r"expected a Catalog .* got int"):
        explorer(42)  # type: ignore[arg-type]


def test_surveys_tab_lists_each_tree_and_filters_by_section(ex, cat):
    assert ex.surveys.nodes.options == ()  # filled only when shown
    ex.tabs.selected_index = 1
    for survey in ("xu2021", "mehlin2023", "lee2021"):
        ex.surveys.survey.value = survey
        frame = survey_tree_frame(cat, survey)
        labels = [label for label, _ in ex.surveys.nodes.options]
        assert [v for _, v in ex.surveys.nodes.options] == list(frame.node)
        for label, n_total in zip(labels, frame.n_total, strict=True):
            assert label.endswith(f"({n_total})")
    ex.surveys.survey.value = "mehlin2023"
    node = next(r.node for r in survey_tree_frame(cat, "mehlin2023").itertuples() if r.depth == 0 and r.n_total > 3)
    ex.surveys.nodes.value = node
    expected = node_techniques(cat, node)
    for tid in expected:
        assert f"<code>{escape(tid)}</code>" in ex.surveys.info.value
    ex.surveys.filter_button.click()
    assert ex.tabs.selected_index == 0
    assert ex.section == node
    check_consistent(ex, set(expected), len(cat))
    assert escape(node) in ex.node_filter.value
    ex.clear_node.click()
    check_consistent(ex, set(cat.ids), len(cat))


def test_unknown_section_is_rejected_with_examples(ex, cat):
    with pytest.raises(CatalogError, match=r"'xu2021:no-such-section'.*xu2021:"):
        ex.filter_to_section("xu2021:no-such-section")
    assert ex.section is None
    assert len(ex.current_ids) == len(cat)


def test_crosswalk_is_drawn_lazily_and_counts_match(ex, cat):
    from advisor.ui._explorer_tabs import crosswalk_table

    assert ex.crosswalk_image.value == b""
    ex.tabs.selected_index = 2
    assert "<svg" in svg_of(ex.crosswalk_image)
    assert f"{len(cat)} techniques" in ex.crosswalk_caption.value
    table, _, _ = crosswalk_table(cat, "stage-level")
    assert (table.to_numpy() == coverage_gaps(cat).stage_by_level.to_numpy()).all()
    first = svg_of(ex.crosswalk_image)
    for kind in ("category-stage", "xu-mehlin"):
        ex.crosswalk_kind.value = kind
        assert "<svg" in svg_of(ex.crosswalk_image)
        assert svg_of(ex.crosswalk_image) != first
    ex.category.value = ("efficient-data",)  # visible tab: redrawn for the filtered techniques
    n = len(cat.filter(category="efficient-data"))
    assert f"the {n} techniques" in ex.crosswalk_caption.value


def test_savings_views_group_comparable_figures(ex, cat):
    ex.category.value = ("efficient-inference",)
    ex.tabs.selected_index = 3
    ev = cat.filter(category="efficient-inference").evidence_frame()
    groups = ev.groupby(["metric", "direction", "unit"]).size()
    keys = [v for _, v in ex.savings_view.options]
    assert sorted(keys) == sorted(groups.index)
    for label, key in ex.savings_view.options:
        n = groups[key]
        assert f"({n} figure{'s' if n > 1 else ''}," in label
    assert ex.savings_view.value == keys[0]
    assert keys[0][0] in ("energy", "carbon", "latency")  # resource metrics first
    before = svg_of(ex.savings_image)
    ex.savings_view.value = keys[1]
    assert svg_of(ex.savings_image) != before
    unit = keys[1][2]
    assert escape(cat.vocab["units"][unit]["label"]) in ex.savings_caption.value


def test_displays_as_its_root_widget(ex, cat):
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert repr(ex) == f"<Explorer: {len(cat)} of {len(cat)} techniques>"


def test_explorer_does_not_import_torch():
    code = (
        "import sys, matplotlib; matplotlib.use('Agg'); from advisor.ui import explorer; ex = explorer(); "
        "ex.select.value = ex.current_ids[0]; ex.tabs.selected_index = 3; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
