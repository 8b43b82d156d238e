"""Requests that ask to switch protocols: the edge upgrades only to WebSocket, and serves anything else as plain HTTP.

RFC 9110 §7.8 lets a server ignore an `Upgrade` it does not speak. NIO's upgrade handler instead held such a request
back and dropped it, so every route gave an empty reply to `curl --http2` (which offers `Upgrade: h2c`) and to any
request carrying an `Upgrade` header. A handshake that is not a valid WebSocket one gets 426 naming what is required.

Clients: httpx and a raw loopback socket (the exact bytes `curl --http2` sends); `websockets` for the real handshake.
"""

import socket

import httpx
from websockets.sync.client import connect

from conftest import MAIN, WAIT, api_headers, unique


def raw_request(server, request: bytes) -> bytes:
    """Sends `request` on a fresh socket and reads until the server closes or 2 s pass."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(request)
        sock.settimeout(2)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b'"status"' in b"".join(chunks):
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_an_h2c_upgrade_offer_like_curl_http2s_is_served_as_http_1_1(server):
    reply = raw_request(
        server,
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
    assert b'"status":"ok"' in reply


def test_any_upgrade_the_edge_does_not_speak_leaves_the_request_to_its_route(server):
    r = httpx.get(f"{server.http}/api/health", headers={"Upgrade": "foo", "Connection": "Upgrade"}, timeout=WAIT)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    # A POST with a body is no handshake either, even naming websocket: it is published as any POST.
    channel = unique("upgrade-post:")
    r = httpx.post(
        f"{server.http}/_rt/api/publish",
        headers={**api_headers(), "Upgrade": "websocket", "Connection": "Upgrade"},
        json={"channel": channel, "data": {"n": 1}},
        timeout=WAIT,
    )
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


def test_a_websocket_handshake_with_another_version_or_no_key_gets_426_naming_version_13(server):
    url = f"{server.http}/_rt/ws?key={MAIN['key']}"
    base = {"Upgrade": "websocket", "Connection": "Upgrade"}
    for headers in (
        {**base, "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "8"},
        {**base, "Sec-WebSocket-Version": "13"},
    ):
        r = httpx.get(url, headers=headers, timeout=WAIT)
        assert r.status_code == 426, (headers, r.status_code, r.text)
        assert r.headers["upgrade"].lower() == "websocket"
        assert r.headers["sec-websocket-version"] == "13"
    # Every protocol's WebSocket route says so.
    for path in (f"/app/{MAIN['key']}", "/connection/websocket"):
        r = httpx.get(f"{server.http}{path}", timeout=WAIT)
        assert r.status_code == 426 and r.headers["sec-websocket-version"] == "13", (path, r.status_code)


def test_a_valid_handshake_still_upgrades(server):
    with connect(f"{server.ws}/_rt/ws?key={MAIN['key']}", open_timeout=WAIT) as ws:
        assert '"event":"connected"' in ws.recv(timeout=WAIT)
