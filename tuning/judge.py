"""An optional judge: a model behind any OpenAI-compatible endpoint grades answers 1 to 5.

Off by default (``--judge URL --judge-model M``). For long free text, token overlap rewards the
reference's wording; a judge reads meaning. Its prompt is fixed here and written into the
report beside its scores, so a reader can see exactly what was asked. A grade is mapped to
0–1 (``(grade - 1) / 4``); a reply without a grade counts as missing, not as zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from graftlm.core import endpoint

PROMPT = (
    "You grade an answer to a question against a reference answer.\n"
    "Question: {question}\n"
    "Reference answer: {reference}\n"
    "Answer to grade: {answer}\n"
    "How well does the answer say what the reference says, in meaning (wording does not "
    "matter)? Reply with one digit: 1 (wrong or unrelated), 2 (mostly wrong), 3 (partly right), "
    "4 (right with small gaps), 5 (fully right).")
_GRADE = re.compile(r"[1-5]")


@dataclass
class Judge:
    """A grader at ``url`` (an OpenAI-compatible ``/v1`` base URL) using ``model``."""

    url: str
    model: str
    api_key: str = "none"
    timeout: float = 60.0

    def grade(self, question: str, references: Sequence[str], answer: str) -> float | None:
        """0–1 for ``answer`` (best over the references), or ``None`` without a grade."""
        asking = endpoint.client(self.url, self.api_key, self.timeout)
        best = None
        for reference in references:
            prompt = PROMPT.format(question=question, reference=reference, answer=answer)
            reply = endpoint.chat(asking, "the judge", "--judge", model=self.model,
                                  messages=[{"role": "user", "content": prompt}], max_tokens=8,
                                  temperature=0)
            found = _GRADE.search(reply.choices[0].message.content or "")
            if found:
                score = (int(found.group()) - 1) / 4
                best = score if best is None else max(best, score)
        return best

    def describe(self) -> dict:
        """What the report shows of the judge."""
        return {"url": self.url, "model": self.model, "prompt": PROMPT}
