"""The one model-spec contract: every form a factory may return, recognised by type, and every bad one named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advisor import ModelSpec, ProfileError, TrainingSetup, as_spec, load_spec


class _Tok:
    """Anything with encode and decode is a tokenizer (it is also callable, like Hugging Face's)."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) % 50 for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(97 + i % 26) for i in ids)

    def __call__(self, text: str) -> list[int]:
        return self.encode(text)


def test_tuple_items_are_recognised_by_type_wherever_they_stand() -> None:
    model, x, tok, fn = nn.Linear(4, 2), torch.randn(3, 4), _Tok(), (lambda m: 1.0)
    a = as_spec((model, x, fn))
    b = as_spec((model, fn, x))
    assert a.eval_fn is fn and b.eval_fn is fn and a.example_inputs is x and b.inputs == (x,)
    c = as_spec((model, tok, ["hello"]))
    assert c.tokenizer is tok and c.prompts == ["hello"] and c.eval_fn is None
    d = as_spec((model, ["hi"], tok, nn.Linear(4, 2)))
    assert d.tokenizer is tok and isinstance(d.draft_model, nn.Linear)


def test_dict_and_typed_forms_agree() -> None:
    model, x = nn.Linear(4, 2), torch.randn(3, 4)
    from_dict = as_spec({"model": model, "inputs": x, "name": "lin"})
    typed = as_spec(ModelSpec(model, x, name="lin"))
    assert (from_dict.model, from_dict.inputs, from_dict.name) == (typed.model, typed.inputs, typed.name)
    with pytest.raises(ProfileError, match=r"unknown key\(s\) 'optimiser'.*expected keys among"):
        as_spec({"model": model, "optimiser": None})


def test_a_training_setup_builds_the_model_when_none_is_given() -> None:
    setup = TrainingSetup(build_model=lambda: nn.Linear(4, 2), train_data=(torch.randn(8, 4), torch.zeros(8).long()),
                          eval_fn=lambda m: 0.5)  # fmt: skip
    spec = as_spec(setup)
    assert isinstance(spec.model, nn.Linear) and spec.training is setup


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ("model.pt", r"expected a ModelSpec, a tuple .* got a str"),
        ((nn.Linear(2, 2), 3), r"item 2 of the tuple is a int, not a model"),
        ((nn.Linear(2, 2), torch.randn(1, 2), torch.randn(1, 2)), r"item 3 .* a second example inputs"),
        ((torch.randn(1, 2),), r"expected a torch\.nn\.Module as the model, got no model"),
        ({"model": nn.Linear(2, 2), "eval_fn": 3}, r"eval_fn must be a callable .* got a int"),
        ({"model": nn.Linear(2, 2), "tokenizer": "gpt2"}, r"tokenizer must be a tokenizer .* got a str"),
    ],
)
def test_every_malformed_spec_names_what_was_expected_and_what_came(obj: object, match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        as_spec(obj, "file.py:make")


def test_a_model_without_inputs_fails_only_when_inputs_are_needed() -> None:
    spec = as_spec(nn.Linear(2, 2), "file.py:make")
    with pytest.raises(ProfileError, match=r"file\.py:make: expected example inputs .* got none"):
        _ = spec.inputs


def test_the_same_factory_serves_measure_and_generate_for_a_decoder() -> None:
    pytest.importorskip("transformers")
    spec = load_spec("advisor.generation.models:tiny_gpt2")
    assert spec.generative and spec.name == "tiny_gpt2" and spec.example_inputs is None
    (ids,) = spec.inputs  # seeded token ids from the vocabulary: a forward pass works
    assert ids.dtype == torch.long and spec.model(ids).logits.shape[:2] == ids.shape
