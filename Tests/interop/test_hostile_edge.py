"""The edge from the attacker's side: the reverse proxy, the admin plane, forwarded addresses and a stalled Redis.

Each test plays a hostile client with nothing but loopback sockets and real tools (curl, httpx, raw sockets,
redis-cli), and checks the edge holds: it never fetches from a host the client names, never serves a sample admin
token to the network, never lets anyone lock operators out or pick the address they are charged to, and never
hangs on a Redis that stopped answering.
"""

import contextlib
import json
import os
import shutil
import signal
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

from conftest import (
    ADMIN_TOKEN,
    BINARY,
    CONFIG,
    MAIN,
    WAIT,
    admin_headers,
    free_port,
    now_ms,
    rest,
    security_events,
    start_server,
    unique,
    wait_for_event,
    wait_until,
)
from test_tls import dev_cert, port_of, tls_config

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


class Recorder:
    """A loopback HTTP/1.1 server that answers 200 and records every request it sees (method, target, headers)."""

    def __init__(self, name: str):
        self.name = name
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                recorder.requests.append({"method": self.command, "path": self.path,
                                          "headers": {k.lower(): v for k, v in self.headers.items()}})
                body = json.dumps({"server": recorder.name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_OPTIONS = do_HEAD = do_CONNECT = handle_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def raw_http1(port: int, request: bytes, timeout: float = WAIT) -> tuple[int | None, bytes]:
    """Sends `request` as is on a fresh loopback socket; returns the status and body of the first response, or
    (None, b"") when nothing comes back within `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int | None, bytes]:
    """The status and body of the next response on `sock`, or (None, b"") when none comes before its timeout."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return None, b""
    if not data:
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body[:length]


def curl(*args: str) -> tuple[int, str, str]:
    """curl with `-w` printing the status and HTTP version after the body; returns (status, version, body)."""
    result = subprocess.run(["curl", "-sS", "-k", "--max-time", str(int(WAIT)), "-w", "\n%{http_code} %{http_version}", *args],
                            capture_output=True, text=True, timeout=WAIT + 5)
    body, _, tail = result.stdout.rpartition("\n")
    status, version = tail.split(" ")
    return int(status), version, body


def with_server_keys(config: str, lines: str) -> str:
    """The test config with `lines` added to its `[server]` table."""
    return config.replace("[server]\n", "[server]\n" + lines + "\n", 1)


def sse_status(server, forwarded_for: str | None = None, local_address: str = "127.0.0.1", key: str = MAIN["key"]) -> int:
    """Opens one SSE connection (optionally with an `X-Forwarded-For`), reads its status, closes it."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    transport = httpx.HTTPTransport(local_address=local_address)
    with httpx.Client(transport=transport, timeout=WAIT) as client:
        with client.stream("GET", f"{server.http}/sse", params={"key": key, "channel": unique("c")}, headers=headers) as r:
            return r.status_code


# ---------------------------------------------------------------------------------------------
# The reverse proxy: only origin-form targets, and only to the configured upstream
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy_edge():
    """An edge with `[proxy] upstream`, a TLS listener (h2 + http/1.1) and a victim server nobody may reach."""
    upstream, victim = Recorder("upstream"), Recorder("victim")
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-hostile-"))
    certs = workdir / "certs"
    made = subprocess.run([str(BINARY), "dev-cert", "--out", str(certs)], capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    config = CONFIG + f"""
[proxy]
upstream = "{upstream.url}"
connect_timeout_ms = 1000
read_timeout_ms = 2000

[[listeners]]
address = "127.0.0.1"
port = 0
tls = {{ cert = "{certs / 'dev-cert.pem'}", key = "{certs / 'dev-key.pem'}" }}
"""
    server = start_server(config, workdir)
    (https,) = server.listeners(1)
    yield {"server": server, "https": https, "upstream": upstream, "victim": victim}
    assert server.stop() == 0, server.log()[-4000:]
    upstream.close()
    victim.close()


def assert_bad_request(status: int, body: str | bytes):
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "bad_request", body


def test_h2_request_target_with_at_sign_is_400_and_never_reaches_the_named_host(proxy_edge):
    victim = proxy_edge["victim"]
    since = now_ms()
    status, version, body = curl("--http2", "--request-target", f"@127.0.0.1:{victim.port}/meta", proxy_edge["https"] + "/")
    assert version == "2", version
    assert_bad_request(status, body)
    assert victim.requests == []
    event = wait_for_event(proxy_edge["server"], "bad_request", since, contains="proxy")
    assert event["clientIp"] == "127.0.0.1"


@pytest.mark.parametrize("target", ["http://127.0.0.1:{victim}/meta", "127.0.0.1:{victim}", "meta", "/a\\b"])
def test_h2_targets_that_are_not_origin_form_are_400(proxy_edge, target):
    victim = proxy_edge["victim"]
    status, version, body = curl("--http2", "--request-target", target.format(victim=victim.port), proxy_edge["https"] + "/")
    assert version == "2", version
    assert_bad_request(status, body)
    assert victim.requests == []


@pytest.mark.parametrize("target", ["*", "//127.0.0.1:{victim}/meta", "/a\\b", "/%zz"])
def test_h1_targets_that_are_not_origin_form_are_400_over_a_raw_socket(proxy_edge, target):
    server, victim = proxy_edge["server"], proxy_edge["victim"]
    request = f"GET {target.format(victim=victim.port)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    status, body = raw_http1(server.port, request)
    assert_bad_request(status, body)
    assert victim.requests == []


@pytest.mark.parametrize("target", ["@127.0.0.1:{victim}/meta", "127.0.0.1:{victim}", "meta"])
def test_h1_targets_the_http1_parser_refuses_never_reach_the_named_host(proxy_edge, target):
    # NIO's HTTP/1.1 parser rejects these request lines before any route sees them (today with no answer at all:
    # see the report), so all that is pinned here is that nothing is fetched and nothing succeeds.
    server, victim = proxy_edge["server"], proxy_edge["victim"]
    request = f"GET {target.format(victim=victim.port)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    status, _ = raw_http1(server.port, request, timeout=2)
    assert status in (None, 400), status
    assert victim.requests == []


def test_h1_absolute_form_never_reaches_the_host_it_names(proxy_edge):
    # HTTP/1.1 servers must accept absolute-form (RFC 9112 §3.2.2); the edge keeps only its path, so the request can
    # reach the configured upstream and nothing else.
    server, upstream, victim = proxy_edge["server"], proxy_edge["upstream"], proxy_edge["victim"]
    path = f"/{unique('abs')}"
    request = (f"GET http://127.0.0.1:{victim.port}{path} HTTP/1.1\r\nHost: 127.0.0.1:{victim.port}\r\n"
               "Connection: close\r\n\r\n").encode()
    status, body = raw_http1(server.port, request)
    assert victim.requests == []
    if status != 400:
        assert status == 200 and json.loads(body)["server"] == "upstream", body
        assert path in upstream.paths()


def test_origin_form_targets_still_reach_the_upstream_over_h1_and_h2(proxy_edge):
    upstream = proxy_edge["upstream"]
    for options in ((), ("--http2",)):
        path = f"/{unique('ok')}/%40x?q=a%20b"
        status, _, body = curl(*options, proxy_edge["https"] + path)
        assert status == 200 and json.loads(body)["server"] == "upstream", body
        assert path in upstream.paths()
    assert proxy_edge["victim"].requests == []


def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_reach_the_upstream(proxy_edge):
    upstream = proxy_edge["upstream"]
    path = f"/{unique('xff')}"
    r = httpx.get(f"{proxy_edge['server'].http}{path}", headers={"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9",
                  "X-Real-IP": "203.0.113.9"}, timeout=WAIT)
    assert r.status_code == 200, r.text
    seen = next(request for request in upstream.requests if request["path"] == path)["headers"]
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert "forwarded" not in seen and "x-real-ip" not in seen


# ---------------------------------------------------------------------------------------------
# The admin plane: no sample token on the network, no lockout of the right token
# ---------------------------------------------------------------------------------------------

# The shared CONFIG raises the wrong-token allowance; these tests need the default (10 a minute).
DEFAULT_LOCKOUT_CONFIG = CONFIG.replace("auth_failures_per_minute = 1000\n", "")
LONG_TOKEN = "k3Y9-admin-token-0123456789abcdef"  # 33 characters


def serve_once(config_text: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `switchboard serve` on `config_text` expecting it to exit on its own (bounded by a timeout)."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-refuse-"))
    config = workdir / "switchboard.toml"
    config.write_text(config_text.replace("{store}", str(workdir / "s.sqlite")))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    environment.update(env or {})
    return subprocess.run([str(BINARY), "serve", "--config", str(config), "--port", "0", *args], capture_output=True, text=True,
                          timeout=30, cwd=workdir, env=environment)


def test_serving_0000_with_the_sample_admin_token_exits_2_with_one_line_naming_the_fix():
    config = CONFIG.replace(f'token = "{ADMIN_TOKEN}"', 'token = "change-me"')
    result = serve_once(config, "--host", "0.0.0.0")
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "0.0.0.0" in lines[0] and "change-me" in lines[0] and "at least 24 characters" in lines[0], lines[0]
    assert "listening" not in result.stdout


@pytest.mark.parametrize("token", ["", "short-token-23-chars-xx"])
def test_a_non_loopback_listener_with_an_empty_or_short_admin_token_exits_2(token):
    config = CONFIG.replace(f'token = "{ADMIN_TOKEN}"', f'token = "{token}"') + '\n[[listeners]]\naddress = "0.0.0.0"\nport = 0\n'
    result = serve_once(config)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "listeners[0].address" in result.stderr and "at least 24 characters" in result.stderr, result.stderr


def test_serving_0000_with_a_long_admin_token_starts(fresh_server):
    server = fresh_server(CONFIG.replace(f'token = "{ADMIN_TOKEN}"', f'token = "{LONG_TOKEN}"'), extra_args=("--host", "0.0.0.0"))
    r = httpx.get(f"{server.http}/api/realtime/apps", headers={"Authorization": f"Bearer {LONG_TOKEN}"}, timeout=WAIT)
    assert r.status_code == 200, r.text
    assert server.stop() == 0


def test_fifteen_requests_without_a_token_do_not_lock_the_address_out(fresh_server):
    server = fresh_server(DEFAULT_LOCKOUT_CONFIG)
    browser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=WAIT)
    for attempt in range(15):
        # A console page loading before sign-in: no header, or an unset variable.
        headers = [{}, {"Authorization": "Bearer null"}, {"Authorization": "Bearer undefined"}][attempt % 3]
        r = browser.get(f"{server.http}/api/realtime/gateway/status", headers=headers)
        assert r.status_code == 401, (attempt, r.text)
    assert browser.get(f"{server.http}/api/realtime/apps", headers=admin_headers()).status_code == 200


def test_fifteen_wrong_tokens_lock_out_further_guesses_but_never_the_right_token(fresh_server):
    server = fresh_server(DEFAULT_LOCKOUT_CONFIG)
    shared = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=WAIT)
    since = now_ms()
    statuses = [shared.get(f"{server.http}/api/realtime/apps", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                for i in range(15)]
    assert statuses == [401] * 10 + [429] * 5, statuses
    # An operator behind the same address (a load balancer, a NAT) still gets in.
    r = shared.get(f"{server.http}/api/realtime/apps", headers=admin_headers())
    assert r.status_code == 200, r.text
    event = wait_for_event(server, "rate_limited", since, contains="admin API")
    assert event["clientIp"] == "127.0.0.2"


# ---------------------------------------------------------------------------------------------
# trusted_proxies: forwarded addresses count only from trusted peers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def behind_proxy():
    """An edge trusting only 127.0.0.1 as a proxy, with 2 new connections per address per second and the default lockout."""
    upstream = Recorder("upstream")
    config = with_server_keys(DEFAULT_LOCKOUT_CONFIG, 'trusted_proxies = ["127.0.0.1/32", "::1/128"]')
    config = config.replace("new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 2")
    config += f'\n[proxy]\nupstream = "{upstream.url}"\n'
    server = start_server(config)
    yield server, upstream
    assert server.stop() == 0, server.log()[-4000:]
    upstream.close()


def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_per_ip_connection_limit(behind_proxy):
    server, _ = behind_proxy
    statuses = [sse_status(server, forwarded_for=f"198.51.100.{i}", local_address="127.0.0.2") for i in range(12)]
    assert 429 in statuses, statuses
    assert statuses[:2] == [200, 200], statuses


def test_from_a_trusted_proxy_each_forwarded_client_has_its_own_connection_limit(behind_proxy):
    server, _ = behind_proxy
    spread = [sse_status(server, forwarded_for=f"203.0.113.9, 198.51.100.{i + 20}") for i in range(12)]
    assert spread == [200] * 12, spread
    same = [sse_status(server, forwarded_for="198.51.100.99") for _ in range(12)]
    assert 429 in same, same


def test_an_ipv6_client_is_one_address_for_its_whole_slash64(behind_proxy):
    """Per-address limits counted each IPv6 address apart, while a client is given a whole /64: a fresh address for
    every connection escaped the handshake rate (and every other per-address limit). The addresses of one /64 now
    share them, and the next /64 has its own."""
    server, _ = behind_proxy
    same = [sse_status(server, forwarded_for=f"2001:db8:1:2::{i + 1:x}") for i in range(12)]
    assert 429 in same, same
    spread = [sse_status(server, forwarded_for=f"2001:db8:1:{i + 16:x}::1") for i in range(12)]
    assert spread == [200] * 12, spread


def test_security_events_name_the_forwarded_client_only_from_a_trusted_peer(behind_proxy):
    server, _ = behind_proxy
    since = now_ms()
    assert sse_status(server, forwarded_for="198.51.100.50", key="pk_unknown_trusted") == 404
    event = wait_for_event(server, "unknown_key", since, contains="pk_unknown_trusted")
    assert event["clientIp"] == "198.51.100.50"
    assert sse_status(server, forwarded_for="198.51.100.51", local_address="127.0.0.3", key="pk_unknown_spoofed") == 404
    event = wait_for_event(server, "unknown_key", since, contains="pk_unknown_spoofed")
    assert event["clientIp"] == "127.0.0.3"


def test_admin_lockouts_follow_the_forwarded_client_behind_a_trusted_proxy(behind_proxy):
    server, _ = behind_proxy
    guesser = {"X-Forwarded-For": "198.51.100.77"}
    statuses = [httpx.get(f"{server.http}/api/realtime/apps", headers={**guesser, "Authorization": f"Bearer g{i}"},
                          timeout=WAIT).status_code for i in range(11)]
    assert statuses == [401] * 10 + [429], statuses
    # Another client behind the same proxy is not locked out by the guesser.
    other = httpx.get(f"{server.http}/api/realtime/apps", headers={"X-Forwarded-For": "198.51.100.78", "Authorization": "Bearer typo"},
                      timeout=WAIT)
    assert other.status_code == 401, other.text


def test_the_proxy_passes_a_trusted_peers_chain_and_appends_the_peer(behind_proxy):
    server, upstream = behind_proxy
    path = f"/{unique('chain')}"
    r = httpx.get(f"{server.http}{path}", headers={"X-Forwarded-For": "198.51.100.5"}, timeout=WAIT)
    assert r.status_code == 200, r.text
    seen = next(request for request in upstream.requests if request["path"] == path)["headers"]
    assert seen["x-forwarded-for"] == "198.51.100.5, 127.0.0.1"


# ---------------------------------------------------------------------------------------------
# Redis that stops answering: every command times out, health says degraded, and it recovers
# ---------------------------------------------------------------------------------------------

REDIS = shutil.which("redis-server")


def test_a_stalled_redis_fails_publishes_within_the_command_timeout_and_health_recovers():
    assert REDIS, "redis-server is not installed (scripts/test installs it)"
    port = free_port()
    redis = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = None
    try:
        wait_until(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=10, message="redis-server to listen")
        config = CONFIG + f'\n[engine]\nkind = "redis"\nurl = "redis://127.0.0.1:{port}/0"\nprefix = "{unique("stall")}"\n' \
                          'command_timeout_ms = 500\n'
        node = start_server(config)

        def health():
            return httpx.get(f"{node.http}/api/health", timeout=WAIT).json()

        wait_until(lambda: health()["status"] == "ok", timeout=10, message="the engine to connect")
        channel = unique("stall:")
        assert rest(node, "POST", "publish", json={"channel": channel, "data": 1}).status_code == 200

        redis.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        refused = rest(node, "POST", "publish", json={"channel": channel, "data": 2})
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "engine_unavailable", refused.text
        assert elapsed < 3.0, f"the publish took {elapsed:.1f}s with a 0.5s command timeout"
        wait_until(lambda: health()["status"] == "degraded", timeout=5, message="health to say degraded")
        assert health()["engine"]["status"] == "unavailable"

        redis.send_signal(signal.SIGCONT)
        wait_until(lambda: health()["status"] == "ok", timeout=10, message="health to recover")
        assert rest(node, "POST", "publish", json={"channel": channel, "data": 3}).status_code == 200
    finally:
        if redis.poll() is None:
            redis.send_signal(signal.SIGCONT)
            redis.kill()
            redis.wait(timeout=10)
        if node is not None:
            node.stop(signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# Sockets that never make a request
# ---------------------------------------------------------------------------------------------


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes `sock` before `deadline` (monotonic), reading and dropping anything it sends."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(4096):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


def test_sockets_that_never_finish_a_handshake_or_a_request_head_are_closed(fresh_server, tmp_path):
    """Nothing timed out a silent client: 2,000 TLS sockets that sent nothing and 2,000 HTTP ones dribbling a request
    head held 4,000 descriptors for good, and at the descriptor limit `/api/health` stopped answering. A TLS handshake
    now has 10 s, a first request head (or an h2 connection's first stream) 20 s, and a keep-alive connection may idle
    60 s."""
    dev_cert(tmp_path)
    server = fresh_server(tls_config(tmp_path, plain=True))
    tls_port = port_of(next(url for url in server.listeners(2) if url.startswith("https:")))
    opened = time.monotonic()
    silent_tls = socket.create_connection(("127.0.0.1", tls_port), timeout=WAIT)
    half_hello = socket.create_connection(("127.0.0.1", tls_port), timeout=WAIT)
    half_hello.sendall(bytes.fromhex("160301020001"))  # a record header announcing a ClientHello, and no more
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    dribbling = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    dribbling.sendall(b"GET /api/health HTTP/1.1\r\n")
    # h2 that says hello and opens no stream: it once stayed open for good.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    h2_idle = context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=WAIT), server_hostname="localhost")
    assert h2_idle.selected_alpn_protocol() == "h2"
    h2_idle.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
    try:
        assert closed_by_server(silent_tls, opened + 14) and closed_by_server(half_hello, opened + 14)
        try:
            dribbling.sendall(b"X-Slow: ")
            while time.monotonic() < opened + 18:  # a header byte every second, never the blank line
                dribbling.sendall(b"x")
                time.sleep(1)
        except OSError:
            pytest.fail("the dribbling head was cut off before its 20 s")
        assert closed_by_server(silent, opened + 25) and closed_by_server(dribbling, opened + 25)
        assert closed_by_server(h2_idle, opened + 25)
        # Everyone else was served throughout.
        assert httpx.get(f"{server.http}/api/health", timeout=WAIT).status_code == 200
    finally:
        for sock in (silent_tls, half_hello, silent, dribbling, h2_idle):
            sock.close()


def test_an_h2_flood_of_frames_that_carry_no_request_is_closed_with_enhance_your_calm(fresh_server, tmp_path):
    """Found by an audit: NIOHTTP2 answers WINDOW_UPDATE and ignores unknown frame types at any rate, so one connection
    sent 1.5M of them in 8 s on a full core while another client's requests took a second. Past 1,000 a second (bursts
    of 2,000) the connection now gets GOAWAY ENHANCE_YOUR_CALM, is closed, and is a security event."""
    dev_cert(tmp_path)
    server = fresh_server(tls_config(tmp_path, plain=True))
    tls_port = port_of(next(url for url in server.listeners(2) if url.startswith("https:")))
    since = now_ms()
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    flood = context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=WAIT), server_hostname="localhost")
    flood.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
    unknown = bytes.fromhex("000000fa0000000000")  # an empty frame of type 0xfa, which h2 says to ignore
    window = bytes.fromhex("000004080000000000" + "00000001")  # WINDOW_UPDATE +1 on the connection
    sent = 0
    try:
        for _ in range(100):  # at most 20,000 frames
            flood.sendall((unknown + window) * 100)
            sent += 200
    except OSError:
        pass
    received = b""
    deadline = time.monotonic() + WAIT
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline:
            flood.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = flood.recv(65536)
            if not chunk:
                break
            received += chunk
    flood.close()
    # The server's frames: SETTINGS, its ACK, then GOAWAY (type 7) with error 11.
    codes, at = [], 0
    while at + 9 <= len(received):
        length, kind = int.from_bytes(received[at : at + 3], "big"), received[at + 3]
        if kind == 7:
            codes.append(int.from_bytes(received[at + 13 : at + 17], "big"))
        at += 9 + length
    assert 11 in codes, (codes, sent)
    wait_for_event(server, "rate_limited", since, contains="h2 control frames")
    # Everyone else is served.
    with httpx.Client(http2=True, verify=False, timeout=WAIT) as h2:
        r = h2.get(f"https://127.0.0.1:{tls_port}/api/health")
        assert r.status_code == 200 and r.http_version == "HTTP/2"


# ---------------------------------------------------------------------------------------------
# max_connections_per_ip: one address cannot hold every socket the process has
# ---------------------------------------------------------------------------------------------


def test_one_address_holds_at_most_max_connections_per_ip_across_websocket_and_sse(fresh_server):
    """Only the per-second handshake rate bounded an address: at 50 a second one client holds the process's 20,000
    descriptors within minutes, and every other client's connect fails. Open WebSocket connections and SSE streams
    now count per client address (here, forwarded by a trusted proxy); past the limit a new one is refused and the
    refusal is a `rate_limited` event, while other addresses connect as before and a closed connection frees its place."""
    from websockets.sync.client import connect as ws_connect

    config = with_server_keys(CONFIG, 'trusted_proxies = ["127.0.0.1/32", "::1/128"]')
    config = config.replace("new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 1000\nmax_connections_per_ip = 3")
    server = fresh_server(config)
    since = now_ms()

    def open_ws(address: str):
        # As conftest's WSClient does: websockets wants connect() entered as a context manager; close() ends it.
        connection = ws_connect(f"{server.ws}/_rt/ws?key={MAIN['key']}", additional_headers={"X-Forwarded-For": address},
                                proxy=None, open_timeout=WAIT, close_timeout=2).__enter__()
        return connection, json.loads(connection.recv(timeout=WAIT))

    held = []
    try:
        for _ in range(2):
            connection, first = open_ws("203.0.113.7")
            assert first["event"] == "connected", first
            held.append(connection)
        headers = {"X-Forwarded-For": "203.0.113.7"}
        with httpx.Client(timeout=WAIT) as client:
            with client.stream("GET", f"{server.http}/sse", params={"key": MAIN["key"], "channel": unique("c")}, headers=headers) as stream:
                assert stream.status_code == 200
                # The third place is the stream's: a fourth connection of either kind is refused.
                refused, first = open_ws("203.0.113.7")
                assert first["event"] == "error" and "connection limit" in first["data"]["message"], first
                refused.close()
                again = client.get(f"{server.http}/sse", params={"key": MAIN["key"], "channel": unique("c")}, headers=headers)
                assert again.status_code == 429 and again.json()["error"]["code"] == "rate_limited", again.text
                # Another address is not held back.
                other, first = open_ws("198.51.100.20")
                assert first["event"] == "connected", first
                held.append(other)
        # The stream has ended: its place is free again.
        connection, first = wait_until(lambda: (lambda c: c if c[1]["event"] == "connected" else c[0].close())(open_ws("203.0.113.7")))
        held.append(connection)
    finally:
        for connection in held:
            connection.close()
    event = wait_for_event(server, "rate_limited", since, contains="open connections")
    assert event["clientIp"] == "203.0.113.7"


def closed_unread(port: int, local_address: str = "127.0.0.1") -> bool:
    """Connects (from `local_address`), sends a request head, and tells whether the server closed the socket without an
    answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT, source_address=(local_address, 0)) as probe:
        try:
            probe.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return probe.recv(4096) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True


def health_status(server, local_address: str | None = None) -> int | None:
    """The status `/api/health` answers, from `local_address` (another loopback address) if given; None when the
    connection fails."""
    try:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=local_address), timeout=WAIT) as client:
            return client.get(f"{server.http}/api/health").status_code
    except httpx.TransportError:
        return None


def test_one_address_holds_at_most_max_sockets_per_ip_of_any_kind_and_the_next_is_closed_unread(fresh_server, tmp_path):
    """Found by an audit: `max_connections_per_ip` counted WebSocket connections and SSE streams only, so HTTP keep-alive
    connections, TLS handshakes and request bodies sent a byte at a time held sockets uncounted, and one address could
    take every descriptor the process has. Every accepted connection now counts against `max_sockets_per_ip` before a
    byte is read (loopback too here, with `uncounted_addresses = []`): past it the next one is closed unread on the plain
    and the TLS listener alike, and is a `rate_limited` event; a closed connection frees its place."""
    dev_cert(tmp_path)
    config = tls_config(tmp_path, plain=True).replace(
        "new_connections_per_ip_per_second = 1000",
        "new_connections_per_ip_per_second = 1000\nmax_sockets_per_ip = 3\nuncounted_addresses = []")
    server = fresh_server(config)
    tls_port = port_of(next(url for url in server.listeners(2) if url.startswith("https:")))
    http_port = port_of(server.http)
    since = now_ms()
    # A keep-alive connection after one request, a request body sent in part, and a TLS connection with no request (its
    # handshake done, so the server has accepted it before the next connection).
    keep_alive = socket.create_connection(("127.0.0.1", http_port), timeout=WAIT)
    keep_alive.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert keep_alive.recv(4096).startswith(b"HTTP/1.1 200")
    partial_body = socket.create_connection(("127.0.0.1", http_port), timeout=WAIT)
    partial_body.sendall(b"POST /_rt/api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\n\r\n{")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    silent_tls = context.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=WAIT), server_hostname="localhost")
    try:
        # A fourth connection is closed before a byte of it is read, on either listener, and so is a real client's.
        assert closed_unread(http_port)
        assert closed_unread(tls_port)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.http}/api/health", timeout=WAIT)
        # The held connections are served as before.
        keep_alive.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert keep_alive.recv(4096).startswith(b"HTTP/1.1 200")
        # A closed connection frees its place.
        keep_alive.close()
        wait_until(lambda: health_status(server) == 200)
    finally:
        for sock in (keep_alive, partial_body, silent_tls):
            sock.close()
    event = wait_for_event(server, "rate_limited", since, contains="open sockets")
    assert event["clientIp"] == "127.0.0.1" and "more than 3 open sockets" in event["detail"], event


# ---------------------------------------------------------------------------------------------
# A request body that goes on after its answer is read only so far
# ---------------------------------------------------------------------------------------------

REFUSED_UPLOAD = b"POST /_rt/api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def test_a_refused_request_with_an_endless_body_is_read_no_further_than_a_little_past_its_answer(server):
    """Found by an audit: after a handler answers, Hummingbird reads what is left of the body to keep the connection,
    so a request with no key declaring a terabyte was read and thrown away for as long as it was sent: 2.3 GB in 3 s
    on loopback, a core's worth of work for one socket. Past 256 KB after its answer the server stops reading and
    the connection ends; the client has its 401 first."""
    received = []
    with socket.create_connection(("127.0.0.1", port_of(server.http)), timeout=WAIT) as sock:
        sock.sendall(REFUSED_UPLOAD % 1_000_000_000_000)

        def read_all():
            data = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    data += chunk
            received.append(data)

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        chunk, sent = b"x" * 65536, 0
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        else:
            pytest.fail(f"the server read {sent} bytes of a refused body for 10 s")
        reader.join(WAIT)
    # What the socket buffers held, not what the client could send.
    assert sent < 64 << 20, sent
    assert received and received[0].startswith(b"HTTP/1.1 401"), received
    assert httpx.get(f"{server.http}/api/health", timeout=WAIT).status_code == 200


def test_a_short_body_left_unread_by_a_refusal_keeps_its_connection(server):
    """The rest of a small body is still read after the answer, so the next request goes on the same connection."""
    with socket.create_connection(("127.0.0.1", port_of(server.http)), timeout=WAIT) as sock:
        sock.sendall(REFUSED_UPLOAD % 2000 + b"x" * 2000)
        assert read_response(sock)[0] == 401
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock)[0] == 200


def test_a_body_dribbled_after_its_answer_ends_the_connection_within_seconds(server):
    """A body within 256 KB but sent a byte at a time after its answer held the connection for as long as the bytes
    came (the idle timeout counts silence); five seconds after the answer the server stops reading."""
    with socket.create_connection(("127.0.0.1", port_of(server.http)), timeout=WAIT) as sock:
        sock.sendall(REFUSED_UPLOAD % 100_000 + b"{")
        assert read_response(sock)[0] == 401
        answered = time.monotonic()
        sock.settimeout(0.2)
        ended = None
        while time.monotonic() - answered < 15:
            try:
                sock.sendall(b" ")
                if sock.recv(1) == b"":
                    ended = time.monotonic()
                    break
            except TimeoutError:
                continue
            except OSError:
                ended = time.monotonic()
                break
        assert ended is not None, "the server went on reading the dribbled body for 15 s"
        assert ended - answered < 10, ended - answered


def test_an_h2_stream_whose_body_goes_on_after_its_answer_is_reset(fresh_server, tmp_path):
    """An h2 stream's body was read to its end after the answer too, its window granted again and again; a stream
    declaring a terabyte to a refusal is now reset, after its 401, once its body runs past what may follow an answer."""
    dev_cert(tmp_path)
    server = fresh_server(tls_config(tmp_path))
    host, port = next(url for url in server.listeners(1) if url.startswith("https:")).removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    status, reset, sent = None, False, 0
    with context.wrap_socket(socket.create_connection((host, int(port)), timeout=WAIT), server_hostname="localhost") as s:
        conn = h2.connection.H2Connection()
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "POST"), (":path", "/_rt/api/publish"), (":scheme", "https"),
                              (":authority", f"{host}:{port}"), ("content-type", "application/json"),
                              ("content-length", str(10**12))])
        s.sendall(conn.data_to_send())
        s.settimeout(0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not reset:
            window = min(conn.local_flow_control_window(1), conn.max_outbound_frame_size)
            if window > 0:
                conn.send_data(1, b"x" * window)
                sent += window
            s.sendall(conn.data_to_send())
            try:
                data = s.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == 1:
                    reset = True
            s.sendall(conn.data_to_send())
    assert status == 401 and reset, (status, reset, sent)
    assert sent < 16 << 20, sent
