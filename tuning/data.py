"""Training data: formats, validation with line numbers, chat templates and label masking.

Accepted JSONL formats, detected from the records (or forced with ``fmt``):

* ``chat`` — OpenAI fine-tuning files: ``{"messages": [{"role": ..., "content": ...}, ...]}``;
* ``alpaca`` — ``instruction`` / optional ``input`` / ``output``;
* ``prompt_completion`` — ``prompt`` / ``completion``;
* ``fields`` — any JSONL through a :class:`FieldMap`: an input field (or a ``{field}`` template)
  and a target field, e.g. ``text`` → ``intent``.

Every record becomes a conversation; the base model's chat template renders it, and only the
assistant's tokens carry labels (everything else is ``-100``). :func:`check` validates a whole
file and reports every problem with its line number before anything trains.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from graftlm.core import jsonl
from graftlm.core.errors import DataFormatError, InputError
from graftlm.core.settings import Settings

Format = Literal["chat", "alpaca", "prompt_completion", "fields"]
ROLES = ("system", "user", "assistant")
IGNORE = -100
MAX_LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class FieldMap:
    """How to read a plain JSONL record: the input (a field, or a template over fields), the
    target field, and an optional system prompt."""

    target: str
    input: str | None = None
    template: str | None = None
    system: str | None = None

    def __post_init__(self):
        if not self.target or not (self.input or self.template):
            raise InputError("mapping fields needs a target field (--target-field) and an input:"
                             " --input-field, or --template over fields.")

    @classmethod
    def from_options(cls, target: str | None = None, input: str | None = None,
                     template: str | None = None, system: str | None = None) -> FieldMap | None:
        """The mapping that command-line flags describe; ``None`` when no field flag is given."""
        if not (target or input or template):
            return None
        return cls(target=target or "", input=input, template=template, system=system)

    def prompt(self, record: dict) -> str:
        if self.template is not None:
            try:
                return self.template.format(**record)
            except KeyError as exc:
                raise ValueError(f"template field {exc} is missing") from None
        value = record.get(self.input or "")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"missing or empty field '{self.input}'")
        return value


@dataclass(frozen=True)
class Example:
    """One conversation and the line it came from.

    ``references`` are further acceptable answers (a record's ``answers`` list; the target is
    always one); ``gold`` names the document that holds the answer (a record's ``gold_doc``,
    ``gold_doc_id`` or ``source``), which retrieval-aware training removes from distractor-only
    examples.
    """

    messages: tuple[tuple[str, str], ...]
    line: int
    references: tuple[str, ...] = ()
    gold: str | None = None

    @property
    def target(self) -> str:
        return self.messages[-1][1]

    @property
    def answers(self) -> tuple[str, ...]:
        """Every acceptable answer: the target first, then the other references."""
        return (self.target, *(r for r in self.references if r != self.target))

    @property
    def question(self) -> str:
        """The last user message: what retrieval searches for."""
        return next(c for r, c in reversed(self.messages) if r == "user")

    def prompt_messages(self) -> list[dict]:
        return [{"role": r, "content": c} for r, c in self.messages[:-1]]

    def as_messages(self) -> list[dict]:
        return [{"role": r, "content": c} for r, c in self.messages]


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class DataReport:
    """What :func:`check` found: the examples, the problems, and statistics."""

    path: Path
    format: str
    examples: list[Example] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    tokens: int = 0
    max_tokens: int = 0
    truncated: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_examples(path: Path, *, fmt: Format | None = None, fields: FieldMap | None = None
                  ) -> tuple[str, list[Example], list[Problem]]:
    """Parse every line; collect every problem instead of stopping at the first."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataFormatError("does not exist", path=path) from None
    except IsADirectoryError:
        raise DataFormatError("is a directory; pass a JSONL file", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataFormatError(f"is not UTF-8 (invalid byte 0x{raw[exc.start]:02x})", path=path,
                              line=line) from None
    records, problems = [], []
    for n, record, problem in jsonl.records(text):
        if problem is not None:
            problems.append(Problem(n, problem))
        else:
            records.append((n, record))
    if not records and not problems:
        raise DataFormatError("has no records", path=path)
    fmt = fmt or ("fields" if fields else detect_format(records, path))
    examples = []
    for n, record in records:
        try:
            examples.append(Example(to_messages(record, fmt, fields), n,
                                    references=_references(record), gold=_gold(record)))
        except ValueError as exc:
            problems.append(Problem(n, str(exc)))
    return fmt, examples, problems


GOLD_FIELDS = ("gold_doc", "gold_doc_id", "source")


def _references(record: dict) -> tuple[str, ...]:
    answers = record.get("answers")
    if answers is None:
        return ()
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip()
                                                for a in answers):
        raise ValueError("'answers' must be a list of non-empty strings (acceptable answers)")
    return tuple(answers)


def _gold(record: dict) -> str | None:
    for name in GOLD_FIELDS:
        value = record.get(name)
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value)
    return None


def detect_format(records: Sequence[tuple[int, dict]], path: Path) -> Format:
    keys = set(records[0][1]) if records else set()
    if "messages" in keys:
        return "chat"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if {"prompt", "completion"} <= keys:
        return "prompt_completion"
    raise DataFormatError(
        f"cannot tell the format from the fields {sorted(keys)}; use OpenAI chat "
        "('messages'), alpaca ('instruction'/'output'), 'prompt'/'completion', or map fields with "
        "--input-field/--template and --target-field", path=path, line=records[0][0] if records
        else None)


def to_messages(record: dict, fmt: Format, fields: FieldMap | None) -> tuple[tuple[str, str], ...]:
    """One record as (role, content) pairs ending with the assistant's answer."""
    if fmt == "chat":
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        out = []
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise ValueError(f"message {i} is not an object")
            role, content = msg.get("role"), msg.get("content")
            if role not in ROLES:
                raise ValueError(f"message {i} has unknown role {role!r} (use "
                                 f"{', '.join(ROLES)})")
            if not isinstance(content, str) or not content.strip():
                raise ValueError(f"message {i} ({role}) has missing or empty content")
            out.append((role, content))
        if out[-1][0] != "assistant":
            raise ValueError("the last message must be the assistant's answer")
        if not any(r == "user" for r, _ in out):
            raise ValueError("there is no user message")
        return tuple(out)
    if fmt == "alpaca":
        instruction, extra, output = (record.get("instruction"), record.get("input", ""),
                                      record.get("output"))
        _need(instruction, "instruction")
        _need(output, "output")
        if extra is not None and not isinstance(extra, str):
            raise ValueError("field 'input' must be a string")
        prompt = instruction if not extra else f"{instruction}\n\n{extra}"
        return (("user", prompt), ("assistant", output))
    if fmt == "prompt_completion":
        _need(record.get("prompt"), "prompt")
        _need(record.get("completion"), "completion")
        return (("user", record["prompt"]), ("assistant", record["completion"].strip()))
    if fields is None:
        raise ValueError("the 'fields' format needs --target-field and --input-field/--template")
    target = record.get(fields.target)
    if isinstance(target, (dict, list)):
        target = json.dumps(target, ensure_ascii=False)
    if target is None or (isinstance(target, str) and not target.strip()):
        raise ValueError(f"missing or empty field '{fields.target}'")
    system = (("system", fields.system),) if fields.system else ()
    return system + (("user", fields.prompt(record)), ("assistant", str(target)))


def _need(value, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"missing or empty field '{name}'")


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def encode(example: Example, tokenizer, max_length: int) -> Encoded:
    """Render with the chat template; labels only on assistant turns (end-of-turn included)."""
    messages = example.as_messages()
    ids = chat_ids(tokenizer, messages, generation_prompt=False)
    labels = [IGNORE] * len(ids)
    for i, (role, _) in enumerate(example.messages):
        if role != "assistant":
            continue
        start = len(chat_ids(tokenizer, messages[:i], generation_prompt=True))
        end = len(chat_ids(tokenizer, messages[:i + 1], generation_prompt=False))
        if ids[:start] != chat_ids(tokenizer, messages[:i], generation_prompt=True):
            raise DataFormatError("the chat template does not render conversations "
                                  "prefix-consistently; assistant-only labels cannot be placed",
                                  line=example.line)
        labels[start:end] = ids[start:end]
    truncated = len(ids) > max_length
    return Encoded(ids[:max_length], labels[:max_length], truncated)


def chat_ids(tokenizer, messages: list[dict], *, generation_prompt: bool = True) -> list[int]:
    """The token ids of chat ``messages`` through the tokenizer's chat template, with the
    assistant's turn opened when ``generation_prompt``: what training, evaluation, the local
    engine and the gateway's context check all feed or count."""
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt,
                                        tokenize=True, return_dict=False)
    if isinstance(out, dict) or hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out)


def prompt_ids(example: Example, tokenizer) -> list[int]:
    """The prompt for generation: every message but the answer, plus the assistant header."""
    return chat_ids(tokenizer, example.prompt_messages())


def check(path: Path, tokenizer, *, max_length: int, fmt: Format | None = None,
          fields: FieldMap | None = None) -> DataReport:
    """Validate a whole file and gather statistics; never raises for per-line problems."""
    detected, examples, problems = read_examples(path, fmt=fmt, fields=fields)
    report = DataReport(Path(path), detected, examples, problems)
    seen: dict[str, int] = {}
    for ex in examples:
        enc = encode(ex, tokenizer, max_length)
        n = min(len(enc.input_ids), max_length)
        report.tokens += n
        report.max_tokens = max(report.max_tokens, n)
        if enc.truncated:
            report.truncated.append(ex.line)
        if not any(label != IGNORE for label in enc.labels):
            report.problems.append(Problem(ex.line, f"the answer falls beyond max_length "
                                           f"{max_length} tokens; shorten it or raise "
                                           "--max-length"))
        key = hashlib.sha1(json.dumps(ex.messages).encode()).hexdigest()
        if key in seen:
            report.duplicates.append(ex.line)
        seen.setdefault(key, ex.line)
    report.problems.sort(key=lambda p: p.line)
    return report


def check_data(path: Path, tokenizer, settings: Settings, *, fmt: Format | None = None,
               fields: FieldMap | None = None) -> DataReport:
    return check(path, tokenizer, max_length=settings.tuning.max_length, fmt=fmt, fields=fields)


def clean_examples(path: Path, tokenizer, settings: Settings, *, fmt: Format | None = None,
                   fields: FieldMap | None = None) -> DataReport:
    """The report of a file that must be clean to use (train, evaluate, measure on): every
    problem raised with its line otherwise."""
    report = check_data(path, tokenizer, settings, fmt=fmt, fields=fields)
    require_clean(report)
    return report


def require_clean(report: DataReport) -> None:
    """Bad files never start a training run: raise with every problem and its line."""
    if report.ok:
        return
    shown = "\n".join(f"  {p}" for p in report.problems[:MAX_LISTED_PROBLEMS])
    more = len(report.problems) - MAX_LISTED_PROBLEMS
    tail = f"\n  … and {more} more" if more > 0 else ""
    raise DataFormatError(f"{len(report.problems)} problem(s); fix them and run again "
                          f"(`graft train --check {report.path}` lists them all):\n{shown}{tail}",
                          path=report.path)
