"""WebSocket permessage-deflate (RFC 7692), negotiated per app, against a real server.

Clients: `websockets` (offers permessage-deflate by default; `compression=None` offers nothing),
centrifuge-python (built on `websockets`), and a raw socket that does the handshake itself so the
RSV1 bit and the bytes on the wire can be checked. The app `COMPRESSED` has `websocket_compression = true`;
MAIN keeps the default (off).
"""

import asyncio
import base64
import json
import os
import socket
import struct
import time
import zlib

import pytest
from centrifuge import Client
from websockets.sync.client import connect as ws_connect

from conftest import CONFIG, MAIN, WAIT, WSClient, publish, sign_jwt, start_server, unique

pytestmark = pytest.mark.timeout(120)

COMPRESSED = {"id": "1011", "key": "pk_test_deflate", "secret": "sk_test_deflate_0123456789abcdef0123456"}

# A threshold above the default (256) so the test can tell the setting is applied.
MIN_BYTES = 1000
COMPRESSION_CONFIG = CONFIG.replace("[limits]\n", f"[limits]\ncompression_min_bytes = {MIN_BYTES}\n", 1) + f"""
[[apps]]
id = "{COMPRESSED['id']}"
key = "{COMPRESSED['key']}"
secret = "{COMPRESSED['secret']}"
plan = "enterprise"
client_events = true
allow_anonymous = true
websocket_compression = true
"""

# Compresses well, as JSON payloads with repeated keys do; far above the 256-byte threshold.
LARGE = {"items": [{"id": i, "name": "delivery", "status": "on its way", "eta_minutes": i % 30} for i in range(60)]}


@pytest.fixture(scope="module")
def server():
    s = start_server(COMPRESSION_CONFIG)
    yield s
    assert s.stop() == 0, s.log()[-4000:]


def extensions_of(ws) -> str | None:
    return ws.response.headers.get("Sec-WebSocket-Extensions")


# -------------------------------------------------------------------------------------------------
# A raw WebSocket client: the handshake by hand, frames read with their RSV1 bit and wire length.
# -------------------------------------------------------------------------------------------------


class RawWebSocket:
    def __init__(self, server, path: str, extensions: str | None):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if extensions:
            request += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        self.sock.sendall((request + "\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), head
        self.headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}

    def _read(self) -> bytes:
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        return chunk

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self.buffer += self._read()
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def recv_frame(self) -> tuple[bool, int, bytes, int]:
        """(rsv1, opcode, payload, bytes on the wire) of the next frame (unfragmented, unmasked from a server)."""
        first, second = self._take(2)
        length = second & 0x7F
        header = 2
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
            header += 2
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
            header += 8
        assert first & 0x80, "fragmented frames are not expected here"
        return bool(first & 0x40), first & 0x0F, self._take(length), header + length

    def recv_json(self, inflate: bool) -> tuple[dict, bool, int]:
        """The next text frame as JSON, whether it came compressed, and its size on the wire (pings skipped)."""
        while True:
            rsv1, opcode, payload, wire = self.recv_frame()
            if opcode != 0x1:
                continue
            if rsv1:
                assert inflate, "RSV1 frame on a connection that did not agree to compression"
                payload = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
            return json.loads(payload), rsv1, wire

    def send_text(self, text: str, compress: bool = False) -> None:
        payload = text.encode()
        first = 0x81
        if compress:
            deflater = zlib.compressobj(wbits=-15)
            payload = (deflater.compress(payload) + deflater.flush(zlib.Z_SYNC_FLUSH))[:-4]
            first |= 0x40
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        if length < 126:
            header = bytes([first, 0x80 | length])
        elif length < 65536:
            header = bytes([first, 0x80 | 126]) + struct.pack("!H", length)
        else:
            header = bytes([first, 0x80 | 127]) + struct.pack("!Q", length)
        self.sock.sendall(header + mask + masked)

    def close(self):
        self.sock.close()


def raw_jsonaction(server, app, extensions: str | None, channel: str) -> RawWebSocket:
    """A raw JSON-action client of `app`, connected and subscribed to `channel`."""
    raw = RawWebSocket(server, f"/_rt/ws?key={app['key']}", extensions)
    inflate = "permessage-deflate" in raw.headers.get("sec-websocket-extensions", "")
    connected, _, _ = raw.recv_json(inflate)
    assert connected["event"] == "connected", connected
    raw.send_text(json.dumps({"action": "subscribe", "channel": channel}))
    subscribed, _, _ = raw.recv_json(inflate)
    assert subscribed["event"] == "subscribed", subscribed
    return raw


# -------------------------------------------------------------------------------------------------
# Negotiation
# -------------------------------------------------------------------------------------------------


def test_app_with_compression_on_agrees_with_server_no_context_takeover_and_large_messages_arrive(server):
    channel = unique("deflate")
    with WSClient(server, key=COMPRESSED["key"]) as client:
        agreed = extensions_of(client.ws)
        assert agreed is not None and "permessage-deflate" in agreed and "server_no_context_takeover" in agreed, agreed
        client.subscribed(channel)
        for n in range(3):
            publish(server, channel, {**LARGE, "n": n}, app=COMPRESSED)
            frame, _ = client.recv_until(lambda f: f.get("event") == "realtime.message")
            assert frame["data"] == {**LARGE, "n": n}


def test_app_with_compression_off_agrees_to_nothing(server):
    channel = unique("plain")
    with WSClient(server, key=MAIN["key"]) as client:
        assert extensions_of(client.ws) is None
        client.subscribed(channel)
        publish(server, channel, LARGE)
        frame, _ = client.recv_until(lambda f: f.get("event") == "realtime.message")
        assert frame["data"] == LARGE
    raw = raw_jsonaction(server, MAIN, "permessage-deflate; server_no_context_takeover", channel)
    try:
        assert "sec-websocket-extensions" not in raw.headers
        publish(server, channel, LARGE)
        message, compressed, _ = raw.recv_json(inflate=False)
        assert message["data"] == LARGE and not compressed
    finally:
        raw.close()


def test_offers_the_server_cannot_honour_are_declined(server):
    raw = RawWebSocket(server, f"/_rt/ws?key={COMPRESSED['key']}", "permessage-deflate; server_max_window_bits=10")
    try:
        assert "sec-websocket-extensions" not in raw.headers
    finally:
        raw.close()


def test_client_offering_nothing_gets_plain_frames_from_a_compressing_app(server):
    channel = unique("nooffer")
    url = f"{server.ws}/_rt/ws?key={COMPRESSED['key']}"
    with ws_connect(url, compression=None, proxy=None, open_timeout=WAIT, max_size=None) as ws:
        assert extensions_of(ws) is None
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "connected"
        ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "subscribed"
        publish(server, channel, LARGE, app=COMPRESSED)
        # websockets fails the connection on an RSV1 frame it did not agree to, so this also proves the frame was plain.
        assert json.loads(ws.recv(timeout=WAIT))["data"] == LARGE


# -------------------------------------------------------------------------------------------------
# On the wire
# -------------------------------------------------------------------------------------------------


def test_large_frames_are_compressed_with_rsv1_and_smaller_on_the_wire_small_ones_stay_plain(server):
    channel = unique("wire")
    deflating = raw_jsonaction(server, COMPRESSED, "permessage-deflate; server_no_context_takeover", channel)
    plain = raw_jsonaction(server, COMPRESSED, None, channel)
    try:
        assert "server_no_context_takeover" in deflating.headers["sec-websocket-extensions"]
        assert "sec-websocket-extensions" not in plain.headers
        publish(server, channel, LARGE, app=COMPRESSED)
        big, big_compressed, big_wire = deflating.recv_json(inflate=True)
        same, same_compressed, same_wire = plain.recv_json(inflate=False)
        assert big == same and big["data"] == LARGE
        assert big_compressed and not same_compressed
        assert big_wire * 3 < same_wire, (big_wire, same_wire)

        # Below `compression_min_bytes` (though above the default threshold): sent plain.
        medium = {"text": "m" * (MIN_BYTES // 2)}
        publish(server, channel, medium, app=COMPRESSED)
        small, small_compressed, small_wire = deflating.recv_json(inflate=True)
        assert small["data"] == medium and not small_compressed and 256 < small_wire < MIN_BYTES
    finally:
        deflating.close()
        plain.close()


def test_every_compressing_subscriber_gets_the_same_compressed_bytes(server):
    channel = unique("shared")
    clients = [raw_jsonaction(server, COMPRESSED, "permessage-deflate; server_no_context_takeover", channel) for _ in range(3)]
    try:
        publish(server, channel, LARGE, app=COMPRESSED)
        payloads = set()
        for raw in clients:
            while True:
                rsv1, opcode, payload, _ = raw.recv_frame()
                if opcode == 0x1:
                    break
            assert rsv1
            payloads.add(payload)
        assert len(payloads) == 1
    finally:
        for raw in clients:
            raw.close()


# -------------------------------------------------------------------------------------------------
# Client to server
# -------------------------------------------------------------------------------------------------


def test_compressed_client_publishes_reach_subscribers(server):
    channel = unique("upstream")
    with WSClient(server, key=COMPRESSED["key"]) as reader, WSClient(server, key=COMPRESSED["key"]) as writer:
        assert "permessage-deflate" in extensions_of(writer.ws)
        reader.subscribed(channel)
        writer.subscribed(channel)
        # websockets compresses every message it sends, keeping its window between messages.
        for n in range(3):
            writer.send({"action": "publish", "channel": channel, "data": {**LARGE, "n": n}})
            frame, _ = reader.recv_until(lambda f: f.get("event") == "realtime.message")
            assert frame["data"] == {**LARGE, "n": n}
    raw = raw_jsonaction(server, COMPRESSED, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", channel)
    try:
        with WSClient(server, key=COMPRESSED["key"]) as reader:
            reader.subscribed(channel)
            raw.send_text(json.dumps({"action": "publish", "channel": channel, "data": LARGE}), compress=True)
            frame, _ = reader.recv_until(lambda f: f.get("event") == "realtime.message")
            assert frame["data"] == LARGE
    finally:
        raw.close()


# -------------------------------------------------------------------------------------------------
# Other protocols with a compressing client
# -------------------------------------------------------------------------------------------------


def test_pusher_client_with_compression_gets_large_events(server):
    channel = unique("pusher-deflate")
    url = f"{server.ws}/app/{COMPRESSED['key']}?protocol=7&client=test&version=1"
    with ws_connect(url, proxy=None, open_timeout=WAIT, max_size=None) as ws:
        assert "server_no_context_takeover" in extensions_of(ws)
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "pusher:connection_established"
        ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "pusher_internal:subscription_succeeded"
        publish(server, channel, LARGE, app=COMPRESSED)
        frame = json.loads(ws.recv(timeout=WAIT))
        assert frame["channel"] == channel and json.loads(frame["data"]) == LARGE


def test_centrifuge_client_with_compression_gets_large_publications(server):
    channel = unique("jwt-deflate")
    token = sign_jwt({"sub": "u1", "exp": int(time.time()) + 600}, COMPRESSED["secret"])

    async def main():
        received = asyncio.Queue()
        client = Client(f"{server.ws}/connection/websocket?key={COMPRESSED['key']}", token=token, proxy=None, timeout=WAIT)
        await client.connect()
        await client.ready(timeout=WAIT)
        # centrifuge-python keeps its `websockets` connection here; its handshake shows what was agreed.
        assert "server_no_context_takeover" in client._conn.response.headers.get("Sec-WebSocket-Extensions", "")
        sub = client.new_subscription(channel)

        async def on_publication(ctx):
            received.put_nowait(ctx.pub.data)

        sub.events.on_publication = on_publication
        await sub.subscribe()
        await sub.ready(timeout=WAIT)
        await sub.publish(LARGE)
        assert await asyncio.wait_for(received.get(), WAIT) == LARGE
        await client.disconnect()

    asyncio.run(asyncio.wait_for(main(), 45))
