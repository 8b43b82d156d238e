"""A subscriber that stops reading is cut off with its protocol's "too slow" close code, and nobody else waits for it.

Each protocol's slow client is a raw socket with a tiny receive buffer that completes the WebSocket handshake,
subscribes, and then reads nothing while large messages are published. The server's per-connection queue is
bounded (`max_queued_frames = 16`; 250 messages of 60 KB are far more than the kernel buffers hold), so once the kernel buffers fill the server closes the connection. A fast
`websockets` subscriber on the same channel keeps receiving every message with its latency bounded meanwhile.
"""

import base64
import json
import os
import socket
import struct
import time

import pytest

from conftest import CONFIG, MAIN, PUSHER, WSClient, publish, start_server, unique

pytestmark = pytest.mark.timeout(120)

CONFIG_SLOW = CONFIG.replace("[limits]\n", "[limits]\nmax_queued_frames = 16\n", 1)
PAYLOAD = "x" * 60_000
MESSAGES = 250


class RawSubscriber:
    """A WebSocket client on a plain socket, so the test decides when (and whether) to read."""

    def __init__(self, port: int, path: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(payload)))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def frames(self, deadline: float):
        """Yields (opcode, payload) until the connection ends or the deadline passes."""
        while time.monotonic() < deadline:
            frame = self._parse()
            if frame is not None:
                yield frame
                continue
            try:
                chunk = self.sock.recv(1 << 20)
            except (socket.timeout, ConnectionResetError):
                return
            if not chunk:
                return
            self.buffer += chunk

    def _parse(self):
        if len(self.buffer) < 2:
            return None
        opcode, length, offset = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            length, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            length, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if len(self.buffer) < offset + length:
            return None
        payload, self.buffer = self.buffer[offset:offset + length], self.buffer[offset + length:]
        return opcode, payload

    def first_text(self) -> dict:
        for opcode, payload in self.frames(time.monotonic() + 10):
            if opcode == 1:
                return json.loads(payload)
        raise TimeoutError("no text frame")

    def close_code(self, timeout: float = 30) -> int | None:
        """Reads everything buffered until the server's close frame; returns its code."""
        for opcode, payload in self.frames(time.monotonic() + timeout):
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        return None

    def close(self):
        self.sock.close()


def subscribe_jsonaction(server, channel) -> RawSubscriber:
    client = RawSubscriber(server.port, f"/_rt/ws?key={MAIN['key']}")
    assert client.first_text()["event"] == "connected"
    client.send_text(json.dumps({"action": "subscribe", "channel": channel}))
    assert client.first_text()["event"] == "subscribed"
    return client


def subscribe_pusher(server, channel) -> RawSubscriber:
    client = RawSubscriber(server.port, f"/app/{PUSHER['key']}?protocol=7&client=raw&version=1")
    assert client.first_text()["event"] == "pusher:connection_established"
    client.send_text(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
    assert client.first_text()["event"] == "pusher_internal:subscription_succeeded"
    return client


def subscribe_jwt(server, channel) -> RawSubscriber:
    from conftest import sign_jwt

    client = RawSubscriber(server.port, f"/connection/websocket?key={PUSHER['key']}")
    token = sign_jwt({"sub": "slow", "exp": int(time.time()) + 600}, PUSHER["secret"])
    client.send_text(json.dumps({"id": 1, "connect": {"token": token}}))
    assert "connect" in client.first_text()
    client.send_text(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
    assert client.first_text().get("id") == 2
    return client


@pytest.mark.parametrize("protocol, subscribe, app, code", [
    ("jsonaction", subscribe_jsonaction, MAIN, 4008),
    ("pusher", subscribe_pusher, PUSHER, 4100),
    ("jwt", subscribe_jwt, PUSHER, 3008),
])
def test_a_subscriber_that_stops_reading_is_cut_off_while_others_keep_their_latency(protocol, subscribe, app, code):
    server = start_server(CONFIG_SLOW)
    try:
        channel = unique("flood-")
        slow = subscribe(server, channel)
        with WSClient(server, key=app["key"]) as fast:
            fast.subscribed(channel)
            worst = 0.0
            for i in range(MESSAGES):
                sent = time.monotonic()
                publish(server, channel, {"i": i, "pad": PAYLOAD}, app=app)
                frame = fast.recv(timeout=5)
                worst = max(worst, time.monotonic() - sent)
                assert frame["data"]["i"] == i
            assert worst < 2.0, f"the fast subscriber waited {worst:.2f}s for a message"
            assert slow.close_code() == code, f"{protocol}: the slow subscriber was not closed as too slow"
            fast.assert_alive()
    finally:
        slow_close = locals().get("slow")
        if slow_close:
            slow_close.close()
        assert server.stop() == 0
