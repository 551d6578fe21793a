"""The bigger model as an arm: "tune a small model, or prompt a big one?"

``graft advise --measure --examples F --compare URL --compare-model NAME [--compare-price IN,OUT]``
adds arms that prompt a model behind any OpenAI-compatible endpoint — a larger vLLM the team
runs, or a hosted API — on exactly the held-out examples, prompts and scorer of the local arms:
zero-shot, few-shot (the same demonstrations) and, when documents are given, with the same
retrieved sources. LoRA Land (Zhao et al. 2024) found tuned 7B adapters beating prompted GPT-4 on
most narrow tasks and losing on broad knowledge, some reasoning and general code: which side a
task falls on is measured here, with each arm's latency and, from the tokens the endpoint counts
and the prices given (per million input and output tokens), its cost per 1,000 queries.

An endpoint's answers are generated text. For label tasks the local arms choose a label by its
likelihood; here the answer is mapped to the label it names (the caveat is said in the verdict's
"what would change it").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graftlm.advisor.arms import ArmRun
from graftlm.core import endpoint
from graftlm.core.errors import InputError

Progress = Callable[[str, str], None]


@dataclass
class Compare:
    """A model to compare with, at ``url`` (an OpenAI-compatible ``/v1`` base URL).

    Attributes:
        price_in: price per million prompt tokens, if given.
        price_out: price per million completion tokens, if given.
    """

    url: str
    model: str
    price_in: float | None = None
    price_out: float | None = None
    api_key: str = "none"
    timeout: float = 120.0

    @classmethod
    def from_options(cls, url: str | None, model: str | None, price: str | None
                     ) -> Compare | None:
        """The comparison the options name, or ``None``; clear errors for half of one."""
        if not url and not model:
            if price:
                raise InputError("--compare-price goes with --compare URL --compare-model NAME.")
            return None
        if not (url and model):
            raise InputError("a comparison needs both --compare URL and --compare-model NAME.")
        price_in = price_out = None
        if price:
            try:
                price_in, price_out = (float(x) for x in price.split(","))
            except ValueError:
                raise InputError(f"--compare-price {price!r}: give the prices per million "
                                 "input and output tokens as IN,OUT, e.g. 2.5,10") from None
            if price_in < 0 or price_out < 0:
                raise InputError(f"--compare-price {price!r}: prices cannot be negative.")
        return cls(url, model, price_in, price_out)

    def ask(self, client, messages: list[dict], max_tokens: int) -> tuple[str, int, int]:
        """One greedy answer and the tokens the endpoint counted (prompt, completion)."""
        reply = endpoint.chat(client, "the model to compare with", "--compare",
                              model=self.model, messages=messages, max_tokens=max_tokens,
                              temperature=0)
        usage = reply.usage
        return ((reply.choices[0].message.content or "").strip(),
                usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)

    def cost_per_1k(self, prompt_tokens: float, completion_tokens: float) -> float | None:
        """Cost of 1,000 queries at these mean token counts, or ``None`` without prices."""
        if self.price_in is None or self.price_out is None:
            return None
        return 1000 * (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1e6


ARM_TITLES = {"big_zero_shot": "zero-shot", "big_few_shot": "few-shot",
              "big_rag": "with sources"}
STRATEGY = {"big_zero_shot": "prompting", "big_few_shot": "few_shot", "big_rag": "rag"}


def measure_compared(compare: Compare, prompts: dict[str, Sequence], scorer, max_tokens: int,
                     progress: Progress) -> list[ArmRun]:
    """Score the compared model on each arm's prompts (``big_zero_shot``, ``big_few_shot``,
    ``big_rag``: lists of examples, the same as the local arms'), with the local scorer."""
    client = endpoint.client(compare.url, compare.api_key, compare.timeout)
    runs = []
    for arm_id, examples in prompts.items():
        run = ArmRun(arm_id, STRATEGY[arm_id], f"prompted {compare.model} "
                     f"({ARM_TITLES[arm_id]})")
        progress(arm_id, f"asking {compare.model} {len(examples)} held-out questions")
        started = time.perf_counter()
        answers, tokens_in, tokens_out = [], 0, 0
        for ex in examples:
            text, t_in, t_out = compare.ask(client, ex.prompt_messages(), max_tokens)
            answers.append(text)
            tokens_in += t_in
            tokens_out += t_out
        elapsed = time.perf_counter() - started
        rows = [scorer.score(a, ex.answers, label_named(a, scorer.labels) if scorer.labels
                             else None) for a, ex in zip(answers, examples, strict=True)]
        n = len(examples)
        run.scores = [r[scorer.primary] for r in rows]
        run.metrics = {m: round(sum(r[m] for r in rows) / n, 4) for m in scorer.metrics}
        run.status, run.seconds_per_query = "measured", elapsed / max(1, n)
        run.tokens_per_query = (round(tokens_in / n, 1), round(tokens_out / n, 1))
        run.cost_per_1k = compare.cost_per_1k(tokens_in / n, tokens_out / n)
        run.samples = [{"input": ex.question[-300:], "target": ex.target, "answer": a}
                       for ex, a in list(zip(examples, answers, strict=True))[:3]]
        progress(arm_id, f"{scorer.primary} {sum(run.scores) / n:.3f}")
        runs.append(run)
    return runs


def label_named(answer: str, labels: Sequence[str]) -> str | None:
    """The label a generated answer names: the one it equals (ignoring case and punctuation
    at the ends), else the longest one it contains as a word, else ``None``."""
    said = answer.strip().strip(".!\"'` ").lower()
    for label in labels:
        if said == label.lower():
            return label
    inside = [label for label in labels
              if re.search(rf"(?<!\w){re.escape(label.lower())}(?!\w)", said)]
    return max(inside, key=len) if inside else None
