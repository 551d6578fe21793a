"""JSON Lines parsing shared by every stage: one record or one problem per non-blank line.

Callers decide what a problem means (skip the file, collect every problem, or stop), so the
parsing and its messages live in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator


def records(text: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """``(line number, record, None)`` for each JSON object, ``(line, None, problem)`` otherwise.

    Lines end at ``\n`` (and a ``\r`` before it) only: ``str.splitlines`` would also split at
    U+2028, U+2029 and U+0085, which JSON allows unescaped inside strings.
    """
    for n, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, f"malformed JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(record, dict):
            yield n, None, "a record must be a JSON object"
            continue
        yield n, record, None


def lines(text: str) -> list[str]:
    """The lines of a JSON Lines text: split at newlines only, a trailing ``\r`` dropped."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
