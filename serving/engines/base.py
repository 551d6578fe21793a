"""The protocol both engines implement, and the stop-sequence logic the local engine needs.

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

from serving.protocol import Chunk, Params


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

    async def add_adapter(self, name: str, path: Path) -> None: ...

    def generate(self, request: Request) -> AsyncIterator[Chunk]: ...


class StopScanner:
    """Cuts a growing text at the first stop sequence, holding back what could start one.

    ``feed(full_text)`` returns the new text that is safe to emit and whether a stop sequence
    was reached; text that might be the beginning of a stop sequence is held until it is not.
    """

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.sent = 0

    def feed(self, text: str, final: bool = False) -> tuple[str, bool]:
        for stop in self.stops:
            at = text.find(stop)
            if at != -1:
                out = text[self.sent:at] if at > self.sent else ""
                self.sent = max(self.sent, at)
                return out, True
        safe = len(text) if final or not self.stops else max(self.sent, len(text) - self.hold)
        # A replacement character at the end is half a multi-byte character: wait for the rest.
        while not final and safe > self.sent and text[safe - 1] == "\ufffd":
            safe -= 1
        out, self.sent = text[self.sent:safe], safe
        return out, False
