"""The connection layer from outside: idle WebSocket connections are cheap, broadcasts reach every subscriber on every
event loop in publish order, a resume in the middle of a publish stream has no gap and no duplicate, and
`[limits] write_batch_ms` batches writes without losing or reordering anything, and publishes paced by
`[limits] publish_lag_ms` are not held back by a client that reads nothing.

Idle memory is the server's RSS growth over 500 subscribed JSON-action connections on raw sockets; the edge holds each
one as NIO handlers with no task (about 12 KB here, against 43 KB when every connection held its Swift tasks).
"""
import json
import threading
import time

import httpx
import pytest

from conftest import CONFIG, MAIN, WSClient, api_headers, publish, rss_kb, start_server, unique
from test_slow_consumer import RawSubscriber

pytestmark = pytest.mark.timeout(120)


def raw_subscriber(server, channel: str) -> RawSubscriber:
    client = RawSubscriber(server.port, f"/_rt/ws?key={MAIN['key']}")
    assert client.first_text()["event"] == "connected"
    client.send_text(json.dumps({"action": "subscribe", "channel": channel}))
    assert client.first_text()["event"] == "subscribed"
    return client


def test_idle_subscribed_connections_cost_less_than_20_kb_each():
    server = start_server()
    clients = []
    try:
        clients = [raw_subscriber(server, unique("warm-")) for _ in range(50)]
        time.sleep(1)
        before = rss_kb(server)
        clients += [raw_subscriber(server, unique("idle-")) for _ in range(500)]
        time.sleep(2)
        per_connection = (rss_kb(server) - before) / 500
        assert per_connection < 20, f"{per_connection:.1f} KB per idle connection"
    finally:
        for client in clients:
            client.close()
        assert server.stop() == 0


def test_every_subscriber_gets_every_broadcast_in_publish_order(server):
    channel = unique("order-")
    clients = [WSClient(server) for _ in range(24)]
    try:
        for client in clients:
            client.subscribed(channel)
        with httpx.Client(timeout=10) as http:
            for n in range(150):
                r = http.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": {"n": n}})
                assert r.status_code == 200, r.text
        for client in clients:
            received = [client.recv()["data"]["n"] for _ in range(150)]
            assert received == list(range(150))
    finally:
        for client in clients:
            client.close()


def test_a_resume_during_a_publish_stream_has_no_gap_and_no_duplicate(server):
    for attempt in range(4):
        channel = unique("resume-")
        first = publish(server, channel, {"n": 0})["seq"]
        for n in range(1, 20):
            publish(server, channel, {"n": n})
        done = threading.Event()

        def publisher():
            with httpx.Client(timeout=10) as http:
                for n in range(20, 220):
                    http.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": {"n": n}})
            done.set()

        thread = threading.Thread(target=publisher)
        thread.start()
        time.sleep(0.02 * attempt)
        with WSClient(server) as client:
            reply = client.subscribe(channel, lastEventId=first + 4)
            assert reply["event"] == "subscribed", reply
            thread.join(timeout=60)
            assert done.is_set()
            seen = []
            while not seen or seen[-1] != 219:
                frame = client.recv()
                if frame["event"] == "realtime.message":
                    seen.append(frame["data"]["n"])
        assert seen == list(range(5, 220)), f"attempt {attempt}: {seen[:10]}…"


def test_write_batching_delivers_everything_in_order():
    batched = CONFIG.replace("[limits]\n", "[limits]\nwrite_batch_ms = 20\n", 1)
    server = start_server(batched)
    try:
        channel = unique("batch-")
        clients = [WSClient(server) for _ in range(8)]
        for client in clients:
            client.subscribed(channel)
        with httpx.Client(timeout=10) as http:
            for n in range(100):
                http.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": {"n": n}})
        for client in clients:
            assert [client.recv()["data"]["n"] for _ in range(100)] == list(range(100))
            client.close()
        started = time.monotonic()
        with WSClient(server) as lone:
            lone.subscribed(channel)
            publish(server, channel, {"n": "lone"})
            assert lone.recv()["data"]["n"] == "lone"
        assert time.monotonic() - started < 2
    finally:
        assert server.stop() == 0


def test_a_write_batch_over_100_ms_is_refused_at_start():
    with pytest.raises(RuntimeError, match="write_batch_ms"):
        start_server(CONFIG.replace("[limits]\n", "[limits]\nwrite_batch_ms = 101\n", 1))


def test_a_client_that_reads_nothing_does_not_hold_back_publishers_paced_by_the_write_lag():
    server = start_server(CONFIG.replace("[limits]\n", "[limits]\npublish_lag_ms = 5\n", 1))
    try:
        channel = unique("paced-")
        stalled = raw_subscriber(server, channel)  # subscribed, then never read again
        reader = WSClient(server)
        reader.subscribed(channel)
        filler = "x" * 8000
        started = time.monotonic()
        with httpx.Client(timeout=10) as http:
            for n in range(300):
                r = http.post(f"{server.http}/_rt/api/publish", headers=api_headers(), json={"channel": channel, "data": {"n": n, "f": filler}})
                assert r.status_code == 200, r.text
        elapsed = time.monotonic() - started
        # A publish waits at most one second for a lagging loop: 300 held publishes would take five minutes.
        assert elapsed < 30, f"300 publishes took {elapsed:.1f} s"
        assert [reader.recv()["data"]["n"] for _ in range(300)] == list(range(300))
        reader.close()
        stalled.close()
    finally:
        assert server.stop() == 0


def test_a_publish_lag_over_ten_seconds_is_refused_at_start():
    with pytest.raises(RuntimeError, match="publish_lag_ms"):
        start_server(CONFIG.replace("[limits]\n", "[limits]\npublish_lag_ms = 10001\n", 1))
