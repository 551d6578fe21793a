"""The gateway held to its own OpenAPI description by schemathesis: every route fuzzed with bodies
the schema allows and bodies it forbids, over a real gateway (local engine, tiny model, an adapter
and a retrieval index). No 5xx; every status, content type and body as described; every body the
schema forbids refused with a 4xx."""

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               negative_data_rejection,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from tests.serving.conftest import gateway

EXAMPLES = 60  # per route and mode
CONFIG = """

[checks.negative_data_rejection]
expected-statuses = ["400", "404", "413", "415"]
"""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


# Every route, and the generation modes that apply to it: a route without a body or parameters
# has nothing to negate.
ROUTES = [("GET", "/health"), ("GET", "/metrics"), ("GET", "/v1/models"),
          ("POST", "/v1/adapters"), ("POST", "/v1/chat/completions"), ("POST", "/v1/completions")]
CASES = [(method, path, mode) for method, path in ROUTES
         for mode in ([GenerationMode.POSITIVE] if method == "GET" else list(GenerationMode))]


@pytest.fixture(scope="module")
def url(stack):
    with gateway(stack) as url:
        yield url


@pytest.fixture(scope="module")
def api(url):
    return schemathesis.openapi.from_url(f"{url}/openapi.json",
                                         config=SchemathesisConfig.from_str(CONFIG))


@pytest.fixture(scope="module")
def served(url):
    """The models the gateway serves: most valid bodies name one, so that they reach an engine
    (a random name is a 404 before any generation)."""
    return [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]


@pytest.mark.parametrize("method, path, mode", CASES, ids=lambda v: getattr(v, "value", v))
def test_every_route_keeps_to_its_description(api, served, method, path, mode):
    @given(case=api[path][method].as_strategy(generation_mode=mode),
           model=st.sampled_from([*served, None]))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def holds(case, model):
        if mode is GenerationMode.POSITIVE and model and isinstance(case.body, dict) \
                and "model" in case.body:
            case.body["model"] = model
        statuses[case.call_and_validate(checks=CHECKS, timeout=60).status_code] += 1

    statuses = Counter()
    holds()
    # The fuzzing reached past validation: valid bodies got answers, invalid ones refusals.
    if method == "GET":
        assert set(statuses) == {200}, statuses
    elif mode is GenerationMode.POSITIVE and path != "/v1/adapters":
        # The schema is closed and says what the server refuses (empty prompts, unknown
        # fields, no-op fields at other values, content parts other than text), so most valid
        # bodies are answered; the rest ask what the model named cannot do (a retrieval model
        # without a user message, JSON output on the local engine) or name no model (a fifth
        # keep the fuzzer's own model name).
        assert statuses[200] >= EXAMPLES // 2, statuses
    else:
        assert sum(n for status, n in statuses.items() if 400 <= status < 500), statuses


def test_the_routes_fuzzed_are_all_the_routes_there_are(api):
    described = {(method.upper(), path) for path, methods in api.raw_schema["paths"].items()
                 for method in methods}
    assert described == set(ROUTES)


def test_the_description_declares_each_request_body_and_every_error(api):
    raw = api.raw_schema
    chat = raw["paths"]["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ChatRequest")
    assert {"400", "404", "413", "415", "429", "503", "504"} <= set(chat["responses"])
    request = raw["components"]["schemas"]["ChatRequest"]
    assert request["properties"]["seed"]["anyOf"][0]["exclusiveMaximum"] == 2**63
    assert request["properties"]["max_tokens"]["anyOf"][0]["maximum"] == 64  # the setting


def test_the_request_schemas_are_closed_as_the_server_is(api):
    schemas = api.raw_schema["components"]["schemas"]
    for name in ("ChatRequest", "CompletionRequest"):
        request = schemas[name]
        assert request["additionalProperties"] is False
        assert "user" in request["properties"]  # bookkeeping is declared
        assert request["properties"]["logprobs"]["enum"] == [False, None]
    prompt = schemas["CompletionRequest"]["properties"]["prompt"]["anyOf"]
    assert [form.get("minLength") or form["items"]["minLength"] for form in prompt] == [1, 1]
    parts = schemas["Message"]["properties"]["content"]["anyOf"]
    assert {"type": {"const": "text"}, "text": {"type": "string"}} in [
        form["items"]["properties"] for form in parts if form.get("type") == "array"]
