"""The optional judge, against a stand-in OpenAI-compatible endpoint."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from graftlm.core.errors import BackendUnavailableError
from graftlm.tuning.judge import PROMPT, Judge


@pytest.fixture
def grader():
    """An endpoint that answers every chat request with the next of its replies."""
    asked, replies = [], ["Grade: 4", "5", "no idea"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            asked.append(body)
            text = replies[(len(asked) - 1) % len(replies)]
            out = json.dumps({"id": "x", "object": "chat.completion", "created": 0,
                              "model": body["model"], "choices": [{
                                  "index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", asked
    server.shutdown()


def test_grades_map_to_zero_one_best_over_references(grader):
    url, asked = grader
    judge = Judge(url, "grader-model")
    assert judge.grade("q?", ["ref one", "ref two"], "an answer") == 1.0  # max(4, 5) -> 1.0
    assert asked[0]["model"] == "grader-model" and asked[0]["temperature"] == 0
    assert asked[0]["messages"][0]["content"] == PROMPT.format(
        question="q?", reference="ref one", answer="an answer")
    assert judge.grade("q?", ["ref"], "x") is None  # "no idea": no grade, not a zero
    assert judge.describe()["prompt"] == PROMPT


def test_an_unreachable_judge_is_a_clear_error():
    with pytest.raises(BackendUnavailableError, match="does not answer"):
        Judge("http://127.0.0.1:9/v1", "m", timeout=2).grade("q", ["r"], "a")
