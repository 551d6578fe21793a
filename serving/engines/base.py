"""The protocol both engines implement, and the request they take.

An engine turns a request (chat messages or a raw prompt, an optional adapter name and sampling
parameters) into a stream of :class:`~serving.protocol.Chunk`\\ s; the gateway builds OpenAI
responses from them, so both engines produce identical shapes. The last chunk carries the finish
reason and the token counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from graftlm.serving.protocol import Chunk, Params


@dataclass
class Request:
    adapter: str | None
    params: Params
    messages: list[dict] | None = None
    prompt: str | None = None
    stream: bool = True  # False: the client waits for the whole answer (one chunk will do)


class Engine(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def healthy(self) -> bool: ...

    async def add_adapter(self, name: str, path: Path) -> None: ...

    def generate(self, request: Request) -> AsyncIterator[Chunk]: ...
