"""The laptop's side against real loopback servers: where the token goes, how it is given."""

import http.server
import threading

import pytest

from devtrace.errors import DevtraceError
from devtrace.sync.client import Client


class Recorder:
    """A loopback HTTP server that records each request's path and Authorization header and
    answers with `answer(path)`: (status, headers)."""

    def __init__(self, answer):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization")))
                status, headers = answer(self.path)
                body = b'{"detail": "nothing here"}'
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body)),
                                    "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    started = []

    def start(answer):
        server = Recorder(answer)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.mark.parametrize("elsewhere", ["another port", "another host name"])
def test_a_redirect_elsewhere_does_not_carry_the_token(servers, elsewhere):
    other = servers(lambda path: (404, {}))
    target = {}
    origin = servers(lambda path: (302, {"Location": target["url"]}) if path == "/v1/model/active/download"
                     else (404, {}))
    target["url"] = (f"http://127.0.0.1:{other.port}/v1/model/active/download" if elsewhere == "another port"
                     else f"http://localhost:{origin.port}/elsewhere")
    with pytest.raises(DevtraceError, match="404"):
        Client(f"http://127.0.0.1:{origin.port}", "dt_secret", attempts=1).call("GET", "/v1/model/active/download")
    everywhere = origin.seen + other.seen
    assert everywhere[0] == ("/v1/model/active/download", "Bearer dt_secret")
    assert len(everywhere) == 2 and everywhere[1][1] is None


def test_a_redirect_on_the_same_origin_keeps_the_token(servers):
    origin = servers(lambda path: (302, {"Location": "/v1/moved"}) if path == "/v1/model/active" else (404, {}))
    with pytest.raises(DevtraceError, match="404"):
        Client(f"http://127.0.0.1:{origin.port}", "dt_secret", attempts=1).call("GET", "/v1/model/active")
    assert origin.seen == [("/v1/model/active", "Bearer dt_secret"), ("/v1/moved", "Bearer dt_secret")]


def test_a_batch_too_large_for_the_server_is_split(tmp_path, server_factory):
    from tests.central_support import central_count, make_token, run_cli
    from tests.test_central_sync import add_events, login

    url = str(tmp_path / "central.db")
    server = server_factory(url, "--max-body-mb", "0.1")
    store = tmp_path / "store"
    add_events(store, 1500, "big")
    login(store, server.address, make_token(url, "laptop"), tmp_path)
    done = run_cli("sync", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "events: 1500 sent, 1500 accepted, 0 duplicate, 0 rejected" in done.stdout
    assert central_count(url) == 1500
