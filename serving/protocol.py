"""OpenAI's request and response shapes, as far as graftlm serves them, plus citations.

Requests are validated by pydantic: :func:`parse` turns a raw body into a request model, and a bad
field into an :class:`ApiError` (a 400 with the field named; a body over the limit, a 413).
Responses are plain dicts built here so that both engines and both routes produce the same
shapes. Every field is either honoured or refused with a 400 naming it: OpenAI's bookkeeping
fields (``user``, ``metadata`` …) change no answer and are accepted, as are the fields graftlm does
not act on when they hold their no-op value (``logprobs: false``, ``tools: []`` …), which some
clients send by default. Nothing here knows about FastAPI or the engines.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graftlm.core.workspace import NAME_PATTERN

RequestModel = TypeVar("RequestModel", bound=BaseModel)


# Request models are strict: "5" is not a number and 1 not a boolean, as the schema says.
STRICT = ConfigDict(extra="forbid", strict=True)
Stop = Annotated[str, Field(max_length=256)]
# Not blank, and bounded: every choice is scored after the prompt, all in one request.
Choice = Annotated[str, Field(pattern=r"\S", max_length=512)]


def whole(value):
    """A whole number written as a float (60.0) as the int it is: JSON Schema's integer takes
    it, and some clients send it; 60.5 is still refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Retrieval(BaseModel):
    """``extra_body={"retrieval": {...}}``: how a retrieval model searches its index."""

    model_config = STRICT

    k: int | None = Field(None, ge=1, le=50)
    mode: Literal["hybrid", "dense", "sparse"] | None = None
    sources: list[str] | None = Field(
        None, description="Keep only chunks whose source path contains one of these strings.")

    _whole = field_validator("k", mode="before")(whole)


class StructuredOutputs(BaseModel):
    """``extra_body={"structured_outputs": {"choice": [...]}}`` (vLLM's spelling): the answer is
    exactly one of the choices. Only ``choice`` is served."""

    model_config = STRICT

    choice: list[Choice] = Field(min_length=1, max_length=64)

    @field_validator("choice", mode="before")
    @classmethod
    def _choices(cls, value):
        if isinstance(value, list) and any(isinstance(c, str) and not c.strip() for c in value):
            raise ValueError("choices must be non-empty strings")
        return value


class ResponseFormat(BaseModel):
    """``response_format``: plain text, or JSON (any object, or one matching ``json_schema``).
    JSON needs an engine that constrains decoding to it (vLLM)."""

    model_config = STRICT

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


# Fields that change no answer, whatever they hold.
BOOKKEEPING = frozenset({"user", "metadata", "store", "service_tier", "prompt_cache_key",
                         "safety_identifier", "parallel_tool_calls"})
# Fields graftlm does not act on, accepted only at the value that asks for nothing.
NO_OP = {"logprobs": (False, None), "top_logprobs": (0, None), "logit_bias": ({}, None),
         "frequency_penalty": (0, None), "presence_penalty": (0, None), "tools": ([], None),
         "tool_choice": ("none", None), "functions": ([], None), "best_of": (1, None),
         "suffix": ("", None), "modalities": (["text"], None)}


def no_op(key: str, value: Any) -> bool:
    """Whether ``value`` is ``key``'s no-op value as JSON compares them: 0 and 0.0 are one
    number, but ``false`` is not 0 (so ``logprobs: 0`` is refused, as the schema says)."""
    def same(a, b) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return a is b
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a == b
        return type(a) is type(b) and a == b

    return any(same(value, quiet) for quiet in NO_OP.get(key, ()))


class Message(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text; content parts other than text are refused."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.get("type") != "text":
                raise ValueError(f"content parts of type '{part.get('type')}' are not "
                                 "supported; send text.")
            text = part.get("text", "")
            if not isinstance(text, str):
                raise ValueError(f"a text part's text must be a string, not {text!r:.40}.")
            parts.append(text)
        return "".join(parts)


class _Sampling(BaseModel):
    # Fields beyond these are allowed through pydantic and then honoured or refused by name
    # (:meth:`unsupported`), so that the 400 says which field and why.
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    n: int = Field(1, ge=1, le=1)
    stop: Stop | Annotated[list[Stop], Field(max_length=4)] | None = None
    seed: int | None = Field(None, ge=-(2**63), lt=2**63)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    retrieval: Retrieval | None = None
    structured_outputs: StructuredOutputs | None = None
    guided_choice: list[Choice] | None = Field(None, min_length=1, max_length=64,
                                            description="vLLM's older spelling of a choice.")
    response_format: ResponseFormat | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _stops(cls, value):
        stops = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        if any(isinstance(stop, str) and len(stop) > 256 for stop in stops):
            raise ValueError("a stop sequence has at most 256 characters")
        return value

    _whole = field_validator("max_tokens", "max_completion_tokens", "n", "seed",
                             mode="before")(whole)

    def unsupported(self) -> str | None:
        """The first field sent that this server would not honour, if any."""
        for key, value in (self.model_extra or {}).items():
            if key in BOOKKEEPING or no_op(key, value):
                continue
            return key
        return None

    def json_format(self) -> dict | None:
        """``response_format`` when it asks for JSON (else None: plain text)."""
        if self.response_format is None or self.response_format.type == "text":
            return None
        return self.response_format.model_dump(exclude_none=True)

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def choice(self) -> list[str] | None:
        """The closed set the answer must come from, if the request sets one."""
        if self.structured_outputs is not None:
            return self.structured_outputs.choice
        return self.guided_choice

    def wants_usage_chunk(self) -> bool:
        return bool(self.stream_options and self.stream_options.get("include_usage"))


class ChatRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(_Sampling):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]
    echo: bool = False

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_prompt(cls, value):
        if isinstance(value, list) and len(value) != 1:
            raise ValueError("send one prompt per request")
        return value

    def text(self) -> str:
        """The prompt (a list holds exactly one)."""
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class AdapterRequest(BaseModel):
    """``POST /v1/adapters``: the workspace adapter to serve from now on."""

    model_config = STRICT

    name: str = Field(pattern=NAME_PATTERN, description="a workspace adapter's name")


@dataclass
class Params:
    """What an engine needs to generate: resolved limits and sampling."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    choice: list[str] | None = None  # the answer is exactly one of these
    json_format: dict | None = None  # response_format asking for JSON (engines that can)


@dataclass
class Chunk:
    """A piece of a generation as an engine produces it."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ApiError(Exception):
    """An error the client gets as an OpenAI error body with this HTTP status (and headers)."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.body = status, error_body(message, kind, code, param)
        self.headers = headers


def parse(model: type[RequestModel], raw: bytes, limit: int) -> RequestModel:
    """A request body as ``model``.

    Raises:
        ApiError: 413 if ``raw`` is over ``limit`` bytes; 400 naming the first bad field if it
            does not validate (malformed JSON included).
    """
    if len(raw) > limit:
        raise too_large(len(raw), limit)
    try:
        request = model.model_validate_json(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "body"
        raise ApiError(400, f"{where}: {problem['msg']}", param=where) from exc
    field = request.unsupported() if isinstance(request, _Sampling) else None
    if field is not None:
        value = json.dumps(request.model_extra[field])[:80]
        raise ApiError(400, f"{field}: this server does not support `{field}` (sent: {value}); "
                       "leave it out.", param=field, code="unsupported_parameter")
    return request


def too_large(size: int, limit: int) -> ApiError:
    """The 413 for a body of ``size`` bytes; the middleware raises it from the header alone."""
    return ApiError(413, f"the request body has {size:,} bytes, above this server's limit of "
                    f"{limit:,} (serving.max_body_bytes).", code="request_too_large")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def model_list(models: list[str]) -> dict:
    """``GET /v1/models``: every model name the gateway answers to."""
    created = int(time.time())
    return {"object": "list", "data": [
        {"id": m, "object": "model", "created": created, "owned_by": "graftlm"} for m in models]}


def chat_response(rid: str, model: str, text: str, finish: str, used: dict, extra: dict) -> dict:
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": None, "finish_reason": finish}],
            "usage": used, **extra}


def chat_chunk(rid: str, model: str, delta: dict, finish: str | None, extra: dict) -> dict:
    return {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                          "finish_reason": finish}], **extra}


def completion_response(rid: str, model: str, text: str, finish: str, used: dict,
                        extra: dict) -> dict:
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
            "usage": used, **extra}


def completion_chunk(rid: str, model: str, text: str, finish: str | None, extra: dict) -> dict:
    return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
            **extra}


def error_body(message: str, kind: str, code: str | None = None,
               param: str | None = None) -> dict:
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
