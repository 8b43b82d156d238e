"""Reconnect bursts: a client that (re)connects resubscribes every channel at once, past the command burst.

`[limits] subscribe_burst` (default 1000, refilled at `commands_per_second`) lets subscribes past `command_burst`;
every other frame past the command rate is still refused (Pusher `pusher:error` 4300, JSON-action `rate_limited`,
JWT 3013). A subscribe refused for rate names its channel: Pusher `pusher:subscription_error` 429 then
`pusher:error` 4300, JSON-action `rate_limited` with `channel`.

Real clients where natural (pysher, centrifuge-python, neither patched), raw frames where the test needs exact
control of what is sent at once. Every wait is bounded; loopback only.
"""

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time

import pysher
import pytest
import websockets
from centrifuge import Client, ClientEventHandler, SubscriptionEventHandler
from websockets.sync.client import connect as ws_connect

from conftest import (
    CONFIG,
    MAIN,
    PUSHER,
    WAIT,
    PusherWS,
    WSClient,
    pusher_api,
    publish,
    sign_jwt,
    unique,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)


def limits_config(**limits) -> str:
    """The suite's config with `limits` added to its `[limits]` table (MAIN and PUSHER are on the enterprise plan)."""
    lines = "".join(f"{key} = {value}\n" for key, value in limits.items())
    assert "[limits]\n" in CONFIG
    return CONFIG.replace("[limits]\n", "[limits]\n" + lines, 1)


def jwt_token(sub="u1") -> str:
    return sign_jwt({"sub": sub, "exp": int(time.time()) + 600}, MAIN["secret"])


def send_all(ws, frames) -> None:
    """Sends every frame before reading any reply: what a client resubscribing on reconnect does."""
    for frame in frames:
        ws.send(json.dumps(frame))


def frames_until_close(client, timeout: float = 10.0) -> tuple[list[dict], int | None]:
    """Every frame until the server closes the connection, and its close code."""
    frames = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the server did not close the connection; got {len(frames)} frames")
            frames.append(json.loads(client.ws.recv(timeout=remaining)))
    except websockets.exceptions.ConnectionClosed as closed:
        return frames, (closed.rcvd.code if closed.rcvd else None)


def frames_of(client, count: int) -> list[dict]:
    """The next `count` frames."""
    return [client.recv() for _ in range(count)]


# -------------------------------------------------------------------------------------------------
# 1-3. A reconnect's resubscribes past the command burst are all served
# -------------------------------------------------------------------------------------------------


def test_pysher_reconnect_resubscribes_100_channels_past_the_command_burst(fresh_server):
    """pysher resubscribes every channel at once when it reconnects; with `command_burst = 10` all but the first ten
    of its 100 resubscribes (Pusher's per-socket cap) are carried by the subscribe allowance, none refused."""
    server = fresh_server(limits_config(command_burst=10))
    channels = [unique(f"burst-{n}-") for n in range(100)]
    succeeded: dict[str, set] = {}
    errors = []
    messages = []
    lock = threading.Lock()
    client = pysher.Pusher(PUSHER["key"], custom_host="127.0.0.1", port=server.port, secure=False,
                           secret=PUSHER["secret"], log_level=logging.WARNING, reconnect_interval=1, auto_sub=True)
    established = []
    client.connection.bind("pusher:connection_established", lambda data: established.append(json.loads(data)["socket_id"]))
    client.connection.bind("pusher:error", lambda data: errors.append(data))
    client.connect()
    try:
        wait_until(lambda: established, message="pysher connected")
        first = established[0]

        def on_succeeded(data, channel):
            with lock:
                succeeded.setdefault(client.connection.socket_id, set()).add(channel)

        def on_error(data, channel):
            errors.append((channel, data))

        for channel in channels:
            handle = client.subscribe(channel)
            handle.bind("pusher_internal:subscription_succeeded", on_succeeded, channel)
            handle.bind("pusher:subscription_error", on_error, channel)
            handle.bind("news", lambda data, channel=channel: messages.append((channel, data)))
        # pysher binds a channel's handlers after sending its subscribe, so a fast reply may be lost: the server's own
        # count is what says the first connection holds all 100.
        api = pusher_api(server, PUSHER)
        wait_until(lambda: all(api.channel_info(c, ["subscription_count"]).get("subscription_count") == 1
                               for c in (channels[0], channels[-1])), message="the first subscriptions")

        # The network drops: pysher sees its socket fail, reconnects after `reconnect_interval` (1 s) and, with
        # `auto_sub`, sends a `pusher:subscribe` for every channel at once. (pysher's own `reconnect()` never
        # reconnects with websocket-client 1.9: it closes the socket and run_forever does not return.)
        client.connection.socket.sock.sock.shutdown(socket.SHUT_RDWR)
        wait_until(lambda: len(established) == 2, timeout=10, message="pysher reconnected")
        second = established[1]
        assert second != first
        wait_until(lambda: len(succeeded.get(second, ())) == 100 or errors, timeout=10,
                   message="100 resubscriptions confirmed")
        assert errors == [], errors
        assert succeeded[second] == set(channels)
        api.trigger(channels[-1], "news", {"n": 100})
        wait_until(lambda: messages, message="the message on the 100th channel")
        assert [(c, json.loads(d)) for c, d in messages] == [(channels[-1], {"n": 100})]
    finally:
        # As conftest's PysherClient.close: pysher's disconnect() closes through websocket-client, which (1.9) then
        # waits out its join timeout; ending the socket lets the connection thread finish at once.
        client.connection.needs_reconnect = False
        client.connection.disconnect_called = True
        raw = getattr(getattr(client.connection.socket, "sock", None), "sock", None)
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        client.connection.join(WAIT)


def test_pusher_socket_resubscribing_150_channels_is_held_to_its_100_channel_cap_not_refused_for_rate(server):
    """A Pusher socket holds at most 100 channels whatever the plan (MAIN: enterprise): of 150 subscribes sent at once
    the first 100 succeed, in order, and the 101st on are refused for that cap (429, then 4100 naming the channel),
    never for rate (4300); the 21st such refusal spends `max_refusals` and the socket is closed with 4100."""
    channels = [unique(f"burst150-{n}-") for n in range(150)]
    with PusherWS(server) as client:
        send_all(client.ws, ({"event": "pusher:subscribe", "data": {"channel": c}} for c in channels))
        frames, code = frames_until_close(client)
    assert [(f["event"], f.get("channel")) for f in frames[:100]] == [
        ("pusher_internal:subscription_succeeded", c) for c in channels[:100]]
    refusals = frames[100:-1]
    cap = "a connection may hold 100 subscriptions"
    assert refusals == [frame for c in channels[100:100 + len(refusals) // 2] for frame in (
        {"event": "pusher:subscription_error", "channel": c, "data": {"type": "LimitReached", "error": cap, "status": 429}},
        {"event": "pusher:error", "channel": c, "data": {"code": 4100, "message": cap}})], refusals[:4]
    assert len(refusals) // 2 in (21, 22), len(refusals)  # 20 refusals allowed (22: one refilled meanwhile)
    assert frames[-1] == {"event": "pusher:error", "data": {"code": 4100, "message": "too many refused messages; reconnect later"}}
    assert code == 4100


def test_pusher_socket_resubscribing_100_channels_after_spending_the_burst_gets_every_one(server):
    """A socket that spent 60 of its 100-frame burst then resubscribes 100 channels (the Pusher per-socket cap) at
    once: 60 of those go past the command burst, and all are served, in order, with the 100th live."""
    channels = [unique(f"burst100-{n}-") for n in range(100)]
    with PusherWS(server) as client:
        send_all(client.ws, [{"event": "pusher:ping", "data": {}}] * 60
                 + [{"event": "pusher:subscribe", "data": {"channel": c}} for c in channels])
        replies = frames_of(client, 160)
        assert [r["event"] for r in replies[:60]] == ["pusher:pong"] * 60
        assert [(r["event"], r.get("channel")) for r in replies[60:]] == [
            ("pusher_internal:subscription_succeeded", c) for c in channels]
        pusher_api(server).trigger(channels[-1], "news", {"n": 100})
        frame = client.recv()
        assert frame["event"] == "news" and frame["channel"] == channels[-1] and json.loads(frame["data"]) == {"n": 100}


def test_jsonaction_150_subscribes_sent_at_once_are_all_subscribed(server):
    """A JSON-action client resubscribing 150 channels (MAIN: enterprise, 1,000 a connection) gets `subscribed` for
    each, in order, and a publish to the last one reaches it."""
    channels = [unique(f"burst-ja-{n}-") for n in range(150)]
    with WSClient(server) as client:
        send_all(client.ws, ({"action": "subscribe", "channel": c} for c in channels))
        replies = frames_of(client, 150)
        assert [(r["event"], r.get("channel")) for r in replies] == [("subscribed", c) for c in channels], \
            [r for r in replies if r["event"] != "subscribed"][:3]
        publish(server, channels[-1], {"n": 150})
        frame = client.recv()
        assert frame["event"] == "realtime.message" and frame["channel"] == channels[-1], frame
        assert frame["data"] == {"n": 150}
        client.assert_alive()


def test_jwt_400_subscribes_sent_at_once_past_the_300_burst_each_get_a_reply_and_stay_connected(server):
    """400 subscribe commands sent at once, as four newline-separated frames of 100 (the most one frame may hold),
    past the JWT burst of 300: each gets a subscribe reply, the connection is not ended with 3013 and a publication
    on the 400th arrives."""
    channels = [unique(f"burst-jwt-{n}-") for n in range(400)]
    with ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT, close_timeout=2,
                    max_size=None, max_queue=None) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": jwt_token()}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        commands = [json.dumps({"id": n + 2, "subscribe": {"channel": c}}) for n, c in enumerate(channels)]
        for start in range(0, 400, 100):
            ws.send("\n".join(commands[start:start + 100]))
        replies = {}
        deadline = time.monotonic() + 10
        while len(replies) < 400:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{len(replies)} of 400 subscribe replies"
            try:
                text = ws.recv(timeout=remaining)
            except websockets.exceptions.ConnectionClosed as closed:
                raise AssertionError(f"closed with {closed.rcvd and closed.rcvd.code} after {len(replies)} replies")
            for line in filter(str.strip, text.splitlines()):
                frame = json.loads(line)
                replies[frame["id"]] = frame
        assert sorted(replies) == list(range(2, 402))
        failed = [r for r in replies.values() if "subscribe" not in r]
        assert failed == [], failed[:3]
        publish(server, channels[-1], {"n": 400})
        pushed = [json.loads(line) for line in ws.recv(timeout=WAIT).splitlines() if line.strip()]
        assert [(p["push"]["channel"], p["push"]["pub"]["data"]) for p in pushed] == [(channels[-1], {"n": 400})], pushed
        ws.send(json.dumps({"id": 500, "ping": {}}))
        assert json.loads(ws.recv(timeout=WAIT)) == {"id": 500, "ping": {}}


def test_jwt_400_subscribes_with_no_subscribe_allowance_disconnect_with_3013(fresh_server):
    """The control for the test above: with `subscribe_burst = 0` the fourth frame of 100 subscribes is past the JWT
    burst of 300 and the connection is ended with 3013."""
    server = fresh_server(limits_config(subscribe_burst=0))
    with ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT, close_timeout=2,
                    max_size=None, max_queue=None) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": jwt_token()}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        commands = [json.dumps({"id": n + 2, "subscribe": {"channel": unique(f"burst-jwt0-{n}-")}}) for n in range(400)]
        for start in range(0, 400, 100):
            ws.send("\n".join(commands[start:start + 100]))
        replies = 0
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                replies += sum(1 for line in ws.recv(timeout=max(0.01, deadline - time.monotonic())).splitlines() if line.strip())
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 3013, closed.value
        assert 300 <= replies < 400, replies


class _Events(ClientEventHandler):
    def __init__(self):
        self.disconnected = []
        self.connecting = []

    async def on_disconnected(self, ctx):
        self.disconnected.append(ctx)

    async def on_connecting(self, ctx):
        self.connecting.append(ctx)


class _SubEvents(SubscriptionEventHandler):
    def __init__(self, publications: asyncio.Queue):
        self.publications = publications

    async def on_publication(self, ctx):
        self.publications.put_nowait(ctx)


def test_centrifuge_client_with_400_subscriptions_gets_every_one_and_stays_connected(server):
    """centrifuge-python subscribing 400 channels at once (past the JWT burst of 300): each subscription becomes
    subscribed, the client is never disconnected, and a publication on the 400th reaches it."""
    channels = [unique(f"burst-cf-{n}-") for n in range(400)]

    async def main():
        events = _Events()
        client = Client(f"{server.ws}/connection/websocket", token=jwt_token(), events=events, proxy=None, timeout=WAIT)
        await client.connect()
        await client.ready(timeout=WAIT)
        publications: asyncio.Queue = asyncio.Queue()
        subs = [client.new_subscription(c, events=_SubEvents(publications)) for c in channels]
        await asyncio.gather(*(s.subscribe() for s in subs))
        await asyncio.wait_for(asyncio.gather(*(s.ready(timeout=10) for s in subs)), 15)
        assert events.disconnected == []
        await asyncio.to_thread(publish, server, channels[-1], {"n": 400})
        ctx = await asyncio.wait_for(publications.get(), WAIT)
        assert ctx.pub.data == {"n": 400}
        assert events.disconnected == [] and [ctx.code for ctx in events.connecting] == [0], events.connecting
        await client.disconnect()

    asyncio.run(asyncio.wait_for(main(), 45))


def test_centrifuge_client_with_400_subscriptions_and_no_subscribe_allowance_is_disconnected_with_3013(fresh_server):
    """The control for the test above: with `subscribe_burst = 0` the same 400 subscriptions overrun the JWT burst
    and the client is disconnected with 3013, so the allowance is what carried them."""
    server = fresh_server(limits_config(subscribe_burst=0))
    channels = [unique(f"burst-cf0-{n}-") for n in range(400)]

    async def main():
        events = _Events()
        client = Client(f"{server.ws}/connection/websocket", token=jwt_token(), events=events, proxy=None, timeout=WAIT)
        await client.connect()
        await client.ready(timeout=WAIT)
        subs = [client.new_subscription(c) for c in channels]
        await asyncio.gather(*(s.subscribe() for s in subs))
        deadline = time.monotonic() + 10
        while not [ctx for ctx in events.connecting if ctx.code == 3013] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [ctx.code for ctx in events.connecting][:2] == [0, 3013], events.connecting
        await client.disconnect()

    asyncio.run(asyncio.wait_for(main(), 45))


# -------------------------------------------------------------------------------------------------
# 4. The allowance is for subscribes only
# -------------------------------------------------------------------------------------------------


def test_pusher_pings_past_the_command_burst_are_refused_with_4300_and_the_socket_closed_with_4100(server):
    """150 pings at once: the burst's 100 (and what the rate refills meanwhile) get pongs, the rest `pusher:error`
    4300 naming no channel, and the refusal past `max_refusals` (20) closes the socket with 4100, as the README's
    limits table says; the subscribe allowance, full, carries none of them."""
    with PusherWS(server) as client:
        send_all(client.ws, [{"event": "pusher:ping", "data": {}}] * 150)
        frames, code = frames_until_close(client)
    # The burst's 100 pongs come first; a ping the rate refilled meanwhile may be answered among the refusals.
    assert frames[:100] == [{"event": "pusher:pong", "data": {}}] * 100, frames[:100]
    late_pongs = [f for f in frames[100:-1] if f["event"] == "pusher:pong"]
    refused = [f for f in frames[100:-1] if f["event"] != "pusher:pong"]
    assert len(late_pongs) <= 5, len(late_pongs)
    assert len(refused) in (21, 22), len(refused)  # 20 refusals allowed (22: one refilled meanwhile)
    assert refused == [{"event": "pusher:error", "data": {"code": 4300, "message": "more than 50 messages per second"}}] \
        * len(refused), refused
    assert frames[-1] == {"event": "pusher:error", "data": {"code": 4100, "message": "too many refused messages; reconnect later"}}
    assert code == 4100


def test_jsonaction_pings_past_the_command_burst_are_rate_limited_and_the_connection_closed_with_1008(server):
    """150 pings at once: about 100 pongs, then `rate_limited` naming no channel, and the refusal past
    `max_refusals` (20) closes the connection with 1008; the subscribe allowance carries none of them."""
    with WSClient(server) as client:
        send_all(client.ws, [{"action": "ping"}] * 150)
        frames, code = frames_until_close(client)
    assert [f["event"] for f in frames[:100]] == ["pong"] * 100, frames[:100]
    late_pongs = [f for f in frames[100:-1] if f["event"] == "pong"]
    refused = [f for f in frames[100:-1] if f["event"] != "pong"]
    assert len(late_pongs) <= 5, len(late_pongs)
    assert len(refused) in (21, 22), len(refused)  # 20 refusals allowed (22: one refilled meanwhile)
    assert [(f["event"], f["data"], f.get("channel")) for f in refused] == [
        ("error", {"code": "rate_limited", "message": "more than 50 commands per second"}, None)] * len(refused), refused
    assert (frames[-1]["event"], frames[-1]["data"]["code"]) == ("error", "bad_request"), frames[-1]
    assert code == 1008


def test_unsubscribes_past_the_command_burst_are_refused_though_subscribes_are_not(fresh_server):
    """With `commands_per_second = 1`, `command_burst = 5`: 5 subscribes spend the burst, then 5 unsubscribes are
    refused with 4300 (the allowance is not theirs) while 5 more subscribes still succeed."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=5))
    channels = [unique(f"unsub-{n}-") for n in range(10)]
    with PusherWS(server) as client:
        send_all(client.ws, [{"event": "pusher:subscribe", "data": {"channel": c}} for c in channels[:5]]
                 + [{"event": "pusher:unsubscribe", "data": {"channel": c}} for c in channels[:5]]
                 + [{"event": "pusher:subscribe", "data": {"channel": c}} for c in channels[5:]])
        replies = frames_of(client, 15)
    assert [(r["event"], r.get("channel")) for r in replies[:5]] == [
        ("pusher_internal:subscription_succeeded", c) for c in channels[:5]]
    assert [(r["event"], r["data"]["code"]) for r in replies[5:10]] == [("pusher:error", 4300)] * 5, replies[5:10]
    assert [(r["event"], r.get("channel")) for r in replies[10:]] == [
        ("pusher_internal:subscription_succeeded", c) for c in channels[5:]]


# -------------------------------------------------------------------------------------------------
# 5-6. Subscribes past both allowances are refused, naming the channel
# -------------------------------------------------------------------------------------------------


def pusher_subscribe_burst(server, channels) -> tuple[list[str], list[str], list[dict]]:
    """Sends a `pusher:subscribe` for each channel at once; returns the channels that succeeded, the channels refused
    with `subscription_error` 429, and the `pusher:error` frames that followed those."""
    succeeded, refused, errors = [], [], []
    with PusherWS(server) as client:
        send_all(client.ws, ({"event": "pusher:subscribe", "data": {"channel": c}} for c in channels))
        while len(succeeded) + len(refused) < len(channels):
            frame = client.recv()
            if frame["event"] == "pusher_internal:subscription_succeeded":
                succeeded.append(frame["channel"])
            elif frame["event"] == "pusher:subscription_error":
                assert frame["data"]["status"] == 429, frame
                assert frame["data"]["type"] == "LimitReached", frame
                refused.append(frame["channel"])
                error = client.recv()
                assert error["event"] == "pusher:error" and error.get("channel") == frame["channel"], error
                errors.append(error)
            else:
                raise AssertionError(f"unexpected {frame}")
        time.sleep(1.1)  # one command token back (commands_per_second = 1)
        client.assert_alive()  # 20 or fewer refusals: under max_refusals, the socket stays
    return succeeded, refused, errors


def jsonaction_subscribe_burst(server, channels) -> tuple[list[str], list[dict]]:
    """Sends a `subscribe` for each channel at once; returns the channels subscribed and the error frames."""
    subscribed, errors = [], []
    with WSClient(server) as client:
        send_all(client.ws, ({"action": "subscribe", "channel": c} for c in channels))
        for _ in channels:
            frame = client.recv()
            if frame["event"] == "subscribed":
                subscribed.append(frame["channel"])
            else:
                assert frame["event"] == "error", frame
                errors.append(frame)
        time.sleep(1.1)
        client.assert_alive()
    return subscribed, errors


def test_pusher_subscribes_past_command_burst_with_no_subscribe_allowance_get_subscription_error_429(fresh_server):
    """`subscribe_burst = 0`, `command_burst = 5`: the 6th..15th subscribes of a burst each get
    `pusher:subscription_error` 429 and `pusher:error` 4300 naming the channel."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=5, subscribe_burst=0))
    channels = [unique(f"zero-{n}-") for n in range(15)]
    succeeded, refused, errors = pusher_subscribe_burst(server, channels)
    assert succeeded == channels[:5]
    assert refused == channels[5:]
    assert [(e["data"]["code"], e["channel"]) for e in errors] == [(4300, c) for c in channels[5:]]


def test_jsonaction_subscribes_past_command_burst_with_no_subscribe_allowance_are_rate_limited_naming_the_channel(
        fresh_server):
    """`subscribe_burst = 0`, `command_burst = 5`: the 6th..15th subscribes each get `rate_limited` with `channel`."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=5, subscribe_burst=0))
    channels = [unique(f"zero-ja-{n}-") for n in range(15)]
    subscribed, errors = jsonaction_subscribe_burst(server, channels)
    assert subscribed == channels[:5]
    assert [(e["data"]["code"], e.get("channel")) for e in errors] == [("rate_limited", c) for c in channels[5:]]


def test_pusher_burst_of_40_subscribes_gets_command_burst_plus_subscribe_burst(fresh_server):
    """`command_burst = 5`, `subscribe_burst = 20` (rate 1/s, so nothing refills meanwhile): of 40 subscribes at once
    the first 25 succeed and the last 15 get `subscription_error` 429 naming their channel."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=5, subscribe_burst=20))
    channels = [unique(f"b40-{n}-") for n in range(40)]
    succeeded, refused, errors = pusher_subscribe_burst(server, channels)
    assert succeeded == channels[:25]
    assert refused == channels[25:]
    assert [(e["data"]["code"], e["channel"]) for e in errors] == [(4300, c) for c in channels[25:]]


def test_jsonaction_burst_of_40_subscribes_gets_command_burst_plus_subscribe_burst(fresh_server):
    """`command_burst = 5`, `subscribe_burst = 20` (rate 1/s): of 40 subscribes at once the first 25 are subscribed
    and the last 15 get `rate_limited` naming their channel."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=5, subscribe_burst=20))
    channels = [unique(f"b40-ja-{n}-") for n in range(40)]
    subscribed, errors = jsonaction_subscribe_burst(server, channels)
    assert subscribed == channels[:25]
    assert [(e["data"]["code"], e.get("channel")) for e in errors] == [("rate_limited", c) for c in channels[25:]]


# -------------------------------------------------------------------------------------------------
# A frame past the command rate is read only when it can be a subscribe: 16 KB at most

PADDING = " " * (17 * 1024)  # JSON whitespace: the frame stays a valid subscribe, over 16 KB


def test_jsonaction_subscribe_over_16_kb_past_the_rate_is_refused_unread_though_one_within_the_rate_is_served(
        fresh_server):
    """`command_burst = 1`, `subscribe_burst = 20`: a padded subscribe of 17 KB sent first is within the burst and
    served; the same past the rate is refused `rate_limited` without its channel (it was not parsed); a small
    subscribe after it draws on the allowance and is served."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=1, subscribe_burst=20))
    first, padded, small = unique("pad-ja-"), unique("pad-ja-late-"), unique("pad-ja-small-")
    with WSClient(server) as client:
        client.ws.send('{"action":"subscribe","channel":"%s"%s}' % (first, PADDING))
        client.ws.send('{"action":"subscribe","channel":"%s"%s}' % (padded, PADDING))
        client.ws.send(json.dumps({"action": "subscribe", "channel": small}))
        replies = frames_of(client, 3)
        time.sleep(1.1)  # one command token back (commands_per_second = 1)
        client.assert_alive()
    assert (replies[0]["event"], replies[0]["channel"]) == ("subscribed", first), replies[0]
    assert (replies[1]["event"], replies[1]["data"]["code"], replies[1].get("channel")) == ("error", "rate_limited", None)
    assert (replies[2]["event"], replies[2]["channel"]) == ("subscribed", small), replies[2]


def test_pusher_subscribe_over_16_kb_past_the_rate_gets_4300_without_a_channel_though_one_within_the_rate_is_served(
        fresh_server):
    """The same on a Pusher socket: the padded `pusher:subscribe` within the burst succeeds; past the rate it gets
    `pusher:error` 4300 naming no channel and no `subscription_error`; a small one after it succeeds."""
    server = fresh_server(limits_config(commands_per_second=1, command_burst=1, subscribe_burst=20))
    first, padded, small = unique("pad-p-"), unique("pad-p-late-"), unique("pad-p-small-")
    with PusherWS(server) as client:
        client.ws.send('{"event":"pusher:subscribe","data":{"channel":"%s"}%s}' % (first, PADDING))
        client.ws.send('{"event":"pusher:subscribe","data":{"channel":"%s"}%s}' % (padded, PADDING))
        client.ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": small}}))
        replies = frames_of(client, 3)
        time.sleep(1.1)  # one command token back (commands_per_second = 1)
        client.assert_alive()
    assert (replies[0]["event"], replies[0]["channel"]) == ("pusher_internal:subscription_succeeded", first)
    assert replies[1]["event"] == "pusher:error" and replies[1]["data"]["code"] == 4300, replies[1]
    assert replies[1].get("channel") is None, replies[1]
    assert (replies[2]["event"], replies[2]["channel"]) == ("pusher_internal:subscription_succeeded", small)
