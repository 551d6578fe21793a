"""Port checks, health polling and log tails, with stand-in servers and processes."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from graftlm.core.errors import BackendUnavailableError, InputError
from graftlm.serving.launch import free_port, require_free, tail, wait_healthy


class FakeProcess:
    """What wait_healthy watches of a Popen: poll() and returncode."""

    def __init__(self, returncode=None):
        self.returncode = returncode

    def poll(self):
        return self.returncode


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "server.log"
    path.write_text("".join(f"line {i}\n" for i in range(40)))
    return path


def test_a_port_in_use_is_refused_naming_the_flag():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port} .*--port"):
            require_free("127.0.0.1", port)
    require_free("127.0.0.1", free_port())


def test_tail_is_the_last_lines_or_nothing(log, tmp_path):
    assert tail(log, 2) == "line 38\nline 39"
    assert tail(log).splitlines()[0] == "line 10"  # 30 lines by default
    assert tail(tmp_path / "missing.log") == ""


def test_waiting_ends_when_the_server_is_healthy(log):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{server.server_port}", FakeProcess(), timeout=10,
                     log_path=log, what="the test server")
    finally:
        server.shutdown()
        server.server_close()


def test_a_process_that_exits_fails_at_once_with_its_log(log):
    with pytest.raises(BackendUnavailableError) as caught:
        wait_healthy(f"http://127.0.0.1:{free_port()}", FakeProcess(returncode=3), timeout=60,
                     log_path=log, what="the test server")
    message = str(caught.value)
    assert message.startswith("the test server exited with code 3 while starting; its log ("
                              f"{log}) ends with:\n")
    assert message.endswith("line 39") and "line 9\n" not in message


def test_a_server_that_does_not_come_up_fails_naming_the_setting(log):
    with pytest.raises(BackendUnavailableError) as caught:
        wait_healthy(f"http://127.0.0.1:{free_port()}", FakeProcess(), timeout=0.3,
                     log_path=log, what="the test server", setting="serving.test_timeout",
                     interval=0.05)
    message = str(caught.value)
    assert message.startswith("the test server was not healthy after 0 s "
                              "(serving.test_timeout); its log (")
    assert message.endswith("line 39")
