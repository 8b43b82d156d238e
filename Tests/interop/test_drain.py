"""SIGTERM drains: publishes accepted before the signal reach every subscriber before its goodbye, connections
that arrive during the drain are sent away at once, and the process exits 0.
"""

import signal
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from conftest import WAIT, WSClient, api_headers, unique

pytestmark = pytest.mark.timeout(60)


def test_publishes_accepted_before_sigterm_are_delivered_before_the_goodbye(fresh_server):
    server = fresh_server()
    channel = unique("drain:")
    subscribers = [WSClient(server) for _ in range(3)]
    for client in subscribers:
        client.subscribed(channel)
    accepted: list[tuple[int, float]] = []
    stop = threading.Event()

    def publish_until_refused():
        with httpx.Client(headers=api_headers(), timeout=WAIT) as http:
            i = 0
            while not stop.is_set():
                try:
                    r = http.post(f"{server.http}/_rt/api/publish", json={"channel": channel, "data": {"i": i}})
                except httpx.HTTPError:
                    return
                if r.status_code != 200:
                    return
                accepted.append((i, time.monotonic()))
                i += 1

    publisher = threading.Thread(target=publish_until_refused, daemon=True)
    publisher.start()
    while len(accepted) < 50:
        time.sleep(0.01)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    before_signal = {i for i, at in accepted if at < signalled}

    # A connection that arrives during the drain is told to reconnect straight away (or finds the port closed).
    try:
        late = WSClient(server, expect_connected=False)
        frames = []
        try:
            while True:
                frames.append(late.recv(timeout=5))
        except ConnectionClosed:
            pass
        assert any(f.get("event") == "error" and f["data"]["code"] == "reconnect" for f in frames), frames
        assert not any(f.get("event") == "connected" and f.get("data", {}).get("subscribed") for f in frames)
    except (OSError, ConnectionClosed):
        pass

    for client in subscribers:
        received = set()
        while True:
            frame = client.recv(timeout=10)
            if frame["event"] == "error":
                assert frame["data"]["code"] == "reconnect", frame
                break
            received.add(frame["data"]["i"])
        assert before_signal <= received, f"lost {sorted(before_signal - received)[:10]} of {len(before_signal)}"
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=10)
    stop.set()
    publisher.join(timeout=WAIT)
    assert server.process.wait(timeout=20) == 0
