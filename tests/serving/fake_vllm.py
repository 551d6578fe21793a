"""A stand-in for vLLM's OpenAI server, for the engine tests: ``/health``, ``/v1/models``,
``/v1/load_lora_adapter`` and ``/v1/chat/completions`` (a JSON answer, or a stream of one word
every 50 ms), behind the key in ``VLLM_API_KEY`` when it is set, as vLLM does. Each answer names
the server (``FAKE_NAME``) and the model asked for. Run with
``python -m uvicorn tests.serving.fake_vllm:app --uds PATH`` (or ``--port N``)."""

import asyncio
import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()
MODEL = os.environ.get("FAKE_MODEL", "fake-base")
NAME = os.environ.get("FAKE_NAME", "fake")
adapters: dict[str, str] = {}


def _refused(request: Request):
    key = os.environ.get("VLLM_API_KEY")
    if key and request.headers.get("authorization") != f"Bearer {key}":
        return JSONResponse({"error": "Unauthorized"}, status_code=401)
    return None


@app.get("/health")
async def health():
    return {}


@app.get("/v1/models")
async def models(request: Request):
    return _refused(request) or {"object": "list", "data": [
        {"id": MODEL, "max_model_len": 1024, "parent": None},
        *({"id": name, "parent": MODEL} for name in adapters)]}


@app.post("/v1/load_lora_adapter")
async def load(request: Request):
    if (refused := _refused(request)) is not None:
        return refused
    body = await request.json()
    adapters[body["lora_name"]] = body["lora_path"]
    return "ok"


@app.post("/v1/chat/completions")
async def chat(request: Request):
    if (refused := _refused(request)) is not None:
        return refused
    body = await request.json()
    if body["model"] not in (MODEL, *adapters):
        return JSONResponse({"error": {"message": f"model {body['model']} not found"}},
                            status_code=404)
    words = [f"{NAME}:{body['model']} "] + ["w "] * (body["max_tokens"] - 1)
    if not body.get("stream"):
        return {"choices": [{"message": {"content": "".join(words)}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": body["max_tokens"]}}

    async def events():
        for word in words:
            await asyncio.sleep(0.05)
            yield "data: " + json.dumps({"choices": [{"delta": {"content": word}}]}) + "\n\n"
        yield "data: " + json.dumps({"choices": [], "usage": {
            "prompt_tokens": 1, "completion_tokens": body["max_tokens"]}}) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
