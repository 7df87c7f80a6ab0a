"""The one variant-id grammar (advisor.VariantId): parsing, printing, bad ids, and the modules that use it agree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import advisor
from advisor import CatalogError, VariantId, VariantIdError
from advisor.catalog import load_catalog
from advisor.catalog.variant_id import VariantPart
from advisor.cli import main

ROOT = Path(advisor.__file__).parent
MODEL = f"{Path(__file__).parent / 'fixtures' / 'user_model.py'}:make"

PRUNE, PTQ, ORT = "structured-filter-pruning", "post-training-static-quantization", "onnx-runtime-inference"
IS = "ignore-sensitive"


@pytest.mark.parametrize(
    ("text", "techniques", "settings", "setting", "is_stack", "base"),
    [
        ("torch-compile", ("torch-compile",), (None,), None, False, "torch-compile"),
        ("openvino-runtime@fp32", ("openvino-runtime",), ("fp32",), "fp32", False, "openvino-runtime"),
        (f"{PRUNE}+{PTQ}", (PRUNE, PTQ), (None, None), None, True, f"{PRUNE}+{PTQ}"),
        (f"{PRUNE}+{PTQ}@{IS}", (PRUNE, PTQ), (None, IS), IS, True, f"{PRUNE}+{PTQ}"),
        (
            "bfloat16@weights+torch-compile",
            ("bfloat16", "torch-compile"),
            ("weights", None),
            None,
            True,
            "bfloat16+torch-compile",
        ),
        # an applier's own suffix is a setting written with '+', not a second technique
        (f"{ORT}+int8", (ORT,), ("int8",), "int8", False, ORT),
        (f"{PRUNE}+{ORT}+static-int8", (PRUNE, ORT), (None, "static-int8"), "static-int8", True, f"{PRUNE}+{ORT}"),
    ],
)
def test_the_grammar(
    text: str,
    techniques: tuple[str, ...],
    settings: tuple[str | None, ...],
    setting: str | None,
    is_stack: bool,
    base: str,
) -> None:
    v = VariantId.parse(text)
    assert (v.techniques, v.settings, v.setting, v.is_stack, v.base) == (techniques, settings, setting, is_stack, base)
    assert str(v) == text and VariantId.parse(str(v)) == v and VariantId.parse(v) is v
    assert hash(v) == hash(VariantId.parse(text))


def test_spaces_around_parts_are_dropped_and_a_suffix_after_a_setting_is_a_technique() -> None:
    assert str(VariantId.parse(" torch-compile + bfloat16@weights ")) == "torch-compile+bfloat16@weights"
    v = VariantId.parse("openvino-runtime@fp32+int8")
    assert v.parts == (VariantPart("openvino-runtime", "fp32"), VariantPart("int8")) and v.is_stack


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("a++b", "empty part"),
        ("+a", "empty part"),
        ("a+", "empty part"),
        ("a@x@y", "two '@'"),
        ("a+b@x@y", "two '@'"),
        ("@x", "no technique before '@'"),
        ("a@", "empty setting"),
        ("torch compile", "contains a space"),
        (None, "is empty"),
    ],
)
def test_a_malformed_id_is_one_clear_error(text: str | None, words: str) -> None:
    with pytest.raises(VariantIdError) as err:
        VariantId.parse(text)  # type: ignore[arg-type]
    message = str(err.value)
    assert words in message and repr(text) in message and "technique[@setting]" in message
    assert "\n" not in message
    assert isinstance(err.value, CatalogError) and isinstance(err.value, ValueError)


def test_every_registered_applier_and_catalog_id_parses_and_prints_back() -> None:
    from advisor.measurement.appliers import REGISTRY
    from advisor.measurement.appliers.training import TRAINING_REGISTRY

    for vid in [*REGISTRY, *TRAINING_REGISTRY]:
        assert str(VariantId.parse(vid)) == vid
    for t in load_catalog():
        v = VariantId.parse(t.id)
        assert v.techniques == (t.id,) and v.setting is None and not v.is_stack


def test_the_modules_that_read_ids_agree() -> None:
    from advisor.measurement.appliers import split_variant
    from advisor.recommendation import base_technique, measurable_ids

    assert base_technique("openvino-runtime@fp32") == "openvino-runtime"
    assert base_technique("onnx-runtime-inference+int8") == "onnx-runtime-inference"
    assert base_technique("bfloat16@weights+torch-compile") == "bfloat16+torch-compile"
    ids = ["openvino-runtime@fp32", f"{ORT}+int8", "bfloat16@weights+torch-compile"]
    assert measurable_ids(ids) == {"openvino-runtime", ORT}
    assert split_variant(f"{PRUNE}+onnx-runtime-inference+int8") == [PRUNE, "onnx-runtime-inference+int8"]
    assert split_variant("bfloat16@weights+torch-compile") == ["bfloat16@weights", "torch-compile"]
    with pytest.raises(VariantIdError):
        split_variant("torch-compile++bfloat16")


def test_a_malformed_id_on_the_command_line_is_exit_2_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["measure", "--model", MODEL, "--techniques", "openvino-runtime@fp32@x", "--budget-s", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "two '@'" in err and "Traceback" not in err


# Modules that still take ids apart themselves (issue #23: each moves to VariantId; none may be added).
REMAINING: dict[str, str] = {
    "generation/_techniques.py": "helper C (generation)",
    "tuning/_generation.py": "helper C (generation)",
}


def _splits_an_id(node: ast.AST) -> bool:
    """``x.split("@"...)``, ``x.partition("@")``, ``x.split("+")``: a hand-written variant-id parser."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("split", "partition", "rpartition", "rsplit")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in ("@", "+")
    )


def test_variant_ids_are_parsed_in_one_place() -> None:
    found = set()
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel == "catalog/variant_id.py":
            continue
        if any(_splits_an_id(n) for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))):
            found.add(rel)
    new = sorted(found - set(REMAINING))
    assert not new, "parse variant ids with advisor.VariantId.parse, not by hand:\n" + "\n".join(new)


def test_a_knowledge_file_with_a_malformed_variant_id_is_refused_at_import(tmp_path: Path) -> None:
    import json

    from advisor import KnowledgeError
    from advisor.measurement.store import ResultStore
    from advisor.tuning import import_knowledge

    entry = {
        "technique": "openvino-runtime@fp32@x",
        "latency_ratio": 0.5,
        "verdict": "faster",
        "run_id": "r",
        "measured_at": "2026-01-01",
        "model_name": "m",
        "fingerprint": "f",
    }
    path = tmp_path / "k.json"
    path.write_text(
        json.dumps({"format": "green-advisor-knowledge", "schema_version": 1, "exported_at": "x", "entries": [entry]})
    )
    with pytest.raises(KnowledgeError) as err:
        import_knowledge(ResultStore(tmp_path / "s.sqlite"), path)
    assert "entry 0" in str(err.value) and "'technique'" in str(err.value) and "two '@'" in str(err.value)
    assert "Value error" not in str(err.value)
