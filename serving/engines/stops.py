"""Stop sequences over a growing text: what the local engine may stream, and where it ends.

vLLM applies stop sequences itself; the local engine decodes the whole text again after every
token and asks a :class:`StopScanner` what of it is new and safe to send. The scanner knows
nothing about tokens or models: it sees only text.
"""

from __future__ import annotations


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
