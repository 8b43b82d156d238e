"""Hostile input, from the attacker's side: invalid UTF-8, unmasked frames, oversized text and floods of bad frames.

Each test sends what a real client library would not (raw bytes on the wire, written by hand) and checks what the
edge answers, what a subscriber receives (nothing), and what the security center keeps (bounded events, counted drops).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import time

import httpx
import pytest

from conftest import (
    CONFIG,
    MAIN,
    SMALL,
    WAIT,
    WSClient,
    admin_headers,
    api_headers,
    now_ms,
    security_events,
    unique,
)
from test_tls import dev_cert, port_of, tls_config

BAD = b"\xff\xfe"  # never valid in UTF-8


# ---------------------------------------------------------------------------------------------
# A WebSocket client on a raw socket: the handshake by hand, frames built byte by byte.
# ---------------------------------------------------------------------------------------------

class RawWebSocket:
    """A hand-made WebSocket connection that can send what libraries refuse to: unmasked frames, invalid text."""

    def __init__(self, port: int, path: str, timeout: float = WAIT, early: bytes = b"", tls: ssl.SSLContext | None = None):
        """Upgrades on `path` (over `tls` when given); `early` bytes go out in the same write as the request."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="127.0.0.1")
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: hostile-input-test\r\n\r\n"
        )
        self.sock.sendall(request.encode() + early)
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, f"connection closed during the handshake: {self.buffer!r}"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert accept in head, head

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    @staticmethod
    def frame(opcode: int, payload: bytes, masked: bool = True, fin: bool = True) -> bytes:
        first = (0x80 if fin else 0) | opcode
        length = len(payload)
        mask_bit = 0x80 if masked else 0
        if length < 126:
            header = struct.pack("!BB", first, mask_bit | length)
        elif length < 65536:
            header = struct.pack("!BBH", first, mask_bit | 126, length)
        else:
            header = struct.pack("!BBQ", first, mask_bit | 127, length)
        if not masked:
            return header + payload
        key = os.urandom(4)
        return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send(self, opcode: int, payload: bytes, masked: bool = True) -> None:
        self.sock.sendall(self.frame(opcode, payload, masked=masked))

    def _read(self, n: int, deadline: float) -> bytes:
        while len(self.buffer) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no frame from the server in time") from None
            if not chunk:
                raise ConnectionError("the server closed the socket without a close frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_frame(self, timeout: float = WAIT) -> tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        first, second = self._read(2, deadline)
        assert second & 0x80 == 0, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2, deadline))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8, deadline))
        return first & 0x0F, self._read(length, deadline)

    def close_code(self, timeout: float = WAIT) -> int:
        """Reads frames until the server's close frame; returns its code."""
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = self.read_frame(max(0.01, deadline - time.monotonic()))
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0]


WS_PATHS = [
    pytest.param(f"/_rt/ws?key={MAIN['key']}", id="jsonaction"),
    pytest.param(f"/app/{MAIN['key']}?client=raw&version=1.0&protocol=7", id="pusher"),
    pytest.param("/connection/websocket", id="jwt"),
]


# ---------------------------------------------------------------------------------------------
# REST publishes whose JSON strings hold invalid UTF-8: 400 bad_request, nothing delivered.
# ---------------------------------------------------------------------------------------------

def publish_body(channel: str) -> bytes:
    return b'{"channel":"' + channel.encode() + b'","name":"evil","data":{"text":"a' + BAD + b'b"}}'


def assert_nothing_then_marker(client: WSClient, server, channel: str) -> None:
    """A valid publish after the refused one is the next thing the subscriber gets: the bad one never arrived."""
    r = httpx.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": "marker"}, timeout=WAIT)
    assert r.status_code == 200, r.text
    frame = client.recv()
    assert frame.get("data") == "marker", f"the subscriber received something before the marker: {frame}"


def test_json_action_rest_publish_with_invalid_utf8_is_400_and_not_delivered(server):
    channel = unique("utf8-rest-")
    since = now_ms()
    with WSClient(server) as client:
        client.subscribed(channel)
        r = httpx.post(f"{server.http}/_rt/api/publish", headers={**api_headers(), "Content-Type": "application/json"},
                       content=publish_body(channel), timeout=WAIT)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "bad_request", r.text
        assert "UTF-8" in r.json()["error"]["message"], r.text
        assert_nothing_then_marker(client, server, channel)
    wait_for_detail(server, since, "malformed JSON body")


def pusher_signed_post(server, path: str, body: bytes, app=MAIN) -> httpx.Response:
    """A POST signed as the Pusher HTTP API wants it (by hand: the official library cannot send raw bytes)."""
    params = {
        "auth_key": app["key"],
        "auth_timestamp": str(int(time.time())),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),
    }
    query = "&".join(f"{k}={params[k]}" for k in sorted(params))
    signature = hmac.new(app["secret"].encode(), f"POST\n{path}\n{query}".encode(), hashlib.sha256).hexdigest()
    return httpx.post(f"{server.http}{path}?{query}&auth_signature={signature}", content=body,
                      headers={"Content-Type": "application/json"}, timeout=WAIT)


def test_pusher_events_with_invalid_utf8_are_400_and_not_delivered(server):
    channel = unique("utf8-pusher-")
    with WSClient(server) as client:
        client.subscribed(channel)
        body = b'{"name":"evil","channels":["' + channel.encode() + b'"],"data":"{\\"text\\":\\"a' + BAD + b'b\\"}"}'
        r = pusher_signed_post(server, f"/apps/{MAIN['id']}/events", body)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "bad_request", r.text
        # The same request with valid text is accepted: the signature was right, only the bytes were refused.
        good = pusher_signed_post(server, f"/apps/{MAIN['id']}/events", body.replace(BAD, b"\xc3\xa9"))
        assert good.status_code == 200, good.text
        frame = client.recv()
        assert frame.get("name") == "evil" and frame["data"] == {"text": "a\u00e9b"}, frame


def test_pusher_batch_events_with_invalid_utf8_are_400(server):
    channel = unique("utf8-batch-")
    with WSClient(server) as client:
        client.subscribed(channel)
        body = b'{"batch":[{"name":"e","channel":"' + channel.encode() + b'","data":"' + BAD + b'"}]}'
        r = pusher_signed_post(server, f"/apps/{MAIN['id']}/batch_events", body)
        assert r.status_code == 400, r.text
        assert_nothing_then_marker(client, server, channel)


def test_jwt_server_api_publish_with_invalid_utf8_is_400_and_not_delivered(server):
    channel = unique("utf8-jwt-")
    with WSClient(server) as client:
        client.subscribed(channel)
        body = b'{"channel":"' + channel.encode() + b'","data":{"text":"a' + BAD + b'b"}}'
        r = httpx.post(f"{server.http}/api/publish", content=body,
                       headers={"Authorization": f"apikey {MAIN['secret']}", "Content-Type": "application/json"}, timeout=WAIT)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == 107, r.text
        assert_nothing_then_marker(client, server, channel)


def test_console_publish_with_invalid_utf8_is_400(server):
    channel = unique("utf8-console-")
    with WSClient(server) as client:
        client.subscribed(channel)
        r = httpx.post(f"{server.http}/api/realtime/apps/{MAIN['id']}/channels/{channel}/events", content=b'{"data":"' + BAD + b'"}',
                       headers={**admin_headers(), "Content-Type": "application/json"}, timeout=WAIT)
        assert r.status_code == 400, r.text
        assert_nothing_then_marker(client, server, channel)


def test_lone_surrogate_escapes_in_a_publish_are_400(server):
    channel = unique("utf8-surrogate-")
    r = httpx.post(f"{server.http}/_rt/api/publish", headers={**api_headers(), "Content-Type": "application/json"},
                   content=b'{"channel":"' + channel.encode() + b'","data":{"t":"\\ud800"}}', timeout=WAIT)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request", r.text


@pytest.mark.parametrize("name", ["ev\nil", "a\rb", ""])
def test_an_event_name_sse_could_not_carry_intact_is_refused_by_every_publish_path(server, name):
    """Found by an audit: a name with a line break was published, JSON-action subscribers got it as sent and SSE
    consumers under another name (the line break dropped), and an empty one reached SSE as an unnamed message. Every
    publish path now answers its protocol's bad request, and nothing is delivered."""
    channel = unique("names-")
    with WSClient(server) as client:
        client.subscribed(channel)
        r = httpx.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": 1, "name": name},
                       timeout=WAIT)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text
        r = pusher_signed_post(server, f"/apps/{MAIN['id']}/events", json.dumps({"name": name, "channels": [channel], "data": "1"}).encode())
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text
        r = httpx.post(f"{server.http}/api/publish", json={"channel": channel, "data": 1, "name": name},
                       headers={"Authorization": f"apikey {MAIN['secret']}"}, timeout=WAIT)
        assert r.json()["error"]["code"] == 107, r.text
        with WSClient(server) as publisher:
            publisher.send({"action": "publish", "channel": channel, "data": 1, "name": name})
            error = publisher.recv()
            assert error["event"] == "error" and error["data"]["code"] == "bad_request", error
        assert_nothing_then_marker(client, server, channel)


# ---------------------------------------------------------------------------------------------
# WebSocket frames: invalid UTF-8 in text closes with 1007, an unmasked frame with 1002.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", WS_PATHS)
def test_a_text_frame_with_invalid_utf8_closes_the_connection_with_1007(server, path):
    since = now_ms()
    with RawWebSocket(server.port, path) as ws:
        ws.send(0x1, b'{"action":"ping","event":"pusher:ping","data":"' + BAD + b'"}')
        assert ws.close_code() == 1007
    wait_for_detail(server, since, "closed with 1007")


@pytest.mark.parametrize("path", WS_PATHS)
def test_an_unmasked_client_frame_closes_the_connection_with_1002(server, path):
    since = now_ms()
    with RawWebSocket(server.port, path) as ws:
        ws.send(0x1, b'{"action":"ping"}', masked=False)
        assert ws.close_code() == 1002
    wait_for_detail(server, since, "unmasked WebSocket frame")


@pytest.mark.parametrize("path", WS_PATHS)
def test_a_ping_flood_is_closed_with_1008(server, path):
    """Pings never reach a protocol's command budget and each pong was written at once, past the session's queue
    bound: a client that pinged without reading grew the server by 120 MB in 10 s. Frames of any kind now count
    (1,000 a second, 2,000 at once); below that rate, a ping that finds the client's socket full gets no pong."""
    since = now_ms()
    with RawWebSocket(server.port, path) as ws:
        ping = RawWebSocket.frame(0x9, b"p" * 125)
        try:
            for _ in range(30):
                ws.sock.sendall(ping * 200)
        except OSError:
            pass  # the server closed first
        assert ws.close_code() == 1008
    wait_for_detail(server, since, "frames per second")


def test_a_frame_larger_than_the_apps_messages_is_refused_after_the_plans_size_not_the_listeners(server):
    """A frame is held whole before anything checks it, and the listener's cap is 4 MB: every socket could make the
    server hold 4 MB (40 sockets: +168 MB) whatever its app's plan. A frame is now cut at the plan's message size plus
    64 KB, so on the tiny plan (1 KB) a frame announcing 3 MB is refused once 66 KB of it arrived, the rest unsent."""
    with RawWebSocket(server.port, f"/_rt/ws?key={SMALL['key']}") as ws:
        assert json.loads(ws.read_frame()[1])["event"] == "connected"
        header = RawWebSocket.frame(0x1, b"")[:1] + bytes([0x80 | 127]) + (3_000_000).to_bytes(8, "big") + os.urandom(4)
        ws.sock.sendall(header + os.urandom(200_000))
        opcode, payload = ws.read_frame(timeout=5)
        assert opcode == 0x1 and json.loads(payload)["data"]["code"] == "message_too_large", payload
    with RawWebSocket(server.port, f"/app/{SMALL['key']}?client=raw&version=1.0&protocol=7") as ws:
        ws.read_frame()  # pusher:connection_established
        ws.sock.sendall(header + os.urandom(200_000))
        assert ws.close_code(timeout=5) == 1009


def test_an_unmasked_frame_sent_with_the_upgrade_request_is_refused_too(server):
    """Bytes that arrive in the same packet as the upgrade request are checked like the rest: no pong, a close 1002."""
    early = RawWebSocket.frame(0x9, b"unmasked ping", masked=False)
    with RawWebSocket(server.port, f"/_rt/ws?key={MAIN['key']}", early=early) as ws:
        deadline = time.monotonic() + WAIT
        while True:
            opcode, payload = ws.read_frame(max(0.01, deadline - time.monotonic()))
            assert opcode != 0xA, "the unmasked ping was answered"
            if opcode == 0x8:
                assert struct.unpack("!H", payload[:2])[0] == 1002, payload
                break


def test_over_a_tls_listener_unmasked_frames_close_1002_and_invalid_text_1007(fresh_server, tmp_path):
    dev_cert(tmp_path)
    s = fresh_server(tls_config(tmp_path))
    port = port_of(s.listeners(1)[0])
    context = ssl.create_default_context(cafile=str(tmp_path / "dev-cert.pem"))
    context.set_alpn_protocols(["http/1.1"])
    with RawWebSocket(port, f"/_rt/ws?key={MAIN['key']}", tls=context) as ws:
        ws.send(0x1, b'{"action":"ping"}', masked=False)
        assert ws.close_code() == 1002
    with RawWebSocket(port, f"/_rt/ws?key={MAIN['key']}", tls=context) as ws:
        ws.send(0x1, b'{"action":"ping","x":"' + BAD + b'"}')
        assert ws.close_code() == 1007


# ---------------------------------------------------------------------------------------------
# Security events stay small, and a flood of them is budgeted and counted.
# ---------------------------------------------------------------------------------------------

def wait_for_detail(server, since: int, needle: str, timeout: float = WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in security_events(server, kind="bad_request", since=since, limit=1000) if needle in e["detail"]]
        if events:
            return events[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no bad_request event mentioning {needle!r}")
        time.sleep(0.1)


def test_a_60kb_channel_name_makes_a_small_event_marked_cut(server):
    since = now_ms()
    channel = "q" * 60_000
    with WSClient(server) as client:
        client.send({"action": "x", "channel": channel})
        assert client.recv()["event"] == "error"
    event = wait_for_detail(server, since, "qqqq")
    assert len(event["detail"].encode()) <= 300, len(event["detail"].encode())
    assert re.search(r"…\[cut \d+ bytes\]$", event["detail"]), event["detail"][-60:]
    # The log line is bounded the same way.
    lines = [line for line in server.log().splitlines() if "qqqq" in line]
    assert lines and max(len(line) for line in lines) < 2000


def test_control_characters_in_an_event_are_escaped(server):
    since = now_ms()
    with WSClient(server) as client:
        client.send({"action": "x", "channel": "line\nbreak\u001b[31m"})
        assert client.recv()["event"] == "error"
    event = wait_for_detail(server, since, "line")
    assert "\n" not in event["detail"] and "\u001b" not in event["detail"], event
    assert "line\\nbreak\\u001b[31m" in event["detail"], event


def dropped_total(server) -> float:
    r = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT)
    r.raise_for_status()
    match = re.search(r'^switchboard_security_events_dropped_total\{reason="budget"\} (\S+)$', r.text, re.MULTILINE)
    assert match, "switchboard_security_events_dropped_total{reason=\"budget\"} is missing from /metrics"
    return float(match.group(1))


def test_a_flood_of_bad_frames_from_one_address_keeps_only_the_budget_and_counts_the_rest(fresh_server):
    # The suite's config with the default budget (20 events per second per address, bursts of 50).
    s = fresh_server(CONFIG)
    assert dropped_total(s) == 0
    since = now_ms()
    started = time.monotonic()
    sent = 0
    # Each connection is closed after `max_refusals` bad frames, so the flood uses many.
    while sent < 2000:
        # A connection is closed once it has been refused `max_refusals` (20) times; 25 frames make sure of it.
        with RawWebSocket(s.port, f"/_rt/ws?key={MAIN['key']}") as ws:
            ws.sock.sendall(b"".join(RawWebSocket.frame(0x1, b'{"action":"x","channel":"c"}') for _ in range(25)))
            sent += 25
            assert ws.close_code() == 1008
    elapsed = time.monotonic() - started
    time.sleep(1.0)  # the store is written in batches
    events = security_events(s, since=since, limit=1000)
    allowed = 50 + 20 * (elapsed + 1.5)
    assert len(events) <= allowed, f"{len(events)} events kept from {sent} bad frames in {elapsed:.1f}s (budget {allowed:.0f})"
    assert len(events) >= 40, len(events)
    # At least 21 frames per connection were read and refused before it was closed.
    assert dropped_total(s) >= sent * 21 / 25 - allowed, dropped_total(s)
