"""The JWT protocol's wire contract, item by item, where test_jwt.py and the browser and hostile suites do not already
pin it: the connect reply, token claims (`subs`, `exp`) and their expiry or refresh (3005, 3006, 109, 3500), server
pings (3012) and connections that never connect (3502), Centrifugo's error codes (103-112), recovery (in order under
concurrent publishes, from another epoch, past what history keeps, `get_state` after 112, positioned without
recovery), unsubscribe and its leave push, plan limits (106, 111, 3504), the server API's less used shapes, and a
message's event name in `pub.tags.event` whichever API published it.

Real clients only: centrifuge-python and `cent` unpatched, raw `websockets` frames where a library hides a code
or a field. Every wait is bounded; each async test drives its own asyncio loop.
"""

import asyncio
import json
import signal
import threading
import time

import cent
import httpx
import pytest
import websockets
from centrifuge import Client, ClientState, ReplyError, StreamPosition, SubscriptionState
from websockets.sync.client import connect as ws_connect

from conftest import (
    CONFIG,
    MAIN,
    SMALL,
    WAIT,
    close_code_of,
    publish,
    pusher_api,
    sign_jwt,
    start_server,
    unique,
    wait_until,
)
from test_jwt import Events, SubEvents, api, client, get, nothing, run, sub_token, subscribed, token, watching, ws_url

pytestmark = pytest.mark.timeout(90)


class RawJWT:
    """A JWT-protocol client on the real `websockets` sync client: commands by method, replies by id, bounded waits.

    Frames the tests did not ask for yet (pushes, server pings) are kept in order and read by `next`.
    """

    def __init__(self, server, connect_token: str | None = None, key: str | None = None, path="/connection/websocket"):
        url = f"{server.ws}{path}" + (f"?key={key}" if key else "")
        self._connection = ws_connect(url, proxy=None, open_timeout=WAIT, close_timeout=2, max_size=None, max_queue=None)
        self.ws = self._connection.__enter__()
        self.held: list[dict] = []
        self.last_id = 0
        self.connected = self.call("connect", token=connect_token) if connect_token is not None else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._connection.__exit__(None, None, None)

    def send(self, method: str, **params) -> int:
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, method: params}))
        return self.last_id

    def _read(self, timeout: float) -> None:
        self.held += [json.loads(line) for line in self.ws.recv(timeout=timeout).splitlines() if line.strip()]

    def next(self, predicate=lambda frame: True, timeout: float = WAIT) -> dict:
        """The first frame (held or new) that matches; frames before it stay held."""
        deadline = time.monotonic() + timeout
        while True:
            for index, frame in enumerate(self.held):
                if predicate(frame):
                    return self.held.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; held {self.held}")
            self._read(remaining)

    def reply(self, command_id: int, timeout: float = WAIT) -> dict:
        return self.next(lambda frame: frame.get("id") == command_id, timeout)

    def call(self, method: str, **params) -> dict:
        return self.reply(self.send(method, **params))

    def pubs(self, channel: str, count: int, timeout: float = WAIT) -> list[dict]:
        """The next `count` publications pushed on `channel`, in the order they came."""
        return [self.next(lambda f: f.get("push", {}).get("channel") == channel and "pub" in f["push"], timeout)["push"]["pub"]
                for _ in range(count)]

    def close_code(self, timeout: float = WAIT) -> int | None:
        """Reads until the server closes; returns its close code."""
        return close_code_of(self.ws, timeout)


def error_code(reply: dict) -> int:
    assert "error" in reply, reply
    return reply["error"]["code"]


def cent_publish(server, channel: str, data, **fields) -> dict:
    r = httpx.post(f"{server.http}/api/publish", headers={"X-API-Key": MAIN["secret"]},
                   json={"channel": channel, "data": data, **fields}, timeout=WAIT)
    assert r.status_code == 200 and "result" in r.json(), r.text
    return r.json()["result"]


def refused_with(server, channel: str, call, app=MAIN, then=None) -> int:
    """Connects to `app`, subscribes to `channel`, and returns the code of the `ReplyError` that `call(sub)` must raise.

    `then(sub)` runs after the refusal, before the disconnect; the connection must have stayed up.
    """

    async def main():
        url = ws_url(server) + ("" if app is MAIN else f"?key={app['key']}")
        c = Client(url, token=token(app=app), events=Events(), proxy=None, timeout=WAIT)
        await c.connect()
        sub = await subscribed(c, channel)
        with pytest.raises(ReplyError) as raised:
            await call(sub)
        if then is not None:
            await then(sub)
        assert c.state == ClientState.CONNECTED
        await c.disconnect()
        return raised.value.code

    return run(main())


@pytest.fixture(scope="module")
def tiny_server():
    """A server of this module's own for the tiny plan's limits, whose per-minute budgets other suites share."""
    s = start_server()
    yield s
    assert s.stop() == 0, s.log()[-4000:]


# -------------------------------------------------------------------------------------------------
# Connect: the reply, token claims, expiry, refresh
# -------------------------------------------------------------------------------------------------


def test_connect_reply_announces_client_ttl_and_server_pings_with_pong(server):
    with RawJWT(server, token(ttl=600)) as c:
        connect = c.connected["connect"]
        assert connect["client"] and connect["version"], connect
        assert connect["expires"] is True and 590 <= connect["ttl"] <= 600, connect
        assert connect["ping"] > 0 and connect["pong"] is True, connect
    # A token without `exp` never expires: the reply says nothing about expiry.
    with RawJWT(server, sign_jwt({"sub": "u1"}, MAIN["secret"])) as c:
        assert "expires" not in c.connected["connect"] and "ttl" not in c.connected["connect"], c.connected


def test_expire_at_sets_the_connections_end_apart_from_the_tokens_exp(server):
    """Centrifugo's `expire_at` claim: a short-lived token can open a connection that ends later (0: never), or
    sooner; one already past is answered as an expired token (109)."""
    now = int(time.time())
    with RawJWT(server, sign_jwt({"sub": "u1", "exp": now + 2, "expire_at": 0}, MAIN["secret"])) as lasting:
        assert "expires" not in lasting.connected["connect"], lasting.connected
        with RawJWT(server, sign_jwt({"sub": "u1", "exp": now + 600, "expire_at": now + 2}, MAIN["secret"])) as short:
            connect = short.connected["connect"]
            assert connect["expires"] is True and connect["ttl"] <= 2, connect
            assert short.close_code(timeout=10) == 3005
        time.sleep(max(0.0, now + 6 - time.time()))
        # The token's exp and the server's grace are past: the connection lives on.
        assert "ping" in lasting.call("ping")
    with RawJWT(server, sign_jwt({"sub": "u1", "exp": now + 600, "expire_at": now - 1}, MAIN["secret"])) as late:
        assert error_code(late.connected) == 109


def test_a_command_before_connect_closes_with_3501(server):
    with RawJWT(server) as c:
        c.send("subscribe", channel=unique("jwt"))
        assert c.close_code() == 3501


def test_connection_not_refreshed_by_its_tokens_exp_closes_with_3005(server):
    exp = int(time.time()) + 2
    with RawJWT(server, sign_jwt({"sub": "u1", "exp": exp}, MAIN["secret"])) as c:
        assert c.connected["connect"]["expires"] is True
        assert c.close_code(timeout=10) == 3005
        assert time.time() >= exp, "closed before the token's exp"


def test_refresh_answers_with_the_new_ttl_and_keeps_the_connection_past_the_old_exp(server):
    with RawJWT(server, token(ttl=2)) as c:
        reply = c.call("refresh", token=token(ttl=600))
        assert reply["refresh"]["expires"] is True and 590 <= reply["refresh"]["ttl"] <= 600, reply
        time.sleep(5)  # past the first token's exp and its grace: nothing may end the connection
        assert "ping" in c.call("ping")


def test_a_refresh_tokens_info_becomes_the_connections_conn_info(server):
    """As in Centrifugo, a refresh token carrying `info` replaces the connection's: its later publications show it."""
    channel = unique("jwt-reinfo-")
    with RawJWT(server, token(info={"v": 1})) as watcher, RawJWT(server, token(info={"v": 1})) as c:
        assert "subscribe" in watcher.call("subscribe", channel=channel)
        assert "subscribe" in c.call("subscribe", channel=channel)
        assert "refresh" in c.call("refresh", token=token(info={"v": 2}))
        assert "publish" in c.call("publish", channel=channel, data={"n": 1})
        [pub] = watcher.pubs(channel, 1)
        assert pub["info"]["conn_info"] == {"v": 2}, pub


def test_refresh_with_an_expired_token_answers_109(server):
    with RawJWT(server, token(ttl=600)) as c:
        assert error_code(c.call("refresh", token=token(ttl=-10))) == 109
        assert "ping" in c.call("ping")


def test_refresh_with_another_users_token_closes_with_3500(server):
    with RawJWT(server, token("alice")) as c:
        c.send("refresh", token=token("mallory"))
        assert c.close_code() == 3500


def test_subs_claim_makes_server_side_subscriptions(server):
    channel = unique("jwt")

    async def main():
        c, events = client(server, token=token(subs={channel: {}}))
        await c.connect()
        subscribed = await get(events.subscribed)
        assert subscribed.channel == channel
        cent_publish(server, channel, {"via": "subs"})
        ctx = await get(events.publications)
        assert ctx.channel == channel and ctx.pub.data == {"via": "subs"}
        await c.disconnect()

    run(main())


def test_server_side_subscription_recovers_what_was_missed_across_a_reconnect(server):
    channel = unique("jwt")
    user = unique("srv")

    async def main():
        c, events = client(server, token=token(user, channels=[channel]), min_reconnect_delay=1.0, max_reconnect_delay=1.5)
        await c.connect()
        first = await get(events.subscribed)
        assert first.channel == channel and first.recoverable
        for n in (1, 2):
            cent_publish(server, channel, {"n": n})
        got = [(await get(events.publications)).pub for _ in range(2)]
        await asyncio.to_thread(
            api(server).disconnect, cent.DisconnectRequest(user=user, disconnect=cent.Disconnect(code=3011, reason="go")))
        for n in (3, 4, 5):
            cent_publish(server, channel, {"n": n})
        again = await get(events.subscribed, timeout=10)
        assert again.was_recovering and again.recovered, again
        got += [(await get(events.publications)).pub for _ in range(3)]
        assert [p.data["n"] for p in got] == [1, 2, 3, 4, 5]
        assert [p.offset for p in got] == [1, 2, 3, 4, 5]
        await nothing(events.publications)
        await c.disconnect()

    run(main())


def test_server_pings_at_the_announced_interval_and_closes_silent_connections_3012_and_unconnected_ones_3502(server):
    with RawJWT(server, token("answers")) as answering, RawJWT(server, token("silent")) as silent, RawJWT(server) as idle:
        interval = answering.connected["connect"]["ping"]
        opened = time.monotonic()
        assert answering.next(lambda f: f == {}, timeout=interval + 3) == {}
        answering.ws.send("{}")  # the pong
        assert idle.close_code(timeout=45) == 3502  # never sent connect
        assert silent.close_code(timeout=interval + 15) == 3012  # got the ping, never answered
        assert time.monotonic() - opened >= interval, "closed before a ping was even due"
        assert "ping" in answering.call("ping")  # the answered ping left this one open


def test_several_commands_in_one_frame_get_one_reply_each(server):
    channel = unique("jwt")
    with RawJWT(server) as c:
        c.ws.send("\n".join(json.dumps(command) for command in (
            {"id": 1, "connect": {"token": token()}},
            {"id": 2, "subscribe": {"channel": channel}},
            {"id": 3, "presence_stats": {"channel": channel}},
        )))
        assert "connect" in c.reply(1) and "subscribe" in c.reply(2)
        assert c.reply(3)["presence_stats"] == {"num_clients": 0, "num_users": 0}


# -------------------------------------------------------------------------------------------------
# Subscribe: tokens, rules, codes
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["private-jwt", "presence-jwt", "locked:jwt"])
def test_protected_channel_without_a_subscription_token_is_refused_with_103(server, prefix):
    channel = unique(prefix)

    async def main():
        c, _ = client(server)
        await c.connect()
        seen = SubEvents()
        sub = c.new_subscription(channel, events=seen)
        await sub.subscribe()
        ctx = await get(seen.unsubscribed)
        assert ctx.code == 103, ctx
        assert sub.state == SubscriptionState.UNSUBSCRIBED and c.state == ClientState.CONNECTED
        await c.disconnect()

    run(main())


def test_channel_rule_requiring_a_token_accepts_a_subscription_token(server):
    channel = unique("locked:jwt")

    async def main():
        c, _ = client(server)
        await c.connect()
        seen = SubEvents()
        sub = await subscribed(c, channel, events=seen, token=sub_token(channel))
        cent_publish(server, channel, {"locked": True})
        assert (await get(seen.publications)).pub.data == {"locked": True}
        await c.disconnect()

    run(main())


def test_expired_subscription_token_is_replaced_through_get_token_after_109(server):
    channel = unique("private-jwt")
    asked = []

    async def get_sub_token(ch):
        asked.append(ch)
        return sub_token(ch, ttl=600)

    async def main():
        c, events = client(server)
        await c.connect()
        sub = await subscribed(c, channel, token=sub_token(channel, ttl=-10), get_token=get_sub_token)
        assert asked == [channel], "get_token was not called after error 109"
        assert events.disconnected.empty()
        await c.disconnect()

    run(main())


def test_subscription_token_for_another_user_closes_with_3500(server):
    channel = unique("private-jwt")
    with RawJWT(server, token("alice")) as c:
        c.send("subscribe", channel=channel, token=sub_token(channel, "mallory"))
        assert c.close_code() == 3500


def test_subscription_not_refreshed_by_its_tokens_exp_closes_with_3006(server):
    channel = unique("private-jwt")
    exp = int(time.time()) + 2
    with RawJWT(server, token(ttl=600)) as c:
        short = sign_jwt({"sub": "u1", "channel": channel, "exp": exp}, MAIN["secret"])
        reply = c.call("subscribe", channel=channel, token=short)
        assert reply["subscribe"]["expires"] is True and 1 <= reply["subscribe"]["ttl"] <= 2, reply
        assert c.close_code(timeout=10) == 3006
        assert time.time() >= exp, "closed before the token's exp"


def test_sub_refresh_keeps_the_subscription_past_the_old_exp(server):
    channel = unique("private-jwt")
    with RawJWT(server, token(ttl=600)) as c:
        assert "subscribe" in c.call("subscribe", channel=channel, token=sub_token(channel, ttl=2))
        reply = c.call("sub_refresh", channel=channel, token=sub_token(channel, ttl=600))
        assert reply["sub_refresh"]["expires"] is True and 590 <= reply["sub_refresh"]["ttl"] <= 600, reply
        time.sleep(5)
        cent_publish(server, channel, {"still": "here"})
        assert c.pubs(channel, 1)[0]["data"] == {"still": "here"}


def test_sub_refresh_with_another_users_token_closes_with_3500(server):
    channel = unique("private-jwt")
    with RawJWT(server, token("alice")) as c:
        assert "subscribe" in c.call("subscribe", channel=channel, token=sub_token(channel, "alice"))
        c.send("sub_refresh", channel=channel, token=sub_token(channel, "mallory"))
        assert c.close_code() == 3500


def test_subscribing_twice_answers_105_and_the_first_subscription_stays(server):
    channel = unique("jwt")
    with RawJWT(server, token()) as c:
        assert "subscribe" in c.call("subscribe", channel=channel)
        assert error_code(c.call("subscribe", channel=channel)) == 105
        cent_publish(server, channel, {"once": True})
        assert [p["data"] for p in c.pubs(channel, 1)] == [{"once": True}]
        assert "ping" in c.call("ping")
        assert not [f for f in c.held if "push" in f], c.held  # delivered once, not twice
    # A channel the connection token subscribed it to (server-side) is already subscribed too.
    with RawJWT(server, token(channels=[channel])) as c:
        assert channel in c.connected["connect"]["subs"]
        assert error_code(c.call("subscribe", channel=channel)) == 105


def test_subscribe_to_an_invalid_channel_name_answers_107(server):
    with RawJWT(server, token()) as c:
        assert error_code(c.call("subscribe", channel="bad name")) == 107
        assert "ping" in c.call("ping")


def test_unknown_method_answers_104_and_the_connection_stays(server):
    with RawJWT(server, token()) as c:
        assert error_code(c.call("no_such_method")) == 104
        assert "ping" in c.call("ping")


# -------------------------------------------------------------------------------------------------
# Recovery
# -------------------------------------------------------------------------------------------------


def test_recover_replays_from_the_offset_in_order_then_live_with_no_gap_or_duplicate(server):
    """Centrifugo's recovery answer: `publications` in the subscribe result, `offset` the stream's top; what is published
    afterwards follows as pushes, with nothing the reply carried pushed twice."""
    channel = unique("jwt")
    epoch = cent_publish(server, channel, {"n": 1})["epoch"]
    for n in range(2, 6):
        cent_publish(server, channel, {"n": n})
    with RawJWT(server, token()) as c:
        reply = c.call("subscribe", channel=channel, recover=True, offset=2, epoch=epoch, recoverable=True)["subscribe"]
        assert reply["was_recovering"] is True and reply["recovered"] is True, reply
        assert reply["recoverable"] is True and reply["epoch"] == epoch and reply["offset"] == 5, reply
        assert [(p["offset"], p["data"]["n"]) for p in reply["publications"]] == [(3, 3), (4, 4), (5, 5)], reply
        cent_publish(server, channel, {"n": 6})
        assert [(p["offset"], p["data"]["n"]) for p in c.pubs(channel, 1)] == [(6, 6)]


def test_recover_while_publishes_keep_coming_has_no_gap_or_duplicate(server):
    channel = unique("jwt")
    total = 60
    epoch = cent_publish(server, channel, {"n": 1})["epoch"]
    started = threading.Event()

    def publisher():
        for n in range(2, total + 1):
            cent_publish(server, channel, {"n": n})
            if n == 10:
                started.set()

    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    try:
        assert started.wait(WAIT)
        with RawJWT(server, token()) as c:
            reply = c.call("subscribe", channel=channel, recover=True, offset=5, epoch=epoch, recoverable=True)["subscribe"]
            assert reply["recovered"] is True, reply
            got = reply.get("publications", [])
            got += c.pubs(channel, total - 5 - len(got), timeout=20)
            assert [p["offset"] for p in got] == list(range(6, total + 1))
            assert [p["data"]["n"] for p in got] == list(range(6, total + 1))
    finally:
        thread.join(20)


def test_recover_from_another_epoch_is_not_recovered_and_replays_nothing(server):
    channel = unique("jwt")
    for n in (1, 2, 3):
        result = cent_publish(server, channel, {"n": n})
    with RawJWT(server, token()) as c:
        reply = c.call("subscribe", channel=channel, recover=True, offset=1, epoch="not-the-epoch", recoverable=True)
        sub = reply["subscribe"]
        assert sub["was_recovering"] is True and sub["recovered"] is False, sub
        assert (sub["offset"], sub["epoch"]) == (3, result["epoch"]), sub
        assert not sub.get("publications"), sub
        cent_publish(server, channel, {"n": 4})
        assert [p["offset"] for p in c.pubs(channel, 1)] == [4]  # the next push is the live one: no replay before it


def test_recover_from_another_epoch_with_the_reject_flag_answers_112_and_a_plain_subscribe_still_works(server):
    channel = unique("jwt")
    cent_publish(server, channel, {"n": 1})
    with RawJWT(server, token()) as c:
        reply = c.call("subscribe", channel=channel, recover=True, offset=1, epoch="not-the-epoch", recoverable=True, flag=2)
        assert error_code(reply) == 112
        assert "subscribe" in c.call("subscribe", channel=channel)
        cent_publish(server, channel, {"n": 2})
        assert [p["data"] for p in c.pubs(channel, 1)] == [{"n": 2}]


# The test config plus a rule that keeps only the last 3 messages of `short:` channels.
NOHISTORY_RULE = '[[apps.channels]]\nmatch = "nohistory:*"'
SHORT_HISTORY = CONFIG.replace(NOHISTORY_RULE, '[[apps.channels]]\nmatch = "short:*"\nhistory_size = 3\n\n' + NOHISTORY_RULE, 1)


def test_recover_past_what_history_keeps_is_not_recovered_or_answers_112_with_the_reject_flag(fresh_server):
    own = fresh_server(SHORT_HISTORY)
    channel = unique("short:jwt")
    epoch = cent_publish(own, channel, {"n": 1})["epoch"]
    for n in range(2, 7):
        cent_publish(own, channel, {"n": n})  # history keeps 4, 5, 6: offsets 2 and 3 are gone
    with RawJWT(own, token()) as c:
        reply = c.call("subscribe", channel=channel, recover=True, offset=1, epoch=epoch, recoverable=True, flag=2)
        assert error_code(reply) == 112
        sub = c.call("subscribe", channel=channel, recover=True, offset=1, epoch=epoch, recoverable=True)["subscribe"]
        assert sub["was_recovering"] is True and sub["recovered"] is False, sub
        assert (sub["offset"], sub["epoch"]) == (6, epoch), sub
        cent_publish(own, channel, {"n": 7})
        assert [p["offset"] for p in c.pubs(channel, 1)] == [7]
    # Within what is kept, the same stream recovers.
    with RawJWT(own, token()) as c:
        sub = c.call("subscribe", channel=channel, recover=True, offset=4, epoch=epoch, recoverable=True)["subscribe"]
        assert sub["recovered"] is True, sub
        got = sub.get("publications", [])
        assert [p["offset"] for p in got + c.pubs(channel, 3 - len(got))] == [5, 6, 7]


def test_get_state_position_is_recovered_from_and_reloaded_after_112_when_history_no_longer_reaches_it(fresh_server):
    own = fresh_server(SHORT_HISTORY)
    channel = unique("short:jwt")
    user = unique("state")
    for n in (1, 2):
        cent_publish(own, channel, {"n": n})
    loaded = []

    async def get_state(ch):
        # As an app would: the stream position from the server API (history with limit 0).
        position = await asyncio.to_thread(api(own).history, cent.HistoryRequest(channel=ch, limit=0))
        loaded.append((position.offset, position.epoch))
        return StreamPosition(offset=position.offset, epoch=position.epoch)

    async def main():
        events = Events()
        c = Client(ws_url(own), token=token(user), events=events, proxy=None, timeout=WAIT)
        await c.connect()
        seen = SubEvents()
        sub = c.new_subscription(channel, events=seen, recoverable=True, get_state=get_state)
        await sub.subscribe()
        first = await get(seen.subscribed)
        assert first.was_recovering and first.recovered and loaded == [(2, first.stream_position.epoch)], (first, loaded)
        cent_publish(own, channel, {"n": 3})
        assert (await get(seen.publications)).pub.offset == 3
        # Away (3503: the client waits to be told to connect), it misses more than the channel keeps (3).
        await asyncio.to_thread(api(own).disconnect, cent.DisconnectRequest(user=user))
        assert (await get(events.disconnected)).code == 3503
        for n in range(4, 9):
            cent_publish(own, channel, {"n": n})
        await c.connect()
        again = await get(seen.subscribed, timeout=10)
        assert loaded[1:] == [(8, first.stream_position.epoch)], loaded
        assert again.was_recovering and again.recovered, again
        cent_publish(own, channel, {"n": 9})
        assert (await get(seen.publications)).pub.offset == 9
        await nothing(seen.publications)
        await c.disconnect()

    run(main())


def test_a_subscribe_refused_with_112_delivers_none_of_the_channels_publications(server):
    channel = unique("jwt")
    cent_publish(server, channel, {"n": 0})
    stop = threading.Event()

    def publisher():
        with httpx.Client(timeout=WAIT) as h:
            while not stop.is_set():
                h.post(f"{server.http}/api/publish", headers={"X-API-Key": MAIN["secret"]}, json={"channel": channel, "data": 1})

    threads = [threading.Thread(target=publisher, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        with RawJWT(server, token()) as c:
            # Each refusal races the publishers: a subscribe made and undone on the bus would let some through.
            for _ in range(150):
                reply = c.call("subscribe", channel=channel, recover=True, offset=1, epoch="not-the-epoch", recoverable=True,
                               flag=2)
                assert error_code(reply) == 112
            stop.set()
            for thread in threads:
                thread.join(WAIT)
            assert "ping" in c.call("ping")
            assert not [f for f in c.held if "push" in f], c.held[:3]
    finally:
        stop.set()


def test_a_positioned_subscription_that_did_not_ask_for_recovery_is_not_recovered(server):
    channel = unique("jwt")
    user = unique("pos")
    cent_publish(server, channel, {"n": 1})

    async def main():
        events = Events()
        c = Client(ws_url(server), token=token(user), events=events, proxy=None, timeout=WAIT)
        await c.connect()
        seen = SubEvents()
        sub = c.new_subscription(channel, events=seen, positioned=True)
        await sub.subscribe()
        first = await get(seen.subscribed)
        assert first.positioned and not first.recoverable, first
        assert first.stream_position.offset == 1
        await asyncio.to_thread(api(server).disconnect, cent.DisconnectRequest(user=user))
        assert (await get(events.disconnected)).code == 3503
        cent_publish(server, channel, {"n": 2})  # missed while away: a client that did not ask for recovery gets no replay
        await c.connect()
        again = await get(seen.subscribed, timeout=10)
        assert not again.was_recovering and not again.recovered, again
        cent_publish(server, channel, {"n": 3})
        assert [(await get(seen.publications)).pub.data["n"]] == [3]
        await c.disconnect()

    run(main())


def test_history_with_a_negative_or_larger_limit_returns_the_first_300_publications(server):
    channel = unique("jwt-history-cap")
    requests = [cent.PublishRequest(channel=channel, data={"n": n}) for n in range(1, 311)]
    api(server).batch(cent.BatchRequest(requests=requests))

    async def main():
        c, _ = client(server)
        await c.connect()
        sub = await subscribed(c, channel)
        for limit in (-1, 1000):
            result = await sub.history(limit=limit)
            assert [p.offset for p in result.publications] == list(range(1, 301)), limit
            assert result.offset == 310
        await c.disconnect()

    run(main())


def test_history_since_another_epoch_answers_112(server):
    channel = unique("jwt")
    cent_publish(server, channel, {"n": 1})
    since = StreamPosition(offset=0, epoch="not-the-epoch")
    assert refused_with(server, channel, lambda sub: sub.history(limit=10, since=since)) == 112


def test_a_position_taken_before_the_streams_first_message_is_not_recovered_into_a_restarted_stream(fresh_server):
    channel = unique("jwt")
    before = fresh_server()
    with RawJWT(before, token()) as c:
        first = c.call("subscribe", channel=channel, recoverable=True)["subscribe"]
        assert first["epoch"] and first.get("offset", 0) == 0, first
        for n in (1, 2, 3):
            cent_publish(before, channel, {"n": n})
        pubs = c.pubs(channel, 3)
        assert [p["offset"] for p in pubs] == [1, 2, 3]
    # The stream starts over (a memory engine that lost its history: a server of its own with an empty store) and
    # goes on. history_remove no longer restarts it: it keeps the epoch and the offset.
    before.stop(signal.SIGKILL)
    server = fresh_server()
    for n in range(1, 6):
        cent_publish(server, channel, {"again": n})
    with RawJWT(server, token()) as c:
        sub = c.call("subscribe", channel=channel, recover=True, offset=3, epoch=first["epoch"], recoverable=True)["subscribe"]
        # The client missed the new stream's offsets 1 to 3: replaying 4 and 5 as "recovered" would hide that gap.
        assert sub["recovered"] is False and sub["epoch"] != first["epoch"], sub


# -------------------------------------------------------------------------------------------------
# Unsubscribe, publish, presence, history: refusals
# -------------------------------------------------------------------------------------------------


def test_unsubscribe_stops_publications_and_sends_a_leave_push_to_the_others(server):
    channel = unique("presence-jwt")

    async def main():
        alice, _ = client(server, token=token("alice"))
        bob, bob_events = client(server, token=token("bob"))
        await alice.connect()
        await bob.connect()
        seen_a, seen_b = SubEvents(), SubEvents()
        a = await subscribed(alice, channel, events=seen_a, token=sub_token(channel, "alice"), join_leave=True)
        b = await subscribed(bob, channel, events=seen_b, token=sub_token(channel, "bob"))
        await b.unsubscribe()
        left = await get(seen_a.leaves)
        assert left.info.user == "bob"
        stats = await a.presence_stats()
        assert (stats.num_clients, stats.num_users) == (1, 1)
        cent_publish(server, channel, {"after": "unsubscribe"})
        assert (await get(seen_a.publications)).pub.data == {"after": "unsubscribe"}
        await nothing(seen_b.publications)
        assert bob.state == ClientState.CONNECTED and bob_events.disconnected.empty()
        await alice.disconnect()
        await bob.disconnect()

    run(main())


@pytest.mark.parametrize("method", ["publish", "presence", "history"])
def test_protected_channel_needs_a_subscription_to_publish_or_read_103(server, method):
    channel = unique("private-jwt")
    with RawJWT(server, token()) as c:
        params = {"channel": channel, "data": {"x": 1}} if method == "publish" else {"channel": channel}
        if method == "history":
            params["limit"] = 10
        assert error_code(c.call(method, **params)) == 103
        assert "ping" in c.call("ping")


def test_history_where_the_channel_keeps_none_answers_108(server):
    assert refused_with(server, unique("nohistory:jwt"), lambda sub: sub.history(limit=10)) == 108


def test_presence_where_the_rule_turns_it_off_answers_108_to_clients_and_the_server_api(server):
    channel = unique("nopresence:jwt")
    assert refused_with(server, channel, lambda sub: sub.presence()) == 108
    assert refused_with(server, channel, lambda sub: sub.presence_stats()) == 108
    with pytest.raises(cent.CentApiResponseError) as raised:
        api(server).presence_stats(cent.PresenceStatsRequest(channel=channel))
    assert raised.value.code == 108


def small_url(server) -> str:
    return f"{ws_url(server)}?key={SMALL['key']}"


def test_publish_over_the_plans_message_size_answers_106(tiny_server):
    big, small = (lambda sub: sub.publish({"big": "x" * 2048})), (lambda sub: sub.publish({"small": True}))
    assert refused_with(tiny_server, unique("jwt"), big, app=SMALL, then=small) == 106


def test_publishes_over_the_plans_rate_answer_111_marked_temporary(tiny_server):
    channel = unique("jwt")

    async def main():
        events = Events()
        c = Client(small_url(tiny_server), token=token(app=SMALL), events=events, proxy=None, timeout=WAIT)
        await c.connect()
        sub = await subscribed(c, channel)
        refused = None
        for n in range(60):
            try:
                await sub.publish({"n": n})
            except ReplyError as error:
                refused = error
                break
        assert refused is not None, "60 publishes went through a plan of 20 a minute"
        assert refused.code == 111 and refused.temporary, refused
        await c.disconnect()

    run(main())


def test_plan_limits_answer_106_for_a_channel_over_the_limit_and_close_3504_over_the_connection_limit(fresh_server):
    own = fresh_server()
    small = token(app=SMALL)
    with RawJWT(own, small, key=SMALL["key"]) as c:
        for n in range(3):  # the tiny plan's max_channels
            assert "subscribe" in c.call("subscribe", channel=f"{unique('jwt')}-{n}")
        assert error_code(c.call("subscribe", channel=unique("jwt"))) == 106
        assert "ping" in c.call("ping")
    wait_until(lambda: httpx.post(f"{own.http}/api/info", headers={"X-API-Key": SMALL["secret"]}, json={}, timeout=WAIT)
               .json()["result"]["nodes"][0]["num_clients"] == 0, message="the first connection to end")
    opened = [RawJWT(own, small, key=SMALL["key"]) for _ in range(5)]  # the tiny plan's max_connections
    try:
        with RawJWT(own, key=SMALL["key"]) as over:
            assert over.close_code() == 3504
        assert "ping" in opened[0].call("ping")
    finally:
        for c in opened:
            c.__exit__(None, None, None)


# -------------------------------------------------------------------------------------------------
# Server API
# -------------------------------------------------------------------------------------------------


def test_server_api_disconnect_can_spare_whitelisted_clients_or_target_one(server):
    user = unique("many")

    async def main():
        pairs = [client(server, token=token(user)) for _ in range(3)]
        ids = []
        for c, events in pairs:
            await c.connect()
            ids.append((await get(events.connected)).client)
        c = api(server)
        await asyncio.to_thread(c.disconnect, cent.DisconnectRequest(user=user, client=ids[0]))
        assert (await get(pairs[0][1].disconnected)).code == 3503
        await asyncio.to_thread(c.disconnect, cent.DisconnectRequest(user=user, whitelist=[ids[2]]))
        assert (await get(pairs[1][1].disconnected)).code == 3503
        await nothing(pairs[2][1].disconnected)
        assert pairs[2][0].state == ClientState.CONNECTED
        await pairs[2][0].disconnect()

    run(main())


def test_server_api_unsubscribe_ends_a_client_side_subscription_with_code_2000(server):
    channel = unique("jwt")
    user = unique("unsub")

    async def main():
        c, events = client(server, token=token(user))
        await c.connect()
        seen = SubEvents()
        sub = await subscribed(c, channel, events=seen)
        await asyncio.to_thread(api(server).unsubscribe, cent.UnsubscribeRequest(user=user, channel=channel))
        ctx = await get(seen.unsubscribed)
        assert ctx.code == 2000, ctx  # below 2500: the client does not subscribe again
        assert sub.state == SubscriptionState.UNSUBSCRIBED and c.state == ClientState.CONNECTED
        await asyncio.to_thread(cent_publish, server, channel, {"after": "unsubscribe"})
        await nothing(seen.publications)
        await c.disconnect()

    run(main())


def test_server_api_history_with_since_reverse_and_112_for_another_epoch(server):
    channel = unique("jwt")
    epoch = cent_publish(server, channel, {"n": 1})["epoch"]
    for n in range(2, 6):
        cent_publish(server, channel, {"n": n})
    c = api(server)
    after = c.history(cent.HistoryRequest(channel=channel, limit=10, since=cent.StreamPosition(offset=2, epoch=epoch)))
    assert [p.data["n"] for p in after.publications] == [3, 4, 5]
    newest = c.history(cent.HistoryRequest(channel=channel, limit=2, reverse=True))
    assert [p.data["n"] for p in newest.publications] == [5, 4]
    position = c.history(cent.HistoryRequest(channel=channel))
    assert position.publications == [] and (position.offset, position.epoch) == (5, epoch)
    with pytest.raises(cent.CentApiResponseError) as raised:
        c.history(cent.HistoryRequest(channel=channel, limit=10, since=cent.StreamPosition(offset=0, epoch="not-the-epoch")))
    assert raised.value.code == 112


def test_server_api_broadcast_answers_each_channel_on_its_own(server):
    good = unique("jwt")
    r = httpx.post(f"{server.http}/api/broadcast", headers={"X-API-Key": MAIN["secret"]},
                   json={"channels": [good, "bad name"], "data": {"b": 1}}, timeout=WAIT)
    assert r.status_code == 200, r.text
    responses = r.json()["result"]["responses"]
    assert responses[0]["result"]["offset"] == 1, responses
    assert responses[1]["error"]["code"] == 107, responses


@pytest.mark.parametrize("headers", [
    {"X-API-Key": MAIN["secret"]},
    {"Authorization": f"apikey {MAIN['secret']}"},
    {"Authorization": f"Bearer {MAIN['secret']}"},
], ids=["x-api-key", "apikey", "bearer"])
def test_realtime_publish_accepts_the_app_secret_in_each_header(server, headers):
    channel = unique("jwt")
    r = httpx.post(f"{server.http}/api/realtime/publish", headers=headers, json={"channel": channel, "data": {"a": 1}},
                   timeout=WAIT)
    assert r.status_code == 200 and r.json()["result"]["offset"] == 1, r.text
    refused = httpx.post(f"{server.http}/api/realtime/publish", json={"channel": channel, "data": {"a": 2}}, timeout=WAIT)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == 101, refused.text


# -------------------------------------------------------------------------------------------------
# Event names in pub.tags.event
# -------------------------------------------------------------------------------------------------


def publish_named(server, channel: str, how: str) -> None:
    if how == "cent-tags":
        api(server).publish(cent.PublishRequest(channel=channel, data={"how": how}, tags={"event": "named"}))
    elif how == "jsonaction-rest":
        publish(server, channel, {"how": how}, name="named")
    elif how == "pusher":
        pusher_api(server).trigger(channel, "named", {"how": how})


@pytest.mark.parametrize("how", ["cent-tags", "jsonaction-rest", "pusher"])
def test_a_named_message_shows_its_name_in_pub_tags_event(server, how):
    channel = unique("jwt")

    async def main():
        c, seen = await watching(server, channel)
        await asyncio.to_thread(publish_named, server, channel, how)
        named = await get(seen.publications)
        assert named.pub.data == {"how": how} and named.pub.tags == {"event": "named"}, named.pub
        await asyncio.to_thread(cent_publish, server, channel, {"how": "unnamed"})
        unnamed = await get(seen.publications)
        assert unnamed.pub.data == {"how": "unnamed"} and not unnamed.pub.tags, unnamed.pub
        await c.disconnect()

    run(main())


# -------------------------------------------------------------------------------------------------
# Centrifugo's conventions kept for clients migrated from it
# -------------------------------------------------------------------------------------------------


def test_a_dollar_channel_is_private_it_needs_a_subscription_token_and_takes_a_valid_one(server):
    """`$` is Centrifugo's private prefix: a migrated client's `$` channels keep working, and stay private."""
    channel = unique("$jwt-private")

    async def main():
        c, _ = client(server)
        await c.connect()
        refused = SubEvents()
        await c.new_subscription(channel, events=refused).subscribe()
        assert (await get(refused.unsubscribed)).code == 103
        c.remove_subscription(c.get_subscription(channel))
        seen = SubEvents()
        await subscribed(c, channel, events=seen, token=sub_token(channel))
        cent_publish(server, channel, {"private": True})
        assert (await get(seen.publications)).pub.data == {"private": True}
        await c.disconnect()

    run(main())


def test_a_connection_tokens_channels_claim_subscribes_to_a_dollar_channel(server):
    channel = unique("$jwt-claimed")
    with RawJWT(server, token(channels=[channel])) as c:
        assert channel in c.connected["connect"].get("subs", {}), c.connected
        cent_publish(server, channel, {"claimed": 1})
        assert c.pubs(channel, 1)[0]["data"] == {"claimed": 1}


@pytest.mark.parametrize("case", ["another channel", "another user", "forged"])
def test_a_subscription_token_sent_for_a_public_channel_is_checked_as_centrifugo_checks_it(server, case):
    """A token nobody needed is still verified: a forged one answers 103, one for another channel or user ends the
    connection with 3500, so a misdirected token cannot pass unnoticed."""
    channel = unique("chat:jwt-public")
    bad = {
        "another channel": sub_token(unique("chat:elsewhere")),
        "another user": sub_token(channel, sub="mallory"),
        "forged": sign_jwt({"sub": "u1", "channel": channel, "exp": int(time.time()) + 600}, "not-the-secret-0123456789abcdef01"),
    }[case]
    with RawJWT(server, token()) as c:
        c.send("subscribe", channel=channel, token=bad)
        if case == "forged":
            assert error_code(c.reply(c.last_id)) == 103
            assert "ping" in c.call("ping")
        else:
            assert c.close_code() == 3500
    with RawJWT(server, token()) as c:
        assert "subscribe" in c.call("subscribe", channel=channel, token=sub_token(channel)), "a valid token is accepted"


def test_joins_and_leaves_reach_only_subscriptions_that_asked_for_them(server):
    """centrifuge-python's default (`join_leave=False`) hears no join or leave; one that asks hears both."""
    channel = unique("presence-jwt")

    async def main():
        quiet_client, _ = client(server, token=token("quiet"))
        asking_client, _ = client(server, token=token("asking"))
        bob, _ = client(server, token=token("bob"))
        for c in (quiet_client, asking_client, bob):
            await c.connect()
        quiet, asking = SubEvents(), SubEvents()
        await subscribed(quiet_client, channel, events=quiet, token=sub_token(channel, "quiet"))
        await subscribed(asking_client, channel, events=asking, token=sub_token(channel, "asking"), join_leave=True)
        await subscribed(bob, channel, token=sub_token(channel, "bob"))
        # The asking subscription hears its own join first, then bob's.
        assert [(await get(asking.joins)).info.user for _ in range(2)] == ["asking", "bob"]
        await bob.disconnect()
        assert (await get(asking.leaves)).info.user == "bob"
        await nothing(quiet.joins)
        await nothing(quiet.leaves)
        await quiet_client.disconnect()
        await asking_client.disconnect()

    run(main())


def test_the_single_route_api_runs_each_line_as_a_command_and_answers_each_in_order(server):
    """Older `cent`/`phpcent` releases post `{"method", "params"}` lines to `POST /api`; each gets its reply line."""
    channel = unique("chat:legacy")
    with RawJWT(server, token()) as c:
        assert "subscribe" in c.call("subscribe", channel=channel)
        lines = [
            {"id": 1, "method": "publish", "params": {"channel": channel, "data": {"n": 1}}},
            {"method": 0, "params": {"channel": channel, "data": {"n": 2}}},
            {"id": 3, "method": "no_such_method", "params": {}},
            {"id": 4, "method": "PUBLISH", "params": {"channel": channel}},
        ]
        r = httpx.post(f"{server.http}/api", headers={"Authorization": f"apikey {MAIN['secret']}"},
                       content="\n".join(json.dumps(line) for line in lines), timeout=WAIT)
        assert r.status_code == 200, r.text
        replies = [json.loads(line) for line in r.text.splitlines()]
        assert len(replies) == 4, replies
        assert replies[0]["id"] == 1 and "result" in replies[0] and "id" not in replies[1] and "result" in replies[1], replies
        assert replies[2] == {"id": 3, "error": {"code": 104, "message": "method not found"}}, replies
        assert replies[3]["id"] == 4 and replies[3]["error"]["code"] == 107, replies
        assert [pub["data"] for pub in c.pubs(channel, 2)] == [{"n": 1}, {"n": 2}]
    bad_key = httpx.post(f"{server.http}/api", headers={"Authorization": "apikey wrong"}, json={"method": "info"}, timeout=WAIT)
    assert bad_key.status_code == 401
    garbage = httpx.post(f"{server.http}/api", headers={"Authorization": f"apikey {MAIN['secret']}"}, content="{oops", timeout=WAIT)
    assert garbage.status_code == 400


def test_server_api_subscribe_hands_its_data_to_the_client_with_the_push(server):
    channel = unique("chat:server-sub")
    with RawJWT(server, token("datauser")) as c:
        r = httpx.post(f"{server.http}/api/subscribe", headers={"X-API-Key": MAIN["secret"]},
                       json={"user": "datauser", "channel": channel, "data": {"welcome": True}}, timeout=WAIT)
        assert r.status_code == 200 and "error" not in r.json(), r.text
        push = c.next(lambda f: f.get("push", {}).get("channel") == channel and "subscribe" in f["push"])["push"]
        assert push["subscribe"]["data"] == {"welcome": True}, push
