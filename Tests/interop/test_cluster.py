"""Several Switchboard nodes sharing one bus through Redis (`[engine] kind = "redis"`), with real clients.

A test redis-server runs on a free loopback port (started here, killed at the end); two or three
`switchboard serve` processes point at it. Clients: `websockets` (JSON-action), httpx-sse (SSE), httpx (REST).
"""

import json
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import (
    CONFIG,
    SSEStream,
    WSClient,
    free_port,
    rest,
    start_server,
    unique,
    wait_until,
)

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (scripts/test installs it)")


class RedisProcess:
    """A throwaway redis-server on loopback: no persistence, so a restart loses everything."""

    def __init__(self):
        self.port = free_port()
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def redis():
    r = RedisProcess()
    yield r
    r.kill()


@pytest.fixture
def cluster(redis):
    """Starts nodes on the test Redis (one prefix per test); every node is killed at the end."""
    nodes = []
    prefix = unique("sbtest")

    def start(count=1):
        started = [start_server(cluster_config(redis.port, prefix)) for _ in range(count)]
        for node in started:
            wait_engine_ready(node)
        nodes.extend(started)
        return started

    start.prefix = prefix
    yield start
    for node in nodes:
        if node.process.poll() is None:
            node.stop(signal.SIGKILL)


def cluster_config(redis_port: int, prefix: str) -> str:
    return CONFIG + f'\n[engine]\nkind = "redis"\nurl = "redis://127.0.0.1:{redis_port}/0"\nprefix = "{prefix}"\n'


def wait_engine_ready(node, timeout=15.0):
    """A node serves HTTP before its Redis connections are up; wait until a publish goes through."""
    channel = unique("warmup:")
    wait_until(lambda: rest(node, "POST", "publish", json={"channel": channel, "data": 1}).status_code == 200, timeout,
               message="the node's Redis engine to connect")


def publish_via(node, channel, data) -> dict:
    r = rest(node, "POST", "publish", json={"channel": channel, "data": data})
    assert r.status_code == 200, r.text
    return r.json()


def members(node, channel) -> list:
    r = rest(node, "GET", "presence/members", params={"channel": channel})
    assert r.status_code == 200, r.text
    return sorted(m["userId"] for m in r.json()["members"])


def test_clients_on_three_nodes_get_every_message_in_publish_order(cluster):
    a, b, c = cluster(3)
    channel = unique("room:")
    with WSClient(a) as on_a, WSClient(b) as on_b, SSEStream(c, [channel]) as on_c:
        on_a.subscribed(channel)
        on_b.subscribed(channel)
        # The SSE stream is subscribed once the server has answered; a message through it proves it is live.
        wait_until(lambda: publish_via(c, channel, {"i": 0}) and True)
        first = on_c.next()
        assert json.loads(first.data) == {"i": 0}
        assert on_a.recv()["data"] == {"i": 0} and on_b.recv()["data"] == {"i": 0}
        nodes = [a, b, c]
        seqs = [publish_via(nodes[i % 3], channel, {"i": i})["seq"] for i in range(1, 31)]
        assert seqs == list(range(2, 32)), "one sequence for the channel, whichever node publishes"
        for client in (on_a, on_b):
            frames = [client.recv() for _ in range(30)]
            assert [f["data"]["i"] for f in frames] == list(range(1, 31))
            assert [f["seq"] for f in frames] == seqs
        assert [json.loads(e.data)["i"] for e in on_c.take(30)] == list(range(1, 31))


def test_presence_members_are_the_same_from_every_node_and_a_dead_nodes_members_leave(cluster):
    a, b, c = cluster(3)
    channel = unique("room:")
    with WSClient(a) as alice, WSClient(c) as watcher:
        watcher.subscribed(channel)
        alice.send({"action": "presence:join", "channel": channel, "userId": "alice", "metadata": {"n": 1}})
        alice.assert_alive()
        bob = WSClient(b)
        bob.send({"action": "presence:join", "channel": channel, "userId": "bob", "metadata": {"n": 2}})
        bob.assert_alive()
        assert members(a, channel) == members(b, channel) == members(c, channel) == ["alice", "bob"]
        joined = {f["userId"] for f in (watcher.recv_until(lambda f: f["event"] == "presence.join")[0] for _ in range(2))}
        assert joined == {"alice", "bob"}
        # Node B dies without a goodbye: its members leave once nobody refreshes them (presence timeout 3 s,
        # janitor every 5 s), and the watcher on node C hears it.
        b.stop(signal.SIGKILL)
        leave, _ = watcher.recv_until(lambda f: f["event"] == "presence.leave", timeout=20)
        assert leave["userId"] == "bob"
        assert members(a, channel) == members(c, channel) == ["alice"]
        alice.assert_alive()


def test_history_survives_a_switchboard_restart_in_redis_mode(cluster):
    (a,) = cluster(1)
    channel = unique("kept:")
    seqs = [publish_via(a, channel, {"i": i})["seq"] for i in range(1, 6)]
    assert seqs == [1, 2, 3, 4, 5]
    assert a.stop() == 0
    (again,) = cluster(1)
    with WSClient(again) as client:
        reply = client.subscribed(channel, lastEventId=2)
        assert reply["seq"] == 5
        replayed = [client.recv() for _ in range(3)]
        assert [(f["seq"], f["data"]["i"]) for f in replayed] == [(3, 3), (4, 4), (5, 5)]
        assert publish_via(again, channel, {"i": 6})["seq"] == 6
        assert client.recv()["seq"] == 6


def test_redis_restart_mid_stream_refuses_publishes_then_resumes_on_every_node(cluster, redis):
    a, b = cluster(2)
    channel = unique("live:")
    with WSClient(a) as on_a, SSEStream(b, [channel]) as on_b:
        on_a.subscribed(channel)
        wait_until(lambda: publish_via(b, channel, {"phase": "before"}) and True)
        assert on_a.recv()["data"] == {"phase": "before"}
        assert json.loads(on_b.next().data) == {"phase": "before"}

        redis.kill()
        # Refused, not dropped: HTTP 503 with a JSON error that says why.
        refusal = wait_until(lambda: (r := rest(a, "POST", "publish", json={"channel": channel, "data": 1})).status_code == 503 and r,
                             message="a 503 while Redis is down")
        body = refusal.json()
        assert body["ok"] is False and body["error"]["code"] == "engine_unavailable", body
        assert "redis" in body["error"]["message"], body
        r = rest(b, "POST", "publish", json={"channel": channel, "data": 1})
        assert r.status_code == 503, r.text
        # Clients stay connected through the outage.
        on_a.assert_alive()

        redis.start()
        wait_engine_ready(a)
        wait_engine_ready(b)
        # Redis lost everything: the channel's stream starts over (new epoch), so clients know to resync.
        # Nodes resubscribe right after reconnecting; publish until both clients see a message again.
        seen = {"a": False, "b": False}

        def both_see_after():
            publish_via(a, channel, {"phase": "after"})
            if not seen["a"]:
                try:
                    seen["a"] = on_a.recv_until(lambda f: f.get("data") == {"phase": "after"}, timeout=0.5) is not None
                except TimeoutError:
                    pass
            if not seen["b"]:
                try:
                    while not seen["b"]:
                        seen["b"] = json.loads(on_b.next(timeout=0.5).data) == {"phase": "after"}
                except TimeoutError:
                    pass
            return seen["a"] and seen["b"]

        wait_until(both_see_after, timeout=15, message="both nodes to deliver again after the Redis restart")
        on_a.assert_alive()
