"""Generation-based evaluation: what the model *answers*, not only its loss.

Generation is greedy and batched with left padding; label tasks also get a choice-scored
answer (:mod:`tuning.choice`); :func:`evaluate_answers` scores both with :mod:`tuning.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graftlm.core.padding import left_pad, pad_id
from graftlm.tuning.choice import choose
from graftlm.tuning.data import Example, prompt_ids
from graftlm.tuning.metrics import Scorer, mean


def generate_answers(model, tokenizer, examples: Sequence[Example], *, max_new_tokens: int,
                     batch_size: int = 16) -> list[str]:
    """Greedy answers of ``model`` to each example's prompt."""
    import torch

    device = next(model.parameters()).device
    pad = pad_id(tokenizer)
    answers: list[str] = []
    was_training = model.training
    model.eval()
    for start in range(0, len(examples), batch_size):
        ids, mask = left_pad([prompt_ids(ex, tokenizer)
                              for ex in examples[start:start + batch_size]], pad)
        width = ids.shape[1]
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=pad)
        for row in out[:, width:]:
            answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    model.train(was_training)
    return answers


def answer_budget(tokenizer, targets: Sequence[str]) -> int:
    """New tokens to generate: a little more than the longest target."""
    longest = max((len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in targets),
                  default=16)
    return min(512, longest + 8)


@dataclass
class Evaluation:
    """What a model answered on a set of examples, and each answer's scores."""

    scorer: Scorer
    answers: list[str]
    choices: list[str | None]
    scores: list[dict[str, float]]  # per example: metric name -> value

    def primary(self) -> list[float]:
        """Per-example values of the primary metric (the one intervals and verdicts use)."""
        return [s[self.scorer.primary] for s in self.scores]

    def means(self) -> dict[str, float]:
        """Every metric's mean; the judge's over the answers it graded."""
        out = {name: round(mean([s[name] for s in self.scores]), 4)
               for name in self.scorer.metrics}
        graded = [s["judge"] for s in self.scores if s.get("judge") is not None]
        if graded:
            out["judge"] = round(mean(graded), 4)
        return out


@dataclass(frozen=True)
class Scoring:
    """How models are scored on a task: its scorer (labels from every target the data has),
    the answer budget and, optionally, a judge. ``graft eval run``, ``graft eval adapter``,
    training's held-out evaluations and measured advice's arms each build one and call
    :meth:`answers`, so every figure of a model on examples comes from one path."""

    scorer: Scorer
    budget: int
    judge: object | None = None

    @classmethod
    def of(cls, tokenizer, scored: Sequence[Example], *, labels_from: Sequence[Example] = (),
           judge=None) -> "Scoring":
        """Scoring for the examples ``scored``; a label task's labels come from those and
        ``labels_from`` (the rest of the data: the labels of a label task are every target it
        has, not only the scored ones)."""
        targets = [ex.target for ex in (*scored, *labels_from)]
        return cls(Scorer.for_targets(targets),
                   answer_budget(tokenizer, [ex.target for ex in scored]), judge)

    def answers(self, model, tokenizer, examples: Sequence[Example]) -> Evaluation:
        """``model``'s answers to ``examples``, scored."""
        return evaluate_answers(model, tokenizer, examples, self.scorer,
                                max_new_tokens=self.budget, judge=self.judge)


def evaluate_answers(model, tokenizer, examples: Sequence[Example], scorer: Scorer, *,
                     max_new_tokens: int, judge=None) -> Evaluation:
    """Generate an answer to every example (and, for label tasks, choose a label), then score
    both against each example's reference answers; with a ``judge``
    (:class:`tuning.judge.Judge`), its grade too."""
    answers = generate_answers(model, tokenizer, examples, max_new_tokens=max_new_tokens)
    choices: list[str | None] = [None] * len(examples)
    if scorer.kind == "label":
        choices = choose(model, tokenizer, [prompt_ids(ex, tokenizer) for ex in examples],
                         scorer.labels)
    scores = [scorer.score(a, ex.answers, c) for a, ex, c in zip(answers, examples, choices)]
    if judge is not None:
        for row, answer, ex in zip(scores, answers, examples):
            row["judge"] = judge.grade(ex.question, ex.answers, answer)
    return Evaluation(scorer, answers, choices, scores)
