"""Admission control, deadlines and clients that leave: bounded slots and queue then 429s,
a 504 (or an error event) past the deadline, and a generation stopped when nobody waits for it —
over a real gateway whose engine is slowed down so the timing is the test's."""

import asyncio
import json
import resource
import time

import httpx
import pytest

from graftlm.serving.admission import Admission
from graftlm.serving.protocol import ApiError, Chunk
from tests.serving.conftest import make_app

ASK = {"model": "base", "messages": [{"role": "user", "content": "hi"}]}


class SlowEngine:
    """Generates ``max_tokens`` pieces, one every ``step`` seconds, and counts generations
    started and closed (finished, cancelled or abandoned), and the most running at once."""

    def __init__(self, step: float):
        self.step, self.started, self.closed, self.peak = step, 0, 0, 0

    async def generate(self, request):
        self.started += 1
        self.peak = max(self.peak, self.started - self.closed)
        try:
            for _ in range(request.params.max_tokens - 1):
                await asyncio.sleep(self.step)
                yield Chunk("x")
            yield Chunk("x", "length", 1, request.params.max_tokens)
        finally:
            self.closed += 1


def serve_slowly(stack, step: float, **serving):
    from graftlm.serving.app import run_in_thread

    app = make_app(stack, **serving)
    engine = SlowEngine(step)
    app.state.gateway.runtime.engine.generate = engine.generate
    return run_in_thread(app, startup_timeout=60), engine


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_slots_then_queue_then_429_and_queued_requests_go_in_order():
    async def scenario():
        admission = Admission(max_in_flight=2, max_queue=2)
        held = [await admission.enter(), await admission.enter()]
        order = []

        async def queued(name):
            slot = await admission.enter()
            order.append(name)
            return slot

        waiting = [asyncio.create_task(queued(n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        assert admission.queued == 2
        with pytest.raises(ApiError) as caught:
            await admission.enter()
        assert caught.value.status == 429 and caught.value.headers == {"Retry-After": "1"}
        waiting[0].cancel()  # a client that gives up leaves the queue
        await asyncio.sleep(0)
        assert admission.queued == 1
        held[0].release()
        held[0].release()  # twice is once
        slot_b = await waiting[1]
        assert order == ["b"] and admission.in_flight == 2
        for slot in (held[1], slot_b):
            slot.release()
        assert admission.in_flight == 0 and admission.rejected == 1

    asyncio.run(scenario())


def test_five_hundred_requests_over_the_bound_get_answers_or_429s_and_nothing_else(stack):
    """500 at once against 4 slots and 8 queue places: answers or 429s, never more than 4
    generations at a time, and memory bounded — the refused hold nothing once refused."""
    server, engine = serve_slowly(stack, 0.05, max_in_flight=4, max_queue=8)

    async def flood(url):
        async with httpx.AsyncClient(base_url=url, timeout=60,
                                     limits=httpx.Limits(max_connections=500)) as client:
            return await asyncio.gather(*(client.post("/v1/chat/completions",
                                                      json={**ASK, "max_tokens": 4})
                                          for _ in range(500)))

    with server as url:
        warm = asyncio.run(flood(url))  # the first flood warms the client's and server's pools
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        replies = asyncio.run(flood(url))
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        metrics = httpx.get(f"{url}/metrics").text
    assert grown_mib < 32, f"peak memory grew by {grown_mib:.0f} MiB over the second flood"
    assert engine.peak <= 4
    statuses = [r.status_code for r in warm + replies]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    assert statuses.count(200) >= 24  # every slot and queue place served at least once a flood
    refused = [r for r in warm + replies if r.status_code == 429]
    assert refused and all(r.headers["retry-after"] == "1" for r in refused)
    assert refused[0].json()["error"]["code"] == "server_busy"
    assert engine.started == engine.closed == statuses.count(200)
    assert f"graft_requests_rejected {float(len(refused))}" in metrics
    assert "graft_requests_in_flight 0.0" in metrics


def test_past_the_deadline_a_request_is_a_504_and_a_stream_ends_with_an_error(stack):
    server, engine = serve_slowly(stack, 0.1, request_timeout_s=0.5)
    with server as url:
        reply = httpx.post(f"{url}/v1/chat/completions", json={**ASK, "max_tokens": 50})
        assert reply.status_code == 504, reply.text
        assert reply.json()["error"]["type"] == "timeout_error"
        assert "serving.request_timeout_s" in reply.json()["error"]["message"]
        with httpx.stream("POST", f"{url}/v1/chat/completions",
                          json={**ASK, "max_tokens": 50, "stream": True}) as streamed:
            lines = [line for line in streamed.iter_lines() if line]
        assert lines[-1] == "data: [DONE]"
        assert json.loads(lines[-2][6:])["error"]["type"] == "timeout_error"
        assert wait_for(lambda: engine.closed == engine.started == 2)


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_stops_its_generation(stack, stream):
    server, engine = serve_slowly(stack, 0.2)
    with server as url:
        body = {**ASK, "max_tokens": 60, "stream": stream}  # the server's most: 64
        if stream:
            with httpx.stream("POST", f"{url}/v1/chat/completions", json=body) as reply:
                for line in reply.iter_lines():
                    if '"content":"x"' in line:
                        break  # one piece read, then the client hangs up
        else:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{url}/v1/chat/completions", json=body, timeout=0.5)
        # 60 pieces would take 12 s: the generation is closed long before.
        assert wait_for(lambda: engine.started == 1 and engine.closed == 1, 3.0)
