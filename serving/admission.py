"""Admission control: a bounded number of requests answered at once, a bounded queue, then 429.

vLLM and the local engine both take every request they are given, and a server that takes
everything answers nothing in time once it is overloaded. :class:`Admission` lets
``serving.max_in_flight`` requests through, keeps up to ``serving.max_queue`` more waiting in
arrival order, and refuses the rest at once with a 429 and ``Retry-After``, which OpenAI's
clients honour by backing off and retrying. A request holds its slot until its answer is whole
or its stream has ended (or been dropped); a request that gives up while queued leaves the queue.
"""

from __future__ import annotations

import asyncio
from collections import deque

from graftlm.serving.protocol import ApiError

RETRY_AFTER_S = 1


class Admission:
    """Slots for requests in flight and a queue in front of them (not thread-safe: one event
    loop's)."""

    def __init__(self, max_in_flight: int, max_queue: int):
        self.max_in_flight, self.max_queue = max_in_flight, max_queue
        self.in_flight = 0
        self.rejected = 0
        self._waiting: deque[asyncio.Future] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    async def enter(self) -> Slot:
        """A slot, at once or after waiting in the queue.

        Raises:
            ApiError: 429 with ``Retry-After`` when the slots and the queue are all taken.
        """
        if self.in_flight < self.max_in_flight and not self._waiting:
            self.in_flight += 1
            return Slot(self)
        if len(self._waiting) >= self.max_queue:
            self.rejected += 1
            raise ApiError(429, f"the server is at capacity ({self.max_in_flight} requests "
                           f"answering, {self.max_queue} waiting: serving.max_in_flight, "
                           f"serving.max_queue); retry in {RETRY_AFTER_S} s.",
                           "rate_limit_error", "server_busy",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # resolved by a leaving request, which hands its slot over
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()  # the slot came just as the request gave up: pass it on
            else:
                self._waiting.remove(turn)
            raise
        return Slot(self)

    def _leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.in_flight -= 1


class Slot:
    """One admitted request's slot; :meth:`release` gives it back (once, however often it is
    called)."""

    __slots__ = ("_admission",)

    def __init__(self, admission: Admission):
        self._admission = admission

    def release(self) -> None:
        if self._admission is not None:
            admission, self._admission = self._admission, None
            admission._leave()
