"""Stop sequences over a growing text, fed whole and in pieces."""

import pytest

from graftlm.serving.engines.stops import StopScanner


def feed_all(scanner, text, step=1):
    out, stopped = "", False
    for end in range(step, len(text) + step, step):
        piece, stopped = scanner.feed(text[:end], final=end >= len(text))
        out += piece
        if stopped:
            break
    return out, stopped


@pytest.mark.parametrize("text, stops, expected, stopped", [
    ("hello world. bye", ["."], "hello world", True),
    ("hello world", ["xyz"], "hello world", False),
    ("abc END def", ["END", "c E"], "ab", True),
    ("no stops at all", [], "no stops at all", False),
    ("ends with EN", ["END"], "ends with EN", False),
])
def test_stop_scanner_emits_exactly_the_text_before_a_stop(text, stops, expected, stopped):
    assert feed_all(StopScanner(stops), text) == (expected, stopped)
    assert feed_all(StopScanner(stops), text, step=3) == (expected, stopped)


def test_stop_scanner_holds_back_a_possible_stop_prefix():
    scanner = StopScanner(["STOP"])
    assert scanner.feed("go ST") == ("go", False)
    assert scanner.feed("go STOP") == (" ", True)


def test_stop_scanner_waits_for_the_rest_of_a_character():
    scanner = StopScanner([])
    assert scanner.feed("caf\ufffd") == ("caf", False)
    assert scanner.feed("café") == ("é", False)
