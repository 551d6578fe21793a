"""Shared pieces of the advisor tests: tiny labelled rows, arm results, a tiny-model setting and a
stub OpenAI-compatible server."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from graftlm.advisor.schema import ArmResult, Measurement
from tests.conftest import save_tiny_base
from graftlm.tuning.data import Example

ROWS = [("play some jazz music", "PlayMusic"), ("book a table for two", "BookRestaurant"),
        ("weather in paris", "GetWeather"), ("rate this novel five stars", "RateBook")]


def examples_of(rows, system="Answer with the intent."):
    return [Example((("system", system), ("user", t), ("assistant", label)), i + 1)
            for i, (t, label) in enumerate(rows)]


def arm_result(arm_id, strategy, score):
    return ArmResult(id=arm_id, strategy=strategy, title=arm_id, status="measured",
                     score=score, ci_low=score - 0.1, ci_high=score + 0.1,
                     seconds_per_query=0.1)


def measurement_of(arms):
    return Measurement(data="d.jsonl", metric="exact_match", examples=100, train_examples=70,
                       held_out=30, held_out_lines=list(range(30)), budget_seconds=900,
                       seconds=10, arms=arms, verdict="")


def static_advice(order):
    from graftlm.advisor import Advisor, Facts

    advice = Advisor().advise("Classify support tickets into queues; we have 500 labelled "
                              "tickets.", Facts(documents=True))
    ranking = [s.model_copy(update={"rank": order.index(s.strategy) + 1})
               for s in advice.ranking]
    return advice.model_copy(update={"ranking": ranking})


@pytest.fixture
def tiny_settings(tmp_path):
    from graftlm.core.settings import Settings

    base = save_tiny_base(tmp_path / "tiny-base")
    return Settings(home=tmp_path / "home", models={"base": str(base)},
                    tuning={"max_steps": 3, "batch_size": 4})


def write_rows(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    return path


@pytest.fixture
def endpoint():
    """A local OpenAI-compatible ``/v1/chat/completions``: ``state["reply"]`` is the content of
    every answer (a dict is sent as JSON; a callable gets the request body), with token usage;
    ``state["requests"]`` records what came in, ``state["url"]`` is its base URL."""
    state = {"requests": [], "reply": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append((self.path, body))
            reply = state["reply"]
            content = reply(body) if callable(reply) else (
                json.dumps(reply) if isinstance(reply, dict) else reply)
            prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
            out = json.dumps({"id": "x", "object": "chat.completion", "created": 0,
                              "model": body["model"], "choices": [{
                                  "index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                              "usage": {"prompt_tokens": prompt,
                                        "completion_tokens": len(content.split()),
                                        "total_tokens": prompt + len(content.split())}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/v1"
    yield state
    server.shutdown()
