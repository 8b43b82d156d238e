"""Several Switchboard nodes sharing one bus through Redis (`[engine] kind = "redis"`), with real clients.

A test redis-server runs on a free loopback port (started here, killed at the end); two or three
`switchboard serve` processes point at it. Clients: `websockets` (JSON-action), httpx-sse (SSE), httpx (REST).
"""

import asyncio
import json
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time

import cent
import httpx
import pusher as pusher_server
import pytest
from centrifuge import Client, ClientEventHandler, SubscriptionEventHandler

from conftest import (
    ADMIN_TOKEN,
    CONFIG,
    MAIN,
    PUSHER,
    SMALL,
    WAIT,
    PusherWS,
    PysherClient,
    SSEStream,
    WSClient,
    expect_pusher_closed,
    expect_pusher_error,
    flood_kept_history,
    free_port,
    history_bytes_metric,
    next_event,
    pusher_api,
    rest,
    sign_jwt,
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
    """A node serves HTTP before its Redis connections are up; wait until both are: health says ok (the command and
    the pub/sub connection reconnect apart, so a publish can go through while the node does not yet hear Redis) and a
    publish goes through."""
    channel = unique("warmup:")

    def ready():
        health = httpx.get(f"{node.http}/api/health", timeout=WAIT)
        return health.status_code == 200 and health.json()["status"] == "ok" and \
            rest(node, "POST", "publish", json={"channel": channel, "data": 1}).status_code == 200

    wait_until(ready, timeout, message="the node's Redis engine to connect")


def publish_via(node, channel, data) -> dict:
    r = rest(node, "POST", "publish", json={"channel": channel, "data": data})
    assert r.status_code == 200, r.text
    return r.json()


def members(node, channel) -> list:
    r = rest(node, "GET", "presence/members", params={"channel": channel})
    assert r.status_code == 200, r.text
    return sorted(m["userId"] for m in r.json()["members"])


class CentrifugeInThread:
    """A real centrifuge-python client on its own asyncio loop in a thread; publications land in a queue."""

    def __init__(self, node, app, channel: str):
        self.publications: queue.Queue = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        token = sign_jwt({"sub": "jwt-user", "exp": int(time.time()) + 600}, app["secret"])
        outer = self

        class Received(SubscriptionEventHandler):
            async def on_publication(self, ctx):
                outer.publications.put(ctx.pub.data)

        async def start():
            self.client = Client(f"{node.ws}/connection/websocket?key={app['key']}", token=token, events=ClientEventHandler(),
                                 proxy=None, timeout=WAIT)
            await self.client.connect()
            subscription = self.client.new_subscription(channel, events=Received())
            await subscription.subscribe()
            await subscription.ready(timeout=WAIT)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=WAIT * 2)

    def take(self, count: int) -> list:
        return [self.publications.get(timeout=WAIT) for _ in range(count)]

    def close(self):
        async def stop():
            await self.client.disconnect()
            # The client leaves its transport's keepalive task behind; end it before the loop stops.
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=WAIT)


def test_pusher_jwt_and_sse_clients_on_three_nodes_get_every_message_in_publish_order(cluster):
    a, b, c = cluster(3)
    channel = unique("mixed-")
    with PysherClient(a, app=PUSHER) as pusher_client, SSEStream(c, [channel], key=PUSHER["key"]) as on_c:
        events = pusher_client.subscribe(channel, events=("tick",))
        next_event(events, "pusher_internal:subscription_succeeded")
        jwt_client = CentrifugeInThread(b, PUSHER, channel)
        try:
            # The SSE stream is live once the first message through it arrives.
            wait_until(lambda: rest(a, "POST", "publish", app=PUSHER, json={"channel": channel, "name": "tick", "data": {"i": 0}})
                       .status_code == 200 and True)
            assert json.loads(on_c.next().data) == {"i": 0}
            assert json.loads(next_event(events, "tick")[1]) == {"i": 0}
            assert jwt_client.take(1) == [{"i": 0}]
            nodes = [a, b, c]
            for i in range(1, 31):
                r = rest(nodes[i % 3], "POST", "publish", app=PUSHER, json={"channel": channel, "name": "tick", "data": {"i": i}})
                assert r.status_code == 200, r.text
            assert [json.loads(next_event(events, "tick")[1])["i"] for _ in range(30)] == list(range(1, 31))
            assert [p["i"] for p in jwt_client.take(30)] == list(range(1, 31))
            assert [json.loads(e.data)["i"] for e in on_c.take(30)] == list(range(1, 31))
        finally:
            jwt_client.close()


def test_channel_counts_are_cluster_wide_in_the_pusher_and_jwt_server_apis(cluster):
    a, b = cluster(2)
    channel = unique("counted-")
    api_a = pusher_server.Pusher(app_id=PUSHER["id"], key=PUSHER["key"], secret=PUSHER["secret"], host="127.0.0.1", port=a.port, ssl=False)
    with PysherClient(a, app=PUSHER) as on_a, PysherClient(b, app=PUSHER) as on_b, PysherClient(b, app=PUSHER) as also_b:
        for client in (on_a, on_b, also_b):
            next_event(client.subscribe(channel), "pusher_internal:subscription_succeeded")

        def counted(expected):
            info = api_a.channel_info(channel, ["subscription_count"])
            listed = api_a.channels_info(prefix_filter="counted-", attributes=["subscription_count"])["channels"]
            return info.get("subscription_count") == expected and listed.get(channel, {}).get("subscription_count") == expected

        # Node B reports its counts about once a second; node A adds its own live count.
        wait_until(lambda: counted(3), timeout=10, message="three subscribers counted across both nodes")

        def counted_on_b():
            reply = httpx.post(f"{b.http}/api/channels", headers={"X-API-Key": PUSHER["secret"]}, json={}, timeout=WAIT).json()
            return reply["result"]["channels"].get(channel, {}).get("num_clients") == 3

        wait_until(counted_on_b, timeout=10, message="the Centrifugo server API on node B to count node A's subscriber")
        on_b.close()
        also_b.close()
        wait_until(lambda: counted(1), timeout=10, message="node B's leavers uncounted")


def test_subscription_count_events_tell_the_whole_clusters_count_to_subscribers_on_every_node(cluster):
    """pusher-js shows `pusher_internal:subscription_count` as the channel's count; with two nodes it is both nodes'."""
    a, b = cluster(2)
    channel = unique("counted-")

    def reaches(events, expected):
        """Reads count events until one says `expected` (other nodes' changes arrive with their next report)."""
        while json.loads(next_event(events, "pusher_internal:subscription_count", timeout=10)[1])["subscription_count"] != expected:
            pass

    with PysherClient(a, app=PUSHER) as on_a:
        events_a = on_a.subscribe(channel)
        reaches(events_a, 1)
        with PysherClient(b, app=PUSHER) as on_b, PysherClient(b, app=PUSHER) as also_b:
            events_b = on_b.subscribe(channel)
            next_event(also_b.subscribe(channel), "pusher_internal:subscription_succeeded")
            reaches(events_a, 3)
            reaches(events_b, 3)
        reaches(events_a, 1)


def test_a_dead_nodes_subscribers_are_uncounted_within_the_expiry(cluster):
    a, b = cluster(2)
    channel = unique("dead-")
    api_a = pusher_server.Pusher(app_id=PUSHER["id"], key=PUSHER["key"], secret=PUSHER["secret"], host="127.0.0.1", port=a.port, ssl=False)
    with PysherClient(b, app=PUSHER) as on_b:
        next_event(on_b.subscribe(channel), "pusher_internal:subscription_succeeded")
        wait_until(lambda: api_a.channel_info(channel, ["subscription_count"]).get("subscription_count") == 1, timeout=10,
                   message="node B's subscriber counted on node A")
        b.stop(signal.SIGKILL)
        wait_until(lambda: api_a.channel_info(channel, ["subscription_count"])["occupied"] is False, timeout=15,
                   message="the dead node's subscriber uncounted")


def test_health_says_degraded_while_redis_is_down_and_ok_again_after(cluster, redis):
    (a,) = cluster(1)
    health = httpx.get(f"{a.http}/api/health", timeout=WAIT)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["engine"] == {"kind": "redis", "status": "ok"}
    redis.kill()

    def degraded():
        r = httpx.get(f"{a.http}/api/health", timeout=WAIT)
        return r.status_code == 503 and r.json()["status"] == "degraded" and r.json()["engine"]["status"] == "unavailable"

    wait_until(degraded, timeout=10, message="health to say degraded")
    redis.start()
    wait_engine_ready(a)
    r = httpx.get(f"{a.http}/api/health", timeout=WAIT)
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_redis_down_at_start_serves_degraded_then_connects(redis):
    redis.kill()
    node = start_server(cluster_config(redis.port, unique("late")))
    try:
        r = httpx.get(f"{node.http}/api/health", timeout=WAIT)
        assert r.status_code == 503 and r.json()["status"] == "degraded"
        refused = rest(node, "POST", "publish", json={"channel": "x", "data": 1})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "engine_unavailable"
        redis.start()
        wait_engine_ready(node)
        assert httpx.get(f"{node.http}/api/health", timeout=WAIT).json()["status"] == "ok"
    finally:
        node.stop(signal.SIGKILL)


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


def test_a_watcher_hears_a_user_come_online_and_go_offline_on_another_node(cluster):
    a, b = cluster(2)
    ann, bob = unique("ann-"), unique("bob-")
    with PusherWS(a) as watcher:
        signed = pusher_api(a).authenticate_user(watcher.socket_id, {"id": ann, "watchlist": [bob]})
        watcher.send({"event": "pusher:signin", "data": signed})
        assert watcher.recv()["event"] == "pusher:signin_success"
        watcher.assert_alive()
        with PusherWS(b) as user:
            user.send({"event": "pusher:signin", "data": pusher_api(b).authenticate_user(user.socket_id, {"id": bob})})
            assert user.recv()["event"] == "pusher:signin_success"
            online = watcher.recv()
            assert online["event"] == "pusher_internal:watchlist_events", online
            assert json.loads(online["data"]) == {"events": [{"name": "online", "user_ids": [bob]}]}
        offline = watcher.recv()
        assert json.loads(offline["data"]) == {"events": [{"name": "offline", "user_ids": [bob]}]}, offline


def test_a_pusher_presence_joiner_never_hears_its_own_member_added_in_redis_mode(cluster):
    """Redis hands a node its own presence join back after the joiner has subscribed; the joiner (raw or pysher)
    still learns the members from `subscription_succeeded` alone, while the member already there hears the join."""
    (node,) = cluster(1)
    own = []
    for trial in range(20):
        channel = unique("presence-self-")
        joiner_id = f"joiner-{trial}"
        with PusherWS(node, key=PUSHER["key"]) as member:
            member.subscribed(channel, app=PUSHER, channel_data={"user_id": "member", "user_info": {}})
            if trial % 2 == 0:
                with PusherWS(node, key=PUSHER["key"]) as joiner:
                    frames = [joiner.subscribe(channel, app=PUSHER, channel_data={"user_id": joiner_id, "user_info": {}})]
                    added, _ = member.recv_until(lambda f: f["event"] == "pusher_internal:member_added")
                    try:
                        while True:
                            frames.append(joiner.recv(timeout=0.3))
                    except TimeoutError:
                        pass
                    own += [(trial, "raw", f) for f in frames if f["event"] == "pusher_internal:member_added"]
                    succeeded = [f for f in frames if f["event"] == "pusher_internal:subscription_succeeded"]
                    assert len(succeeded) == 1, frames
                    assert sorted(json.loads(succeeded[0]["data"])["presence"]["ids"]) == sorted(["member", joiner_id])
            else:
                with PysherClient(node, app=PUSHER, user_data={"user_id": joiner_id, "user_info": {}}) as joiner:
                    events = joiner.subscribe(channel)
                    added, _ = member.recv_until(lambda f: f["event"] == "pusher_internal:member_added")
                    time.sleep(0.3)
                    while not events.empty():
                        name, data = events.get()
                        if name == "pusher_internal:member_added":
                            own.append((trial, "pysher", data))
            assert json.loads(added["data"])["user_id"] == joiner_id, added
    assert own == [], f"joiners told of their own arrival: {own}"


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


def make_tls_files(directory) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "redis.key", directory / "redis.csr", directory / "redis.pem"
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName = IP:127.0.0.1\n")
    steps = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=switchboard test CA", "-keyout", ca_key, "-out", ca_cert],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", key, "-out", csr],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
         "-extfile", extensions, "-out", cert],
    ]
    for step in steps:
        subprocess.run([str(part) for part in step], check=True, capture_output=True, timeout=30)
    return str(ca_cert), str(cert), str(key)


def test_rediss_engine_speaks_tls_to_redis_and_refuses_an_untrusted_server(tmp_path):
    ca, cert, key = make_tls_files(tmp_path)
    port = free_port()
    redis = subprocess.Popen(
        [REDIS, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", cert, "--tls-key-file", key,
         "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = []
    try:
        prefix = unique("tls")
        config = CONFIG + f'\n[engine]\nkind = "redis"\nurl = "rediss://127.0.0.1:{port}/0"\nprefix = "{prefix}"\ntls_ca_file = "{ca}"\n'
        a, b = start_server(config), start_server(config)
        nodes += [a, b]
        wait_engine_ready(a)
        wait_engine_ready(b)
        channel = unique("secure:")
        with WSClient(a) as on_a:
            on_a.subscribed(channel)
            publish_via(b, channel, {"over": "tls"})
            assert on_a.recv()["data"] == {"over": "tls"}
        # Without the CA the server's certificate is not trusted: the node stays degraded and never speaks plain text.
        untrusted = start_server(CONFIG + f'\n[engine]\nkind = "redis"\nurl = "rediss://127.0.0.1:{port}/0"\nprefix = "{prefix}"\n')
        nodes.append(untrusted)
        time.sleep(1.0)
        health = httpx.get(f"{untrusted.http}/api/health", timeout=WAIT)
        assert health.status_code == 503 and health.json()["engine"]["status"] == "unavailable"
        assert rest(untrusted, "POST", "publish", json={"channel": channel, "data": 1}).status_code == 503
    finally:
        for node in nodes:
            node.stop(signal.SIGKILL)
        redis.kill()
        redis.wait(timeout=10)


def test_a_cache_channels_last_event_reaches_a_subscriber_on_another_node(cluster):
    a, b = cluster(2)
    channel = unique("cache-prices-")
    r = rest(a, "POST", "publish", app=PUSHER, json={"channel": channel, "name": "price", "data": {"eur": 3}})
    assert r.status_code == 200, r.text
    with PysherClient(b, app=PUSHER) as on_b:
        events = on_b.subscribe(channel, events=("price",))
        next_event(events, "pusher_internal:subscription_succeeded")
        _, data = next_event(events, "price")
        assert json.loads(data) == {"eur": 3}


HOOKS = {"id": "3001", "key": "pk_hooks_cluster", "secret": "sk_hooks_cluster_0123456789abcdef0123456"}


def test_occupied_and_vacated_webhooks_follow_the_whole_cluster_once(redis):
    from test_pusher_webhooks import Receiver

    receiver = Receiver()
    prefix = unique("hooks")
    config = CONFIG + f"""
[[apps]]
id = "{HOOKS['id']}"
key = "{HOOKS['key']}"
secret = "{HOOKS['secret']}"
plan = "enterprise"

[apps.webhooks]
url = "http://127.0.0.1:{receiver.port}/ok"
events = ["channel_occupied", "channel_vacated"]

[engine]
kind = "redis"
url = "redis://127.0.0.1:{redis.port}/0"
prefix = "{prefix}"
"""
    a, b = start_server(config), start_server(config)
    try:
        wait_engine_ready(a)
        wait_engine_ready(b)
        channel = unique("orders-")

        def names():
            return [(e["name"], e["channel"]) for e in receiver.events(HOOKS) if e["channel"] == channel]

        first = WSClient(a, key=HOOKS["key"])
        first.subscribed(channel)
        wait_until(lambda: names() == [("channel_occupied", channel)], timeout=10, message="occupied from node A")
        second = WSClient(b, key=HOOKS["key"])
        second.subscribed(channel)
        time.sleep(1.5)
        first.close()
        time.sleep(1.5)
        # Node B still has a subscriber: neither its join nor node A's leave changed the cluster's occupancy.
        assert names() == [("channel_occupied", channel)]
        second.close()
        wait_until(lambda: names() == [("channel_occupied", channel), ("channel_vacated", channel)], timeout=10,
                   message="vacated once the last node empties")
    finally:
        for node in (a, b):
            node.stop(signal.SIGKILL)
        receiver.close()


# --- Server API calls on a user's connections reach every node ------------------------------------


def test_terminate_connections_through_one_node_ends_that_users_connections_on_every_node(cluster):
    a, b = cluster(2)
    api = pusher_api(a)
    user, bystander = unique("ended-"), unique("stays-")
    with PusherWS(b) as on_b, PusherWS(a) as on_a, PusherWS(b) as other:
        for client, name in ((on_b, user), (on_a, user), (other, bystander)):
            client.send({"event": "pusher:signin", "data": api.authenticate_user(client.socket_id, {"id": name})})
            assert client.recv()["event"] == "pusher:signin_success"
        api.terminate_user_connections(user)
        for client in (on_a, on_b):
            expect_pusher_closed(client, 4009)
        other.assert_alive()
        api.send_to_user(bystander, "still", "here")
        assert other.recv()["event"] == "still"


class ServerSideEvents(ClientEventHandler):
    """A centrifuge-python client's connection and server-side subscription events, queued."""

    def __init__(self):
        self.connected, self.disconnected = asyncio.Queue(), asyncio.Queue()
        self.subscribed, self.unsubscribed, self.publications = asyncio.Queue(), asyncio.Queue(), asyncio.Queue()

    async def on_connected(self, ctx):
        self.connected.put_nowait(ctx)

    async def on_disconnected(self, ctx):
        self.disconnected.put_nowait(ctx)

    async def on_subscribed(self, ctx):
        self.subscribed.put_nowait(ctx)

    async def on_unsubscribed(self, ctx):
        self.unsubscribed.put_nowait(ctx)

    async def on_publication(self, ctx):
        self.publications.put_nowait(ctx)


def test_cent_subscribe_unsubscribe_and_disconnect_through_one_node_reach_a_user_on_another(cluster):
    a, b = cluster(2)
    user, channel = unique("cent-"), unique("jwt")
    api = cent.Client(f"{a.http}/api", MAIN["secret"], timeout=WAIT)

    async def get(q):
        return await asyncio.wait_for(q.get(), WAIT)

    async def main():
        events, bystander_events = ServerSideEvents(), ServerSideEvents()
        token = sign_jwt({"sub": user, "exp": int(time.time()) + 600}, MAIN["secret"])
        other = sign_jwt({"sub": unique("other-"), "exp": int(time.time()) + 600}, MAIN["secret"])
        client = Client(f"{b.ws}/connection/websocket", token=token, events=events, proxy=None, timeout=WAIT)
        bystander = Client(f"{b.ws}/connection/websocket", token=other, events=bystander_events, proxy=None, timeout=WAIT)
        await client.connect()
        await bystander.connect()
        await get(events.connected)
        await get(bystander_events.connected)

        await asyncio.to_thread(api.subscribe, cent.SubscribeRequest(user=user, channel=channel))
        assert (await get(events.subscribed)).channel == channel
        await asyncio.to_thread(api.publish, cent.PublishRequest(channel=channel, data={"n": 1}))
        assert (await get(events.publications)).pub.data == {"n": 1}

        await asyncio.to_thread(api.unsubscribe, cent.UnsubscribeRequest(user=user, channel=channel))
        assert (await get(events.unsubscribed)).channel == channel
        await asyncio.to_thread(api.publish, cent.PublishRequest(channel=channel, data={"n": 2}))
        await asyncio.sleep(0.3)
        assert events.publications.empty(), "an unsubscribed user still receives the channel"

        await asyncio.to_thread(api.disconnect, cent.DisconnectRequest(user=user))
        assert (await get(events.disconnected)).code == 3503
        assert bystander_events.disconnected.empty() and bystander_events.subscribed.empty()
        await bystander.disconnect()

    asyncio.run(asyncio.wait_for(main(), 45))


# --- Plan limits across nodes -----------------------------------------------------------------------


def test_a_plans_connection_and_channel_limits_hold_across_the_cluster_not_per_node(cluster):
    """The tiny plan allows 5 connections and 3 channels: 3 on one node and 2 on the other fill it, so a sixth
    connection is refused on either node once the nodes have reported (about a second), and so is a fourth channel."""
    a, b = cluster(2)
    held = [PusherWS(a, key=SMALL["key"]) for _ in range(3)] + [PusherWS(b, key=SMALL["key"]) for _ in range(2)]
    try:
        def refused_on(node) -> bool:
            probe = PusherWS(node, key=SMALL["key"], expect_established=False)
            try:
                frame = probe.recv()
                if frame["event"] == "pusher:connection_established":
                    return False
                assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4004, frame
                assert probe.close_code() == 4004
                return True
            finally:
                probe.__exit__(None, None, None)

        wait_until(lambda: refused_on(a), timeout=10, interval=0.3, message="a sixth connection refused on the first node")
        wait_until(lambda: refused_on(b), timeout=10, interval=0.3, message="a sixth connection refused on the second node")
        for client in held:
            client.assert_alive()

        first, second, third, fourth = (unique(f"cap{n}-") for n in range(4))
        held[0].subscribed(first)
        held[1].subscribed(second)
        held[3].subscribed(third)
        # A channel already open on the other node is no new channel.
        held[4].subscribed(first)

        def fourth_refused() -> bool:
            reply = held[4].subscribe(fourth)
            if reply["event"] == "pusher_internal:subscription_succeeded":
                held[4].send({"event": "pusher:unsubscribe", "data": {"channel": fourth}})
                held[4].assert_alive()
                return False
            frame = reply if reply["event"] == "pusher:error" else held[4].recv()
            assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4100, frame
            return True

        wait_until(fourth_refused, timeout=10, interval=0.3, message="a fourth channel refused on the second node")
    finally:
        for client in held:
            client.__exit__(None, None, None)


def test_a_flood_of_large_kept_messages_stays_within_the_history_budget_in_redis_too(redis):
    """On the Redis engine each stream was bounded by its size and ttl, but not the sum: with the public key, a
    client filled 600 MB of Redis in seven seconds. `max_history_mb` now bounds every stream in Redis together, cut
    where it is largest, so the flood loses its own oldest messages and a quiet channel keeps its own."""
    config = cluster_config(redis.port, unique("budget")).replace(
        "new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 1000\nmax_history_mb = 1")
    node = start_server(config)
    try:
        wait_engine_ready(node)
        quiet, flood = unique("quiet:"), unique("flood:")
        flood_kept_history(node, quiet, flood)

        kept = rest(node, "GET", "history", params={"channel": quiet}).json()["messages"]
        assert [m["data"]["n"] for m in kept] == list(range(10))
        # 1 MB holds eight of the 120 KB messages; without the budget all 40 stayed.
        flooded = [rest(node, "GET", "history", params={"channel": f"{flood}{c}"}).json()["messages"] for c in range(8)]
        assert sum(len(messages) for messages in flooded) <= 8, [len(messages) for messages in flooded]
        # The newest stayed: each channel's history, where it kept any, ends with its last message.
        assert any(messages and messages[-1]["data"]["n"] == 39 for messages in flooded)
        # `/metrics` shows what the ledger counts in Redis, as of the node's last sweep (every 5 s).
        kept = wait_until(lambda: history_bytes_metric(node), timeout=15, interval=0.5, message="switchboard_history_bytes")
        assert 5 * 120_000 <= kept <= 1 << 20
    finally:
        node.stop(signal.SIGKILL)


def test_an_address_blocked_on_one_node_is_sent_away_and_refused_on_every_node_until_lifted(cluster, redis):
    """The admin API's blocks travel like channel rules: a block made on node A ends the blocked address's connection
    on node B, B closes its next socket unread, a node started later knows the block, and lifting it on A lets the
    address back in everywhere."""
    from test_blocked_addresses import _closed
    from test_hostile_edge import closed_unread, health_status
    from test_tls import port_of

    a, b = cluster(2)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with WSClient(b, local_address="127.0.0.2") as blocked, WSClient(b, local_address="127.0.0.4") as bystander:
        added = httpx.post(f"{a.http}/api/realtime/blocks", json={"address": "127.0.0.2", "reason": "abuse"}, headers=headers, timeout=WAIT)
        assert added.status_code == 201, added.text
        error = blocked.recv()
        assert error["event"] == "error" and error["data"]["code"] == "forbidden", error
        wait_until(lambda: _closed(blocked.ws), message="the connection on the other node to close")
        bystander.assert_alive()
    assert closed_unread(port_of(b.http), "127.0.0.2")
    (c,) = cluster(1)
    wait_until(lambda: health_status(c, "127.0.0.2") is None, message="the later node to learn the block")
    assert [entry["address"] for entry in httpx.get(f"{c.http}/api/realtime/blocks", headers=headers, timeout=WAIT).json()["blocks"]] \
        == ["127.0.0.2/32"]

    lifted = httpx.delete(f"{a.http}/api/realtime/blocks", params={"address": "127.0.0.2"}, headers=headers, timeout=WAIT)
    assert lifted.status_code == 200, lifted.text
    for node in (a, b, c):
        wait_until(lambda: health_status(node, "127.0.0.2") == 200, message="the block to lift on every node")
