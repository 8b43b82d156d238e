"""The reverse proxy: requests no route claims go to the app's `upstream` (or `[proxy] upstream`), streamed both ways.

The upstream is a small `http.server` on a loopback port that records what reaches it.
"""

import hashlib
import json
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h2.connection
import h2.events
import httpx
import pytest

from conftest import BINARY, CONFIG, MAIN, WAIT, SSEStream, WSClient, free_port, publish, start_server, unique

APP_HOST = "app.test"
DOWN_HOST = "down.test"


class Upstream:
    """A threaded HTTP/1.1 server that records every request (method, path, headers, body) by path."""

    def __init__(self, name: str):
        self.name = name
        self.requests: dict[str, dict] = {}
        self.release = threading.Event()  # lets /stream send its second chunk
        self.stop_slow = threading.Event()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(body)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def handle_any(self):
                if self.path.startswith("/early"):
                    # Answers before the body ends, as an app refusing an unauthenticated upload does.
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    return
                body = self.read_body()
                path = self.path.split("?")[0]
                upstream.requests[path] = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "header_list": [(k.lower(), v) for k, v in self.headers.items()],
                    "length": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "body": body[:1024],
                }
                if path.startswith("/stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.write_chunk(b"first chunk\n")
                    upstream.release.wait(WAIT)
                    self.write_chunk(b"second chunk\n")
                    self.write_chunk(b"")
                    return
                if path.startswith("/slow"):
                    upstream.stop_slow.wait(4)
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                reply = json.dumps({"upstream": upstream.name, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}).encode()
                self.send_response(201 if path.startswith("/created") else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("X-Upstream", upstream.name)
                self.send_header("Set-Cookie", "a=1; Path=/")
                self.send_header("Connection", "X-Reply-Hop")
                self.send_header("X-Reply-Hop", "secret")
                self.send_header("Keep-Alive", "timeout=5")
                self.send_header("Proxy-Authenticate", "Basic")
                self.end_headers()
                self.wfile.write(reply)

            def write_chunk(self, data: bytes):
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_slow.set()
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def proxied():
    """A server whose app `app.test` proxies to one upstream, the default app falls back to `[proxy] upstream`
    (another upstream), and `down.test` names a port where nothing listens."""
    app_upstream = Upstream("app")
    global_upstream = Upstream("global")
    closed_port = free_port()
    config = CONFIG + f"""
[proxy]
upstream = "{global_upstream.url}"
connect_timeout_ms = 1000
read_timeout_ms = 1000

[[apps]]
id = "2001"
key = "pk_test_proxied"
secret = "sk_test_proxied_0123456789abcdef0123456"
hosts = ["{APP_HOST}"]
upstream = "{app_upstream.url}"

[[apps]]
id = "2002"
key = "pk_test_down"
secret = "sk_test_down_0123456789abcdef0123456789"
hosts = ["{DOWN_HOST}"]
upstream = "http://127.0.0.1:{closed_port}"
"""
    server = start_server(config)
    yield server, app_upstream, global_upstream
    assert server.stop() == 0, server.log()[-4000:]
    app_upstream.close()
    global_upstream.close()


def test_method_path_query_and_headers_reach_the_apps_upstream(proxied):
    server, upstream, _ = proxied
    path = f"/{unique('orders')}"
    r = httpx.request("PATCH", f"{server.http}{path}?page=2&sort=a%20b", headers={"Host": APP_HOST, "X-Custom": "kept",
                      "Authorization": "Bearer user-token"}, content=b'{"qty":3}', timeout=WAIT)
    assert r.status_code == 200, r.text
    seen = upstream.requests[path]
    assert seen["method"] == "PATCH"
    assert seen["path"] == f"{path}?page=2&sort=a%20b"
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["authorization"] == "Bearer user-token"
    assert seen["body"] == b'{"qty":3}'
    assert r.json()["upstream"] == "app"


def test_forwarded_headers_name_client_proto_and_host(proxied):
    server, upstream, _ = proxied
    path = f"/{unique('fwd')}"
    r = httpx.get(f"{server.http}{path}", headers={"Host": APP_HOST, "X-Forwarded-For": "203.0.113.9"}, timeout=WAIT)
    assert r.status_code == 200
    headers = upstream.requests[path]["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"  # a list sent by an untrusted peer is dropped
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == APP_HOST
    assert headers["host"] == f"127.0.0.1:{upstream.port}"


def test_hop_by_hop_headers_are_stripped_both_ways(proxied):
    server, upstream, _ = proxied
    path = f"/{unique('hop')}"
    r = httpx.get(f"{server.http}{path}", headers={
        "Host": APP_HOST, "Connection": "keep-alive, X-Client-Hop", "X-Client-Hop": "secret", "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==", "TE": "trailers", "X-End-To-End": "yes",
    }, timeout=WAIT)
    assert r.status_code == 200
    headers = upstream.requests[path]["headers"]
    # (An `Upgrade` request header never reaches the proxy: the WebSocket upgrader answers such requests itself.)
    for name in ("x-client-hop", "keep-alive", "proxy-authorization", "te"):
        assert name not in headers, (name, headers)
    assert "x-client-hop" not in headers.get("connection", "").lower()
    assert headers["x-end-to-end"] == "yes"
    for name in ("x-reply-hop", "keep-alive", "proxy-authenticate"):
        assert name not in r.headers, (name, r.headers)
    assert "x-reply-hop" not in r.headers.get("connection", "").lower()


def test_response_status_headers_and_body_pass_through(proxied):
    server, upstream, _ = proxied
    path = f"/created/{unique('c')}"
    r = httpx.post(f"{server.http}{path}", headers={"Host": APP_HOST}, content=b"hello", timeout=WAIT)
    assert r.status_code == 201
    assert r.headers["x-upstream"] == "app"
    assert r.headers["set-cookie"] == "a=1; Path=/"
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"upstream": "app", "length": 5, "sha256": hashlib.sha256(b"hello").hexdigest()}


def test_a_streamed_5mb_request_body_arrives_whole(proxied):
    server, upstream, _ = proxied
    path = f"/{unique('upload')}"
    block = bytes(range(256)) * 256  # 64 KiB
    count = 80  # 5 MiB

    def chunks():
        for _ in range(count):
            yield block

    r = httpx.post(f"{server.http}{path}", headers={"Host": APP_HOST}, content=chunks(), timeout=30)
    assert r.status_code == 200, r.text
    expected = hashlib.sha256(block * count).hexdigest()
    assert r.json()["length"] == len(block) * count
    assert r.json()["sha256"] == expected
    assert upstream.requests[path]["headers"].get("transfer-encoding") == "chunked"


def test_an_upstream_answering_before_the_request_body_ends_leaves_the_edge_up(proxied):
    """An app may answer (a 401, a 413) before it reads an upload. The edge then finished its handler while its
    upstream client still waited for the rest of the client's body, and Hummingbird, reading that body to its end,
    became a second reader: NIO traps on that, and one request with a short body killed the whole edge. The upload
    now stops with the response, and the client's connection closes with it."""
    server, _, _ = proxied
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as s:
            s.sendall(f"POST /early HTTP/1.1\r\nHost: {APP_HOST}\r\nContent-Length: 100000\r\n\r\n".encode() + b"x" * 10)
            reply = s.recv(4096)
            assert reply.startswith(b"HTTP/1.1 401"), reply
            # The connection ends (its body was never finished); nothing else on it is read as a request.
            s.settimeout(WAIT)
            while s.recv(4096):
                pass
    assert server.process.poll() is None, server.log()[-3000:]
    assert httpx.get(f"{server.http}/api/health", timeout=WAIT).status_code == 200
    # A body sent whole keeps its connection for the next request.
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as s:
        stream = s.makefile("rb")
        for body in (b"y" * 10, b"z" * 20):
            s.sendall(f"POST /{unique('whole')} HTTP/1.1\r\nHost: {APP_HOST}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            status = stream.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            assert json.loads(stream.read(length))["length"] == len(body)


def test_a_chunked_upstream_response_arrives_incrementally(proxied):
    server, upstream, _ = proxied
    upstream.release.clear()
    with httpx.stream("GET", f"{server.http}/stream/{unique('s')}", headers={"Host": APP_HOST}, timeout=WAIT) as r:
        assert r.status_code == 200
        received = b""
        chunks = r.iter_raw()
        # The upstream holds its second chunk until the first has reached the client through the proxy.
        while b"first chunk\n" not in received:
            received += next(chunks)
        assert b"second" not in received
        upstream.release.set()
        for chunk in chunks:
            received += chunk
    assert received == b"first chunk\nsecond chunk\n"


def test_default_app_without_upstream_uses_the_global_upstream(proxied):
    server, app_upstream, global_upstream = proxied
    path = f"/{unique('global')}"
    r = httpx.get(f"{server.http}{path}", timeout=WAIT)
    assert r.status_code == 200
    assert r.json()["upstream"] == "global"
    assert path in global_upstream.requests and path not in app_upstream.requests


def test_upstream_down_is_502_json(proxied):
    server, _, _ = proxied
    r = httpx.get(f"{server.http}/{unique('down')}", headers={"Host": DOWN_HOST}, timeout=WAIT)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_unavailable"
    assert r.json()["error"]["message"]


def test_slow_upstream_is_504_within_the_read_timeout(proxied):
    server, _, _ = proxied
    started = time.monotonic()
    r = httpx.get(f"{server.http}/slow/{unique('slow')}", headers={"Host": APP_HOST}, timeout=WAIT)
    elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "upstream_unavailable"
    assert elapsed < 3.0, elapsed  # read_timeout_ms = 1000; the upstream would answer after 4 s


def test_realtime_routes_are_not_proxied(proxied):
    server, app_upstream, global_upstream = proxied
    for host in (None, APP_HOST):
        headers = {"Host": host} if host else {}
        health = httpx.get(f"{server.http}/api/health", headers=headers, timeout=WAIT)
        assert health.status_code == 200 and "upstream" not in health.json()
    channel = unique("proxy:")
    with SSEStream(server, [channel]) as stream, WSClient(server) as ws:
        assert stream.status_code == 200 and "text/event-stream" in stream.headers["content-type"]
        ws.subscribed(channel)
        reply = publish(server, channel, {"n": 1})
        assert reply["ok"] is True
        assert json.loads(stream.next().data) == {"n": 1}
        assert ws.recv()["data"] == {"n": 1}
    channels = httpx.get(f"{server.http}/_rt/api/channels", headers={"Authorization": f"Bearer {MAIN['secret']}"}, timeout=WAIT)
    assert channels.status_code == 200 and "channels" in channels.json()
    recorded = set(app_upstream.requests) | set(global_upstream.requests)
    assert not any(p.startswith(("/api/", "/_rt/", "/sse")) for p in recorded), recorded


def test_over_tls_the_upstream_hears_https_on_http1_and_http2():
    """A `[[listeners]]` TLS listener proxies too, and says so in `X-Forwarded-Proto`, over HTTP/1.1 and HTTP/2."""
    upstream = Upstream("tls")
    certs = Path(tempfile.mkdtemp(prefix="switchboard-proxy-tls-"))
    made = subprocess.run([str(BINARY), "dev-cert", "--out", str(certs)], capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    server = start_server(CONFIG + f"""
[proxy]
upstream = "{upstream.url}"

[[listeners]]
port = 0
tls = {{ cert = "{certs / 'dev-cert.pem'}", key = "{certs / 'dev-key.pem'}" }}
""")
    try:
        https = server.listeners(1)[0]
        trust = ssl.create_default_context(cafile=str(certs / "dev-cert.pem"))
        for http2 in (False, True):
            path = f"/{unique('tls')}"
            with httpx.Client(http2=http2, verify=trust, timeout=WAIT) as client:
                r = client.get(f"{https}{path}")
            assert r.status_code == 200 and r.http_version == ("HTTP/2" if http2 else "HTTP/1.1"), r
            headers = upstream.requests[path]["headers"]
            assert headers["x-forwarded-proto"] == "https", headers
            assert headers["x-forwarded-host"] == https.removeprefix("https://")
        # An h2 stream is read to its end once its handler returns too: an upstream answering before the body ended
        # left two readers there as well.
        for _ in range(3):
            assert h2_post_with_a_short_body(https, trust, "/early") == 401
        assert server.process.poll() is None, server.log()[-3000:]
    finally:
        assert server.stop() == 0, server.log()[-4000:]
        upstream.close()


def h2_post_with_a_short_body(url: str, trust: ssl.SSLContext, path: str) -> int:
    """Sends an HTTP/2 POST announcing 100,000 bytes with only 10 of them, and returns the status it gets."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    trust.set_alpn_protocols(["h2"])
    with trust.wrap_socket(socket.create_connection((host, int(port)), timeout=WAIT), server_hostname=host) as s:
        assert s.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection()
        conn.initiate_connection()
        headers = [(":method", "POST"), (":path", path), (":scheme", "https"), (":authority", f"{host}:{port}"),
                   ("content-length", "100000")]
        conn.send_headers(1, headers)
        conn.send_data(1, b"x" * 10)
        s.sendall(conn.data_to_send())
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            data = s.recv(65536)
            assert data, "the connection closed before an answer"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                    return int(dict(event.headers)[b":status"])
            s.sendall(conn.data_to_send())
        raise AssertionError("no answer")


def test_without_any_upstream_unknown_paths_stay_404(server):
    r = httpx.get(f"{server.http}/{unique('nothing')}", timeout=WAIT)
    assert r.status_code == 404
