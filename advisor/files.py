"""Facts read from the user's own files, for advice without measuring: ``--examples``, ``--docs``.

A description says "we have some tickets"; the file says 412 examples whose answers are 7 labels.
Without running any arm, the files still settle what decides between strategies: how many
examples there are, whether their answers come from a closed set of labels (and how many), how
long the answers are, how many documents there are and how large, and how often they change (the
files' dates). Each becomes a signal found by the method ``file``; like a flag, it wins its slot
over the description's wording, and its evidence names the file it came from.

Reading is bounded and cheap: one pass over a JSONL file, one ``stat`` per document (no parsing).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path

from graftlm.advisor.scoring import PRETRAINING_TOKENS, examples_signal
from graftlm.advisor.signals import Hit
from graftlm.core.errors import DataFormatError, InputError
from graftlm.rag.loaders import discover
from graftlm.tuning.data import read_examples
from graftlm.tuning.metrics import label_set

BYTES_PER_TOKEN = 4
RECENT_DAYS = 30
DAY = 86_400.0


def example_signals(path: Path, fields=None) -> list[Hit]:
    """The signals a file of labelled examples carries: how many, labels or free text, JSON.

    Raises:
        DataFormatError: the file is missing, empty or has malformed lines (named with their
            line numbers).
    """
    _, examples, problems = read_examples(path, fields=fields)
    if problems:
        problems = sorted(problems, key=lambda p: p.line)
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DataFormatError(f"{len(problems)} malformed example(s): {shown}{more}. "
                              f"`graft train --check {path}` lists every problem", path=path)
    name = Path(path).name
    targets = [e.target.strip() for e in examples]
    words = [len(t.split()) for t in targets]
    n = len(targets)
    lengths = (f"answers of {max(words)} word{'s' if max(words) > 1 else ''}"
               if min(words) == max(words) else
               f"answers {min(words)}–{max(words)} words, median {statistics.median(words):g}")
    hits = [Hit(examples_signal(n), 1.0, "file", f"{name}: {n:,} examples, {lengths}")]
    labels = Counter(targets)
    if label_set(targets):
        common = ", ".join(f"{label} {count / n:.0%}" for label, count in labels.most_common(3))
        said = f"{name}: the answers are {len(labels)} labels ({common}…)"
        hits.append(Hit("narrow_task", 1.0, "file", said))
        if len(labels) > 2:
            hits.append(Hit("custom_scheme", 1.0, "file", said))
    elif sum(_is_json(t) for t in targets) >= 0.8 * n:
        hits.append(Hit("output_format", 1.0, "file", f"{name}: the answers are JSON"))
    return hits


def document_signals(path: Path, *, now: float | None = None) -> list[Hit]:
    """The signals a document folder (or one file) carries: how many documents and how large,
    and — from the files' modification dates — whether they change.

    Dates say nothing when every file has the same one (a fresh copy or clone); then no
    freshness signal is drawn.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"--docs {path} does not exist; pass the folder of documents.")
    files = [path] if path.is_file() else discover(path)
    if not files:
        raise InputError(f"--docs {path} holds no documents (hidden files are skipped).")
    stats = [f.stat() for f in files]
    size = sum(s.st_size for s in stats)
    hits = [Hit("private_documents", 1.0, "file",
                f"{path.name}: {len(files):,} document(s), {_size(size)}")]
    if size / BYTES_PER_TOKEN >= PRETRAINING_TOKENS:
        hits.append(Hit("pretraining_corpus", 1.0, "file",
                        f"{path.name}: about {size / BYTES_PER_TOKEN:,.0f} tokens"))
    hits.extend(_freshness([s.st_mtime for s in stats], path.name,
                           time.time() if now is None else now))
    return hits


def _freshness(mtimes: list[float], name: str, now: float) -> list[Hit]:
    if len(mtimes) < 3 or max(mtimes) - min(mtimes) < DAY:
        return []  # one date for all: copied or cloned at once, so the dates tell nothing
    recent = sum(now - m <= RECENT_DAYS * DAY for m in mtimes)
    if recent and max(mtimes) - min(mtimes) >= 7 * DAY:
        return [Hit("fresh_knowledge", 0.6 if recent < len(mtimes) / 4 else 1.0, "file",
                    f"{name}: {recent} of {len(mtimes)} files changed in the last "
                    f"{RECENT_DAYS} days, over {int((max(mtimes) - min(mtimes)) / DAY)} days "
                    "of dates")]
    if now - max(mtimes) > 365 * DAY:
        return [Hit("static_knowledge", 0.6, "file",
                    f"{name}: no file changed in the last year")]
    return []


def _is_json(text: str) -> bool:
    if not text.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def _size(n: int) -> str:
    if n < 1000:
        return f"{n:,} bytes"
    scaled, unit = next((n / 1000 ** k, u) for k, u in ((3, "GB"), (2, "MB"), (1, "kB"))
                        if n >= 1000 ** k)
    return f"{scaled:,.1f} {unit}"
