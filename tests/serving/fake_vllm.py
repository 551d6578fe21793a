"""A stand-in for vLLM's OpenAI server, for the engine's supervision tests: ``/health``, and
``/v1/chat/completions`` streaming one word every 50 ms behind the key in ``VLLM_API_KEY``, as
vLLM does. Run with ``python -m uvicorn tests.serving.fake_vllm:app --uds PATH``."""

import asyncio
import json
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

app = FastAPI()


@app.get("/health")
async def health():
    return {}


@app.post("/v1/chat/completions")
async def chat(request: Request):
    if request.headers.get("authorization") != f"Bearer {os.environ['VLLM_API_KEY']}":
        return JSONResponse({"error": "Unauthorized"}, status_code=401)
    body = await request.json()

    async def events():
        for _ in range(body["max_tokens"]):
            await asyncio.sleep(0.05)
            yield "data: " + json.dumps({"choices": [{"delta": {"content": "w "}}]}) + "\n\n"
        yield "data: " + json.dumps({"choices": [], "usage": {
            "prompt_tokens": 1, "completion_tokens": body["max_tokens"]}}) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
