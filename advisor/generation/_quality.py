"""Quality of a generation variant against the baseline.

- Greedy-output agreement: the share of generated token positions where the variant's greedy output
  equals the baseline's (same prompts, same length). 1.0 for speculative decoding by construction
  (greedy verification keeps the target model's tokens); measured anyway.
- Real weights: perplexity on a short public-domain text shipped with the project
  (``data/text/generation_eval.txt``) and its ratio to the baseline's.
- Random weights: perplexity and agreement mean nothing, so only logit fidelity is reported (cosine
  similarity, relative max difference and top-1 agreement of the logits on the same prompts), and
  the result says that speed-only effects are what was measured.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["eval_text", "greedy_agreement", "logit_fidelity", "perplexity", "prompts_from_text"]

RANDOM_WEIGHTS_NOTE = (
    "random weights: only logit fidelity was measured; quality effects on a real model are not "
    "known from this run, speed and energy effects are what it measured"
)


def _text_path() -> Path:
    from advisor.catalog import default_data_dir

    return Path(default_data_dir()) / "text" / "generation_eval.txt"


def eval_text() -> str:
    """The shipped evaluation text (four public-domain paragraphs)."""
    return _text_path().read_text(encoding="utf-8")


def prompts_from_text(n: int = 4) -> list[str]:
    """The first sentence of each paragraph of the shipped text (cycled to ``n``)."""
    paras = [p.strip() for p in eval_text().split("\n\n") if p.strip()]
    firsts = [p.split(". ")[0].split(", ")[0] for p in paras]
    return [firsts[i % len(firsts)] for i in range(n)]


def greedy_agreement(base_new: Any, var_new: Any) -> float:
    """Share of identical tokens between two generated-token tensors (batch x new tokens)."""
    n = min(base_new.shape[-1], var_new.shape[-1])
    if n == 0:
        return math.nan
    return float((base_new[..., :n] == var_new[..., :n]).float().mean())


def _logits(model: Any, input_ids: Any, attention_mask: Any | None = None) -> Any:
    import torch

    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask)
    return out.logits.float()


def perplexity(model: Any, tokenizer: Any, text: str | None = None, max_tokens: int = 256) -> float:
    """Perplexity of ``model`` on ``text`` (default: the shipped text), first ``max_tokens`` tokens."""
    import torch

    ids = tokenizer(text or eval_text(), return_tensors="pt").input_ids[:, :max_tokens]
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    ids = ids.to(dev)
    logits = _logits(model, ids)
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:])
    return float(torch.exp(loss))


def logit_fidelity(base: Any, variant: Any, input_ids: Any, attention_mask: Any | None = None) -> dict[str, float]:
    """Logits of the variant vs the baseline on the same inputs (prompt positions).

    Returns:
        ``logit_cosine`` (mean over positions), ``logit_max_rel_diff`` (max |diff| / max |baseline|),
        ``logit_top1_agreement`` (share of positions whose arg-max agrees).
    """
    import torch

    a = _logits(base, input_ids, attention_mask)
    b = _logits(variant, input_ids, attention_mask)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).mean()
    rel = (a - b).abs().max() / a.abs().max().clamp_min(1e-12)
    top1 = (a.argmax(-1) == b.argmax(-1)).float().mean()
    return {
        "logit_cosine": round(float(cos), 6),
        "logit_max_rel_diff": round(float(rel), 6),
        "logit_top1_agreement": round(float(top1), 4),
    }
