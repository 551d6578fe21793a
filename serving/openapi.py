"""The gateway's OpenAPI description: what each route takes and what it can answer.

The routes read their bodies themselves (to refuse an oversized body before parsing it), so FastAPI
cannot see their request models; this module declares them, from the same pydantic models that
validate the bodies, together with the shapes of the answers and every error status a route can
give. The tests hold the server to this description with a schema-driven fuzzer (schemathesis):
no 5xx from any body the schema allows or forbids, and every answer as described.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict

from graftlm.serving.protocol import BOOKKEEPING, NO_OP, AdapterRequest, ChatRequest, CompletionRequest

REQUESTS = (ChatRequest, CompletionRequest, AdapterRequest)


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """OpenAI's error shape, used for every error status."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    engine: str


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: None
    finish_reason: str


class TextChoice(BaseModel):
    index: int
    text: str
    logprobs: None
    finish_reason: str


class _Answer(BaseModel):
    # Besides OpenAI's fields an answer carries "graft": the adapter, index and engine that
    # produced it, and the citations of a retrieval model.
    model_config = ConfigDict(extra="allow")

    id: str
    created: int
    model: str
    usage: Usage


class ChatCompletion(_Answer):
    object: Literal["chat.completion"]
    choices: list[ChatChoice]


class Completion(_Answer):
    object: Literal["text_completion"]
    choices: list[TextChoice]


class Version(BaseModel):
    """Which version of an artifact is served (also in each answer's ``graft`` lineage)."""

    model_config = ConfigDict(extra="allow")

    name: str
    created: str | None = None
    sha256: str | None = None


class AdapterAdded(BaseModel):
    object: Literal["adapter"]
    id: str
    version: Version
    models: list[str]


# What a generating route can answer besides its 200.
GENERATING = (400, 401, 404, 413, 415, 429, 503, 504)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries for these error statuses (each an OpenAI error body)."""
    said = {400: "a field is malformed, out of range or not supported (the body names it)",
            401: "the API key is missing or wrong", 404: "no such model or adapter",
            413: "the body is over serving.max_body_bytes", 415: "the body is not JSON",
            429: "too many requests in flight and queued; retry after Retry-After seconds",
            503: "the engine is down (restarting)", 504: "the request ran past its deadline"}
    return {status: {"model": ErrorBody, "description": said[status]} for status in statuses}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring a route's JSON request body as ``model``."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


# One server-sent event of a streamed answer.
EVENT = {"type": "object", "required": ["data"], "properties": {"data": {
    "type": "string", "description": "a chunk as JSON, an error body as JSON, or [DONE]"}}}


def streamed(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """A 200 that is ``model`` as JSON, or server-sent events when the request streams."""
    return {200: {"model": model, "description": "the answer; with `stream: true`, "
                  "server-sent events ending in `data: [DONE]`",
                  "content": {"text/event-stream": {"schema": EVENT}}}}


TEXT_PART = {"type": "object", "required": ["type"],
             "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}


def declare_the_rest(body: dict[str, Any]) -> None:
    """Close a sampling request's schema: OpenAI's bookkeeping fields (anything), the fields
    graftlm leaves alone at their no-op values only, and no other field — as the server
    decides (:func:`serving.protocol.no_op`)."""
    props = body["properties"]
    for name in sorted(BOOKKEEPING):
        props[name] = {"description": "bookkeeping: accepted, changes nothing"}
    for name, quiet in NO_OP.items():
        props[name] = {"enum": list(quiet), "description": "accepted at its no-op value only"}
    body["additionalProperties"] = False
    if "prompt" in props:  # an empty prompt has nothing to continue: the gateway refuses it
        for form in props["prompt"]["anyOf"]:
            (form.get("items") or form)["minLength"] = 1


def install(app: FastAPI, max_tokens_limit: int) -> None:
    """Make ``app`` describe its request bodies (see the module's docstring), with this
    server's ``serving.max_tokens_limit`` as the most ``max_tokens`` it allows."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description=__doc__.split("\n\n")[0])
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in REQUESTS:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
                for name in ("max_tokens", "max_completion_tokens"):
                    if name in body["properties"]:
                        body["properties"][name]["anyOf"][0]["maximum"] = max_tokens_limit
                if model is not AdapterRequest:
                    declare_the_rest(body)
            # A message's content parts are text parts (Message.text refuses the others).
            content = components["Message"]["properties"]["content"]["anyOf"]
            next(form for form in content if form.get("type") == "array")["items"] = TEXT_PART
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
