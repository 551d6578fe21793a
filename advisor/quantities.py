"""Numbers in a task description, and what they count.

"3,000 approved emails", "about two hundred labelled tickets", "12k rows", "a dozen samples",
"6 billion tokens", "40 reviews a day": each becomes a :class:`Quantity` with its value, what it
counts (labelled examples, documents, corpus size, or traffic) and the words it came from. The
advisor turns these into data signals; this module knows nothing about strategies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

What = Literal["examples", "documents", "corpus", "traffic"]

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
           "trillion": 1_000_000_000_000}
# Vague amounts get a representative value; the evidence keeps the user's words.
_VAGUE = {"dozen": 12, "dozens": 36, "few": 3, "couple": 2, "handful": 5, "several": 4,
          "tens": 30, "hundreds": 300, "thousands": 3_000, "millions": 3_000_000,
          "billions": 3_000_000_000}
_SUFFIX = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000, "bn": 1_000_000_000}

_EXAMPLE_NOUNS = set("""
example examples sample samples pair pairs email emails ticket tickets transcript transcripts
record records row rows note notes answer answers letter letters reply replies chat chats
conversation conversations incident incidents output outputs description descriptions
memo memos review reviews essay essays report reports message messages utterance utterances
summary summaries parse parses level levels sequence sequences ones label labels annotation
annotations dialogue dialogues dialog dialogs question questions query queries brief briefs case
cases call calls claim claims invoice invoices form forms entry entries response responses
completions completion demonstrations instances items posts comments translations statements
blurbs segments titles drafts captions headlines stories
""".split())
_DOC_NOUNS = set("""
document documents doc docs page pages article articles manual manuals pdf pdfs file files
contract contracts policy policies spec specs sheet sheets book books paper papers abstract
abstracts chapter chapters wiki wikis runbook runbooks guideline guidelines faq faqs
""".split())
# "in two or three lines" is the shape of an output; "1,200 existing lines" are examples.
_SHAPE_NOUNS = set("line lines sentence sentences word words bullet bullets paragraph paragraphs"
                   .split())
_CORPUS_NOUNS = {"bases": 1, "token": 1, "tokens": 1, "word": 1, "words": 1, "gigabytes": 2.5e8,
                 "gb": 2.5e8, "terabytes": 2.5e11, "tb": 2.5e11, "hours": 1e5}
# Unlabelled pages are text to learn from: "12 million pages of transcribed records".
_PAGE_TOKENS = 500
_LINE_TOKENS = 10
_LABEL_WORDS = re.compile(r"^(labell?ed|annotated|approved|reviewed|verified|rated|graded|scored|"
                          r"existing|past|previous|historical|sample|example|"
                          r"curated|written|hand-labell?ed|human-\w+|\w+-verified|\w+-reviewed|"
                          # "800 analyst-made abstracts", "expert-written summaries"
                          r"\w+-(?:made|written|authored|produced|drafted|created|crafted|"
                          r"checked|corrected|approved|labell?ed|annotated|curated)|"
                          r"converted|summari[sz]ed|corrected|hand-\w+|worked|hand)$")
# "we've got ~4k itineraries", "they gave me 8 POs": any plural noun counts examples when the
# user says they hold it, unless it counts people, places, labels or hardware.
_POSSESSION = set("have has had got ve gave given sent collected gathered kept saved wrote did "
                  "own hold holds attached shared".split())
_NOT_EXAMPLES = set("""
people persons staff users customers clients employees members patients students pupils agents
engineers writers authors analysts lawyers doctors nurses teams colleagues volunteers stores shops
branches sites stations offices locations restaurants hotels warehouses countries regions cities
languages markets products brands categories labels classes queues intents buckets types tiers
levels fields columns models gpus servers machines cores years months weeks days hours minutes
seconds times rules steps versions sources departments services channels accounts partners
suppliers vendors devices sensors cameras
""".split())
_WORKLOAD = re.compile(r"\s+(?:left|remaining|still) (?:to (?:do|go|process|convert|clean|"
                       r"tag|sort|check)|in the backlog|outstanding)\b|\s+to go\b", re.IGNORECASE)
# Thousands of entries, records or rows count examples only when something says they are
# labelled; otherwise they are a collection ("90,000 transcribed entries in the registers").
_RECORD_NOUNS = {"entries", "records", "rows"}
_OUTPUT_VERBS = set("get generate generates produce produces create creates return returns "
                    "suggest suggests propose proposes draft drafts output outputs "
                    "list lists".split())
_PUNCT = re.compile(r"[^\s\-–—&/'’]")
_TIME_UNITS = {"second", "minute", "hour", "day", "week", "month", "year", "night", "shift",
               "season", "term", "semester", "quarter"}

_TOKEN = re.compile(
    r"(?<![\w.\-–])(?P<num>\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d,.])|\d[\d,]*(?:\.\d+)?)(?:(?P<suf>bn|[kKmMbB])|(?P<glued>[gGtT][bB]))?"
    r"(?![\w\-–/])"
    r"|(?P<word>[A-Za-z]+(?:-[A-Za-z]+)*)"
)


@dataclass(frozen=True)
class Quantity:
    """A number found in text, with what it counts and where."""

    value: float
    what: What
    text: str
    start: int
    end: int
    unlabelled: bool = False
    dismissed: bool = False


@dataclass(frozen=True)
class _Tok:
    text: str
    start: int
    end: int
    number: float | None = None


def find_quantities(text: str) -> list[Quantity]:
    """Every counted amount in ``text``, in order of appearance."""
    # "a billion-token corpus" reads as "a billion token corpus" (same length, same offsets)
    spaced = re.sub(r"(?<=[A-Za-z0-9])-(?=(?:tokens?|words?|hours?)\b)", " ", text)
    toks = []
    for m in _TOKEN.finditer(spaced):
        toks.append(_tokenize(m))
        if m.group("glued"):  # "600GB" reads as "600 GB"
            toks.append(_Tok(m.group("glued").lower(), m.start("glued"), m.end("glued")))
    found: list[Quantity] = []
    i = 0
    while i < len(toks):
        run_end, value = _number_run(toks, i)
        if value is None or _section_number(text, toks[i]):
            i += 1
            continue
        what, noun_end = _classify(toks, i, run_end, text, value)
        lone_one = run_end == i + 1 and toks[i].text in {"one", "1"}
        if what is not None and not (lone_one and noun_end != run_end + 1):
            last = toks[noun_end - 1]
            sentence = _sentence_around(text, toks[i].start)
            found.append(Quantity(value, what, text[toks[i].start:last.end], toks[i].start,
                                  last.end, bool(_UNLABELLED.search(sentence)),
                                  bool(_DISMISSED.search(sentence))))
        i = max(run_end, i + 1)
    return _no_labels_said_apart(text, found)


def _section_number(text: str, tok: _Tok) -> bool:
    """ "3.4 Tone and formatting …" at the start of a line numbers a section; it counts nothing."""
    line_start = text.rfind("\n", 0, tok.start) + 1
    return (bool(re.fullmatch(r"\d+(?:\.\d+)+", tok.text))
            and not text[line_start:tok.start].strip()
            and bool(re.match(r"\s+[A-Z]", text[tok.end:])))


def _no_labels_said_apart(text: str, found: list[Quantity]) -> list[Quantity]:
    """ "~800 public comments. No labels yet." — a sentence of its own that says nothing is
    labelled applies to every count whose own sentence does not say it is labelled."""
    alone = [piece for piece in re.split(r"[.;]\s|\n\s*\n", text)
             if _UNLABELLED.search(piece) and not any(_is_numberish(_tokenize(m)) for m in _TOKEN.finditer(piece))]
    if not alone:
        return found
    return [replace(q, unlabelled=True) if q.what == "examples" and not _LABELLED.search(
        _sentence_around(text, q.start)) else q for q in found]


_LABELLED = re.compile(r"\b(?:labell?ed|annotated|tagged|approved|reviewed|graded|corrected|"
                       r"verified|hand-\w+)\b", re.IGNORECASE)
# "4 GB of client files, but please ignore those": a count the user sets aside.
_DISMISSED = re.compile(
    r"\b(?:ignore (?:those|them|these|it|that)|(?:is|are|'s|'re) (?:unrelated|irrelevant|not "
    r"relevant|out of scope|useless|unusable|not usable)|not (?:needed|relevant|used) (?:here|"
    r"for this)|(?:so|of|are|is) no use|can'?t use (?:them|those|it)|(?:completely |totally )?"
    r"(?:different|wrong|old) (?:category|label|tag|classification|coding) (?:tree|scheme|set|"
    r"system|list))\b", re.IGNORECASE)
_UNLABELLED = re.compile(
    r"\b(?:unlabell?ed|unannotated|(?:nobody|no one|nothing|never|not|n't) (?:\w+ ){0,2}(?:labell?ed|"
    r"annotated|tagged)|no labels|none of (?:them|these|those|it) (?:is|are|was|were|has|have|"
    r"fit|match|follow))\b", re.IGNORECASE)


def _sentence_around(text: str, pos: int) -> str:
    start = max(text.rfind(".", 0, pos), text.rfind(";", 0, pos), text.rfind("\n\n", 0, pos)) + 1
    end = min((i for i in (text.find(".", pos), text.find(";", pos), text.find("\n\n", pos))
               if i >= 0), default=len(text))
    return text[start:end]


def _tokenize(m: re.Match) -> _Tok:
    if m.group("num"):
        raw = re.sub(r"[,\s\u00a0\u202f]", "", m.group("num"))  # "12,000", "7 000"
        try:
            value = float(raw) * _SUFFIX.get((m.group("suf") or "").lower(), 1)
        except ValueError:
            value = None
        end = m.start("glued") if m.group("glued") else m.end()
        return _Tok(m.group(0)[:end - m.start()], m.start(), end, value)
    # "two thousand-odd pairs", "a hundred-ish": the hedge does not change the amount
    return _Tok(re.sub(r"-(?:odd|ish|plus|some)$", "", m.group(0).lower()), m.start(), m.end())


def _is_numberish(tok: _Tok) -> bool:
    return (tok.number is not None or tok.text in _UNITS or tok.text in _TENS
            or tok.text in _SCALES or tok.text in _VAGUE or _hyphen_number(tok.text) is not None)


def _hyphen_number(word: str) -> int | None:
    parts = word.split("-")
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS:
        return _TENS[parts[0]] + _UNITS[parts[1]]
    return None


def _number_run(toks: list[_Tok], i: int) -> tuple[int, float | None]:
    """Parse the longest number phrase starting at ``i``; returns (end index, value or None)."""
    j = i
    if toks[j].text == "a" and j + 1 < len(toks) and toks[j + 1].text in (
            {"dozen", "few", "couple", "handful"} | set(_SCALES)):
        j += 1
    if not _is_numberish(toks[j]):
        return i, None
    total, current, seen = 0.0, 0.0, False
    while j < len(toks) and _is_numberish(toks[j]):
        tok = toks[j]
        word = tok.text
        if tok.number is not None:
            if seen:  # two numerals in a row ("2 500") are two numbers
                break
            current += tok.number
        elif word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif _hyphen_number(word) is not None:
            current += _hyphen_number(word)
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        elif current and word.rstrip("s") in _SCALES:  # "tens of billions": 30 x 1e9
            current *= _SCALES[word.rstrip("s")]
        else:  # vague words multiply what came before: "several thousand"
            current = max(current, 1) * _VAGUE[word]
        seen = True
        j += 1
        if j + 1 < len(toks) and toks[j].text == "of" and word in _VAGUE \
                and _is_numberish(toks[j + 1]):
            j += 1  # "tens of billions", "hundreds of thousands"
    return j, total + current


def _classify(toks: list[_Tok], i: int, j: int, text: str,
              value: float) -> tuple[What | None, int]:
    """What the number ``toks[i:j]`` counts, from the noun within the next few words."""
    labelled = any(_LABEL_WORDS.match(t.text) for t in toks[max(0, j - 6):j + 6])
    before = [t.text for t in toks[max(0, i - 2):i]]
    if before[-1:] in (["these"], ["those"]) and not labelled:
        return None, j  # "translate these 40 labels": the input itself, not examples
    if _WORKLOAD.match(text, toks[j - 1].end) or any(
            _WORKLOAD.match(text, toks[k].end) for k in range(j, min(j + 3, len(toks)))):
        return None, j  # "a few hundred entries left to do": the work, not examples
    if before == ["here", "are"]:
        return "examples", j  # "here are 5 from last season"
    held = any(t.text in _POSSESSION for t in toks[max(0, i - 3):i])
    if any(t.text in _OUTPUT_VERBS for t in toks[max(0, i - 2):i]):
        return None, j  # "generate 5 questions" is the shape of an output, not data
    plural = None  # the first plural noun after the number, for "we have N <noun>s"
    for k in range(j, min(j + 5, len(toks))):
        if k > 0 and _PUNCT.search(text[toks[k - 1].end:toks[k].start]):
            break  # the phrase ended: "3 = call back" counts nothing
        word = toks[k].text
        if word in {"of", "a", "the", "our"} and k == j:
            continue
        if word in _CORPUS_NOUNS:
            return "corpus", k + 1
        if word == "pages" and not labelled:
            return "corpus", k + 1
        if word == "lines" and not labelled and k + 1 < len(toks) and toks[k + 1].text == "of":
            return "corpus", k + 1  # "250M lines of it": code or logs to learn from
        if word in _SHAPE_NOUNS and labelled:
            return "examples", k + 1
        if word in _DOC_NOUNS:
            return ("examples" if labelled else "documents"), k + 1
        if word in _RECORD_NOUNS and not labelled and value >= 1_000:
            return "documents", k + 1  # "90,000 transcribed entries" in the registers
        if word in _EXAMPLE_NOUNS:
            return ("traffic" if _is_rate(toks, k + 1, text) else "examples"), k + 1
        if _is_numberish(toks[k]) or word in _TIME_UNITS or word.endswith("s") and \
                word[:-1] in _TIME_UNITS:
            break
        if plural is None and word.endswith("s") and len(word) > 2 and toks[k].number is None:
            plural = k
    if held and plural is not None and toks[plural].text not in _NOT_EXAMPLES | _SHAPE_NOUNS \
            and not _is_rate(toks, plural + 1, text):
        return "examples", plural + 1
    if labelled and j < len(toks) and not _is_rate(toks, j, text):
        return "examples", min(j + 1, len(toks))
    return None, j


def _is_rate(toks: list[_Tok], k: int, text: str) -> bool:
    """Whether "a day", "per week" … follows within a few words, in the same sentence."""
    window, prev_end = [], toks[k - 1].end if k > 0 else 0
    for t in toks[k:k + 4]:
        if re.search(r"[.;!?]", text[prev_end:t.start]):
            break
        window.append(t.text)
        prev_end = t.end
    for a, b in zip(window, window[1:]):
        if a in {"a", "an", "per", "each", "every"} and b.rstrip("s") in _TIME_UNITS:
            return True
    return False


def corpus_tokens(q: Quantity) -> float:
    """A corpus quantity in approximate tokens (gigabytes and hours are converted roughly)."""
    unit = re.search(r"[A-Za-z]+$", q.text)
    unit = unit.group(0).lower() if unit else ""
    per_unit = {"pages": _PAGE_TOKENS, "lines": _LINE_TOKENS}
    return q.value * per_unit.get(unit, _CORPUS_NOUNS.get(unit, 1))
