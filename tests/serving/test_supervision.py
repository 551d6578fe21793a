"""The vLLM engine's supervision, on a stand-in server (tests/serving/fake_vllm.py) in the place
of vLLM: a private socket and key, a death mid-stream that ends the stream with an error, 503s
while it restarts, the restart with backoff, and giving up after the restarts allowed."""

import asyncio
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from graftlm.core.errors import BackendUnavailableError
from graftlm.core.settings import VllmSettings
from graftlm.serving.engines import vllm
from graftlm.serving.engines.base import Request
from graftlm.serving.engines.vllm import VllmEngine
from graftlm.serving.protocol import Params

ROOT = Path(__file__).parents[2]
ASK = Request(None, Params(max_tokens=40), messages=[{"role": "user", "content": "hi"}])


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setattr(vllm, "vllm_installed", lambda: True)
    monkeypatch.setattr(vllm, "WATCH_S", 0.1)
    monkeypatch.setattr(vllm, "BACKOFF_S", (0.2,))
    monkeypatch.setenv("FAKE_MODEL", "base")  # the name the engine gives its server's model
    lines, fatal = [], []
    engine = VllmEngine(tmp_path / "model", {}, VllmSettings(max_restarts=2),
                        log_dir=tmp_path / "logs", report=lines.append, on_fatal=fatal.append)
    engine.command = lambda: [sys.executable, "-m", "uvicorn", "tests.serving.fake_vllm:app",
                              "--uds", str(engine.socket), "--log-level", "warning",
                              "--app-dir", str(ROOT)]
    engine.lines, engine.fatal = lines, fatal
    return engine


async def until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_the_server_is_private_to_the_gateway(engine):
    async def scenario():
        await engine.start()
        try:
            assert engine.socket.parent.stat().st_mode & 0o777 == 0o700
            assert engine.secret and len(engine.secret) >= 32
            transport = httpx.AsyncHTTPTransport(uds=str(engine.socket))
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as anyone:
                keyless = await anyone.post("/v1/chat/completions", json={"max_tokens": 1})
            assert keyless.status_code == 401  # the socket alone is not enough
            chunks = [c async for c in engine.generate(ASK)]
            assert chunks[-1].completion_tokens == 40 and chunks[-1].finish_reason == "stop"
        finally:
            await engine.stop()
        assert not engine.socket.exists() and engine.process is None

    asyncio.run(scenario())


def test_a_death_mid_stream_is_an_error_then_503s_then_a_restart(engine):
    async def scenario():
        await engine.start()
        try:
            first = engine.process
            stream = engine.generate(ASK)
            assert (await anext(stream)).text.startswith("fake:base")
            first.send_signal(signal.SIGKILL)
            with pytest.raises(BackendUnavailableError):
                async for _ in stream:
                    pass
            await until(lambda: not engine.healthy())
            with pytest.raises(BackendUnavailableError, match="restarting"):
                await anext(engine.generate(ASK))
            await until(engine.healthy)
            assert engine.process is not first
            chunks = [c async for c in engine.generate(ASK)]
            assert chunks[-1].completion_tokens == 40
        finally:
            await engine.stop()
        assert any("died" in line for line in engine.lines)
        assert any("is back" in line for line in engine.lines) and not engine.fatal

    asyncio.run(scenario())


def test_after_the_restarts_allowed_the_engine_gives_up(engine):
    async def scenario():
        await engine.start()
        try:
            engine.command = lambda: [sys.executable, "-c", "raise SystemExit(3)"]
            engine.process.send_signal(signal.SIGKILL)
            await until(lambda: engine.fatal, 60)
        finally:
            await engine.stop()
        assert "did not start again after 2 tries" in engine.fatal[0]
        assert sum("restart" in line and "failed" in line for line in engine.lines) == 2

    asyncio.run(scenario())


def test_a_hung_server_counts_as_down_and_is_restarted(engine, monkeypatch):
    """SIGSTOP: the process still polls as running; only its silence on /health tells."""
    monkeypatch.setattr(vllm, "PROBE_S", 0.3)

    async def scenario():
        await engine.start()
        try:
            first = engine.process
            first.send_signal(signal.SIGSTOP)
            await until(lambda: not engine.healthy(), 20)
            await until(engine.healthy, 60)
            assert engine.process is not first and first.poll() is not None  # killed
            chunks = [c async for c in engine.generate(ASK)]
            assert chunks[-1].completion_tokens == 40
        finally:
            await engine.stop()
        assert any("stopped answering /health" in line for line in engine.lines)

    asyncio.run(scenario())


def test_the_watcher_outlives_a_failure_of_its_own(engine, monkeypatch):
    async def scenario():
        await engine.start()
        calls = []

        async def broken():
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("a bug in a check")
            return True

        engine._answers = broken
        try:
            await until(lambda: len(calls) >= 3, 10)
            assert engine.healthy() and not engine._watcher.done()
        finally:
            await engine.stop()
        assert any("hit RuntimeError: a bug in a check" in line for line in engine.lines)

    asyncio.run(scenario())
