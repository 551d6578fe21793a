"""The gateway's translation units without a server: names, parameters, messages, the context.

The runtime is real (the tiny base model, adapter 'terse', index 'handbook' from conftest); where
a test needs answers, a fake engine stands in for the local one.
"""

import asyncio

import pytest

from graftlm.serving.protocol import ApiError, ChatRequest, Chunk, CompletionRequest
from graftlm.serving.runtime import Route
from tests.conftest import WordEmbedder

ASK = [{"role": "user", "content": "what is the wifi password"}]


def make_gateway(stack):
    from graftlm.serving.gateway import Gateway
    from graftlm.serving.runtime import Runtime

    settings, workspace = stack
    return Gateway(Runtime(settings, workspace, adapters=["terse"], indexes=["handbook"],
                           engine="local", embedder=WordEmbedder()))


@pytest.fixture(scope="module")
def gateway(stack):
    return make_gateway(stack)


def chat(**fields) -> ChatRequest:
    return ChatRequest.model_validate({"model": "base", "messages": ASK, **fields})


def refusal(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        result = call(*args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return caught.value


class FakeEngine:
    """Answers every request with two chunks and keeps what it was asked."""

    name = "fake"

    def __init__(self):
        self.requests = []

    async def generate(self, request):
        self.requests.append(request)
        yield Chunk("hi")
        yield Chunk(" there", "stop", 5, 2)


def test_route_resolves_model_names(gateway):
    assert gateway.route("terse+handbook") == Route("terse+handbook", "terse", "handbook")
    assert gateway.route("base") == Route("base", None, None)


@pytest.mark.parametrize("model", ["nope", "base+nowhere"])
def test_an_unknown_model_is_a_404_listing_the_models(gateway, model):
    error = refusal(gateway.route, model)
    assert error.status == 404
    assert error.body["error"] == {
        "message": f"The model '{model}' does not exist; available: base, terse, "
                   "base+handbook, terse+handbook.",
        "type": "invalid_request_error", "param": "model", "code": "model_not_found"}


def test_params_prefer_max_completion_tokens_and_default_from_the_settings(gateway):
    assert gateway.params(chat(max_tokens=3, max_completion_tokens=5)).max_tokens == 5
    assert gateway.params(chat(max_tokens=3)).max_tokens == 3
    params = gateway.params(chat(temperature=0.5, top_p=0.9, stop="x", seed=7))
    assert params.max_tokens == 8  # serving.default_max_tokens in conftest
    assert (params.temperature, params.top_p, params.stop, params.seed) == (0.5, 0.9, ["x"], 7)


def test_params_over_the_limit_are_a_400_naming_the_setting(gateway):
    assert gateway.params(chat(max_tokens=64)).max_tokens == 64
    error = refusal(gateway.params, chat(max_completion_tokens=65))
    assert error.status == 400 and error.body["error"]["param"] == "max_tokens"
    assert error.body["error"]["message"] == ("max_tokens is 65, above this server's limit of "
                                              "64 (serving.max_tokens_limit).")


def test_the_context_check_allows_exactly_the_context_length(gateway):
    gateway.check_context(120, 8)  # 128 in all: vllm.max_model_len in conftest
    error = refusal(gateway.check_context, 121, 8)
    assert error.status == 400 and error.body["error"]["code"] == "context_length_exceeded"
    assert "121 tokens and max_tokens is 8: 129 in all" in error.body["error"]["message"]


def test_messages_read_developer_as_system_and_join_text_parts():
    from graftlm.serving.gateway import chat_messages

    body = chat(messages=[{"role": "developer", "content": "Be brief."},
                          {"role": "user", "content": [{"type": "text", "text": "play "},
                                                       {"type": "text", "text": "jazz"}]},
                          {"role": "assistant", "content": None}])
    assert chat_messages(body) == [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "play jazz"},
                                   {"role": "assistant", "content": ""}]


def test_messages_with_images_are_a_400():
    from graftlm.serving.gateway import chat_messages

    body = chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])
    error = refusal(chat_messages, body)
    assert error.status == 400 and error.body["error"]["param"] == "messages"
    assert "'image_url' are not supported" in error.body["error"]["message"]


def test_prompt_tokens_count_the_chat_template_too(gateway):
    short = gateway.prompt_tokens([{"role": "user", "content": "play some jazz"}])
    longer = gateway.prompt_tokens([{"role": "user", "content": "play some jazz music"}])
    assert longer == short + 1  # the test tokenizer has a token a word
    assert short > gateway.count_tokens("play some jazz")  # role markers, generation prompt


def test_augment_puts_the_sources_before_the_question(gateway):
    body = chat(model="base+handbook")
    params = gateway.params(body)
    messages, extra = asyncio.run(gateway.augment(gateway.route(body.model), body, ASK, params))
    question = messages[-1]["content"]
    assert messages[-1]["role"] == "user" and len(messages) == len(ASK)
    assert "[1] wifi.md" in question and question.endswith(f"Question: {ASK[-1]['content']}")
    assert extra["citations"][0]["source"] == "wifi.md"
    retrieval = extra["graft"]["retrieval"]
    assert (retrieval["k"], retrieval["mode"]) == (2, "hybrid")  # conftest's rag.prompt


def test_augment_without_a_user_message_is_a_400(gateway):
    body = chat(model="base+handbook", messages=[{"role": "system", "content": "hi"}])
    error = refusal(gateway.augment, gateway.route(body.model), body,
                    [{"role": "system", "content": "hi"}], gateway.params(body))
    assert error.status == 400 and error.body["error"]["param"] == "messages"
    assert "needs a user message" in error.body["error"]["message"]


def test_chat_sends_the_engine_the_augmented_messages_and_adds_lineage(stack):
    gateway = make_gateway(stack)
    gateway.runtime.engine = fake = FakeEngine()
    answer = asyncio.run(gateway.chat(chat(model="terse+handbook", max_tokens=4)))
    asked = fake.requests[0]
    assert asked.adapter == "terse" and asked.params.max_tokens == 4 and not asked.stream
    assert asked.messages[:-1] == ASK[:-1] and "[1] wifi.md" in asked.messages[-1]["content"]
    assert answer["choices"][0]["message"]["content"] == "hi there"
    lineage = answer["graft"]
    assert lineage["engine"] == "fake" and lineage["adapter"]["name"] == "terse"
    assert lineage["index"]["name"] == "handbook" and lineage["retrieval"]["k"] == 2
    assert answer["citations"][0]["source"] == "wifi.md"


def test_completions_with_retrieval_put_the_sources_before_the_prompt(stack):
    gateway = make_gateway(stack)
    gateway.runtime.engine = fake = FakeEngine()
    body = CompletionRequest(model="base+handbook", prompt="what is the wifi password",
                             echo=True, max_tokens=2)
    answer = asyncio.run(gateway.complete(body))
    prompt = fake.requests[0].prompt
    assert prompt.endswith("Question: what is the wifi password") and "[1] wifi.md" in prompt
    assert answer["choices"][0]["text"] == prompt + "hi there"


def test_adding_an_unknown_adapter_is_a_404(gateway):
    error = refusal(gateway.add_adapter, "ghost")
    assert error.status == 404
    assert error.body["error"]["code"] == "model_not_found"
    assert error.body["error"]["param"] == "name"
