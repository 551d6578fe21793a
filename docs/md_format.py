"""Number formats and Markdown tables for the generated benchmark page."""

from __future__ import annotations

import re


# --- number formats --------------------------------------------------------------------------

def pct(x, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}"


def num(x, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def ratio(x) -> str:
    return "—" if x is None else f"{x:.2f}x"


def interval(low, high) -> str:
    return "—" if low is None else f"{pct(low)}–{pct(high)}"


def table(header: list[str], rows: list[list], align: str = "") -> str:
    marks = ["---:" if align[i:i + 1] == "r" else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def text(value) -> str:
    """A string from the JSON, safe in a table cell: one line, code spans kept, characters
    Markdown would eat escaped, absolute paths cut to their last two parts."""
    value = re.sub(r"(?<![\w.:/])/(?:[\w.+-]+/)+([\w.+-]+/[\w.+-]+)", r"…/\1",
                   " ".join(str(value).split()))
    parts = re.split(r"(`[^`]*`)", value)
    for i in range(0, len(parts), 2):
        parts[i] = (parts[i].replace("*", "\\*").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("[", "\\["))
    return "".join(parts)
