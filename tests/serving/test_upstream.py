"""Fronting vLLM servers that run already (``graft serve --upstream``), on two stand-in servers
(tests/serving/fake_vllm.py) over TCP: one model checked, adapters registered on each, requests
balanced by fewest outstanding, a server that dies left out and taken back (adapters again)
when it returns — and the whole gateway in front of them with a real OpenAI client."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from graftlm.core.errors import BackendUnavailableError, ConfigError
from graftlm.serving.engines import upstream as upstream_module
from graftlm.serving.engines.base import Request
from graftlm.serving.engines.upstream import UpstreamEngine
from graftlm.serving.launch import free_port
from graftlm.serving.protocol import Params
from tests.serving.conftest import make_app

ROOT = Path(__file__).parents[2]
KEY = "upstream-key"


class Fake:
    """A stand-in vLLM server in its own process, on a TCP port."""

    def __init__(self, name: str, model: str = "fake-base"):
        self.name, self.model, self.port = name, model, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> "Fake":
        env = {**os.environ, "FAKE_NAME": self.name, "FAKE_MODEL": self.model,
               "VLLM_API_KEY": KEY}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.serving.fake_vllm:app", "--port",
             str(self.port), "--log-level", "warning", "--app-dir", str(ROOT)], env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def adapters(self) -> list[str]:
        models = httpx.get(f"{self.url}/v1/models",
                           headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
        return sorted(m["id"] for m in models if m.get("parent"))


@pytest.fixture
def fakes():
    started = [Fake("one").start(), Fake("two").start()]
    yield started
    for fake in started:
        if fake.process.poll() is None:
            fake.stop()


def ask(adapter=None, stream=True, tokens=6):
    return Request(adapter, Params(max_tokens=tokens),
                   messages=[{"role": "user", "content": "hi"}], stream=stream)


async def answer(engine, request) -> str:
    return "".join([c.text async for c in engine.generate(request)])


def test_requests_are_balanced_and_a_dead_upstream_is_left_out_then_taken_back(
        fakes, tmp_path, monkeypatch):
    monkeypatch.setattr(upstream_module, "WATCH_S", 0.1)
    lines = []
    engine = UpstreamEngine([f.url for f in fakes], {"tickets": tmp_path / "tickets"},
                            api_key=KEY, report=lines.append)

    async def scenario():
        await engine.start()
        try:
            assert engine.served == "fake-base" and engine.max_model_len == 1024
            assert [f.adapters() for f in fakes] == [["tickets"], ["tickets"]]
            # Eight streams at once: fewest outstanding spreads them four and four.
            texts = await asyncio.gather(*(answer(engine, ask()) for _ in range(8)))
            assert sorted(t.split(":")[0] for t in texts) == ["one"] * 4 + ["two"] * 4
            assert (await answer(engine, ask("tickets", stream=False))).startswith(
                ("one:tickets", "two:tickets"))
            fakes[0].stop()
            deadline = time.monotonic() + 10
            while engine.upstreams[0].healthy:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            texts = await asyncio.gather(*(answer(engine, ask()) for _ in range(4)))
            assert all(t.startswith("two:") for t in texts) and engine.healthy()
            fakes[0].start()  # the same port, a fresh server: no adapters loaded
            while not engine.upstreams[0].healthy:
                assert time.monotonic() < deadline + 20
                await asyncio.sleep(0.05)
            assert fakes[0].adapters() == ["tickets"]
            fakes[0].stop()
            fakes[1].stop()
            while engine.healthy():
                assert time.monotonic() < deadline + 40
                await asyncio.sleep(0.05)
            with pytest.raises(BackendUnavailableError, match="no upstream is healthy"):
                await answer(engine, ask())
        finally:
            await engine.stop()
        assert any("is down" in line for line in lines)
        assert any("is back" in line for line in lines)

    asyncio.run(scenario())


def test_upstreams_serving_different_models_are_refused(tmp_path):
    fakes = [Fake("one").start(), Fake("two", model="other-model").start()]
    try:
        engine = UpstreamEngine([f.url for f in fakes], api_key=KEY)
        with pytest.raises(ConfigError, match="different models"):
            asyncio.run(engine.start())
        nobody = UpstreamEngine([f"http://127.0.0.1:{free_port()}"])
        with pytest.raises(BackendUnavailableError, match="no upstream answers"):
            asyncio.run(nobody.start())
        assert all(u.client is None for u in (*engine.upstreams, *nobody.upstreams))
    finally:
        for fake in fakes:
            fake.stop()


def test_the_gateway_fronts_upstreams_with_its_adapters_retrieval_and_lineage(stack, fakes):
    from graftlm.serving.app import run_in_thread

    app = make_app(stack, upstream=[f.url for f in fakes], upstream_api_key=KEY)
    with run_in_thread(app, startup_timeout=60) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="terse+handbook", max_tokens=4,
                                               messages=[{"role": "user", "content": "wifi?"}])
        assert reply.choices[0].message.content.split(":")[1].startswith("terse")
        assert reply.model_extra["graft"]["engine"] == "upstream"
        assert reply.model_extra["citations"]
        assert httpx.get(f"{url}/health").json() == {"status": "ok", "engine": "upstream"}
    assert [f.adapters() for f in fakes] == [["terse"], ["terse"]]


@pytest.mark.parametrize("failure, healthy_after", [
    ("answered", True),  # vLLM answered 500 about this request: the server is fine
    ("unreachable", False),  # the connection failed: left out until the watcher sees it
])
def test_only_transport_failures_mark_an_upstream_down(monkeypatch, failure, healthy_after):
    from graftlm.serving.engines.vllm_http import Unreachable
    from graftlm.serving.protocol import Params

    async def failing(*args, **kwargs):
        if failure == "answered":
            raise BackendUnavailableError("vLLM answered 500: bad request shape")
        raise Unreachable("upstream stopped answering (ConnectError); retry shortly.")
        yield  # an async generator, as forward is

    monkeypatch.setattr(upstream_module, "forward", failing)
    engine = UpstreamEngine(["http://127.0.0.1:9"])
    engine.upstreams[0].healthy = True
    ask = Request(None, Params(max_tokens=4), messages=[{"role": "user", "content": "hi"}])

    async def run():
        with pytest.raises(BackendUnavailableError):
            async for _ in engine.generate(ask):
                pass

    asyncio.run(run())
    assert engine.upstreams[0].healthy is healthy_after
