"""The checks every request passes before a route sees it, as plain ASGI middleware.

* **Key**: with ``serving.api_key`` set, ``/v1/*`` and the OpenAPI schema need
  ``Authorization: Bearer <key>``, compared in constant time.
* **Admin**: ``POST /v1/adapters`` (loading an adapter at run time) needs
  ``serving.admin_key``; without one it is open to clients on loopback only.
* **Host**: without a key, only loopback host names (``localhost``, ``127.0.0.1``, ``[::1]``)
  and those in ``serving.allowed_hosts`` are answered. A web page that rebinds its own DNS name
  to 127.0.0.1 reaches a keyless loopback server from the browser; its requests still carry
  its own name in ``Host``, and are refused (403).
* **Content type**: a ``POST`` to ``/v1/*`` must say ``application/json``. A web page can make a
  browser send a form or ``text/plain`` to a keyless server on loopback without asking first;
  it cannot send JSON that way.
* **Time**: the body must arrive whole within ``serving.body_read_s`` (408 otherwise).
* **Size**: a declared ``Content-Length`` over ``serving.max_body_bytes`` is refused before
  anything is read, and a body without one (chunked) is counted as it arrives and refused the
  moment it passes the limit, so an endless body never sits in memory.

Refusals have OpenAI's error shape: 401, 403, 408, 413 and 415.
"""

from __future__ import annotations

import asyncio
import hmac

from fastapi.responses import JSONResponse

from graftlm.serving.protocol import ApiError, error_body, too_large

PROTECTED = ("/v1/", "/openapi.json")
ADMIN = ("/v1/adapters",)
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port or an IPv6 address's brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: key, content type and body size (see the module's docstring)."""

    def __init__(self, app, *, api_key: str | None, max_body_bytes: int,
                 allowed_hosts: tuple[str, ...] = (), admin_key: str | None = None,
                 body_read_s: float = 30.0):
        self.app = app
        self.body_read_s = body_read_s
        self.key = f"Bearer {api_key}".encode() if api_key else None
        self.admin = f"Bearer {admin_key}".encode() if admin_key else None
        self.limit = max_body_bytes
        self.hosts = LOOPBACK | {h.lower() for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        headers = dict(scope["headers"])
        refusal = self._refusal(scope["method"], path, headers) or self._admin_refusal(
            scope, path, headers)
        if refusal is not None:
            return await refusal(scope, receive, send)
        if scope["method"] == "POST":
            receive = self._counting(receive)
        return await self.app(scope, receive, send)

    def _refusal(self, method: str, path: str, headers: dict) -> JSONResponse | None:
        if self.key is None and "*" not in self.hosts:
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.hosts:
                return JSONResponse(error_body(
                    f"this server has no API key, so it answers only requests addressed to "
                    f"loopback names, not {host or 'no host'!r}; set serving.api_key, or add the "
                    "name to serving.allowed_hosts.", "permission_error", "host_not_allowed"),
                    status_code=403)
        admin_route = self.admin is not None and path.rstrip("/") in ADMIN
        if self.key and path.startswith(PROTECTED) and not admin_route and not \
                hmac.compare_digest(headers.get(b"authorization", b""), self.key):
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

    def _admin_refusal(self, scope, path: str, headers: dict) -> JSONResponse | None:
        """``POST /v1/adapters`` changes what the server serves: it needs the admin key, and
        without one it is open to clients on this machine only."""
        if scope["method"] != "POST" or path.rstrip("/") not in ADMIN:
            return None
        if self.admin is not None:
            if hmac.compare_digest(headers.get(b"authorization", b""), self.admin):
                return None
            return JSONResponse(error_body(
                "loading adapters needs the admin key (serving.admin_key), sent as "
                "`Authorization: Bearer <admin key>`.", "authentication_error",
                "invalid_admin_key"), status_code=401)
        client = (scope.get("client") or ("", 0))[0]
        if client in LOOPBACK or client.startswith("127."):
            return None
        return JSONResponse(error_body(
            "loading adapters is open to this machine only while no admin key is set; set "
            "serving.admin_key (--admin-key-file) to load them from elsewhere.",
            "permission_error", "admin_only"), status_code=403)

    def _counting(self, receive):
        """``receive`` that raises a 413 :class:`ApiError` once the body passes the limit, and
        a 408 when the whole body has not arrived within ``body_read_s`` (a client that trickles
        a body would hold its connection and slot forever). Once the body is in, ``receive``
        is passed through as it is (a stream waits on it for the client to leave)."""
        seen, whole = 0, False
        limit = self.limit
        deadline = asyncio.get_running_loop().time() + self.body_read_s

        async def counted():
            nonlocal seen, whole
            if whole:
                return await receive()
            try:
                message = await asyncio.wait_for(
                    receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                raise ApiError(408, f"the request body did not arrive within "
                               f"{self.body_read_s:g} s (serving.body_read_s).",
                               code="request_timeout") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, f"the request body passed this server's limit of "
                                   f"{limit:,} bytes (serving.max_body_bytes).",
                                   code="request_too_large")
                whole = not message.get("more_body", False)
            else:
                whole = True
            return message

        return counted
