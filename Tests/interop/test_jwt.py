"""The JWT (Centrifugo v2 JSON) adapter against the real centrifuge-python client and the real `cent` server library.

Neither library is patched. Every wait is bounded; each test drives its own asyncio loop.
"""

import asyncio
import json
import time

import cent
import httpx
import pytest
from centrifuge import (
    Client,
    ClientEventHandler,
    ClientState,
    StreamPosition,
    SubscriptionEventHandler,
    SubscriptionState,
)
from websockets.sync.client import connect as ws_connect

from conftest import (
    CONFIG,
    MAIN,
    OTHER,
    WAIT,
    SSEStream,
    WSClient,
    now_ms,
    publish,
    sign_jwt,
    unique,
    unsigned_jwt,
    wait_for_event,
)

pytestmark = pytest.mark.timeout(60)


def token(sub="u1", ttl=600, app=MAIN, **claims) -> str:
    return sign_jwt({"sub": sub, "exp": int(time.time()) + ttl, **claims}, app["secret"])


def sub_token(channel: str, sub="u1", ttl=600, app=MAIN, **claims) -> str:
    return sign_jwt({"sub": sub, "channel": channel, "exp": int(time.time()) + ttl, **claims}, app["secret"])


def ws_url(server) -> str:
    return f"{server.ws}/connection/websocket"


def api(server) -> cent.Client:
    return cent.Client(f"{server.http}/api", MAIN["secret"], timeout=WAIT)


class Events(ClientEventHandler):
    """Client events, queued."""

    def __init__(self):
        self.connected = asyncio.Queue()
        self.connecting = asyncio.Queue()
        self.disconnected = asyncio.Queue()
        self.errors = []
        self.subscribed = asyncio.Queue()
        self.publications = asyncio.Queue()

    async def on_connected(self, ctx):
        self.connected.put_nowait(ctx)

    async def on_connecting(self, ctx):
        self.connecting.put_nowait(ctx)

    async def on_disconnected(self, ctx):
        self.disconnected.put_nowait(ctx)

    async def on_error(self, ctx):
        self.errors.append(ctx)

    async def on_subscribed(self, ctx):
        self.subscribed.put_nowait(ctx)

    async def on_publication(self, ctx):
        self.publications.put_nowait(ctx)


class SubEvents(SubscriptionEventHandler):
    """Subscription events, queued."""

    def __init__(self):
        self.subscribed = asyncio.Queue()
        self.publications = asyncio.Queue()
        self.joins = asyncio.Queue()
        self.leaves = asyncio.Queue()
        self.unsubscribed = asyncio.Queue()

    async def on_subscribed(self, ctx):
        self.subscribed.put_nowait(ctx)

    async def on_publication(self, ctx):
        self.publications.put_nowait(ctx)

    async def on_join(self, ctx):
        self.joins.put_nowait(ctx)

    async def on_leave(self, ctx):
        self.leaves.put_nowait(ctx)

    async def on_unsubscribed(self, ctx):
        self.unsubscribed.put_nowait(ctx)


async def get(q: asyncio.Queue, timeout=WAIT):
    return await asyncio.wait_for(q.get(), timeout)


async def nothing(q: asyncio.Queue, wait=0.3):
    await asyncio.sleep(wait)
    assert q.empty(), f"unexpected {q.get_nowait()}"


def client(server, **kwargs) -> tuple[Client, Events]:
    events = Events()
    kwargs.setdefault("token", token())
    return Client(ws_url(server), events=events, proxy=None, timeout=WAIT, **kwargs), events


async def subscribed(c: Client, channel: str, **options):
    """A new subscription of `c` to `channel`, once the server confirmed it."""
    sub = c.new_subscription(channel, **options)
    await sub.subscribe()
    await sub.ready(timeout=WAIT)
    return sub


async def watching(server, channel: str, **options) -> tuple[Client, SubEvents]:
    """A connected client with a confirmed subscription to `channel`, and that subscription's events."""
    c, _ = client(server)
    await c.connect()
    seen = SubEvents()
    await subscribed(c, channel, events=seen, **options)
    return c, seen


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 45))


# -------------------------------------------------------------------------------------------------
# Client protocol with centrifuge-python
# -------------------------------------------------------------------------------------------------


def test_connect_with_token_on_both_paths(server):
    async def main():
        for path in ("/connection/websocket", "/realtime/connection/websocket"):
            events = Events()
            c = Client(f"{server.ws}{path}", token=token(), events=events, proxy=None, timeout=WAIT)
            await c.connect()
            await c.ready(timeout=WAIT)
            ctx = await get(events.connected)
            assert ctx.client and c.state == ClientState.CONNECTED
            await c.disconnect()

    run(main())


def test_subscribe_and_publish_reach_every_subscriber_with_offsets(server):
    channel = unique("jwt")

    async def main():
        alice, _ = client(server, token=token("alice"))
        bob, _ = client(server, token=token("bob"))
        await alice.connect()
        await bob.connect()
        seen = SubEvents()
        sub = await subscribed(bob, channel, events=seen, recoverable=True)
        alice_sub = await subscribed(alice, channel)
        await alice_sub.publish({"text": "hi"})
        ctx = await get(seen.publications)
        assert ctx.pub.data == {"text": "hi"}
        assert ctx.pub.offset == 1
        assert ctx.pub.info.user == "alice"
        await alice.disconnect()
        await bob.disconnect()

    run(main())


def test_expired_connection_token_is_replaced_through_get_token_after_109(server):
    calls = []

    async def get_token():
        calls.append(time.time())
        return token(ttl=600)

    async def main():
        c, events = client(server, token=token(ttl=-10), get_token=get_token)
        await c.connect()
        await get(events.connected)
        assert calls, "get_token was not called after error 109"
        await c.disconnect()

    run(main())


def test_connection_token_is_refreshed_before_expiry_and_the_client_stays_connected(server):
    calls = []

    async def get_token():
        calls.append(time.time())
        return token(ttl=3 if len(calls) < 2 else 600)

    async def main():
        c, events = client(server, token="", get_token=get_token)
        await c.connect()
        await get(events.connected)
        await asyncio.sleep(6)
        assert len(calls) >= 2, calls
        assert c.state == ClientState.CONNECTED
        assert events.disconnected.empty()
        await c.disconnect()

    run(main())


def test_subscription_token_unlocks_a_private_channel(server):
    channel = unique("private-jwt")
    asked = []

    async def get_sub_token(ch):
        asked.append(ch)
        return sub_token(ch)

    async def main():
        c, seen = await watching(server, channel, get_token=get_sub_token)
        assert asked == [channel]
        publish(server, channel, {"n": 1})
        assert (await get(seen.publications)).pub.data == {"n": 1}
        await c.disconnect()

    run(main())


def test_presence_and_presence_stats_with_join_and_leave_showing_conn_and_chan_info(server):
    """Members show their connection token's `info` as `conn_info` and, as Centrifugo does, their subscription
    token's `info` (a role in this channel) as `chan_info`."""
    channel = unique("presence-jwt")

    async def main():
        alice, _ = client(server, token=token("alice", info={"name": "Alice"}))
        bob, _ = client(server, token=token("bob"))
        await alice.connect()
        await bob.connect()
        seen = SubEvents()
        a = await subscribed(alice, channel, events=seen, token=sub_token(channel, "alice", info={"role": "host"}), join_leave=True)
        await subscribed(bob, channel, token=sub_token(channel, "bob", info={"role": "guest"}))
        joined = await get(seen.joins)
        while joined.info.user == "alice":  # the joiner's own join comes first
            joined = await get(seen.joins)
        assert (joined.info.user, joined.info.conn_info, joined.info.chan_info) == ("bob", None, {"role": "guest"})
        stats = await a.presence_stats()
        assert (stats.num_clients, stats.num_users) == (2, 2)
        presence = await a.presence()
        users = {info.user: info for info in presence.clients.values()}
        assert set(users) == {"alice", "bob"}
        assert (users["alice"].conn_info, users["alice"].chan_info) == ({"name": "Alice"}, {"role": "host"})
        await bob.disconnect()
        left = await get(seen.leaves)
        assert left.info.user == "bob"
        await alice.disconnect()

    run(main())


def test_a_users_second_connection_is_a_client_of_its_own_in_presence_and_in_join_and_leave(server):
    """Centrifugo lists clients, not users: a user's second tab is an entry of its own in `presence`, counts in
    `num_clients` but not in `num_users`, and comes and goes with join and leave pushes that name it."""
    channel = unique("presence-jwt")
    user = unique("tabs")

    async def next_join(seen, client_id):
        joined = await get(seen.joins)
        while joined.info.client != client_id:  # each joiner's own join comes too
            joined = await get(seen.joins)
        return joined

    async def main():
        first, first_events = client(server, token=token(user))
        second, second_events = client(server, token=token(user))
        await first.connect()
        first_id = (await get(first_events.connected)).client
        seen = SubEvents()
        a = await subscribed(first, channel, events=seen, token=sub_token(channel, user), join_leave=True)
        await second.connect()
        second_id = (await get(second_events.connected)).client
        assert first_id != second_id
        await subscribed(second, channel, token=sub_token(channel, user), join_leave=True)
        joined = await next_join(seen, second_id)
        assert joined.info.user == user
        stats = await a.presence_stats()
        assert (stats.num_clients, stats.num_users) == (2, 1)
        presence = await a.presence()
        assert set(presence.clients) == {first_id, second_id}
        assert {(info.client, info.user) for info in presence.clients.values()} == {(first_id, user), (second_id, user)}
        await second.disconnect()
        left = await get(seen.leaves)
        assert (left.info.client, left.info.user) == (second_id, user)
        stats = await a.presence_stats()
        assert (stats.num_clients, stats.num_users) == (1, 1)
        await first.disconnect()

    run(main())


def test_history_with_limit_since_and_reverse(server):
    channel = unique("jwt")
    for n in range(1, 6):
        publish(server, channel, {"n": n})

    async def main():
        c, _ = client(server)
        await c.connect()
        sub = await subscribed(c, channel)
        first = await sub.history(limit=2)
        assert [p.data["n"] for p in first.publications] == [1, 2]
        assert first.offset == 5 and first.epoch
        newest = await sub.history(limit=2, reverse=True)
        assert [p.data["n"] for p in newest.publications] == [5, 4]
        after = await sub.history(limit=10, since=StreamPosition(offset=3, epoch=first.epoch))
        assert [p.data["n"] for p in after.publications] == [4, 5]
        await c.disconnect()

    run(main())


def test_recovery_after_a_dropped_connection_has_no_gap_and_no_duplicate(server):
    channel = unique("jwt")
    user = unique("rec")

    async def main():
        c, events = client(server, token=token(user), min_reconnect_delay=1.5, max_reconnect_delay=2.0)
        await c.connect()
        await get(events.connected)
        seen = SubEvents()
        sub = await subscribed(c, channel, events=seen, recoverable=True)
        first = await get(seen.subscribed)
        assert first.recoverable
        for n in range(1, 4):
            publish(server, channel, {"n": n})
        got = [(await get(seen.publications)).pub for _ in range(3)]
        # The server drops the connection with a reconnect code; messages go out while the client is away.
        api(server).disconnect(cent.DisconnectRequest(user=user, disconnect=cent.Disconnect(code=3011, reason="force reconnect")))
        for n in range(4, 9):
            publish(server, channel, {"n": n})
        again = await get(seen.subscribed, timeout=10)
        assert again.was_recovering and again.recovered
        # As Centrifugo answers a recovery: the reply's position is the stream's top, and the missed publications it
        # carries follow the subscribed event.
        assert again.stream_position.offset == 8 and again.stream_position.epoch == first.stream_position.epoch, again
        got += [(await get(seen.publications)).pub for _ in range(5)]
        assert [p.data["n"] for p in got] == list(range(1, 9))
        assert [p.offset for p in got] == list(range(1, 9))
        await nothing(seen.publications)
        await c.disconnect()

    run(main())


def test_server_side_subscriptions_from_the_channels_claim(server):
    channel = unique("jwt")

    async def main():
        c, events = client(server, token=token(channels=[channel]))
        await c.connect()
        subscribed = await get(events.subscribed)
        assert subscribed.channel == channel
        publish(server, channel, {"server": True})
        ctx = await get(events.publications)
        assert ctx.channel == channel and ctx.pub.data == {"server": True}
        await c.disconnect()

    run(main())


def test_subscription_token_is_refreshed_through_get_token_before_it_expires(server):
    channel = unique("private-jwt")
    asked = []

    async def get_sub_token(ch):
        asked.append(ch)
        return sub_token(ch, ttl=3 if len(asked) < 2 else 600)

    async def main():
        c, events = client(server)
        await c.connect()
        sub = await subscribed(c, channel, get_token=get_sub_token)
        await asyncio.sleep(6)
        assert len(asked) >= 2, asked
        assert sub.state == SubscriptionState.SUBSCRIBED
        assert events.disconnected.empty()
        await c.disconnect()

    run(main())


def test_anonymous_connections_only_where_the_app_allows_them(server, fresh_server):
    async def refused():
        c, events = client(server, token="")
        await c.connect()
        ctx = await get(events.disconnected)
        assert ctx.code == 3501, ctx  # Centrifugo: "client credentials not found", a bad request not retried

    run(refused())
    allowing = fresh_server(CONFIG.replace("client_events = true", "client_events = true\nallow_anonymous = true", 1))

    async def allowed():
        c, events = client(allowing, token="")
        await c.connect()
        await get(events.connected)
        sub = await subscribed(c, unique("jwt"))
        await c.disconnect()

    run(allowed())


def test_sigterm_sends_3001_shutdown_and_the_client_tries_to_reconnect(fresh_server):
    own = fresh_server()

    async def main():
        c, events = client(own)
        await c.connect()
        await get(events.connected)
        await get(events.connecting)  # the first connect
        await asyncio.to_thread(own.stop)
        ctx = await get(events.connecting)
        assert ctx.code == 3001 and ctx.reason == "shutdown", ctx
        await c.disconnect()

    run(main())
    assert own.process.returncode == 0


def test_client_publish_is_refused_where_the_channel_rule_forbids_it(server):
    channel = unique("readonly:jwt")

    async def main():
        c, _ = client(server)
        await c.connect()
        sub = await subscribed(c, channel)
        with pytest.raises(Exception) as raised:
            await sub.publish({"x": 1})
        assert getattr(raised.value, "code", None) == 103, raised.value
        await c.disconnect()

    run(main())


# -------------------------------------------------------------------------------------------------
# Bad input: documented codes, nothing reaches anybody else, a security event
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, kind",
    [
        (lambda: token(app=OTHER), "bad_signature"),
        (lambda: unsigned_jwt({"sub": "u1", "exp": int(time.time()) + 600}), "token_invalid"),
    ],
    ids=["other-apps-secret", "alg-none"],
)
def test_invalid_connection_tokens_disconnect_with_3500(server, bad, kind):
    since = now_ms()

    async def main():
        c, events = client(server, token=bad())
        await c.connect()
        ctx = await get(events.disconnected)
        assert ctx.code == 3500, ctx
        assert c.state == ClientState.DISCONNECTED

    run(main())
    wait_for_event(server, kind, since)


def test_subscription_token_for_another_channel_disconnects_and_others_see_nothing(server):
    channel_a = unique("private-a")
    channel_b = unique("private-b")
    since = now_ms()

    async def main():
        watcher, _ = client(server, token=token("w"))
        await watcher.connect()
        seen = SubEvents()
        w = await subscribed(watcher, channel_b, events=seen, token=sub_token(channel_b, "w"))
        attacker, events = client(server)
        await attacker.connect()
        s = attacker.new_subscription(channel_b, token=sub_token(channel_a))
        await s.subscribe()
        ctx = await get(events.disconnected)
        assert ctx.code == 3500
        assert s.state != SubscriptionState.SUBSCRIBED
        await nothing(seen.publications)
        await nothing(seen.joins, 0)
        await watcher.disconnect()

    run(main())
    wait_for_event(server, "token_invalid", since)


def raw_ws(server):
    return ws_connect(ws_url(server), proxy=None, open_timeout=WAIT, close_timeout=2)


def test_garbage_frames_close_with_3501(server):
    since = now_ms()
    with raw_ws(server) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": token()}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        ws.send("this is not json")
        with pytest.raises(Exception):
            while True:
                ws.recv(timeout=WAIT)
        assert ws.close_code == 3501
    wait_for_event(server, "bad_request", since)


def test_refused_refreshes_are_recorded_and_spend_the_refusal_budget(server):
    """Every refusal is a security event and counts toward `max_refusals` (20): `sub_refresh` of a channel the client
    does not hold (103) and `refresh` without a token (107) were answered, unrecorded, for as long as the command rate
    allowed."""
    since = now_ms()
    with raw_ws(server) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": token()}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        ws.send(json.dumps({"id": 2, "sub_refresh": {"channel": unique("never-"), "token": "x.y.z"}}))
        assert json.loads(ws.recv(timeout=WAIT))["error"]["code"] == 103
        ws.send(json.dumps({"id": 3, "refresh": {"token": ""}}))
        assert json.loads(ws.recv(timeout=WAIT))["error"]["code"] == 107
        with pytest.raises(Exception):
            for n in range(4, 40):
                ws.send(json.dumps({"id": n, "sub_refresh": {"channel": "c", "token": "t"}}))
                ws.recv(timeout=WAIT)
        assert ws.close_code == 3013
    wait_for_event(server, "forbidden", since, contains="sub_refresh without a subscription")
    wait_for_event(server, "bad_request", since, contains="refresh without a token")


def test_command_flood_closes_with_3013_and_others_see_nothing(server):
    channel = unique("jwt")
    since = now_ms()
    with WSClient(server) as watcher:
        watcher.subscribed(channel)
        with raw_ws(server) as ws:
            ws.send(json.dumps({"id": 1, "connect": {"token": token()}}))
            assert "connect" in json.loads(ws.recv(timeout=WAIT))
            flood = "\n".join(json.dumps({"id": n, "presence_stats": {"channel": channel}}) for n in range(2, 90))
            with pytest.raises(Exception):
                for _ in range(20):
                    ws.send(flood)
                while True:
                    ws.recv(timeout=WAIT)
            assert ws.close_code == 3013
        marker = {"marker": unique("m")}
        publish(server, channel, marker)
        assert watcher.recv()["data"] == marker
    wait_for_event(server, "rate_limited", since)


# -------------------------------------------------------------------------------------------------
# Server API with cent
# -------------------------------------------------------------------------------------------------


def test_cent_publish_broadcast_history_and_history_remove(server):
    c = api(server)
    channel = unique("jwt")
    other = unique("jwt")
    result = c.publish(cent.PublishRequest(channel=channel, data={"n": 1}))
    assert result.offset == 1 and result.epoch
    broadcast = c.broadcast(cent.BroadcastRequest(channels=[channel, other], data={"n": 2}))
    assert [r.result.offset for r in broadcast.responses] == [2, 1]
    history = c.history(cent.HistoryRequest(channel=channel, limit=10))
    assert [p.data for p in history.publications] == [{"n": 1}, {"n": 2}]
    assert history.offset == 2 and history.epoch == result.epoch
    c.history_remove(cent.HistoryRemoveRequest(channel=channel))
    assert c.history(cent.HistoryRequest(channel=channel, limit=10)).publications == []


def test_cent_presence_channels_info_and_disconnect(server):
    channel = unique("presence-jwt")
    user = unique("cent")

    async def main():
        events = Events()
        ws = Client(ws_url(server), token=token(user), events=events, proxy=None, timeout=WAIT)
        await ws.connect()
        sub = await subscribed(ws, channel, token=sub_token(channel, user))
        c = api(server)
        presence = await asyncio.to_thread(c.presence, cent.PresenceRequest(channel=channel))
        assert [info.user for info in presence.presence.values()] == [user]
        stats = await asyncio.to_thread(c.presence_stats, cent.PresenceStatsRequest(channel=channel))
        assert (stats.num_clients, stats.num_users) == (1, 1)
        channels = await asyncio.to_thread(c.channels, cent.ChannelsRequest(pattern=channel[:-4] + "*"))
        assert channels.channels[channel].num_clients == 1
        info = await asyncio.to_thread(c.info, cent.InfoRequest())
        assert info.nodes and info.nodes[0].num_clients >= 1
        await asyncio.to_thread(c.disconnect, cent.DisconnectRequest(user=user))
        ctx = await get(events.disconnected)
        assert ctx.code == 3503
        assert ws.state == ClientState.DISCONNECTED

    run(main())


def test_cent_subscribe_and_unsubscribe_a_connected_user(server):
    channel = unique("jwt")
    user = unique("cent")

    async def main():
        events = Events()
        ws = Client(ws_url(server), token=token(user), events=events, proxy=None, timeout=WAIT)
        await ws.connect()
        await get(events.connected)
        c = api(server)
        await asyncio.to_thread(c.subscribe, cent.SubscribeRequest(user=user, channel=channel))
        assert (await get(events.subscribed)).channel == channel
        await asyncio.to_thread(c.publish, cent.PublishRequest(channel=channel, data={"x": 1}))
        assert (await get(events.publications)).pub.data == {"x": 1}
        await asyncio.to_thread(c.unsubscribe, cent.UnsubscribeRequest(user=user, channel=channel))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(c.publish, cent.PublishRequest(channel=channel, data={"x": 2}))
        await nothing(events.publications)
        await ws.disconnect()

    run(main())


def test_cent_with_a_wrong_key_raises_unauthorized(server):
    with pytest.raises(cent.CentUnauthorizedError):
        cent.Client(f"{server.http}/api", "wrong-key", timeout=WAIT).publish(cent.PublishRequest(channel="x", data=1))


def test_errors_come_in_centrifugos_shape(server):
    r = httpx.post(f"{server.http}/api/history", headers={"Authorization": f"apikey {MAIN['secret']}"},
                   json={"channel": unique("nohistory:x"), "limit": 1}, timeout=WAIT)
    assert r.status_code == 200
    assert r.json() == {"error": {"code": 108, "message": "not available"}}
    with pytest.raises(cent.CentApiResponseError) as raised:
        api(server).publish(cent.PublishRequest(channel="bad name", data=1))
    assert raised.value.code == 107


def test_realtime_publish_endpoint(server):
    channel = unique("jwt")
    r = httpx.post(f"{server.http}/api/realtime/publish", headers={"X-API-Key": MAIN["secret"]},
                   json={"channel": channel, "data": {"a": 1}}, timeout=WAIT)
    assert r.status_code == 200 and r.json()["result"]["offset"] == 1


# -------------------------------------------------------------------------------------------------
# Cross-protocol
# -------------------------------------------------------------------------------------------------


def test_jwt_publish_reaches_jsonaction_and_sse_and_back(server):
    channel = unique("jwt")
    with WSClient(server) as ja, SSEStream(server, [channel]) as sse:
        ja.subscribed(channel)
        time.sleep(0.3)

        async def main():
            c, _ = client(server, token=token("jwtuser"))
            await c.connect()
            seen = SubEvents()
            sub = await subscribed(c, channel, events=seen)
            await sub.publish({"from": "jwt"})
            frame = await asyncio.to_thread(ja.recv_until, lambda f: f.get("event") == "realtime.message")
            assert frame[0]["data"] == {"from": "jwt"} and frame[0]["userId"] == "jwtuser"
            event = await asyncio.to_thread(sse.next)
            assert json.loads(event.data) == {"from": "jwt"}
            assert (await get(seen.publications)).pub.data == {"from": "jwt"}
            ja.send({"action": "publish", "channel": channel, "data": {"from": "ja"}, "name": "chat"})
            back = await get(seen.publications)
            assert back.pub.data == {"from": "ja"} and back.pub.tags == {"event": "chat"}
            await c.disconnect()

        run(main())
