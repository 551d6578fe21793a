"""One retrieval prompt: the token ids of one request are the same on every path that builds it.

``graft serve`` (the gateway's augmentation, then the local engine's tokenisation), ``graft eval
run --index``, measured advice's RAG arm and ``graft train --index`` (the prompt part of a
training example) must show the model exactly the same tokens for the same question and index.
"""

import asyncio

import pytest

from tests.conftest import WordEmbedder, save_tiny_base

# Words the tiny test tokenizer knows, so the ids show what the text says.
SYSTEM = "you are helpful"
QUESTION = "what is the weather in paris"
DOCS = {"weather.md": "the weather in paris is rate five stars\n",
        "music.md": "play some jazz music\n",
        "book.md": "book a table for two\n"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from graftlm.core.settings import Settings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.index import build_index

    home = tmp_path_factory.mktemp("identity")
    base = save_tiny_base(home / "tiny-base")
    settings = Settings(home=home, models={"base": str(base)},
                        rag={"prompt": {"k": 2, "context_tokens": 200}},
                        tuning={"distractor_share": 0.0})
    workspace = Workspace(home)
    docs = home / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    build_index(docs, "kb", workspace=workspace, settings=settings.rag, embedder=WordEmbedder())
    return settings, workspace


def example():
    from graftlm.tuning.data import Example

    return Example((("system", SYSTEM), ("user", QUESTION), ("assistant", "five stars")), 1)


def served_ids(settings, workspace):
    from graftlm.serving.engines.base import Request
    from graftlm.serving.gateway import Gateway
    from graftlm.serving.protocol import ChatRequest
    from graftlm.serving.runtime import Runtime

    runtime = Runtime(settings, workspace, indexes=["kb"], engine="local",
                      embedder=WordEmbedder())
    gateway = Gateway(runtime)
    body = ChatRequest.model_validate({"model": "base+kb", "messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]})
    params = gateway.params(body)
    messages, _ = asyncio.run(gateway.augment(gateway.route(body.model), body,
                                              [m.model_dump() for m in body.messages], params))
    engine = runtime.engine
    engine.tokenizer = gateway.tokenizer
    return engine.token_ids(Request(None, params, messages=messages))


def test_the_four_paths_build_the_same_tokens(setup, tmp_path):
    from graftlm.advisor.arms import ARMS, ArmRun
    from graftlm.advisor.measure import Measurer
    from graftlm.rag.index import load_index
    from graftlm.tuning.data import IGNORE, encode, prompt_ids
    from graftlm.tuning.pipeline import with_index
    from graftlm.tuning.raft import render

    settings, workspace = setup
    index = load_index("kb", workspace=workspace, embedder=WordEmbedder())
    served = served_ids(settings, workspace)

    # graft eval run --index renders its examples with tuning.raft.render
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(settings.models.base)
    evaluated = prompt_ids(render([example()], index, settings.rag, tokenizer).examples[0],
                           tokenizer)

    measurer = Measurer(settings, workspace, index="kb", embedder=WordEmbedder())
    measurer.tokenizer = tokenizer
    arms = {arm_id: ArmRun(arm_id, strategy, title) for arm_id, strategy, title in ARMS}
    measured = prompt_ids(measurer._retrieval(arms, [example()], tmp_path)[0], tokenizer)

    _, trained, _, _ = with_index(settings, workspace, "kb", tokenizer, [example()], [],
                                   WordEmbedder())
    encoded = encode(trained[0], tokenizer, 4096)
    first_label = next(i for i, label in enumerate(encoded.labels) if label != IGNORE)
    train_prompt = encoded.input_ids[:first_label]

    assert "weather in paris is rate five stars" in tokenizer.decode(served)  # the sources
    assert served == evaluated == measured == train_prompt
