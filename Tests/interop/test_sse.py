"""Server-Sent Events (`GET /sse`) against a real server, read by real clients.

Clients: httpx-sse (over httpx) and sseclient-py (over a streamed `requests` response) for events, plain httpx
for the raw stream (comment lines, `event:` lines) and headers. See PROTOCOLS.md, "Server-Sent Events".
"""

import json
import socket
import threading
import time

import httpx
import pytest

from conftest import (
    ALLOWED_ORIGIN,
    CONFIG,
    DISABLED,
    MAIN,
    OTHER,
    WAIT,
    SSEStream,
    WSClient,
    admin_headers,
    connection_token,
    now_ms,
    publish,
    sign_jwt,
    unique,
    unsigned_jwt,
    wait_until,
    wait_for_event,
)

LIBS = ["httpx", "sseclient"]


def cursor(text: str) -> dict:
    """Parses an `id:` cursor `A=1;B=2` (channel names here need no escaping)."""
    return {name: int(seq) for name, seq in (part.split("=", 1) for part in text.split(";") if part)}


def raw_lines(server, params, headers=None, until=None, timeout=WAIT):
    """Reads raw lines of an SSE response with plain httpx until `until(lines)` is true; returns (response, lines)."""
    lines = []
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=httpx.Timeout(WAIT)) as client:
        with client.stream("GET", f"{server.http}/sse", params=params, headers=headers or {}) as response:
            for line in response.iter_lines():
                lines.append(line)
                if until(lines) or time.monotonic() > deadline:
                    break
    return response, lines


def blocks(lines) -> list[list[str]]:
    """The blank-line separated blocks of raw SSE lines."""
    result, current = [], []
    for line in lines:
        if line == "":
            result.append(current)
            current = []
        else:
            current.append(line)
    return result


# ---------------------------------------------------------------------------------------------
# The stream and its events
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", LIBS)
def test_sse_response_is_an_event_stream_that_is_not_cached(server, lib):
    with SSEStream(server, [unique("plain:")], lib=lib) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in stream.headers["cache-control"]


@pytest.mark.parametrize("lib", LIBS)
def test_rest_publish_reaches_sse_with_name_as_event_and_unnamed_as_message(server, lib):
    channel = unique("named:")
    with SSEStream(server, [channel], lib=lib) as stream:
        publish(server, channel, {"n": 1}, name="chat.message")
        publish(server, channel, {"n": 2})
        named, unnamed = stream.take(2)
        assert named.event == "chat.message"
        assert json.loads(named.data) == {"n": 1}
        assert unnamed.event == "message"
        assert json.loads(unnamed.data) == {"n": 2}
        assert cursor(named.id) == {channel: 1} and cursor(unnamed.id) == {channel: 2}


def test_unnamed_message_has_no_event_line_on_the_wire(server):
    channel = unique("wire:")

    def publish_when_open(lines):
        if lines[-1] == ": connected":
            publish(server, channel, {"plain": True})
            publish(server, channel, {"named": True}, name="shout")
        return lines.count("") >= 3  # the opening block, then two events

    response, lines = raw_lines(server, [("key", MAIN["key"]), ("channel", channel)], until=publish_when_open)
    assert response.status_code == 200
    events = blocks(lines)
    plain = next(e for e in events if '{"plain":true}' in e[-1])
    named = next(e for e in events if '{"named":true}' in e[-1])
    assert plain == [f"id: {channel}=1", 'data: {"plain":true}']
    assert named == [f"id: {channel}=2", "event: shout", 'data: {"named":true}']


PAYLOADS = {
    "object": '{"b":1,"a":{"z":[true,false,null]}}',
    "array": '[1,"two",3.5,{"four":4}]',
    "string": '"just a string"',
    "number": "-1.25e-7",
    "null": "null",
    "unicode": '{"text":"h\u00e9llo \u4e16\u754c \U0001F600"}',
    "escapes": '{"q":"\\"quoted\\" \\\\ back\\nline \\u00e9"}',
    "nested": '{"a":[{"b":[{"c":[{"d":{"e":[1,[2,[3,[4]]]]}}]}]}]}',
}


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("raw", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_published_data_reaches_sse_byte_for_byte(server, raw, lib):
    channel = unique("bytes:")
    with SSEStream(server, [channel], lib=lib) as stream:
        body = '{"channel":"%s","data":%s}' % (channel, raw)
        r = httpx.post(f"{server.http}/_rt/api/publish", content=body.encode(),
                       headers={"Authorization": f"Bearer {MAIN['secret']}", "Content-Type": "application/json"},
                       timeout=WAIT)
        assert r.status_code == 200, r.text
        assert stream.next().data == raw


@pytest.mark.parametrize("lib", LIBS)
def test_pretty_printed_json_spanning_lines_arrives_as_the_same_json(server, lib):
    channel = unique("lines:")
    pretty = '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "x"\n}'
    with SSEStream(server, [channel], lib=lib) as stream:
        body = '{"channel":"%s","data":%s}' % (channel, pretty)
        r = httpx.post(f"{server.http}/_rt/api/publish", content=body.encode(),
                       headers={"Authorization": f"Bearer {MAIN['secret']}"}, timeout=WAIT)
        assert r.status_code == 200
        assert stream.next().data == pretty  # one data: line per line, joined back with newlines


@pytest.mark.parametrize("lib", LIBS)
def test_ws_publish_reaches_an_sse_consumer_of_the_same_channel(server, lib):
    channel = unique("cross:")
    with SSEStream(server, [channel], lib=lib) as stream, WSClient(server) as client:
        client.send({"action": "publish", "channel": channel, "data": {"from": "ws"}, "name": "hello"})
        event = stream.next()
        assert event.event == "hello" and json.loads(event.data) == {"from": "ws"}
        client.send({"action": "publish", "channel": channel, "data": {"from": "ws", "unnamed": True}})
        event = stream.next()
        assert event.event == "message" and json.loads(event.data) == {"from": "ws", "unnamed": True}


def test_nohistory_channel_events_carry_no_id(server):
    channel = unique("nohistory:")

    def publish_when_open(lines):
        if lines[-1] == ": connected":
            publish(server, channel, {"x": 1})
        return lines.count("") >= 2

    _, lines = raw_lines(server, [("key", MAIN["key"]), ("channel", channel)], until=publish_when_open)
    assert blocks(lines)[1] == ['data: {"x":1}']


def test_a_nohistory_message_in_a_stream_with_a_cursor_carries_the_cursor_unchanged(server):
    """Every message carries `id:` once the stream has a position to name: one of a channel that keeps nothing names the
    other channels' positions as they stand, so the client's Last-Event-ID never goes back."""
    kept, unkept = unique("chat:sse-kept-"), unique("nohistory:")

    def publish_when_open(lines):
        if lines[-1] == ": connected":
            publish(server, kept, {"n": 1})
            publish(server, unkept, {"n": 2})
        return lines.count("") >= 3

    _, lines = raw_lines(server, [("key", MAIN["key"]), ("channel", kept), ("channel", unkept)], until=publish_when_open)
    first, second = blocks(lines)[1:3]
    assert first[0].startswith("id: ") and first[1:] == ['data: {"n":1}'], first
    assert second == [first[0], 'data: {"n":2}'], (first, second)


# ---------------------------------------------------------------------------------------------
# Multi-channel streams, the cursor and resuming
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", LIBS)
def test_multi_channel_stream_id_names_the_last_seq_of_every_channel(server, lib):
    a, b = unique("multi-a:"), unique("multi-b:")
    publish(server, a, {"old": 1})  # a already has history: its cursor starts at 1
    with SSEStream(server, [a, b], lib=lib) as stream:
        publish(server, b, {"b": 1})
        publish(server, a, {"a": 2})
        publish(server, b, {"b": 2})
        events = stream.take(3)
        assert [json.loads(e.data) for e in events] == [{"b": 1}, {"a": 2}, {"b": 2}]
        assert [cursor(e.id) for e in events] == [{a: 1, b: 1}, {a: 2, b: 1}, {a: 2, b: 2}]
        assert events[-1].id == f"{a}=2;{b}=2"


def test_duplicate_channel_parameters_are_one_subscription(server):
    channel = unique("dup:")
    with SSEStream(server, [channel, channel]) as stream:
        publish(server, channel, {"once": 1})
        publish(server, channel, {"once": 2})
        assert [json.loads(e.data) for e in stream.take(2)] == [{"once": 1}, {"once": 2}]


@pytest.mark.parametrize("lib", LIBS)
def test_resume_with_last_event_id_gets_exactly_the_missed_messages_in_order(server, lib):
    a, b = unique("resume-a:"), unique("resume-b:")
    with SSEStream(server, [a, b], lib=lib) as stream:
        publish(server, a, {"a": 1})
        publish(server, b, {"b": 1})
        publish(server, a, {"a": 2})
        seen = stream.take(3)
    last_id = seen[-1].id
    assert cursor(last_id) == {a: 2, b: 1}
    # Disconnected: both channels move on.
    for message in [(b, {"b": 2}), (a, {"a": 3}), (b, {"b": 3}), (a, {"a": 4})]:
        publish(server, *message)
    with SSEStream(server, [a, b], lib=lib, last_event_id=last_id) as resumed:
        missed = resumed.take(4)
        assert [json.loads(e.data) for e in missed] in (
            # Each channel's messages in order; the replay goes channel by channel.
            [{"a": 3}, {"a": 4}, {"b": 2}, {"b": 3}],
            [{"b": 2}, {"b": 3}, {"a": 3}, {"a": 4}],
        )
        assert cursor(missed[-1].id) == {a: 4, b: 3}
        # Then live ones, and nothing was delivered twice: the next event is the new one.
        publish(server, b, {"b": 4})
        live = resumed.next()
        assert json.loads(live.data) == {"b": 4} and cursor(live.id) == {a: 4, b: 4}


def test_cursor_escapes_channel_names_with_separators_and_resumes_them(server):
    odd, plain = unique("odd;name=x:"), unique("plain:")
    escaped = odd.replace(";", "%3B").replace("=", "%3D")
    with SSEStream(server, [odd, plain]) as stream:
        publish(server, odd, {"odd": 1})
        publish(server, plain, {"plain": 1})
        first, second = stream.take(2)
        assert first.id == f"{escaped}=1;{plain}=0"
        assert second.id == f"{escaped}=1;{plain}=1"
    publish(server, odd, {"odd": 2})
    with SSEStream(server, [odd, plain], last_event_id=second.id) as resumed:
        event = resumed.next()
        assert json.loads(event.data) == {"odd": 2} and event.id == f"{escaped}=2;{plain}=1"


@pytest.mark.parametrize("lib", LIBS)
def test_resume_replays_a_channel_that_was_still_empty_when_the_stream_opened(server, lib):
    busy, quiet = unique("busy:"), unique("quiet:")
    with SSEStream(server, [busy, quiet], lib=lib) as stream:
        publish(server, busy, {"busy": 1})
        last = stream.next()
        # The quiet channel has no message yet, but the cursor names it, so a resume covers it too.
        assert cursor(last.id) == {busy: 1, quiet: 0}
    publish(server, quiet, {"quiet": 1})  # published while the client was away
    publish(server, busy, {"busy": 2})
    with SSEStream(server, [busy, quiet], lib=lib, last_event_id=last.id) as resumed:
        missed = resumed.take(2)
        assert sorted(json.dumps(json.loads(e.data)) for e in missed) == ['{"busy": 2}', '{"quiet": 1}']
        assert cursor(missed[-1].id) == {busy: 2, quiet: 1}


def test_resume_while_publishes_continue_is_contiguous_without_duplicates(server):
    channel = unique("sse-race:")
    total = 200
    stop = threading.Event()
    errors = []

    def publisher():
        with httpx.Client(headers={"Authorization": f"Bearer {MAIN['secret']}"}, timeout=WAIT) as http:
            for i in range(1, total + 1):
                if stop.is_set():
                    return
                r = http.post(f"{server.http}/_rt/api/publish", json={"channel": channel, "data": {"i": i}})
                if r.status_code != 200:
                    errors.append(r.text)
                    return

    thread = threading.Thread(target=publisher, daemon=True)
    try:
        with SSEStream(server, [channel]) as stream:
            thread.start()
            seen = stream.take(20)
        last = seen[-1]
        assert cursor(last.id) == {channel: 20}
        # Reconnect with the last id while the publisher keeps going: replay and live must join exactly.
        with SSEStream(server, [channel], last_event_id=last.id) as resumed:
            received = []
            deadline = time.monotonic() + 30
            while not received or received[-1] < total:
                assert time.monotonic() < deadline, f"stalled at {received[-5:]}"
                event = resumed.next()
                seq = cursor(event.id)[channel]
                assert json.loads(event.data) == {"i": seq}
                received.append(seq)
        assert received == list(range(21, total + 1)), "gap or duplicate in the resumed stream"
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(WAIT)
    assert not errors, errors


def test_resume_cursor_of_one_channel_only_replays_that_channel(server):
    a, b = unique("half-a:"), unique("half-b:")
    publish(server, a, {"a": 1})
    publish(server, a, {"a": 2})
    publish(server, b, {"b": 1})
    with SSEStream(server, [a, b], last_event_id=f"{a}=1") as stream:
        assert json.loads(stream.next().data) == {"a": 2}
        publish(server, b, {"b": 2})
        event = stream.next()
        assert json.loads(event.data) == {"b": 2} and cursor(event.id) == {a: 2, b: 2}


def test_resume_with_last_event_id_query_parameter(server):
    channel = unique("query-resume:")
    for i in range(1, 4):
        publish(server, channel, {"i": i})
    with httpx.Client(timeout=WAIT) as client:
        params = {"key": MAIN["key"], "channel": channel, "lastEventId": f"{channel}=1"}
        with client.stream("GET", f"{server.http}/sse", params=params) as response:
            data = []
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data.append(json.loads(line[6:]))
                if len(data) == 2:
                    break
    assert data == [{"i": 2}, {"i": 3}]


# ---------------------------------------------------------------------------------------------
# Keepalive, CORS, app resolution
# ---------------------------------------------------------------------------------------------


def test_keepalive_comment_lines_arrive_every_configured_interval(server):
    started = time.monotonic()
    _, lines = raw_lines(server, [("key", MAIN["key"]), ("channel", unique("quiet:"))],
                         until=lambda lines: sum(1 for line in lines if line.startswith(": keepalive")) >= 2,
                         timeout=6)
    elapsed = time.monotonic() - started
    assert sum(1 for line in lines if line.startswith(": keepalive")) >= 2
    assert elapsed < 4.5, f"two keepalives took {elapsed:.1f}s with a 1 s interval"


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "https://app.example.com"])
def test_cors_allows_the_apps_origins(server, origin):
    with SSEStream(server, [unique("cors:")], headers={"Origin": origin}) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == origin
    preflight = httpx.options(f"{server.http}/sse", params={"key": MAIN["key"]},
                              headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Headers": "last-event-id"}, timeout=WAIT)
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "last-event-id" in preflight.headers["access-control-allow-headers"].lower()


def test_blocked_origin_is_refused_with_403_and_an_origin_blocked_event(server):
    since = now_ms()
    origin = "https://evil.example.net"
    with SSEStream(server, [unique("cors:")], headers={"Origin": origin}) as stream:
        assert stream.status_code == 403
        assert stream.body["error"]["code"] == "origin_blocked"
        assert "access-control-allow-origin" not in stream.headers
    event = wait_for_event(server, "origin_blocked", since)
    assert event["origin"] == origin
    preflight = httpx.options(f"{server.http}/sse", params={"key": MAIN["key"]}, headers={"Origin": origin},
                              timeout=WAIT)
    assert preflight.status_code == 403


def test_a_refused_preflight_gets_the_gates_answer_and_leaves_a_security_event(server):
    """A browser's CORS preflight is refused as the stream itself would be: 403 origin_blocked for a blocked origin,
    404 for an unknown key, each recorded."""
    since = now_ms()
    origin = "https://preflight-evil.example.net"
    headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    blocked = httpx.options(f"{server.http}/sse", params={"key": MAIN["key"]}, headers=headers, timeout=WAIT)
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "origin_blocked", blocked.text
    assert "access-control-allow-origin" not in blocked.headers
    assert wait_for_event(server, "origin_blocked", since)["origin"] == origin
    unknown = httpx.options(f"{server.http}/sse", params={"key": "pk_preflight_unknown"}, headers=headers, timeout=WAIT)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_key", unknown.text
    wait_for_event(server, "unknown_key", since, contains="pk_preflight_unknown")


def test_request_without_origin_gets_no_cors_headers_and_works(server):
    with SSEStream(server, [unique("nocors:")]) as stream:
        assert stream.status_code == 200
        assert "access-control-allow-origin" not in stream.headers


def test_unknown_key_is_404_with_an_unknown_key_event(server):
    since = now_ms()
    key = unique("pk_missing_")
    with SSEStream(server, [unique("x:")], key=key) as stream:
        assert stream.status_code == 404
        assert stream.body["error"]["code"] == "unknown_key"
    wait_for_event(server, "unknown_key", since, contains=key)


def test_disabled_app_is_403_with_an_app_disabled_event(server):
    since = now_ms()
    with SSEStream(server, [unique("x:")], key=DISABLED["key"]) as stream:
        assert stream.status_code == 403
        assert stream.body["error"]["code"] == "app_disabled"
    assert wait_for_event(server, "app_disabled", since)["app"] == DISABLED["id"]


def test_no_key_uses_the_default_app(server):
    channel = unique("default:")
    with SSEStream(server, [channel], key=None) as stream:
        publish(server, channel, {"default": True}, app=MAIN)
        assert json.loads(stream.next().data) == {"default": True}


def test_host_header_selects_the_app_when_no_key_is_given(fresh_server):
    hosted = CONFIG.replace(f'secret = "{OTHER["secret"]}"', f'secret = "{OTHER["secret"]}"\nhosts = ["other.example.test"]')
    server = fresh_server(hosted)
    channel = unique("hosted:")
    with SSEStream(server, [channel], key=None, headers={"Host": f"other.example.test:{server.port}"}) as by_host, \
            SSEStream(server, [channel], key=MAIN["key"], headers={"Host": "other.example.test"}) as by_key:
        publish(server, channel, {"for": "main"}, app=MAIN)
        publish(server, channel, {"for": "other"}, app=OTHER)
        assert json.loads(by_host.next().data) == {"for": "other"}
        assert json.loads(by_key.next().data) == {"for": "main"}  # the key wins over the host


def test_other_apps_messages_do_not_reach_the_stream(server):
    channel = unique("iso:")
    with SSEStream(server, [channel]) as stream:
        publish(server, channel, {"app": "other"}, app=OTHER)
        publish(server, channel, {"app": "main"}, app=MAIN)
        assert json.loads(stream.next().data) == {"app": "main"}


@pytest.mark.parametrize("params", [[], [("channel", "has space")], [("channel", "")]],
                         ids=["no_channel", "invalid_channel", "empty_channel"])
def test_missing_or_invalid_channel_is_400(server, params):
    since = now_ms()
    r = httpx.get(f"{server.http}/sse", params=[("key", MAIN["key"]), *params], timeout=WAIT)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"
    wait_for_event(server, "bad_request", since)


# ---------------------------------------------------------------------------------------------
# Private channels: a connection token whose `channels` claim lists them
# ---------------------------------------------------------------------------------------------


def test_private_channel_without_token_is_401_token_invalid_readable_by_the_browser(server):
    channel = unique("private-sse")
    since = now_ms()
    with SSEStream(server, [channel], headers={"Origin": ALLOWED_ORIGIN}) as stream:
        assert stream.status_code == 401
        assert stream.body["error"]["code"] == "token_invalid"
        assert stream.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    wait_for_event(server, "token_invalid", since, contains=channel)


@pytest.mark.parametrize("lib", LIBS)
def test_private_channel_with_a_token_listing_it_streams(server, lib):
    private, public = unique("private-feed"), unique("pub:")
    token = connection_token([private])
    with SSEStream(server, [private, public], token=token, lib=lib) as stream:
        assert stream.status_code == 200
        publish(server, private, {"secret": 1})
        publish(server, public, {"open": 1})
        assert [json.loads(e.data) for e in stream.take(2)] == [{"secret": 1}, {"open": 1}]


def test_token_not_listing_the_private_channel_is_403(server):
    private = unique("private-notmine")
    since = now_ms()
    with SSEStream(server, [private], token=connection_token([private + "-other"])) as stream:
        assert stream.status_code == 403
        assert stream.body["error"]["code"] == "forbidden"
    wait_for_event(server, "forbidden", since, contains=private)


@pytest.mark.parametrize("name,token,kind", [
    ("expired", lambda ch: sign_jwt({"sub": "u", "channels": [ch], "exp": int(time.time()) - 30}, MAIN["secret"]),
     "token_expired"),
    ("other_apps_secret", lambda ch: connection_token([ch], app=OTHER), "token_invalid"),
    ("alg_none", lambda ch: unsigned_jwt({"sub": "u", "channels": [ch], "exp": int(time.time()) + 60}), "token_invalid"),
    ("garbage", lambda ch: "not-a-token", "token_invalid"),
])
def test_bad_tokens_are_401_with_a_security_event(server, name, token, kind):
    private = unique("private-bad")
    since = now_ms()
    with SSEStream(server, [private], token=token(private)) as stream:
        assert stream.status_code == 401
        assert stream.body["error"]["code"] == kind
    wait_for_event(server, kind, since)


def test_locked_channel_rule_requires_a_token_on_sse_too(server):
    channel = unique("locked:")
    with SSEStream(server, [channel]) as stream:
        assert stream.status_code == 401
    with SSEStream(server, [channel], token=connection_token([channel])) as stream:
        assert stream.status_code == 200


# ---------------------------------------------------------------------------------------------
# Presence on SSE
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lib", LIBS)
def test_presence_changes_appear_as_named_presence_events(server, lib):
    channel = unique("lobby:")
    with SSEStream(server, [channel], lib=lib) as stream, WSClient(server) as client:
        client.send({"action": "presence:join", "channel": channel, "userId": "amy", "metadata": {"mood": "ok"}})
        join = stream.next()
        assert join.event == "presence.join"
        assert json.loads(join.data) == {"channel": channel, "userId": "amy", "metadata": {"mood": "ok"}}
        client.send({"action": "presence:update", "channel": channel, "metadata": {"mood": "great"}})
        update = stream.next()
        assert update.event == "presence.update" and json.loads(update.data)["metadata"] == {"mood": "great"}
        client.close()
        leave = stream.next()
        assert leave.event == "presence.leave" and json.loads(leave.data)["userId"] == "amy"


def test_gateway_status_counts_open_sse_streams(server):
    def count():
        r = httpx.get(f"{server.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=WAIT)
        assert r.status_code == 200
        return r.json()["connections"]["sse"]

    def poll(predicate):
        deadline = time.monotonic() + WAIT
        while not predicate(count()):
            assert time.monotonic() < deadline, f"sse count stuck at {count()}"
            time.sleep(0.05)

    # Other tests' streams may still be open (the suite shares one server), so the test counts three streams of its
    # own: while they are open there are at least three, and when they close the count falls by three.
    streams = [SSEStream(server, [unique("count:")]) for _ in range(3)]
    try:
        assert all(stream.status_code == 200 for stream in streams)
        poll(lambda n: n >= 3)
        with_three = count()
    finally:
        for stream in streams:
            stream.close()
    poll(lambda n: n <= with_three - 3)


def test_a_client_that_drops_its_socket_gives_its_place_back_at_once(fresh_server):
    """With the default 15 s keepalive (60 here), a stream whose client closed its socket (an HTTP/1.1 end of input)
    is ended when the server reads the close, not when a later write fails a keepalive or two on."""
    server = fresh_server(CONFIG.replace("sse_keepalive_seconds = 1", "sse_keepalive_seconds = 60"))

    def count():
        return httpx.get(f"{server.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=WAIT).json()["connections"]["sse"]

    raw = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    raw.sendall(b"GET /sse?key=%s&channel=gone HTTP/1.1\r\nHost: x\r\n\r\n" % MAIN["key"].encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + WAIT
    while count() != 1:
        assert time.monotonic() < deadline, "the stream was never counted"
        time.sleep(0.05)
    raw.close()
    deadline = time.monotonic() + 2
    while count() != 0:
        assert time.monotonic() < deadline, "a dropped stream is still counted"
        time.sleep(0.05)


def test_cursor_ahead_of_a_restarted_stream_replays_everything_kept(fresh_server):
    server = fresh_server()
    channel = unique("epoch:")
    publish(server, channel, {"i": 1})
    publish(server, channel, {"i": 2})
    # The client last saw seq 50 of a stream this server no longer has (it restarted): all kept is new to it.
    with SSEStream(server, [channel], last_event_id=f"{channel}=50") as stream:
        events = stream.take(2)
        assert [json.loads(e.data) for e in events] == [{"i": 1}, {"i": 2}]
        assert cursor(events[-1].id) == {channel: 2}


def test_a_resume_from_further_back_than_the_stream_holds_replays_everything_in_pages_and_stays_open(fresh_server):
    """A `Last-Event-ID` whose replay would not fit the stream's queue ended the stream at once, and EventSource
    reopened it with the same id for ever; a later fix replayed only the newest part that fit, a silent gap. The
    replay now goes in pages of at most half the queue, each once the client has read the last: every kept message
    after the cursor arrives, in order and with its own id, then live ones on both channels."""
    config = CONFIG.replace("new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 1000\nmax_queued_bytes = 65536")
    server = fresh_server(config)
    channel, other = unique("sse-far-back:"), unique("sse-far-back-b:")
    blob = "z" * 2_000
    for n in range(1, 101):
        publish(server, channel, {"n": n, "blob": blob})
    publish(server, other, {"n": 1})
    with SSEStream(server, [channel, other], last_event_id=f"{channel}=0;{other}=1") as resumed:
        replayed, ids = [], []
        while len(replayed) < 100:
            event = resumed.next()
            replayed.append(json.loads(event.data)["n"])
            ids.append(event.id)
            if len(replayed) == 50:
                publish(server, channel, {"n": 101})
                publish(server, other, {"n": 2})
        assert replayed == list(range(1, 101))
        assert ids[-1] == f"{channel}=100;{other}=1", ids[-1]
        following = [json.loads(resumed.next().data)["n"] for _ in range(2)]
        assert sorted(following) == [2, 101], following


def test_streams_whose_clients_leave_before_the_response_give_back_their_subscriptions_and_connection(fresh_server):
    """A stream subscribes its channels and takes a place among the app's connections before its response begins; when
    the client reset the socket in that moment, the response body never ran and neither was given back (300 such
    requests left 5 connections and 10 subscriptions for good: a free plan's 200 connections would fill). They are now
    given back whenever the response is let go."""
    import socket
    import struct

    server = fresh_server()

    def held() -> tuple[float, float]:
        text = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT).text
        values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and not line.startswith("#")}
        return values.get("switchboard_subscriptions", 0.0), values.get(f'switchboard_app_connections{{app="{MAIN["id"]}"}}', 0.0)

    before = held()
    for n in range(600):
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.sendall(f"GET /sse?key={MAIN['key']}&channel=gone-{n}&channel=gone-b-{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    wait_until(lambda: held() == before, timeout=10, message=f"subscriptions and connections back to {before}, not {held()}")


def test_a_stream_whose_channel_names_pass_4096_bytes_together_is_refused(server):
    """Every message's `id:` names all of a stream's channels: 100 names of 200 characters made each small message
    cost 20 KB a stream, and one public channel's traffic could be amplified 680-fold by subscribing it so."""
    long_names = [unique("n") + "x" * (150 - len(unique("n"))) for _ in range(30)]  # about 4,500 bytes
    r = httpx.get(f"{server.http}/sse", params=[("key", MAIN["key"])] + [("channel", c) for c in long_names], timeout=WAIT)
    assert r.status_code == 400 and "4096 bytes" in r.json()["error"]["message"], r.text
    with SSEStream(server, long_names[:25]) as stream:  # about 3,750 bytes: still served
        publish(server, long_names[0], {"n": 1})
        event = stream.next()
        assert json.loads(event.data) == {"n": 1} and long_names[24] in event.id
