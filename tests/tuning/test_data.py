import json

import pytest

from graftlm.core.errors import DataFormatError
from graftlm.tuning.data import (IGNORE, DataReport, Example, FieldMap, Problem, check, encode,
                         read_examples, require_clean)


def write(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("row, fmt, messages", [
    ({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                   {"role": "assistant", "content": "hello"}]}, "chat",
     (("system", "be brief"), ("user", "hi"), ("assistant", "hello"))),
    ({"instruction": "Translate", "input": "hello", "output": "bonjour"}, "alpaca",
     (("user", "Translate\n\nhello"), ("assistant", "bonjour"))),
    ({"instruction": "Say hi", "output": "hi"}, "alpaca", (("user", "Say hi"), ("assistant", "hi"))),
    ({"prompt": "2+2=", "completion": " 4"}, "prompt_completion",
     (("user", "2+2="), ("assistant", "4"))),
])
def test_formats_are_detected_and_normalised(tmp_path, row, fmt, messages):
    detected, examples, problems = read_examples(write(tmp_path, [row]))
    assert (detected, problems) == (fmt, [])
    assert examples[0].messages == messages and examples[0].line == 1


def test_field_mapping_and_template(tmp_path):
    path = write(tmp_path, [{"text": "play jazz", "intent": "PlayMusic", "slots": [1]}])
    _, (ex,), _ = read_examples(path, fields=FieldMap(target="intent", input="text",
                                                      system="classify"))
    assert ex.messages == (("system", "classify"), ("user", "play jazz"),
                           ("assistant", "PlayMusic"))
    _, (ex,), _ = read_examples(path, fields=FieldMap(target="slots", template="Q: {text}"))
    assert ex.messages == (("user", "Q: play jazz"), ("assistant", "[1]"))


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        '{"messages": [oops',
        {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": "q"}]},
        "[1, 2]",
    ])
    _, examples, problems = read_examples(path)
    assert len(examples) == 1
    got = {p.line: p.message for p in problems}
    assert set(got) == {2, 3, 4, 5, 6}
    assert "malformed JSON" in got[2]
    assert "unknown role 'wizard'" in got[3]
    assert "empty content" in got[4]
    assert "last message must be the assistant" in got[5]
    assert "JSON object" in got[6]


def test_unknown_shape_and_bad_encoding(tmp_path):
    with pytest.raises(DataFormatError, match=r"cannot tell the format.*--input-field"):
        read_examples(write(tmp_path, [{"text": "a", "label": "b"}]))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"prompt": "caf\xe9", "completion": "x"}\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl:1: is not UTF-8"):
        read_examples(bad)
    with pytest.raises(DataFormatError, match="does not exist"):
        read_examples(tmp_path / "missing.jsonl")


def test_labels_cover_only_assistant_turns(tiny_tokenizer):
    ex = Example((("system", "classify"), ("user", "play some jazz"), ("assistant", "PlayMusic"),
                  ("user", "book a table"), ("assistant", "BookRestaurant")), 1)
    enc = encode(ex, tiny_tokenizer, 128)
    trained = [t for t, label in zip(enc.input_ids, enc.labels) if label != IGNORE]
    text = tiny_tokenizer.decode(trained)
    assert text.split() == ["PlayMusic", "<|im_end|>", "BookRestaurant", "<|im_end|>"]
    assert all(label in (IGNORE, tok) for tok, label in zip(enc.input_ids, enc.labels))
    assert not enc.truncated


def test_check_reports_statistics(tmp_path, tiny_tokenizer):
    rows = [{"prompt": "play some jazz", "completion": "PlayMusic"}] * 2 + [
        {"prompt": " ".join(["weather"] * 50), "completion": "GetWeather"},
        {"prompt": "x", "completion": ""}]
    report = check(write(tmp_path, rows), tiny_tokenizer, max_length=40)
    assert len(report.examples) == 3 and report.duplicates == [2]
    got = {p.line: p.message for p in report.problems}
    assert "beyond max_length 40" in got[3] and "'completion'" in got[4]
    assert report.truncated == [3]
    assert report.tokens > 0 and report.max_tokens == 40


def test_problems_stop_a_run_before_it_starts(tmp_path):
    report = DataReport(tmp_path / "d.jsonl", "chat",
                        problems=[Problem(n, "malformed JSON") for n in range(1, 26)])
    with pytest.raises(DataFormatError) as err:
        require_clean(report)
    text = str(err.value)
    assert "25 problem(s)" in text and "line 20: malformed JSON" in text
    assert "line 21" not in text and "… and 5 more" in text
    require_clean(DataReport(tmp_path / "d.jsonl", "chat"))  # a clean report passes
