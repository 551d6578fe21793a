"""The vLLM engine's start-up, with a stand-in child process instead of a vLLM server."""

import asyncio
import sys

import pytest

from graftlm.core.errors import BackendUnavailableError
from graftlm.core.settings import VllmSettings
from graftlm.serving.engines import vllm
from graftlm.serving.engines.vllm import VllmEngine


def engine_running(tmp_path, monkeypatch, code: str, **settings) -> tuple[VllmEngine, list]:
    """An engine whose 'server' is ``python -c code``; and the lines it reports."""
    monkeypatch.setattr(vllm, "vllm_installed", lambda: True)
    lines: list[str] = []
    engine = VllmEngine(tmp_path, {}, VllmSettings(**settings), log_dir=tmp_path / "logs",
                        report=lines.append)
    monkeypatch.setattr(engine, "command", lambda: [sys.executable, "-c", code])
    return engine, lines


def test_start_reports_where_the_log_is_and_prints_nothing(tmp_path, monkeypatch, capsys):
    engine, lines = engine_running(tmp_path, monkeypatch,
                                   "print('no model here', flush=True); raise SystemExit(3)")
    with pytest.raises(BackendUnavailableError, match="exited with code 3") as caught:
        asyncio.run(engine.start())
    assert "no model here" in str(caught.value) and str(engine.log_path) in str(caught.value)
    assert lines == [f"vLLM log: {engine.log_path} (socket {engine.socket})"]
    assert engine.log_path.name.startswith("vllm-")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


SLEEPER = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"


def gone(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_server_that_is_not_healthy_in_time_is_stopped(tmp_path, monkeypatch):
    engine, _ = engine_running(tmp_path, monkeypatch, SLEEPER, startup_timeout_s=1.0)
    with pytest.raises(BackendUnavailableError,
                       match=r"not healthy after 1 s \(serving.vllm.startup_timeout_s\)"):
        asyncio.run(engine.start())
    assert engine.process is None
    assert gone(int(engine.log_path.read_text().split()[0]))


def test_a_cancelled_start_stops_the_server(tmp_path, monkeypatch):
    engine, _ = engine_running(tmp_path, monkeypatch, SLEEPER)

    async def cancel_while_starting():
        task = asyncio.create_task(engine.start())
        while engine.log_path is None or not engine.log_path.read_text().strip():
            await asyncio.sleep(0.05)
        process = engine.process
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return process

    process = asyncio.run(asyncio.wait_for(cancel_while_starting(), 30))
    assert process.poll() is not None and engine.process is None


def test_merged_adapters_get_servers_of_their_own_without_lora(tmp_path, monkeypatch):
    monkeypatch.setattr(vllm, "on_gpu", lambda: False)
    engine = VllmEngine(tmp_path / "base", {"lora-one": tmp_path / "a"}, VllmSettings(),
                        log_dir=tmp_path, merged={"fast": tmp_path / "fast-merged"})
    engine.port = engine.merged["fast"].port = 1
    with pytest.raises(FileNotFoundError):  # the LoRA adapter's config is read for its rank
        engine.command()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "adapter_config.json").write_text('{"r": 8}')
    base = engine.command()
    assert "--enable-lora" in base and "--enforce-eager" not in base
    assert base[base.index("--lora-modules") + 1:][:1] == [f"lora-one={tmp_path / 'a'}"]
    merged = engine.merged["fast"].command()
    assert merged[merged.index("--model") + 1] == str(tmp_path / "fast-merged")
    assert merged[merged.index("--served-model-name") + 1] == "fast"
    assert "--enable-lora" not in merged and "--enforce-eager" in merged


def test_requests_for_a_merged_adapter_go_to_its_server(tmp_path):
    from graftlm.serving.engines.base import Request
    from graftlm.serving.protocol import Params

    engine = VllmEngine(tmp_path, {}, VllmSettings(), log_dir=tmp_path,
                        merged={"fast": tmp_path / "m"})
    seen = []

    async def answer(request):
        seen.append(request.adapter)
        yield "chunk"

    engine.merged["fast"].generate = answer
    request = Request("fast", Params(max_tokens=4), messages=[{"role": "user", "content": "hi"}])

    async def collect():
        return [c async for c in engine.generate(request)]

    assert asyncio.run(collect()) == ["chunk"] and seen == [None]
    asyncio.run(engine.add_adapter("fast", tmp_path / "m"))  # already served: nothing to load


def test_on_a_gpu_the_servers_split_the_memory_they_may_take(tmp_path, monkeypatch):
    monkeypatch.setattr(vllm, "on_gpu", lambda: True)
    engine = VllmEngine(tmp_path / "base", {}, VllmSettings(gpu_memory_utilization=0.9),
                        log_dir=tmp_path, merged={"dora": tmp_path / "d", "ia3": tmp_path / "i"})

    def share(cmd):
        return float(cmd[cmd.index("--gpu-memory-utilization") + 1])

    shares = [share(e.command()) for e in (engine, *engine.merged.values())]
    assert shares == pytest.approx([0.3, 0.3, 0.3])
    alone = VllmEngine(tmp_path / "base", {}, VllmSettings(), log_dir=tmp_path)
    assert share(alone.command()) == 0.85
