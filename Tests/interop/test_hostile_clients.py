"""Issue 10 from the attacker's side: a client holding only the public key tries to read what is not its own,
to spend the app's or the process's budget, and to keep a connection open while breaking the rules.

Each test fails on a server without reserved namespaces and per-connection budgets, and passes with them.
"""

import json
import socket
import time

import httpx
import websockets
from websockets.sync.client import connect as ws_connect

from conftest import (
    ADMIN_TOKEN,
    MAIN,
    PUSHER,
    WAIT,
    PusherWS,
    SSEStream,
    WSClient,
    admin_headers,
    close_code_of,
    expect_error,
    expect_pusher_error,
    now_ms,
    publish,
    pusher_api,
    rss_kb,
    security_events,
    sign_jwt,
    start_server,
    unique,
    wait_for_event,
    wait_until,
)


def close_code(client, timeout: float = WAIT) -> int | None:
    """Reads until the server closes the connection; returns its close code."""
    return close_code_of(client.ws, timeout)


def frames_until_error(client, code: str, timeout: float = WAIT) -> dict:
    frame, _ = client.recv_until(lambda f: f.get("event") == "error" and f["data"]["code"] == code, timeout=timeout)
    return frame


# MARK: 1. Per-user channels


def test_sse_cannot_read_another_users_messages(server):
    user = unique("u")
    since = now_ms()
    r = httpx.get(f"{server.http}/sse", params={"key": MAIN["key"], "channel": f"#server-to-user-{user}"}, timeout=WAIT)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    wait_for_event(server, "forbidden", since, contains="#server-to-user-")


def test_jsonaction_can_neither_subscribe_to_nor_forge_a_users_channel(server):
    user = unique("u")
    channel = f"#server-to-user-{user}"
    since = now_ms()
    with WSClient(server) as attacker:
        attacker.send({"action": "subscribe", "channel": channel})
        expect_error(attacker, "forbidden", channel)
        attacker.send({"action": "publish", "channel": channel, "data": {"forged": True}, "name": "notice"})
        expect_error(attacker, "forbidden", channel)
        attacker.send({"action": "presence:join", "channel": channel, "userId": user, "metadata": {}})
        expect_error(attacker, "forbidden", channel)
        attacker.assert_alive()
    wait_for_event(server, "forbidden", since, contains=channel)


def test_jwt_client_cannot_subscribe_to_or_publish_on_a_users_channel(server):
    user = unique("u")
    channel = f"#server-to-user-{user}"
    token = sign_jwt({"sub": "mallory", "exp": int(time.time()) + 600}, MAIN["secret"])
    with ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": token}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        ws.send(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
        reply = json.loads(ws.recv(timeout=WAIT))
        assert reply["error"]["code"] == 103, reply
        ws.send(json.dumps({"id": 3, "publish": {"channel": channel, "data": {"forged": True}}}))
        reply = json.loads(ws.recv(timeout=WAIT))
        assert reply["error"]["code"] == 103, reply


def test_jwt_client_cannot_read_a_users_channel_through_history_or_presence(server):
    """A user's channel keeps history like any other; `history` and `presence` read it as a subscriber would, so
    they are refused as the subscribe is (they answered with the user's messages)."""
    user = unique("u")
    channel = f"#server-to-user-{user}"
    pusher_api(server).send_to_user(user, "notice", {"secret": 1})
    token = sign_jwt({"sub": "mallory", "exp": int(time.time()) + 600}, MAIN["secret"])
    since = now_ms()
    with ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": token}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        for id, method in enumerate(("history", "presence", "presence_stats"), start=2):
            params = {"channel": channel, "limit": 10} if method == "history" else {"channel": channel}
            ws.send(json.dumps({"id": id, method: params}))
            reply = json.loads(ws.recv(timeout=WAIT))
            assert reply.get("error", {}).get("code") == 103, (method, reply)
    wait_for_event(server, "forbidden", since, contains=channel)


def test_pusher_client_cannot_subscribe_to_a_users_channel_but_the_signed_in_user_gets_its_messages(server):
    user = unique("u")
    api = pusher_api(server)
    with PusherWS(server) as attacker, PusherWS(server) as owner:
        reply = attacker.subscribe(f"#server-to-user-{user}", sign=False)
        assert reply["event"] == "pusher:subscription_error", reply
        assert reply["data"]["status"] == 403, reply
        signed = api.authenticate_user(owner.socket_id, {"id": user})
        owner.send({"event": "pusher:signin", "data": signed})
        assert owner.recv()["event"] == "pusher:signin_success"
        api.send_to_user(user, "notice", {"n": 1})
        frame = owner.recv()
        assert frame["event"] == "notice" and json.loads(frame["data"]) == {"n": 1}, frame
        expect_pusher_error(attacker, 4300)
        attacker.assert_alive()


def test_a_client_of_another_protocol_cannot_set_what_a_cache_channel_replays(server):
    """A cache channel's last event is what every later Pusher subscriber starts from, so on a public cache channel
    only the app's server publishes (Pusher clients cannot publish there either): a JSON-action client is refused,
    and a later subscriber gets `pusher:cache_miss`, then the server's event."""
    channel = unique("cache-price-")
    since = now_ms()
    with WSClient(server) as client, PusherWS(server) as current:
        current.subscribed(channel)
        assert current.recv() == {"event": "pusher:cache_miss", "channel": channel}
        client.send({"action": "publish", "channel": channel, "name": "price", "data": {"usd": 1}})
        expect_error(client, "forbidden", channel)
        client.assert_alive()
        current.assert_alive()  # nothing reached the subscriber
    wait_for_event(server, "forbidden", since, contains=channel)
    with PusherWS(server) as late:
        late.subscribed(channel)
        assert late.recv() == {"event": "pusher:cache_miss", "channel": channel}
        pusher_api(server).trigger(channel, "price", {"usd": 3})
        assert json.loads(late.recv()["data"]) == {"usd": 3}
    with PusherWS(server) as later:
        later.subscribed(channel)
        frame = later.recv()
        assert frame["event"] == "price" and json.loads(frame["data"]) == {"usd": 3}, frame


# MARK: 2. Presence floods


def test_presence_join_flood_is_capped_refused_and_closed(fresh_server):
    s = fresh_server()
    before = rss_kb(s)
    since = now_ms()
    metadata = {"blob": "x" * 30_000}
    with WSClient(s, key="pk_test_small") as attacker:  # the tiny plan: 3 channels
        refused = 0
        try:
            for index in range(3000):
                attacker.send({"action": "presence:join", "channel": f"flood:{index}", "userId": "m", "metadata": metadata})
        except websockets.exceptions.ConnectionClosed:
            pass
        codes = []
        try:
            while True:
                frame = attacker.recv(timeout=WAIT)
                if frame["event"] == "error":
                    codes.append(frame["data"]["code"])
                    refused += 1
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1008, closed
        assert refused >= 10
        assert set(codes) <= {"message_too_large", "rate_limited", "bad_request", "channel_limit"}, codes
    assert rss_kb(s) - before < 30_000, "one socket grew the process by more than 30 MB"
    wait_for_event(s, "message_too_large", since)
    members = httpx.get(f"{s.http}/_rt/api/presence/members", params={"channel": "flood:0"},
                        headers={"Authorization": "Bearer sk_test_small_0123456789abcdef012345678"}, timeout=WAIT)
    assert members.json()["members"] == []


def test_presence_joins_count_against_the_connections_cap(server):
    prefix = unique("cap")
    with WSClient(server, key="pk_test_small") as client:
        for index in range(3):
            client.send({"action": "presence:join", "channel": f"{prefix}:{index}", "userId": "m", "metadata": {}})
        client.assert_alive()
        client.send({"action": "presence:join", "channel": f"{prefix}:3", "userId": "m", "metadata": {}})
        expect_error(client, "channel_limit", f"{prefix}:3")


def test_presence_member_cap_holds_in_every_protocol(server):
    # The PUSHER app allows 3 members per presence channel; JSON-action joins share the cap.
    channel = unique("capped:")
    clients = [WSClient(server, key=PUSHER["key"]) for _ in range(4)]
    try:
        for index, client in enumerate(clients[:3]):
            client.send({"action": "presence:join", "channel": channel, "userId": f"m{index}", "metadata": {}})
        for client in clients[:3]:
            client.assert_alive()
        clients[3].send({"action": "presence:join", "channel": channel, "userId": "m3", "metadata": {}})
        expect_error(clients[3], "channel_limit", channel)
    finally:
        for client in clients:
            client.close()


def test_presence_update_flood_is_rate_limited_and_subscribers_see_only_a_few(server):
    channel = unique("updates:")
    since = now_ms()
    with WSClient(server) as watcher, WSClient(server) as attacker:
        watcher.subscribed(channel)
        attacker.send({"action": "presence:join", "channel": channel, "userId": "flooder", "metadata": {"n": 0}})
        assert watcher.recv()["event"] == "presence.join"
        # 20 updates against a burst of 5: about 15 refusals, under `max_refusals` (20), so the flood is refused
        # update by update and the connection stays open while the test still sends.
        for n in range(20):
            attacker.send({"action": "presence:update", "channel": channel, "metadata": {"n": n}})
        frames_until_error(attacker, "rate_limited")
        updates = 0
        try:
            while True:
                # The first update may take a while to come on a busy machine; a second without one ends the count.
                frame = watcher.recv(timeout=WAIT if updates == 0 else 1.0)
                if frame["event"] == "presence.update":
                    updates += 1
        except TimeoutError:
            pass
        assert 1 <= updates <= 10, updates
    wait_for_event(server, "rate_limited", since, contains="presence")


def test_oversized_presence_metadata_is_refused(server):
    channel = unique("meta:")
    with WSClient(server) as client:
        client.send({"action": "presence:join", "channel": channel, "userId": "big", "metadata": {"x": "y" * 5000}})
        expect_error(client, "message_too_large", channel)
        client.assert_alive()


# MARK: 3. Budgets per connection


BUDGET_CONFIG = f"""
default_app = "{MAIN['id']}"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"

[admin]
token = "{ADMIN_TOKEN}"

[limits]
new_connections_per_ip_per_second = 1000
max_queued_bytes = 1048576

[plans.budget]
max_channels = 100
max_message_bytes = 65536
publishes_per_minute = 600
history_size = 100

[[apps]]
id = "{MAIN['id']}"
key = "{MAIN['key']}"
secret = "{MAIN['secret']}"
plan = "budget"
"""


def test_one_client_cannot_spend_the_apps_publish_budget(fresh_server):
    s = fresh_server(BUDGET_CONFIG)
    channel = unique("spend:")
    with WSClient(s) as attacker:
        try:
            for n in range(300):
                attacker.send({"action": "publish", "channel": channel, "data": {"n": n}})
        except websockets.exceptions.ConnectionClosed:
            pass
        frames_until_error(attacker, "rate_limited")
    # The backend's own publishes still go through: the client spent only its own budget.
    for n in range(5):
        publish(s, channel, {"backend": n})


def test_a_client_that_never_reads_its_replays_holds_at_most_a_page_and_slows_nobody(fresh_server):
    """A client that asks for the whole history over and over and never reads what it is sent. A replay goes in pages,
    each once the client has read the last, so this one gets a page or two into its socket and then waits: the server
    holds no more than a page for it (its ping timeout ends it later), and other clients go on as before."""
    s = fresh_server(BUDGET_CONFIG)
    channel = unique("replay:")
    for n in range(60):
        publish(s, channel, {"n": n, "pad": "p" * 20_000})
    before = rss_kb(s)
    url = f"{s.ws}/_rt/ws?key={MAIN['key']}"
    with ws_connect(url, proxy=None, open_timeout=WAIT, max_size=None, max_queue=1) as ws:
        try:
            for _ in range(60):
                ws.send(json.dumps({"action": "unsubscribe", "channel": channel}))
                ws.send(json.dumps({"action": "subscribe", "channel": channel, "lastEventId": 0}))
        except websockets.exceptions.ConnectionClosed:
            pass
        time.sleep(1.0)
        assert rss_kb(s) - before < 60_000
        with WSClient(s) as other:
            lobby = unique("lobby:")
            other.subscribe(lobby)
            publish(s, lobby, {"hello": 1})
            frame = other.recv()
            assert frame["event"] == "realtime.message" and frame["data"] == {"hello": 1}, frame
        assert rss_kb(s) - before < 60_000


def test_an_sse_stream_whose_client_reads_nothing_is_ended_and_gives_its_place_back(fresh_server):
    """A stream's writer waits on the socket; past the queue bound the session ends as too slow, but the stuck write
    held the stream, its subscription and its place in the plan for good (HTTP/1.1 and h2 alike). A write still
    waiting 10 s after the session ended closes the socket."""
    s = fresh_server(BUDGET_CONFIG)
    channel = unique("stalled-")

    def streams():
        return httpx.get(f"{s.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=WAIT).json()["connections"]["sse"]

    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(WAIT)
    raw.connect(("127.0.0.1", s.port))
    try:
        raw.sendall(b"GET /sse?key=%s&channel=%s HTTP/1.1\r\nHost: x\r\n\r\n" % (MAIN["key"].encode(), channel.encode()))
        wait_until(lambda: streams() == 1, message="the stream counted")
        for n in range(200):  # 12 MB against a 1 MB queue and the socket buffers, never read
            publish(s, channel, {"n": n, "pad": "p" * 60_000})
        wait_until(lambda: streams() == 0, timeout=30, message="the stalled stream ended")
    finally:
        raw.close()


def test_jwt_history_with_a_negative_limit_is_read_as_the_capped_everything(server):
    # As Centrifugo: a negative limit is not refused but capped (300, pinned in test_jwt_contract.py).
    channel = unique("hist:")
    for n in (1, 2, 3):
        publish(server, channel, {"n": n})
    token = sign_jwt({"sub": "reader", "exp": int(time.time()) + 600}, MAIN["secret"])
    with ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": token}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        ws.send(json.dumps({"id": 2, "history": {"channel": channel, "limit": -1}}))
        reply = json.loads(ws.recv(timeout=WAIT))
        assert [p["data"] for p in reply["history"]["publications"]] == [{"n": 1}, {"n": 2}, {"n": 3}], reply


# MARK: Connections that keep breaking the rules


def test_jsonaction_bad_frames_close_the_connection_with_1008(server):
    since = now_ms()
    with WSClient(server) as attacker:
        try:
            for _ in range(100):
                attacker.send("{not json")
        except websockets.exceptions.ConnectionClosed:
            pass
        assert close_code(attacker) == 1008
    wait_for_event(server, "bad_request", since)


def test_pusher_bad_frames_close_the_connection_with_4100(server):
    with PusherWS(server) as attacker:
        try:
            for _ in range(100):
                attacker.send("{not json")
        except websockets.exceptions.ConnectionClosed:
            pass
        assert attacker.close_code() == 4100


def test_a_command_flood_is_refused_without_touching_other_clients(server):
    channel = unique("calm:")
    with WSClient(server) as bystander, WSClient(server) as attacker:
        bystander.subscribed(channel)
        try:
            for _ in range(400):
                attacker.send({"action": "ping"})
        except websockets.exceptions.ConnectionClosed:
            pass
        frames_until_error(attacker, "rate_limited")
        publish(server, channel, {"still": "here"})
        frame = bystander.recv()
        assert frame["event"] == "realtime.message" and frame["data"] == {"still": "here"}, frame


def test_an_unparseable_request_line_gets_400_and_does_not_hold_a_shutdown(fresh_server):
    s = fresh_server()
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=WAIT)
    try:
        raw.sendall(b"GET meta HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400"), answer
        assert raw.recv(100) == b"", "the server kept the connection open"
    finally:
        raw.close()
    # A client that opens the same kind of request and never finishes cannot hold the server's exit either.
    lingering = socket.create_connection(("127.0.0.1", s.port), timeout=WAIT)
    lingering.sendall(b"GET meta HTTP/1.1\r\n")
    started = time.monotonic()
    assert s.stop(timeout=20) == 0
    assert time.monotonic() - started < 15
    lingering.close()
