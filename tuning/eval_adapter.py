"""``graft eval adapter``: an adapter and its base model side by side on the same examples.

Both answer every example greedily (the adapter switched off for the base) and are scored by
the same metric, with their eval loss beside it.
"""

from __future__ import annotations

from pathlib import Path

from graftlm.core.padding import pad_id
from graftlm.core.settings import Settings
from graftlm.core.workspace import Workspace
from graftlm.tuning.adapter import open_adapter
from graftlm.tuning.data import FieldMap, Format, encode, clean_examples
from graftlm.tuning.evaluate import Scoring
from graftlm.tuning.methods import method_of
from graftlm.tuning.metrics import mean
from graftlm.tuning.loss import eval_loss


def reading(card: dict, given: dict[str, str | None]) -> FieldMap | None:
    """How to read examples for the adapter of ``card``: the fields it was trained with, with
    those ``given`` (``input``, ``target``) replacing theirs one by one — the system prompt, and
    any field not given, stay; an input field replaces a template."""
    given = {key: value for key, value in given.items() if value}
    if "input" in given:
        given["template"] = None
    mapping = {**(card.get("data", {}).get("fields") or {}), **given}
    return FieldMap(**mapping) if mapping else None


def evaluate_adapter(name: str, data: Path, settings: Settings, workspace: Workspace, *,
                     fmt: Format | None = None, fields: dict[str, str] | None = None) -> dict:
    """Base model and adapter side by side on the same examples: metric and eval loss, the
    examples read as :func:`reading` says."""
    model, tokenizer, card = open_adapter(name, settings, workspace)
    fields = reading(card, fields or {})
    examples = clean_examples(data, tokenizer, settings, fmt=fmt, fields=fields).examples
    targets = [ex.target for ex in examples]
    encoded = [encode(ex, tokenizer, settings.tuning.max_length) for ex in examples]
    pad = pad_id(tokenizer)
    scoring = Scoring.of(tokenizer, examples)
    scorer = scoring.scorer
    out = {"adapter": name, "data": str(data), "examples": len(examples)}
    with method_of(card).switched_off(model):
        base = scoring.answers(model, tokenizer, examples)
        base_loss = eval_loss(model, encoded, pad, settings.tuning.batch_size)
    tuned = scoring.answers(model, tokenizer, examples)
    tuned_loss = eval_loss(model, encoded, pad, settings.tuning.batch_size)
    out.update({"metric": scorer.primary, "base": round(mean(base.primary()), 4),
                "adapter": round(mean(tuned.primary()), 4),
                "base_metrics": base.means(), "adapter_metrics": tuned.means(),
                "base_loss": round(base_loss, 4), "adapter_loss": round(tuned_loss, 4),
                "samples": [{"line": ex.line, "target": t, "base": b, "adapter": a}
                            for ex, t, b, a in list(zip(examples, targets, base.answers,
                                                        tuned.answers))[:5]]})
    return out
