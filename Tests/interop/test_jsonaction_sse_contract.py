"""The parts of the JSON-action, SSE and cross-protocol contracts that test_jsonaction.py and test_sse.py leave open.

Clients: `websockets` (sync client) for JSON-action, httpx for REST and raw SSE lines, httpx-sse and sseclient-py for
SSE events (also over HTTP/2), the official `pusher` server library and `pysher` for the Pusher side, centrifuge-python
for the JWT side. See PROTOCOLS.md, "App resolution", "Cross-protocol rules", "JSON-action protocol" and "Server-Sent Events".
"""

import asyncio
import json
import queue
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from centrifuge import Client as CentrifugeClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from conftest import (
    ALLOWED_ORIGIN,
    BINARY,
    CONFIG,
    DISABLED,
    MAIN,
    OTHER,
    PUSHER,
    WAIT,
    PusherWS,
    PysherClient,
    SSEStream,
    WSClient,
    channel_token,
    connection_token,
    expect_error,
    next_event,
    now_ms,
    publish,
    pusher_api,
    rest,
    sign_jwt,
    start_server,
    unique,
    wait_for_event,
    wait_until,
)


def cursor(text: str) -> dict:
    """Parses an `id:` cursor `A=1;B=2` (channel names here need no escaping)."""
    return {name: int(seq) for name, seq in (part.split("=", 1) for part in text.split(";") if part)}


def members(server, channel, app=MAIN) -> list:
    r = rest(server, "GET", "presence/members", app=app, params={"channel": channel})
    assert r.status_code == 200, r.text
    return r.json()["members"]


def rest_channels(server, app=MAIN) -> set:
    r = rest(server, "GET", "channels", app=app)
    assert r.status_code == 200, r.text
    return set(r.json()["channels"])


def realtime_publish(server, channel, data, app=MAIN) -> None:
    """`POST /api/realtime/publish`, the JWT protocol's publish with no event name."""
    r = httpx.post(f"{server.http}/api/realtime/publish", headers={"X-API-Key": app["secret"]},
                   json={"channel": channel, "data": data}, timeout=WAIT)
    assert r.status_code == 200, r.text


def centrifuge_publish(server, channel, data, app=MAIN) -> None:
    """Publishes from a real centrifuge-python client (the JWT protocol, which has no event names)."""

    async def main():
        token = sign_jwt({"sub": "jwt-user", "exp": int(time.time()) + 600}, app["secret"])
        url = f"{server.ws}/connection/websocket?key={app['key']}"
        client = CentrifugeClient(url, token=token, proxy=None, timeout=WAIT)
        await client.connect()
        subscription = client.new_subscription(channel)
        await subscription.subscribe()
        await subscription.ready(timeout=WAIT)
        await subscription.publish(data)
        await client.disconnect()

    asyncio.run(asyncio.wait_for(main(), 30))


class RawSSE:
    """An SSE response read line by line with plain httpx on a background thread, for what event parsers hide
    (whether an `event:` line is there, the exact `data:` text, comment lines and when they arrived).

    `blocks` holds the blank-line separated blocks after the opening one; `comments` holds (monotonic time, line).
    """

    def __init__(self, server, channels, key=MAIN["key"], read_timeout: float = WAIT):
        params = [("channel", c) for c in channels] + ([("key", key)] if key else [])
        self.client = httpx.Client(timeout=httpx.Timeout(read_timeout))
        self._cm = self.client.stream("GET", f"{server.http}/sse", params=params)
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self.opened = time.monotonic()
        self.blocks: queue.Queue = queue.Queue()
        self.comments: list = []
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        current, opening = [], True
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments.append((time.monotonic(), line))
                    continue
                if line:
                    current.append(line)
                    continue
                if current and not opening:
                    self.blocks.put(current)
                opening = opening and not current
                current = []
        except Exception:  # closed under us
            pass

    def next(self, timeout: float = WAIT) -> list:
        try:
            return self.blocks.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no SSE event within {timeout}s") from None

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------
# JSON-action frames
# ---------------------------------------------------------------------------------------------


def test_every_server_frame_carries_an_integer_millisecond_ts(server):
    channel = unique("ts:")
    before = now_ms()
    with WSClient(server) as client, WSClient(server) as peer:
        frames = [client.connected, client.subscribed(channel)]
        publish(server, channel, {"n": 1}, name="named", userId="ann")
        frames.append(client.recv())
        peer.send({"action": "presence:join", "channel": channel, "userId": "pat", "metadata": {"v": 1}})
        frames.append(client.recv())
        peer.send({"action": "presence:update", "channel": channel, "metadata": {"v": 2}})
        frames.append(client.recv())
        peer.send({"action": "presence:leave", "channel": channel})
        leave = client.recv()
        frames.append(leave)
        client.send({"action": "ping"})
        frames.append(client.recv())
        client.send({"action": "unsubscribe", "channel": channel})
        frames.append(client.recv())
        client.send({"action": "teleport"})
        frames.append(expect_error(client, "bad_request"))
    with WSClient(server) as late:
        frames.append(late.subscribed(channel, lastEventId=0))
        replayed = late.recv()
        frames.append(replayed)
    assert [f["event"] for f in frames] == [
        "connected", "subscribed", "realtime.message", "presence.join", "presence.update", "presence.leave", "pong",
        "unsubscribed", "error", "subscribed", "realtime.message"]
    for frame in frames:
        assert type(frame["ts"]) is int and before - 1000 <= frame["ts"] <= now_ms() + 1000, frame
    # The leave names the member and the metadata it had, like the other presence frames.
    assert (leave["userId"], leave["metadata"], leave["channel"]) == ("pat", {"v": 2}, channel)
    assert replayed["seq"] == 1 and replayed["data"] == {"n": 1}


def test_replayed_messages_are_the_same_frames_live_subscribers_got(server):
    channel = unique("replay-same:")
    with WSClient(server) as live, WSClient(server) as writer:
        live.subscribed(channel)
        publish(server, channel, {"a": 1}, name="evt", userId="ann")
        publish(server, channel, [2])
        writer.send({"action": "publish", "channel": channel, "data": "three", "userId": "wes", "name": "ws.evt"})
        live_frames = [live.recv() for _ in range(3)]
    assert [f["seq"] for f in live_frames] == [1, 2, 3]
    with WSClient(server) as late:
        late.subscribed(channel, lastEventId=0)
        replayed = [late.recv() for _ in range(3)]
        late.assert_alive()
    # Event, channel, data, userId, seq, name and the original ts: a replayed message cannot be told from a live one.
    assert replayed == live_frames


def test_presence_channel_publish_needs_a_channel_token_and_goes_out_as_its_user(server):
    channel = unique("presence-pub")
    since = now_ms()
    with WSClient(server) as writer, WSClient(server) as reader:
        reader.subscribed(channel, token=channel_token(channel, sub="reader"))
        writer.send({"action": "publish", "channel": channel, "data": {"n": 1}})
        expect_error(writer, "unauthorized", channel)
        writer.send({"action": "publish", "channel": channel, "data": {"n": 2},
                     "token": channel_token(channel, sub="writer")})
        frame = reader.recv()  # the refused publish never reached the reader: the first message is the second one
        assert frame["event"] == "realtime.message" and frame["data"] == {"n": 2} and frame["userId"] == "writer", frame
    wait_for_event(server, "token_invalid", since, contains=channel)


# ---------------------------------------------------------------------------------------------
# Presence lifetime: heartbeats, connections, the 30 s default
# ---------------------------------------------------------------------------------------------


def presence_frame(client, kind: str, user: str, timeout: float = WAIT) -> dict:
    frame, _ = client.recv_until(lambda f: f["event"] == f"presence.{kind}" and f.get("userId") == user,
                                 timeout=timeout)
    return frame


def test_heartbeats_keep_a_server_join_and_an_open_connection_keeps_its_member_past_the_timeout(server):
    # The suite's server expires members after 3 s (its janitor sweeps every 5 s).
    channel = unique("heartbeat:")
    with WSClient(server) as watcher, WSClient(server) as connected:
        watcher.subscribed(channel)
        connected.send({"action": "presence:join", "channel": channel, "userId": "conn"})
        presence_frame(watcher, "join", "conn")
        for user in ("silent", "beating"):
            assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": user}).json()["changed"]
            presence_frame(watcher, "join", user)
        first_seen = {m["userId"]: m["lastSeen"] for m in members(server, channel)}
        joined = time.monotonic()
        # Heartbeat one server-side member (a join again, which changes nothing) until the silent one expires.
        while True:
            assert time.monotonic() - joined < 15, "the silent member never expired"
            beat = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "beating"})
            assert beat.json() == {"ok": True, "changed": False}
            try:
                frame = watcher.recv(timeout=0.5)
            except TimeoutError:
                continue
            assert (frame["event"], frame["userId"]) == ("presence.leave", "silent"), frame
            break
        # The sweep that expired `silent` also saw `conn`, which joined earlier and never heartbeats: it stayed.
        listed = {m["userId"]: m["lastSeen"] for m in members(server, channel)}
        assert sorted(listed) == ["beating", "conn"]
        assert listed["beating"] >= first_seen["beating"] + 2000, "a heartbeat did not move lastSeen"
        watcher.assert_alive()  # and nobody else left


DEFAULT_LIMITS_CONFIG = CONFIG.replace("sse_keepalive_seconds = 1\n", "").replace("presence_timeout_seconds = 3\n", "")


def test_by_default_sse_keepalives_come_every_15_s_and_silent_members_expire_after_30_s(fresh_server):
    assert DEFAULT_LIMITS_CONFIG != CONFIG
    server = fresh_server(DEFAULT_LIMITS_CONFIG)
    channel = unique("defaults:")
    with WSClient(server) as watcher, RawSSE(server, [unique("quiet:")], read_timeout=30) as stream:
        watcher.subscribed(channel)
        joined = time.monotonic()  # before the request: the server's lastSeen is no earlier
        assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": "idle"}).json()["changed"]
        presence_frame(watcher, "join", "idle")
        # The janitor sweeps every 5 s: the leave comes between 30 and ~36 s after the join.
        leave = presence_frame(watcher, "leave", "idle", timeout=50)
        expired_after = time.monotonic() - joined
        assert expired_after >= 30, f"expired after {expired_after:.1f}s, before the 30 s default"
        assert members(server, channel) == []
        keepalives = [at - stream.opened for at, line in stream.comments if line.startswith(": keepalive")]
    assert leave["channel"] == channel
    assert len(keepalives) >= 2, keepalives
    assert keepalives[0] >= 14, f"first keepalive after {keepalives[0]:.1f}s, not 15"
    assert all(later - earlier >= 14 for earlier, later in zip(keepalives, keepalives[1:])), keepalives
    assert keepalives[0] < 25, f"first keepalive after {keepalives[0]:.1f}s"


# ---------------------------------------------------------------------------------------------
# Cross-protocol: REST views of what other protocols hold
# ---------------------------------------------------------------------------------------------


def test_rest_channels_lists_channels_held_only_by_sse_or_pusher_subscribers(server):
    by_sse, by_pusher = unique("sse-held-"), unique("pusher-held-")
    with SSEStream(server, [by_sse], key=PUSHER["key"]) as stream, PysherClient(server) as pusher_client:
        assert stream.status_code == 200
        next_event(pusher_client.subscribe(by_pusher), "pusher_internal:subscription_succeeded")
        wait_until(lambda: {by_sse, by_pusher} <= rest_channels(server, app=PUSHER), message="both channels listed")
        assert not {by_sse, by_pusher} & rest_channels(server, app=MAIN)
    wait_until(lambda: not {by_sse, by_pusher} & rest_channels(server, app=PUSHER), message="both channels gone")


def test_rest_presence_members_lists_a_pusher_presence_member_with_its_user_info(server):
    channel = unique("presence-from-pusher-")
    before = now_ms()
    with PusherWS(server) as member:
        member.subscribed(channel, channel_data={"user_id": "pu1", "user_info": {"name": "Pia"}})
        listed = members(server, channel)
        assert [(m["userId"], m["metadata"]) for m in listed] == [("pu1", {"name": "Pia"})]
        assert before - 1000 <= listed[0]["lastSeen"] <= now_ms() + 1000
    wait_until(lambda: members(server, channel) == [], message="the pusher member to leave")


# ---------------------------------------------------------------------------------------------
# Cross-protocol: names and data
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["jsonaction_ws", "realtime_publish", "jwt_client"])
def test_unnamed_message_reaches_pusher_as_message_and_sse_without_an_event_line(server, source):
    channel = unique("unnamed-cross-")
    with PysherClient(server) as pusher_client, WSClient(server, key=PUSHER["key"]) as action, \
            RawSSE(server, [channel], key=PUSHER["key"]) as stream:
        events = pusher_client.subscribe(channel, events=["message"])
        next_event(events, "pusher_internal:subscription_succeeded")
        action.subscribed(channel)
        if source == "jsonaction_ws":
            with WSClient(server, key=PUSHER["key"]) as writer:
                writer.send({"action": "publish", "channel": channel, "data": {"n": 1}})
                writer.assert_alive()
        elif source == "realtime_publish":
            realtime_publish(server, channel, {"n": 1}, app=PUSHER)
        else:
            centrifuge_publish(server, channel, {"n": 1}, app=PUSHER)
        name, data = next_event(events, "message")
        assert json.loads(data) == {"n": 1}
        block = stream.next()
        assert [line.split(":", 1)[0] for line in block] == ["id", "data"], block  # no `event:` line
        assert block[0] == f"id: {channel}=1" and json.loads(block[1][len("data: "):]) == {"n": 1}
        frame = action.recv()
        assert frame["data"] == {"n": 1} and "name" not in frame and type(frame["ts"]) is int, frame


# What a Pusher-triggered `data` string becomes: (string sent, what JSON-action gets, the SSE data line).
PUSHER_STRINGS = {
    "json_array": ('[1, 2, {"a": 3}]', [1, 2, {"a": 3}], 'data: [1, 2, {"a": 3}]'),
    "json_object": ('{"k": "v"}', {"k": "v"}, 'data: {"k": "v"}'),
    "json_number": ("42", 42, "data: 42"),
    "plain_text": ("plain words", "plain words", 'data: "plain words"'),
    "looks_like_json": ("{not json", "{not json", 'data: "{not json"'),
}


@pytest.mark.parametrize("sent,as_json,sse_line", list(PUSHER_STRINGS.values()), ids=list(PUSHER_STRINGS))
def test_pusher_data_string_reaches_other_protocols_as_its_json_or_as_a_json_string(server, sent, as_json, sse_line):
    channel = unique("strings-")
    with PysherClient(server) as pusher_client, WSClient(server, key=PUSHER["key"]) as action, \
            RawSSE(server, [channel], key=PUSHER["key"]) as stream:
        events = pusher_client.subscribe(channel, events=["trigger"])
        next_event(events, "pusher_internal:subscription_succeeded")
        action.subscribed(channel)
        pusher_api(server, PUSHER).trigger(channel, "trigger", sent)
        frame = action.recv()
        assert frame["name"] == "trigger" and frame["data"] == as_json and type(frame["ts"]) is int, frame
        assert stream.next() == [f"id: {channel}=1", "event: trigger", sse_line]
        # Pusher clients get back the string that was sent.
        assert next_event(events, "trigger")[1] == sent


def test_pysher_client_events_reach_json_action_and_sse_with_their_name_and_data_mapped(server):
    channel = unique("private-typing-")
    with PysherClient(server) as pusher_client, WSClient(server, key=PUSHER["key"]) as action, \
            SSEStream(server, [channel], key=PUSHER["key"], token=connection_token([channel], app=PUSHER)) as stream:
        assert stream.status_code == 200
        next_event(pusher_client.subscribe(channel), "pusher_internal:subscription_succeeded")
        action.subscribed(channel, token=channel_token(channel, app=PUSHER))
        sent = [({"typing": True}, {"typing": True}), ('{"k": 1}', {"k": 1}), ("hello", "hello")]
        for data, _ in sent:
            pusher_client.trigger(channel, "client-typing", data)
        for _, expected in sent:
            frame = action.recv()
            assert frame["event"] == "realtime.message" and frame["name"] == "client-typing", frame
            assert frame["data"] == expected
            event = stream.next()
            assert event.event == "client-typing" and json.loads(event.data) == expected


def test_history_keeps_what_every_protocol_publishes_with_nobody_subscribed(server):
    channel = unique("empty-room-")
    pusher_api(server).trigger(channel, "from-pusher", {"p": 1})
    realtime_publish(server, channel, {"j": 1})
    with WSClient(server) as writer:  # publishes without subscribing
        writer.send({"action": "publish", "channel": channel, "data": {"w": 1}, "name": "from-ws"})
        writer.assert_alive()
    publish(server, channel, {"r": 1}, name="from-rest")

    def kept():
        return rest(server, "GET", "history", params={"channel": channel}).json()["messages"]

    wait_until(lambda: len(kept()) == 4, message="four kept messages")
    expected = [(1, {"p": 1}, "from-pusher"), (2, {"j": 1}, None), (3, {"w": 1}, "from-ws"), (4, {"r": 1}, "from-rest")]
    assert [(m["seq"], m["data"], m.get("name")) for m in kept()] == expected
    with WSClient(server) as late:
        assert late.subscribed(channel, lastEventId=0)["seq"] == 4
        assert [(f["seq"], f["data"], f.get("name")) for f in (late.recv() for _ in range(4))] == expected
    with SSEStream(server, [channel], last_event_id=f"{channel}=0") as resumed:
        events = resumed.take(4)
        assert [(cursor(e.id)[channel], json.loads(e.data), e.event) for e in events] == [
            (1, {"p": 1}, "from-pusher"), (2, {"j": 1}, "message"), (3, {"w": 1}, "from-ws"),
            (4, {"r": 1}, "from-rest")]


# ---------------------------------------------------------------------------------------------
# SSE: CORS, protected channels
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", ["httpx", "sseclient"])
def test_sse_of_an_app_without_origins_allows_any_origin(server, lib):
    origin = "https://anything.test"
    channel = unique("any-origin:")
    with SSEStream(server, [channel], key=OTHER["key"], lib=lib, headers={"Origin": origin}) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == origin
        publish(server, channel, {"open": True}, app=OTHER)
        assert json.loads(stream.next().data) == {"open": True}
    preflight = httpx.options(f"{server.http}/sse", params={"key": OTHER["key"]},
                              headers={"Origin": origin, "Access-Control-Request-Method": "GET"}, timeout=WAIT)
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == origin


def test_sse_presence_channel_needs_a_token_listing_it(server):
    channel = unique("presence-sse-")
    since = now_ms()
    with SSEStream(server, [channel]) as stream:
        assert stream.status_code == 401 and stream.body["error"]["code"] == "token_invalid"
    wait_for_event(server, "token_invalid", since, contains=channel)
    with SSEStream(server, [channel], token=connection_token([channel + "-other"])) as stream:
        assert stream.status_code == 403 and stream.body["error"]["code"] == "forbidden"
    with SSEStream(server, [channel], token=connection_token([channel])) as stream:
        assert stream.status_code == 200
        publish(server, channel, {"members": "only"})
        assert json.loads(stream.next().data) == {"members": "only"}


def test_the_opening_id_names_every_channels_position_so_a_drop_before_any_event_resumes_without_gap(server):
    a, b = unique("opening-a:"), unique("opening-b:")
    publish(server, a, {"a": 1})
    publish(server, a, {"a": 2})
    with SSEStream(server, [a, b]) as stream:
        # httpx-sse reports the opening block (`retry:`, `id:`, `: connected`) as an event with empty data.
        opening = wait_until(lambda: stream.opening and stream.opening[0].id, message="the opening block")
    assert cursor(opening) == {a: 2, b: 0}
    publish(server, b, {"b": 1})
    publish(server, a, {"a": 3})
    with SSEStream(server, [a, b], last_event_id=opening) as resumed:
        missed = resumed.take(2)
        assert sorted(json.dumps(json.loads(e.data), sort_keys=True) for e in missed) == ['{"a": 3}', '{"b": 1}']
        publish(server, b, {"b": 2})
        live = resumed.next()
        assert json.loads(live.data) == {"b": 2} and cursor(live.id) == {a: 3, b: 2}


def test_last_event_id_header_wins_over_the_last_event_id_query_an_eventsource_url_keeps(server):
    # A page opens `/sse?…&lastEventId=A=1`; when the stream drops, the EventSource reconnects to the same URL with
    # the newer `Last-Event-ID` header, which must win or the client gets what it already has again.
    channel = unique("header-wins:")
    for i in range(1, 5):
        publish(server, channel, {"i": i})
    params = {"key": MAIN["key"], "channel": channel, "lastEventId": f"{channel}=1"}
    with httpx.Client(timeout=WAIT) as client, client.stream("GET", f"{server.http}/sse", params=params,
                                                             headers={"Last-Event-ID": f"{channel}=3"}) as response:
        assert response.status_code == 200
        first = next(line for line in response.iter_lines() if line.startswith("data: "))
    assert json.loads(first[len("data: "):]) == {"i": 4}


@pytest.mark.parametrize("name", ["presence.join", "presence.update", "presence.leave", "unauthorized"])
def test_a_message_named_like_the_streams_own_events_never_reaches_sse_as_one(server, name):
    # Those names are the server's: a publisher must not make a stream announce a member or end its token.
    channel = unique("spoof:")
    with SSEStream(server, [channel]) as stream, WSClient(server) as witness:
        witness.subscribed(channel)
        publish(server, channel, {"channel": channel, "userId": "admin", "metadata": None}, name=name)
        with WSClient(server) as writer:
            writer.send({"action": "publish", "channel": channel, "data": {"code": "token_expired"}, "name": name})
            writer.assert_alive()
        # Other protocols still get them under their name; the next event on the stream is the marker.
        assert [witness.recv()["name"] for _ in range(2)] == [name, name]
        publish(server, channel, {"marker": True})
        event = stream.next()
        assert (event.event, json.loads(event.data)) == ("message", {"marker": True}), (event.event, event.data)
        assert cursor(event.id) == {channel: 3}


# ---------------------------------------------------------------------------------------------
# App resolution by Host, with no default app
# ---------------------------------------------------------------------------------------------


def with_hosts(config: str) -> str:
    """`config` without `default_app`, and with hosts for MAIN, OTHER and DISABLED."""
    text = config.replace(f'default_app = "{MAIN["id"]}"\n', "")
    assert text != config
    for app, host in ((MAIN, "main.example.test"), (OTHER, "other.example.test"), (DISABLED, "disabled.example.test")):
        text = text.replace(f'secret = "{app["secret"]}"', f'secret = "{app["secret"]}"\nhosts = ["{host}"]')
    return text


@pytest.fixture(scope="module")
def hosted():
    """A server whose apps are found by Host and that has no default app."""
    server = start_server(with_hosts(CONFIG))
    yield server
    assert server.stop() == 0


def ws_as_host(server, host: str, key: str | None = None, origin: str | None = None):
    """A JSON-action client that sends `Host: host:port` (the socket still goes to the loopback server)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    uri = f"ws://{host}:{server.port}/_rt/ws" + (f"?key={key}" if key else "")
    return ws_connect(uri, sock=sock, origin=origin, proxy=None, open_timeout=WAIT, close_timeout=2)


def sse_as_host(server, host: str, channel: str, key: str | None = None, origin: str | None = None) -> httpx.Response:
    """The status and body of an SSE request with `Host: host` (read to the end only when it is refused)."""
    params = [("channel", channel)] + ([("key", key)] if key else [])
    headers = {"Host": host, **({"Origin": origin} if origin else {})}
    with httpx.Client(timeout=WAIT) as client, client.stream("GET", f"{server.http}/sse", params=params,
                                                             headers=headers) as response:
        if response.status_code != 200:
            response.read()
        return response


def refusal_of(server, protocol: str, host: str, key=None, origin=None) -> tuple[int, dict]:
    if protocol == "ws":
        with pytest.raises(InvalidStatus) as caught:
            ws_as_host(server, host, key=key, origin=origin).__enter__()
        return caught.value.response.status_code, json.loads(caught.value.response.body)
    response = sse_as_host(server, host, unique("x:"), key=key, origin=origin)
    return response.status_code, response.json()


@pytest.mark.parametrize("protocol", ["ws", "sse"])
def test_a_key_that_names_no_app_is_404_even_when_the_host_names_one(hosted, protocol):
    since = now_ms()
    key = unique("pk_ghost_")
    status, body = refusal_of(hosted, protocol, "other.example.test", key=key)
    assert (status, body["error"]["code"]) == (404, "unknown_key")
    wait_for_event(hosted, "unknown_key", since, contains=key)


@pytest.mark.parametrize("protocol", ["ws", "sse"])
def test_without_key_matching_host_or_default_app_the_request_is_404_json(hosted, protocol):
    status, body = refusal_of(hosted, protocol, "nowhere.example.test")
    assert (status, body["error"]["code"]) == (404, "unknown_key")
    assert isinstance(body["error"]["message"], str)


@pytest.mark.parametrize("protocol", ["ws", "sse"])
def test_an_app_found_by_host_is_refused_when_disabled_or_when_the_origin_is_not_its_own(hosted, protocol):
    since = now_ms()
    status, body = refusal_of(hosted, protocol, "disabled.example.test")
    assert (status, body["error"]["code"]) == (403, "app_disabled")
    assert wait_for_event(hosted, "app_disabled", since)["app"] == DISABLED["id"]
    status, body = refusal_of(hosted, protocol, "main.example.test", origin="http://evil.example")
    assert (status, body["error"]["code"]) == (403, "origin_blocked")
    event = wait_for_event(hosted, "origin_blocked", since)
    assert (event["app"], event["origin"]) == (MAIN["id"], "http://evil.example")


def test_host_names_the_app_of_an_sse_stream_and_a_websocket_without_key(hosted):
    channel = unique("by-host:")
    with ws_as_host(hosted, "main.example.test", origin=ALLOWED_ORIGIN) as ws:
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "connected"
        ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "subscribed"
        params = {"channel": channel}
        with httpx.Client(timeout=WAIT) as client, client.stream(
                "GET", f"{hosted.http}/sse", params=params, headers={"Host": "other.example.test"}) as response:
            assert response.status_code == 200
            publish(hosted, channel, {"for": "other"}, app=OTHER)
            publish(hosted, channel, {"for": "main"}, app=MAIN)
            data = next(line for line in response.iter_lines() if line.startswith("data: "))
            assert json.loads(data[6:]) == {"for": "other"}
        assert json.loads(ws.recv(timeout=WAIT))["data"] == {"for": "main"}


def test_the_key_in_a_pusher_path_wins_over_a_key_query_and_the_host(hosted):
    channel = unique("path-key-")
    sock = socket.create_connection(("127.0.0.1", hosted.port), timeout=WAIT)
    uri = f"ws://main.example.test:{hosted.port}/app/{OTHER['key']}?protocol=7&client=interop&version=1&key={MAIN['key']}"
    with ws_connect(uri, sock=sock, proxy=None, open_timeout=WAIT, close_timeout=2) as ws:
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "pusher:connection_established"
        ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "pusher_internal:subscription_succeeded"
        publish(hosted, channel, {"for": "main"}, app=MAIN)
        publish(hosted, channel, {"for": "other"}, app=OTHER)
        frame = json.loads(ws.recv(timeout=WAIT))
        assert (frame["event"], json.loads(frame["data"])) == ("message", {"for": "other"})


# ---------------------------------------------------------------------------------------------
# SSE over HTTP/2
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def h2():
    """A server with a TLS listener (h2 and http/1.1 by ALPN) whose certificate comes from `switchboard dev-cert`."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-h2-"))
    certs = workdir / "certs"
    made = subprocess.run([str(BINARY), "dev-cert", "--out", str(certs)], capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    config = with_hosts(CONFIG) + f"""
[[listeners]]
address = "127.0.0.1"
port = 0
tls = {{ cert = "{certs / 'dev-cert.pem'}", key = "{certs / 'dev-key.pem'}" }}
"""
    server = start_server(config, workdir)
    https = wait_until(lambda: next((url for url in server.listeners(1) if url.startswith("https://")), None),
                       message="the TLS listener in the banner")
    options = {"http2": True, "verify": ssl.create_default_context(cafile=str(certs / "dev-cert.pem"))}
    yield server, https, options
    assert server.stop() == 0


def test_sse_over_http2_resumes_every_channel_from_last_event_id(h2):
    server, https, options = h2
    a, b = unique("h2-a:"), unique("h2-b:")
    with SSEStream(server, [a, b], base=https, client_options=options) as stream:
        assert stream.response.http_version == "HTTP/2"
        publish(server, a, {"a": 1})
        publish(server, b, {"b": 1})
        seen = stream.take(2)
    assert cursor(seen[-1].id) == {a: 1, b: 1}
    for channel, data in [(b, {"b": 2}), (a, {"a": 2}), (a, {"a": 3})]:
        publish(server, channel, data)
    with SSEStream(server, [a, b], base=https, client_options=options, last_event_id=seen[-1].id) as resumed:
        assert resumed.response.http_version == "HTTP/2"
        missed = resumed.take(3)
        assert sorted(json.dumps(json.loads(e.data), sort_keys=True) for e in missed) == [
            '{"a": 2}', '{"a": 3}', '{"b": 2}']
        assert cursor(missed[-1].id) == {a: 3, b: 2}
        publish(server, a, {"a": 4})
        live = resumed.next()
        assert json.loads(live.data) == {"a": 4} and cursor(live.id) == {a: 4, b: 2}


def test_sse_over_http2_finds_the_app_by_authority_and_answers_cors(h2):
    server, https, options = h2
    channel = unique("h2-host:")
    # httpx sends the Host header as HTTP/2's :authority; the dev certificate is for 127.0.0.1.
    with SSEStream(server, [channel], key=None, base=https, client_options=options,
                    headers={"Host": "other.example.test", "Origin": "https://anything.test"}) as stream:
        assert stream.status_code == 200 and stream.response.http_version == "HTTP/2"
        assert stream.headers["access-control-allow-origin"] == "https://anything.test"
        publish(server, channel, {"for": "main"}, app=MAIN)
        publish(server, channel, {"for": "other"}, app=OTHER)
        assert json.loads(stream.next().data) == {"for": "other"}
    with SSEStream(server, [channel], key=None, base=https, client_options=options,
                    headers={"Host": "main.example.test", "Origin": "https://evil.example.net"}) as stream:
        assert stream.status_code == 403 and stream.body["error"]["code"] == "origin_blocked"


# ---------------------------------------------------------------------------------------------
# Fields of the wrong type are refused, never read as absent
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"permissions": "subscribe"},
    {"permissions": ["subscribe", 1]},
    {"userId": 42},
    {"expiresIn": 60.5},
    {"expiresIn": "soon"},
], ids=["permissions_not_a_list", "permissions_not_strings", "user_id_not_a_string", "expires_in_fraction",
        "expires_in_not_a_number"])
def test_rest_tokens_refuse_a_field_of_the_wrong_type_instead_of_minting_a_wider_token(server, fields):
    # Read as absent, each would mint more than was asked: both permissions, no subject, or an hour of validity.
    r = rest(server, "POST", "tokens", json={"channel": unique("private-typed"), "userId": "u1", **fields})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("fields", [{"name": 5}, {"userId": ["bob"]}],
                         ids=["name_not_a_string", "user_id_not_a_string"])
def test_rest_publish_with_a_name_or_user_id_of_the_wrong_type_is_400_and_not_delivered(server, fields):
    channel = unique("typed:")
    with WSClient(server) as client:
        client.subscribed(channel)
        r = rest(server, "POST", "publish", json={"channel": channel, "data": 1, **fields})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "bad_request"
        client.assert_alive()


@pytest.mark.parametrize("fields", [{"name": 5}, {"userId": 7}, {"token": 1}],
                         ids=["name_not_a_string", "user_id_not_a_string", "token_not_a_string"])
def test_ws_publish_with_a_field_of_the_wrong_type_is_a_bad_request_and_not_delivered(server, fields):
    channel = unique("typed-ws:")
    with WSClient(server) as writer, WSClient(server) as reader:
        reader.subscribed(channel)
        writer.send({"action": "publish", "channel": channel, "data": {"x": 1}, **fields})
        expect_error(writer, "bad_request", channel)
        writer.assert_alive()
        reader.assert_alive()  # an unnamed or anonymous copy never went out


@pytest.mark.parametrize("params", [{"after": "abc"}, {"after": "-1"}, {"limit": "many"}],
                         ids=["after_not_a_number", "after_negative", "limit_not_a_number"])
def test_rest_history_with_an_unusable_after_or_limit_is_400(server, params):
    channel = unique("hist-typed:")
    publish(server, channel, {"i": 1})
    r = rest(server, "GET", "history", params={"channel": channel, **params})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("method,path,body", [
    ("POST", "presence/join", {"userId": "srv"}),
    ("POST", "presence/update", {"userId": "srv", "metadata": {"v": 2}}),
    ("POST", "presence/leave", {"userId": "srv"}),
    ("GET", "presence/members", None),
    ("GET", "history", None),
    ("POST", "tokens", {"userId": "u1"}),
])
def test_every_rest_endpoint_refuses_an_invalid_channel_name_as_publish_does(server, method, path, body):
    bad = "room with spaces"
    assert rest(server, "POST", "publish", json={"channel": bad, "data": {}}).status_code == 400
    if body is None:
        r = rest(server, method, path, params={"channel": bad})
    else:
        r = rest(server, method, path, json={"channel": bad, **body})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


def test_a_rest_presence_join_keeps_the_200_byte_user_id_bound_of_a_websocket_join(server):
    channel = unique("restpresence:")
    r = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "u" * 201})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"
    assert rest(server, "GET", "presence/members", params={"channel": channel}).json()["members"] == []
    with WSClient(server) as client:
        client.send({"action": "presence:join", "channel": channel, "userId": "u" * 201})
        expect_error(client, "bad_request", channel)
    longest = "u" * 200
    assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": longest}).json()["changed"]
    assert [m["userId"] for m in rest(server, "GET", "presence/members", params={"channel": channel}).json()["members"]] == [longest]
    assert rest(server, "POST", "presence/leave", json={"channel": channel, "userId": longest}).json()["changed"]


@pytest.mark.parametrize("path", ["presence/join", "presence/update"])
def test_rest_presence_metadata_over_the_limit_is_413_message_too_large_on_join_and_update(server, path):
    channel = unique("restpresence:")
    assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": "srv"}).status_code == 200
    r = rest(server, "POST", path, json={"channel": channel, "userId": "srv", "metadata": {"x": "y" * 3000}})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "message_too_large"


@pytest.mark.parametrize("path", ["presence/join", "presence/update", "presence/leave"])
def test_rest_presence_on_a_channel_without_presence_is_403_forbidden(server, path):
    r = rest(server, "POST", path, json={"channel": unique("nopresence:"), "userId": "srv", "metadata": {}})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"


def test_a_silent_server_side_member_is_not_listed_once_its_timeout_passed(server):
    """The test config's presence timeout is 3 s; the sweep that announces the leave runs every 5 s, and the member
    list must not wait for it."""
    channel = unique("restpresence:")
    assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": "silent"}).json()["changed"]
    listed = lambda: [m["userId"] for m in rest(server, "GET", "presence/members", params={"channel": channel}).json()["members"]]
    assert listed() == ["silent"]
    time.sleep(3.3)
    assert listed() == []


def test_rest_history_with_limit_zero_returns_no_message(server):
    channel = unique("hist-zero:")
    publish(server, channel, {"i": 1})
    r = rest(server, "GET", "history", params={"channel": channel, "limit": "0"})
    assert r.status_code == 200 and r.json()["messages"] == [], r.text


def test_a_last_event_id_written_as_a_whole_float_replays_after_that_number(server):
    channel = unique("hist-float:")
    for i in range(1, 4):
        publish(server, channel, {"i": i})
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "lastEventId": 2.0})
        assert client.recv()["event"] == "subscribed"
        assert client.recv()["data"] == {"i": 3}
        client.send({"action": "subscribe", "channel": unique("hist-float:"), "lastEventId": 2.5})
        expect_error(client, "bad_request")
