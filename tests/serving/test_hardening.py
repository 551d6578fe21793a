"""The gateway off the happy path: bodies that never end, requests a web page can forge, fields it
would not honour, out-of-range values and unexpected failures, over a real gateway (local engine,
tiny model) and plain sockets where a client library would not misbehave."""

import resource
import socket
import time

import httpx
import openai
import pytest

from tests.serving.conftest import gateway, make_app

ASK = [{"role": "user", "content": "what is the wifi password"}]


def _post_chunked(url: str, chunk: bytes, total: int) -> bytes:
    """POST ``total`` bytes of ``chunk`` with chunked transfer encoding and no length, over a raw
    socket; stop sending as soon as the server answers; the server's reply."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%s\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     % (host.encode(), port.encode()))
        sent = 0
        sock.setblocking(False)
        reply = b""
        while sent < total:
            try:
                reply += sock.recv(65536)
                if reply:
                    break
            except BlockingIOError:
                pass
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
                continue
            sent += len(chunk)
        sock.setblocking(True)
        while b"\r\n\r\n" not in reply:
            more = sock.recv(65536)
            if not more:
                break
            reply += more
    return reply


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(url):
    """No Content-Length to refuse by: the body is counted as it comes, refused once it passes
    serving.max_body_bytes (20,000 here), and never held whole — 64 MB sent, memory flat."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reply = _post_chunked(url, b"x" * 65536, 64 * 2**20)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"serving.max_body_bytes" in reply
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 16, f"peak memory grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", b"model=base&messages=hi"),  # a cross-site <form>
    ("text/plain", b'{"model": "base", "messages": [{"role": "user", "content": "hi"}]}'),
    (None, b'{"model": "base", "messages": [{"role": "user", "content": "hi"}]}'),
])
def test_a_body_that_is_not_declared_json_is_a_415(url, content_type, body):
    headers = {"content-type": content_type} if content_type else {}
    reply = httpx.post(f"{url}/v1/chat/completions", content=body, headers=headers)
    assert reply.status_code == 415, reply.text
    assert reply.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("field, value", [
    ("tools", [{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    ("logprobs", True),
    ("presence_penalty", 0.5),
    ("logit_bias", {"42": 5}),
    ("frobnicate", 1),
])
def test_a_field_the_server_would_not_honour_is_a_400_naming_it(client, field, value):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="base", messages=ASK, max_tokens=2,
                                       extra_body={field: value})
    assert caught.value.body["param"] == field
    assert caught.value.body["code"] == "unsupported_parameter"


def test_bookkeeping_fields_and_no_op_values_are_accepted(client):
    reply = client.chat.completions.create(
        model="base", messages=ASK, max_tokens=2, user="u-1", metadata={"team": "a"},
        logprobs=False, presence_penalty=0, tools=[], response_format={"type": "text"})
    assert reply.choices[0].finish_reason in {"stop", "length"}


def test_json_output_is_refused_by_an_engine_that_cannot_constrain_to_it(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="base", messages=ASK, max_tokens=2,
                                       response_format={"type": "json_object"})
    assert caught.value.body["param"] == "response_format"
    assert "--engine vllm" in caught.value.body["message"]


def test_an_out_of_range_seed_is_a_400_and_spoils_no_other_request(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="base", messages=ASK, max_tokens=2, seed=2**70)
    assert caught.value.body["param"] == "seed"
    reply = client.chat.completions.create(model="base", messages=ASK, max_tokens=2,
                                           seed=-(2**63), temperature=1)
    assert reply.choices[0].finish_reason in {"stop", "length"}


@pytest.mark.parametrize("sampling", [{"top_p": 5e-324, "temperature": 1},
                                      {"temperature": 1e-300}])
def test_extreme_sampling_values_in_range_still_answer(client, sampling):
    """Found by the schema fuzzer: a top_p that rounds to 0 in float32 kept no token, and a
    tiny temperature turned the logits into inf - inf."""
    reply = client.chat.completions.create(model="base", messages=ASK, max_tokens=3, **sampling)
    assert reply.choices[0].finish_reason in {"stop", "length"}


def test_an_empty_prompt_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="base", prompt="", max_tokens=2)
    assert caught.value.body["param"] == "prompt"


def test_the_schema_needs_the_key_when_one_is_set(stack):
    with gateway(stack, api_key="s3cret") as url:
        assert httpx.get(f"{url}/openapi.json").status_code == 401
        keyed = httpx.get(f"{url}/openapi.json", headers={"authorization": "Bearer s3cret"})
        assert keyed.status_code == 200 and "/v1/chat/completions" in keyed.json()["paths"]
        assert httpx.get(f"{url}/v1/models", headers={
            "authorization": "Bearer s3cre"}).status_code == 401  # a prefix is not the key


def test_an_unexpected_failure_is_an_openai_shaped_500(stack):
    from graftlm.serving.app import run_in_thread
    from graftlm.serving.routes import gateway_of

    class Broken:
        serving = make_app(stack).state.gateway.serving

        async def chat(self, _body):
            raise RuntimeError("boom")

    app = make_app(stack)
    app.dependency_overrides[gateway_of] = lambda: Broken()
    with run_in_thread(app, startup_timeout=60) as url:
        reply = httpx.post(f"{url}/v1/chat/completions",
                           json={"model": "base", "messages": ASK})
    assert reply.status_code == 500
    assert reply.json()["error"]["type"] == "server_error"
    assert "RuntimeError" in reply.json()["error"]["message"]


def test_serving_beyond_loopback_needs_a_key_or_insecure(tmp_path):
    from typer.testing import CliRunner

    from graftlm.cli import app
    from graftlm.serving.launch import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"],
                                env={"GRAFT_HOME": str(tmp_path)})
    assert result.exit_code != 0
    assert "--insecure" in result.output and "Traceback" not in result.output


def test_choices_are_bounded_in_length_and_counted_against_the_context(client):
    long = "word " * 40  # ~40 tokens each: 64 of them (2,600 tokens) scored side by side
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="base", messages=ASK, max_tokens=2, extra_body={
            "structured_outputs": {"choice": [f"{i} {long}" for i in range(64)]}})
    assert caught.value.body["param"] == "structured_outputs"
    assert "over the limit" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError):  # one choice over 512 characters
        client.chat.completions.create(model="base", messages=ASK, max_tokens=2, extra_body={
            "structured_outputs": {"choice": ["x" * 600, "y"]}})
    reply = client.chat.completions.create(model="base", messages=ASK, max_tokens=2,
                                           extra_body={"structured_outputs": {
                                               "choice": ["yes", "no"]}})
    assert reply.choices[0].message.content in {"yes", "no"}


def test_a_keyless_server_answers_only_loopback_host_names(url):
    """DNS rebinding: a page whose own name now resolves to 127.0.0.1 still sends that name."""
    import http.client
    from urllib.parse import urlparse

    port = urlparse(url).port

    def get(host):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/models", headers={"Host": host})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, body

    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert get(host)[0] == 200, host
    status, body = get(f"attacker.example:{port}")
    assert status == 403 and b"host_not_allowed" in body and b"allowed_hosts" in body


def test_allowed_hosts_and_a_key_lift_the_host_check():
    from graftlm.serving.guard import Guard, host_name

    assert host_name("LocalHost:8000") == "localhost" and host_name("[::1]:80") == "::1"
    named = Guard(None, api_key=None, max_body_bytes=10, allowed_hosts=("box.lan",))
    assert named._refusal("GET", "/v1/models", {b"host": b"box.lan:8000"}) is None
    assert named._refusal("GET", "/v1/models", {b"host": b"evil.example"}).status_code == 403
    keyed = Guard(None, api_key="k", max_body_bytes=10)
    assert keyed._refusal("GET", "/v1/models", {b"host": b"evil.example",
                                                 b"authorization": b"Bearer k"}) is None


def test_loading_adapters_needs_the_admin_key_or_a_local_client():
    from graftlm.serving.guard import Guard

    def scope(client):
        return {"method": "POST", "client": (client, 5000)}

    admin = Guard(None, api_key="infer", admin_key="boss", max_body_bytes=10)
    headers = {b"host": b"127.0.0.1", b"authorization": b"Bearer infer",
               b"content-type": b"application/json"}
    assert admin._refusal("POST", "/v1/adapters", headers) is None  # not the inference key's
    assert admin._admin_refusal(scope("127.0.0.1"), "/v1/adapters", headers).status_code == 401
    ok = {b"host": b"127.0.0.1", b"authorization": b"Bearer boss"}
    assert admin._admin_refusal(scope("10.1.2.3"), "/v1/adapters", ok) is None
    open_ = Guard(None, api_key=None, max_body_bytes=10)
    assert open_._admin_refusal(scope("127.0.0.1"), "/v1/adapters", {}) is None
    assert open_._admin_refusal(scope("10.1.2.3"), "/v1/adapters", {}).status_code == 403
    assert open_._admin_refusal(scope("10.1.2.3"), "/v1/chat/completions", {}) is None


def test_keys_are_masked_in_config_show_and_read_from_a_file(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from graftlm.cli import app
    from graftlm.serving.cli import key_from

    monkeypatch.setenv("GRAFT_SERVING__API_KEY", "sk-very-secret")
    monkeypatch.setenv("GRAFT_RAG__MILVUS__TOKEN", "root:Milvus")
    shown = CliRunner().invoke(app, ["--home", str(tmp_path), "config", "show", "--json"])
    assert shown.exit_code == 0, shown.output
    assert "sk-very-secret" not in shown.output and "root:Milvus" not in shown.output
    assert json.loads(shown.output)["serving.api_key"]["value"] == "**********"
    (tmp_path / "key").write_text("from-a-file\n")
    assert key_from(tmp_path / "key") == "from-a-file"
    (tmp_path / "empty").write_text("")
    from graftlm.core.errors import InputError

    with pytest.raises(InputError, match="empty"):
        key_from(tmp_path / "empty")


def test_a_trickled_body_gets_a_408_and_a_whole_one_is_not_timed_afterwards():
    import asyncio

    from graftlm.serving.guard import Guard
    from graftlm.serving.protocol import ApiError

    guard = Guard(None, api_key=None, max_body_bytes=1000, body_read_s=0.2)

    async def trickle():
        async def receive():  # the first piece, then nothing more ever
            if not sent:
                sent.append(1)
                return {"type": "http.request", "body": b"{", "more_body": True}
            await asyncio.sleep(3600)

        counted = guard._counting(receive)
        await counted()
        with pytest.raises(ApiError) as caught:
            await counted()
        return caught.value

    sent = []
    error = asyncio.run(trickle())
    assert error.status == 408 and "serving.body_read_s" in error.body["error"]["message"]

    async def whole_then_wait():
        messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

        async def receive():
            if messages:
                return messages.pop()
            await asyncio.sleep(0.5)  # a stream waiting for the client to leave
            return {"type": "http.disconnect"}

        counted = guard._counting(receive)
        await counted()
        return await counted()

    assert asyncio.run(whole_then_wait())["type"] == "http.disconnect"


def test_connections_are_capped_from_the_settings(stack):
    from graftlm.serving.app import create_app, server_config
    from graftlm.serving.runtime import Runtime

    settings, workspace = stack
    capped = settings.model_copy(update={"serving": settings.serving.model_copy(
        update={"max_connections": 7})})
    app = create_app(Runtime(capped, workspace, adapters=[], indexes=[]), manage_engine=False)
    assert server_config(app, "127.0.0.1", 1).limit_concurrency == 7
