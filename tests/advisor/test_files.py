"""Facts read from the user's files without measuring: counts, labels, JSON answers, documents
and their dates, and clear errors."""

import json
import os
import time

import pytest
from typer.testing import CliRunner

from graftlm.advisor import Advisor
from graftlm.advisor.files import document_signals, example_signals
from graftlm.cli import app
from graftlm.core.errors import DataFormatError, InputError

DAY = 86_400


def _chat(path, pairs):
    path.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n"
        for q, a in pairs))
    return path


def test_answers_from_a_closed_set_are_labels(tmp_path):
    pairs = [(f"note {i}", ["won", "lost", "callback", "no answer"][i % 4]) for i in range(120)]
    hits = {h.signal: h for h in example_signals(_chat(tmp_path / "calls.jsonl", pairs))}
    assert hits["enough_examples"].method == "file"
    assert "120 examples" in hits["enough_examples"].evidence
    assert "4 labels" in hits["narrow_task"].evidence and "custom_scheme" in hits


def test_free_text_and_json_answers_are_not_labels(tmp_path):
    prose = [(f"q{i}", f"a long answer number {i} with several words in it") for i in range(30)]
    hits = {h.signal for h in example_signals(_chat(tmp_path / "p.jsonl", prose))}
    assert hits == {"some_examples"}
    records = [(f"invoice {i}", json.dumps({"total": i, "currency": "EUR"})) for i in range(8)]
    hits = {h.signal for h in example_signals(_chat(tmp_path / "j.jsonl", records))}
    assert hits == {"few_examples", "output_format"}


def test_a_malformed_file_names_its_lines(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\nnot json\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl.*line 1.*line 2"):
        example_signals(bad)


def _docs(folder, ages_days):
    folder.mkdir()
    now = time.time()
    for i, age in enumerate(ages_days):
        f = folder / f"doc{i}.md"
        f.write_text(f"# page {i}\n" + "words " * 50)
        os.utime(f, (now - age * DAY, now - age * DAY))
    return now


def test_document_dates_tell_whether_they_change(tmp_path):
    now = _docs(tmp_path / "live", [1, 3, 9, 20, 40, 200])
    hits = {h.signal: h for h in document_signals(tmp_path / "live", now=now)}
    assert "6 document(s)" in hits["private_documents"].evidence
    assert "4 of 6 files changed" in hits["fresh_knowledge"].evidence
    now = _docs(tmp_path / "old", [400, 500, 900])
    assert "static_knowledge" in {h.signal for h in document_signals(tmp_path / "old", now=now)}
    now = _docs(tmp_path / "cloned", [0, 0, 0, 0])  # one date for all says nothing
    assert {h.signal for h in document_signals(tmp_path / "cloned", now=now)} == {
        "private_documents"}
    with pytest.raises(InputError, match="does not exist"):
        document_signals(tmp_path / "nowhere")


def test_file_facts_win_their_slot_and_move_the_advice(tmp_path):
    pairs = [(f"call note {i}", f"code-{i % 6}") for i in range(600)]
    data = _chat(tmp_path / "notes.jsonl", pairs)
    advisor = Advisor()
    text = "We want the outcome code for new call notes, like the old ones have."
    plain = advisor.advise(text)
    informed = advisor.advise(text, found=example_signals(data))
    assert informed.recommendation == "lora" != plain.recommendation
    assert {s.method for s in informed.signals} >= {"file"}


def test_the_command_reads_files_without_measuring(tmp_path):
    data = _chat(tmp_path / "notes.jsonl", [(f"n{i}", f"c{i % 5}") for i in range(200)])
    _docs(tmp_path / "docs", [0, 0, 0])
    started = time.perf_counter()
    result = CliRunner().invoke(app, [
        "--home", str(tmp_path / "home"), "advise", "Give each call note its outcome code.",
        "--examples", str(data), "--docs", str(tmp_path / "docs"), "--lexical", "--json"])
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started < 5  # no arm ran
    advice = json.loads(result.stdout)
    assert advice["measurement"] is None
    found = {s["id"]: s for s in advice["signals"] if s["method"] == "file"}
    assert {"enough_examples", "narrow_task", "private_documents"} <= set(found)
