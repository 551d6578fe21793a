"""The app (routes, key and body-size checks) through real clients: openai, LangChain's ChatOpenAI
and plain HTTP, over a real gateway with the local engine."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.serving.conftest import gateway

ASK = [{"role": "user", "content": "what is the wifi password"}]


def test_models_lists_base_adapters_and_retrieval_combinations(client):
    ids = sorted(m.id for m in client.models.list().data)
    assert ids == ["base", "base+handbook", "terse", "terse+handbook"]


def test_plain_chat_answers_in_openai_shape(client):
    reply = client.chat.completions.create(model="base", messages=ASK, max_tokens=6,
                                           temperature=0)
    assert reply.object == "chat.completion" and reply.model == "base"
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert reply.usage.prompt_tokens > 0
    assert 1 <= reply.usage.completion_tokens <= 6
    lineage = reply.model_extra["graft"]
    assert lineage["engine"] == "local" and lineage["adapter"] is None
    assert lineage["index"] is None and "citations" not in reply.model_extra


def test_greedy_answers_are_repeatable_and_streaming_gives_the_same_text(client):
    ask = dict(model="terse", messages=ASK, max_tokens=8, temperature=0)
    whole = client.chat.completions.create(**ask).choices[0].message.content
    assert whole == client.chat.completions.create(**ask).choices[0].message.content
    chunks = list(client.chat.completions.create(**ask, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in {"stop", "length"} and not any(finishes[:-1])
    assert chunks[-1].usage.completion_tokens >= 1 and not chunks[-1].choices


def test_the_adapter_changes_the_answer(client):
    prompts = ["play some jazz music", "weather in paris", "book a table for two"]

    def answer(model, text):
        return client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], max_tokens=6,
            temperature=0).choices[0].message.content

    base = [answer("base", p) for p in prompts]
    tuned = [answer("terse", p) for p in prompts]
    assert base != tuned
    reply = client.chat.completions.create(model="terse", messages=ASK, max_tokens=2)
    assert reply.model_extra["graft"]["adapter"]["name"] == "terse"
    assert len(reply.model_extra["graft"]["adapter"]["sha256"]) == 12


def test_retrieval_models_cite_their_sources(client):
    reply = client.chat.completions.create(model="base+handbook", messages=ASK, max_tokens=4,
                                           temperature=0)
    citations = reply.model_extra["citations"]
    assert citations and citations[0]["source"] == "wifi.md"
    assert {"index", "source", "location", "chunk_id", "score", "text"} <= set(citations[0])
    assert [c["index"] for c in citations] == list(range(1, len(citations) + 1))
    assert reply.model_extra["graft"]["index"]["name"] == "handbook"
    # The sources were put in the prompt: it is longer than the question alone.
    plain = client.chat.completions.create(model="base", messages=ASK, max_tokens=1)
    assert reply.usage.prompt_tokens > plain.usage.prompt_tokens + 10


def test_retrieval_options_travel_in_extra_body(client):
    reply = client.chat.completions.create(
        model="terse+handbook", messages=ASK, max_tokens=2,
        extra_body={"retrieval": {"k": 1, "mode": "dense", "sources": ["warranty"]}})
    assert [c["source"] for c in reply.model_extra["citations"]] == ["warranty.md"]
    assert reply.model_extra["graft"]["retrieval"] == {
        "k": 1, "mode": "dense", "ms": reply.model_extra["graft"]["retrieval"]["ms"]}
    sparse = client.chat.completions.create(
        model="base+handbook", messages=ASK, max_tokens=2,
        extra_body={"retrieval": {"mode": "sparse"}})
    assert sparse.model_extra["citations"][0]["source"] == "wifi.md"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="base+handbook", messages=ASK,
                                       extra_body={"retrieval": {"mode": "fuzzy"}})


def test_the_source_budget_keeps_whole_sources_only(client):
    reply = client.chat.completions.create(model="base+handbook", messages=ASK, max_tokens=2,
                                           extra_body={"retrieval": {"k": 3}})
    # context_tokens is 60 in these settings: not all three sources fit.
    assert 1 <= len(reply.model_extra["citations"]) < 3


def test_streamed_retrieval_carries_citations_on_the_first_chunk(client):
    stream = client.chat.completions.create(model="base+handbook", messages=ASK, max_tokens=3,
                                            stream=True)
    first = next(iter(stream))
    assert first.model_extra["citations"][0]["source"] == "wifi.md"


def test_completions_route(client):
    reply = client.completions.create(model="terse", prompt="play some", max_tokens=4,
                                      temperature=0)
    assert reply.object == "text_completion" and reply.usage.completion_tokens >= 1
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="terse", prompt="play some", max_tokens=4, temperature=0, stream=True))
    assert streamed == reply.choices[0].text


def test_stop_sequences_cut_the_answer(client):
    ask = dict(model="terse", messages=[{"role": "user", "content": "weather in paris"}],
               max_tokens=12, temperature=0)
    whole = client.chat.completions.create(**ask).choices[0].message.content
    stop = " " + whole.split()[2]  # this seeded model answers with a dozen words
    cut = client.chat.completions.create(**ask, stop=[stop, "never said"])
    assert cut.choices[0].message.content == whole[:whole.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        **ask, stop=stop, stream=True) if c.choices)
    assert streamed == whole[:whole.index(stop)]


def test_unknown_model_is_a_404_listing_the_models(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=ASK)
    error = caught.value.body
    assert error["code"] == "model_not_found" and "terse+handbook" in error["message"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="base+nowhere", messages=ASK)


@pytest.mark.parametrize("change, param", [
    ({"temperature": 5}, "temperature"),
    ({"max_tokens": 65}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"n": 2}, "n"),
])
def test_bad_parameters_are_a_400_naming_them(client, change, param):
    ask = {"model": "base", "messages": ASK, **change}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**ask)
    assert caught.value.body["param"] == param
    assert caught.value.body["type"] == "invalid_request_error"


def test_a_prompt_over_the_context_length_is_refused(client):
    long = [{"role": "user", "content": "jazz " * 200}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="base", messages=long, max_tokens=4)
    assert caught.value.body["code"] == "context_length_exceeded"


def test_an_oversized_body_is_a_413(url):
    reply = httpx.post(f"{url}/v1/chat/completions", json={
        "model": "base", "messages": [{"role": "user", "content": "x" * 30_000}]})
    assert reply.status_code == 413
    assert "serving.max_body_bytes" in reply.json()["error"]["message"]


def test_malformed_json_is_a_400(url):
    reply = httpx.post(f"{url}/v1/chat/completions", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert reply.status_code == 400 and reply.json()["error"]["message"]


def test_sixty_four_concurrent_requests_all_succeed(client):
    def ask(i):
        model = ["base", "terse", "base+handbook", "terse+handbook"][i % 4]
        return client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"weather in paris {i}"}],
            max_tokens=4, temperature=0)

    with ThreadPoolExecutor(64) as pool:
        replies = list(pool.map(ask, range(64)))
    assert len(replies) == 64
    assert all(r.choices[0].finish_reason in {"stop", "length"} for r in replies)


def test_langchain_chat_openai_plain_and_streamed(url):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model="terse+handbook", base_url=f"{url}/v1", api_key="unused",
                      max_tokens=5, temperature=0, max_retries=0)
    whole = chat.invoke("what is the wifi password")
    assert isinstance(whole.content, str)
    streamed = "".join(piece.content for piece in chat.stream("what is the wifi password"))
    assert streamed == whole.content


def test_health_and_metrics(url, client):
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "engine": "local"}
    client.chat.completions.create(model="terse", messages=ASK, max_tokens=2)
    metrics = httpx.get(f"{url}/metrics").text
    assert 'graft_requests_total{model="terse",status="ok"}' in metrics
    assert 'graft_tokens_total{kind="completion",model="terse"}' in metrics
    assert "graft_request_seconds_bucket" in metrics


def test_an_api_key_is_required_when_set(stack):
    with gateway(stack, api_key="s3cret") as url:
        anonymous = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            anonymous.models.list()
        keyed = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert keyed.models.list().data
        assert httpx.get(f"{url}/health").status_code == 200  # probes need no key


def test_adapters_are_added_at_run_time(stack, url, client):
    from tests.serving.conftest import make_adapter

    settings, workspace = stack
    make_adapter(settings.models.base, workspace, "late")
    reply = httpx.post(f"{url}/v1/adapters", json={"name": "late"})
    assert reply.status_code == 200, reply.text
    assert "late+handbook" in reply.json()["models"]
    answer = client.chat.completions.create(model="late", messages=ASK, max_tokens=2)
    assert answer.model_extra["graft"]["adapter"]["name"] == "late"
    missing = httpx.post(f"{url}/v1/adapters", json={"name": "ghost"})
    said = missing.json()["error"]["message"]
    # neither the workspace's path nor the names of what it holds reach the client
    assert missing.status_code == 404 and "ghost" in said
    assert "terse" not in said and "/" not in said.replace("graft train", "")


def test_streams_end_with_done(url):
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={
            "model": "base", "messages": ASK, "max_tokens": 3, "stream": True}) as reply:
        lines = [line for line in reply.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(json.loads(line[6:])["object"] == "chat.completion.chunk"
               for line in lines[:-1])


def test_a_choice_constraint_answers_with_the_measured_choice(client, stack):
    from graftlm.core.loader import load_pretrained
    from graftlm.tuning.choice import choose

    settings, _ = stack
    labels = ["PlayMusic", "GetWeather", "RateBook"]
    for extra in ({"structured_outputs": {"choice": labels}}, {"guided_choice": labels}):
        reply = client.chat.completions.create(model="base", messages=ASK, extra_body=extra)
        assert reply.choices[0].message.content in labels
        assert reply.choices[0].finish_reason == "stop"
    model, tokenizer = load_pretrained(settings.models.base, device="cpu")
    prompt = tokenizer.apply_chat_template(ASK, add_generation_prompt=True, tokenize=True,
                                           return_dict=False)
    assert reply.choices[0].message.content == choose(model, tokenizer, [list(prompt)],
                                                      labels)[0]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="base", messages=ASK,
                                       extra_body={"structured_outputs": {"regex": "a+"}})
