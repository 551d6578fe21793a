"""The checks every request passes before a route sees it, as plain ASGI middleware.

* **Key**: with ``serving.api_key`` set, ``/v1/*`` and the OpenAPI schema need
  ``Authorization: Bearer <key>``, compared in constant time.
* **Content type**: a ``POST`` to ``/v1/*`` must say ``application/json``. A web page can make a
  browser send a form or ``text/plain`` to a keyless server on loopback without asking first;
  it cannot send JSON that way.
* **Size**: a declared ``Content-Length`` over ``serving.max_body_bytes`` is refused before
  anything is read, and a body without one (chunked) is counted as it arrives and refused the
  moment it passes the limit, so an endless body never sits in memory.

Refusals have OpenAI's error shape: 401, 415 and 413.
"""

from __future__ import annotations

import hmac

from fastapi.responses import JSONResponse

from serving.protocol import ApiError, error_body, too_large

PROTECTED = ("/v1/", "/openapi.json")


class Guard:
    """ASGI middleware: key, content type and body size (see the module's docstring)."""

    def __init__(self, app, *, api_key: str | None, max_body_bytes: int):
        self.app = app
        self.key = f"Bearer {api_key}".encode() if api_key else None
        self.limit = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        headers = dict(scope["headers"])
        refusal = self._refusal(scope["method"], path, headers)
        if refusal is not None:
            return await refusal(scope, receive, send)
        if scope["method"] == "POST":
            receive = self._counting(receive)
        return await self.app(scope, receive, send)

    def _refusal(self, method: str, path: str, headers: dict) -> JSONResponse | None:
        if self.key and path.startswith(PROTECTED) and not hmac.compare_digest(
                headers.get(b"authorization", b""), self.key):
            return JSONResponse(error_body(
                "missing or wrong API key; send `Authorization: Bearer <key>`.",
                "authentication_error", "invalid_api_key"), status_code=401)
        if method != "POST" or not path.startswith("/v1/"):
            return None
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind != b"application/json":
            shown = kind.decode(errors="replace") or "none"
            return JSONResponse(error_body(
                f"the request body must be JSON, sent with `Content-Type: application/json` "
                f"(this one's: {shown}).", "invalid_request_error", "unsupported_media_type"),
                status_code=415)
        size = headers.get(b"content-length", b"")
        if size.isdigit() and int(size) > self.limit:
            return JSONResponse(too_large(int(size), self.limit).body, status_code=413)
        return None

    def _counting(self, receive):
        """``receive`` that raises a 413 :class:`ApiError` once the body passes the limit."""
        seen = 0
        limit = self.limit

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, f"the request body passed this server's limit of "
                                   f"{limit:,} bytes (serving.max_body_bytes).",
                                   code="request_too_large")
            return message

        return counted
