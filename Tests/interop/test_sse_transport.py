"""SSE streams over HTTP/1.1 leave the server's per-connection task once admitted: the edge writes them from the event
loop (`EventStreamClaim`, `EventStreamWriter`), as it writes an upgraded WebSocket. Pinned from outside: an idle stream
costs about what an idle WebSocket costs (48 KB each in a debug build when every stream held its request's task), a
refused stream request is answered and its connection closed, a stream asked for after another request on the same
connection still streams, what the client sends after its request never reaches the stream, and a client that shuts
its side of the socket gives its place back at once; an HTTP/1.0 client gets its stream unchunked. Streams join their
event loop's batch of writes as WebSockets do: `[limits] write_batch_ms` loses and reorders nothing, and a stream that
reads nothing does not hold back publishers paced by the write lag (`[limits] publish_lag_ms`).
"""
import json
import socket
import time

import httpx
import pytest

from conftest import CONFIG, MAIN, SSEStream, admin_headers, api_headers, publish, rss_kb, start_server, unique

pytestmark = pytest.mark.timeout(120)


def raw_stream(server, channel: str, before: bytes = b"", after: bytes = b"", key: str = MAIN["key"]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(before + f"GET /sse?key={key}&channel={channel} HTTP/1.1\r\nHost: test\r\n\r\n".encode() + after)
    return sock


def read_until(sock: socket.socket, marker: bytes, seen: bytes = b"") -> bytes:
    """Reads until `marker` has arrived (or the server closes); returns everything read."""
    while marker not in seen:
        chunk = sock.recv(65536)
        if not chunk:
            break
        seen += chunk
    return seen


def read_to_end(sock: socket.socket) -> bytes:
    seen = b""
    while chunk := sock.recv(65536):
        seen += chunk
    return seen


def sse_connections(server) -> int:
    status = httpx.get(f"{server.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=10).json()
    return status["connections"]["sse"]


def test_idle_sse_streams_cost_less_than_20_kb_each():
    server = start_server()
    streams = []
    try:
        for _ in range(50):
            streams.append(raw_stream(server, unique("warm-")))
            read_until(streams[-1], b": connected")
        time.sleep(1)
        before = rss_kb(server)
        for _ in range(500):
            streams.append(raw_stream(server, unique("idle-")))
            assert b": connected" in read_until(streams[-1], b": connected")
        time.sleep(2)
        per_stream = (rss_kb(server) - before) / 500
        assert per_stream < 20, f"{per_stream:.1f} KB per idle stream"
    finally:
        for stream in streams:
            stream.close()
        assert server.stop() == 0


def test_a_refused_stream_request_is_answered_and_its_connection_closed(server):
    sock = raw_stream(server, unique("refused-"), key="pk_no_such_key")
    answer = read_to_end(sock)
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404"), answer[:300]
    assert b"connection: close" in head.lower()
    assert b"\r\nserver: switchboard" in head.lower() and b"\r\ndate: " in head.lower(), head
    assert b"unknown_key" in body
    # The next request, on a new connection, is served as ever.
    assert httpx.get(f"{server.http}/api/health", timeout=10).status_code == 200


def test_a_stream_asked_for_after_another_request_on_the_same_connection_streams_too(server):
    channel = unique("second-")
    sock = raw_stream(server, channel, before=b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n")
    try:
        seen = read_until(sock, b": connected")
        assert b'"status":"ok"' in seen and b"text/event-stream" in seen, seen[:600]
        publish(server, channel, {"n": 1})
        assert b'{"n":1}' in read_until(sock, b'{"n":1}', seen)
    finally:
        sock.close()


def test_what_a_client_sends_after_its_stream_request_never_reaches_the_stream(server):
    channel = unique("after-")
    pipelined = b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n" + b"\x00\xff not http at all\r\n\r\n" * 50
    sock = raw_stream(server, channel, after=pipelined)
    try:
        seen = read_until(sock, b": connected")
        publish(server, channel, {"n": 2})
        seen = read_until(sock, b'{"n":2}', seen)
        assert b'{"n":2}' in seen
        assert seen.count(b"HTTP/1.1") == 1 and b"400" not in seen.split(b"\r\n\r\n", 1)[1], seen[:600]
    finally:
        sock.close()


def test_a_client_that_shuts_its_side_of_the_socket_ends_its_stream_and_gives_its_place_back(fresh_server):
    server = fresh_server()
    sock = raw_stream(server, unique("shut-"))
    read_until(sock, b": connected")
    assert sse_connections(server) == 1
    sock.shutdown(socket.SHUT_WR)
    # The body ends with its last chunk, and the server closes the socket.
    assert read_to_end(sock).endswith(b"0\r\n\r\n")
    sock.close()
    deadline = time.monotonic() + 5
    while sse_connections(server) != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sse_connections(server) == 0


def test_an_http_1_0_client_gets_its_stream_unchunked(server):
    channel = unique("old-")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(f"GET /sse?key={MAIN['key']}&channel={channel} HTTP/1.0\r\n\r\n".encode())
        seen = read_until(sock, b": connected")
        head, _, body = seen.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200"), head
        assert b"\r\nserver: switchboard" in head.lower() and b"\r\ndate: " in head.lower(), head
        assert b"transfer-encoding" not in head.lower()
        assert body.startswith(b"retry: 2000\n"), body[:100]
        publish(server, channel, {"n": 3})
        seen = read_until(sock, b'{"n":3}', seen)
        assert b'data: {"n":3}\n\n' in seen
    finally:
        sock.close()


def test_write_batching_delivers_every_sse_message_in_order():
    server = start_server(CONFIG.replace("[limits]\n", "[limits]\nwrite_batch_ms = 20\n", 1))
    try:
        channel = unique("batch-")
        streams = [SSEStream(server, [channel]) for _ in range(6)]
        with httpx.Client(timeout=10) as http:
            for n in range(100):
                r = http.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": {"n": n}})
                assert r.status_code == 200, r.text
        for stream in streams:
            assert [json.loads(event.data)["n"] for event in stream.take(100)] == list(range(100))
            stream.close()
        # A message alone waits at most one interval.
        started = time.monotonic()
        with SSEStream(server, [channel]) as lone:
            publish(server, channel, {"n": "lone"})
            assert json.loads(lone.next().data)["n"] == "lone"
        assert time.monotonic() - started < 2
    finally:
        assert server.stop() == 0


def test_a_stream_that_reads_nothing_does_not_hold_back_publishers_paced_by_the_write_lag():
    server = start_server(CONFIG.replace("[limits]\n", "[limits]\npublish_lag_ms = 5\n", 1))
    try:
        channel = unique("paced-")
        stalled = raw_stream(server, channel)  # admitted, then never read again
        assert b": connected" in read_until(stalled, b": connected")
        with SSEStream(server, [channel]) as reader:
            filler = "x" * 8000
            started = time.monotonic()
            with httpx.Client(timeout=10) as http:
                for n in range(300):
                    body = {"channel": channel, "data": {"n": n, "f": filler}}
                    r = http.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json=body)
                    assert r.status_code == 200, r.text
            elapsed = time.monotonic() - started
            # A publish waits at most one second for a lagging loop: 300 held publishes would take five minutes.
            assert elapsed < 30, f"300 publishes took {elapsed:.1f} s"
            assert [json.loads(event.data)["n"] for event in reader.take(300)] == list(range(300))
        stalled.close()
    finally:
        assert server.stop() == 0
