"""The JSON-action protocol (WebSocket `/_rt/ws` and REST `/_rt/api/*`) against a real server, with real clients.

Clients: `websockets` (sync client) for the WebSocket, `httpx` for REST. See PROTOCOLS.md, "JSON-action protocol",
"App resolution" and "Cross-protocol rules".
"""

import hashlib
import hmac
import json
import signal
import socket
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from conftest import (
    ALLOWED_ORIGIN,
    CONFIG,
    DISABLED,
    MAIN,
    OTHER,
    SMALL,
    WAIT,
    SSEStream,
    WSClient,
    admin_headers,
    api_headers,
    assert_next_message_is_marker,
    b64url,
    channel_token,
    decode_jwt,
    expect_error,
    now_ms,
    publish,
    rest,
    sign_jwt,
    unique,
    unsigned_jwt,
    wait_for_event,
)

# ---------------------------------------------------------------------------------------------
# Connecting, replies, ping
# ---------------------------------------------------------------------------------------------


def test_connect_sends_connected_frame_with_client_id_and_ms_timestamp(server):
    before = now_ms()
    with WSClient(server) as client:
        frame = client.connected
        assert frame["event"] == "connected"
        assert isinstance(frame["data"]["clientId"], str) and frame["data"]["clientId"]
        assert before - 1000 <= frame["ts"] <= now_ms() + 1000
    with WSClient(server) as a, WSClient(server) as b:
        assert a.connected["data"]["clientId"] != b.connected["data"]["clientId"]


def test_cid_query_parameter_becomes_the_client_id(server):
    cid = unique("client-")
    with WSClient(server, cid=cid) as client:
        assert client.connected["data"]["clientId"] == cid


def test_unusable_cid_falls_back_to_a_server_chosen_client_id(server):
    with WSClient(server, cid="x" * 65) as client:
        assert client.connected["data"]["clientId"] not in ("", "x" * 65)


def test_ping_gets_pong_with_timestamp(server):
    with WSClient(server) as client:
        client.send({"action": "ping"})
        frame = client.recv()
        assert frame["event"] == "pong"
        assert abs(frame["ts"] - now_ms()) < 5000


def test_subscribe_and_unsubscribe_are_acknowledged_and_unsubscribe_stops_delivery(server):
    channel = unique("sub:")
    with WSClient(server) as client, WSClient(server) as witness:
        reply = client.subscribed(channel)
        assert isinstance(reply["ts"], int)
        witness.subscribed(channel)
        publish(server, channel, {"n": 1})
        assert client.recv()["data"] == {"n": 1}
        assert witness.recv()["data"] == {"n": 1}

        client.send({"action": "unsubscribe", "channel": channel})
        reply = client.recv()
        assert reply["event"] == "unsubscribed" and reply["channel"] == channel and isinstance(reply["ts"], int)

        publish(server, channel, {"n": 2})
        assert witness.recv()["data"] == {"n": 2}  # the message was delivered...
        client.assert_alive()  # ...but not to the unsubscribed client: its next frame is the pong


def test_no_message_of_a_channel_arrives_after_its_unsubscribe_reply(server):
    """Messages already on their way to the client when it leaves are dropped: `unsubscribed` is the channel's last
    frame, even while publishers keep the channel busy."""
    channel = unique("nohistory:churn")
    stop = threading.Event()

    def publisher():
        with httpx.Client(headers=api_headers(), timeout=WAIT) as http:
            n = 0
            while not stop.is_set():
                n += 1
                http.post(f"{server.http}/_rt/api/publish", json={"channel": channel, "data": {"n": n}})

    threads = [threading.Thread(target=publisher) for _ in range(3)]
    for thread in threads:
        thread.start()
    late = []
    try:
        # 25 cycles a connection: three commands each stay within the per-connection command burst.
        for _ in range(4):
            with WSClient(server) as client:
                for _ in range(25):
                    client.send({"action": "subscribe", "channel": channel})
                    client.recv_until(lambda f: f.get("event") == "subscribed")
                    client.send({"action": "unsubscribe", "channel": channel})
                    client.recv_until(lambda f: f.get("event") == "unsubscribed")
                    client.send({"action": "ping"})
                    _, before_pong = client.recv_until(lambda f: f.get("event") == "pong")
                    late += [f for f in before_pong if f.get("channel") == channel]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=WAIT)
    assert late == []


def test_subscribing_twice_is_acknowledged_once_per_request_and_delivers_once(server):
    channel = unique("twice:")
    with WSClient(server) as client:
        client.subscribed(channel)
        client.subscribed(channel)
        publish(server, channel, {"once": True})
        assert client.recv()["data"] == {"once": True}
        client.assert_alive()


# ---------------------------------------------------------------------------------------------
# Publishing and delivery
# ---------------------------------------------------------------------------------------------


def test_rest_publish_reaches_ws_subscriber_with_name_user_id_seq_and_ts(server):
    channel = unique("pub:")
    with WSClient(server) as client:
        client.subscribed(channel)
        before = now_ms()
        reply = publish(server, channel, {"text": "hi"}, name="chat.message", userId="alice")
        assert reply["ok"] is True and isinstance(reply["seq"], int)
        frame = client.recv()
        assert frame["event"] == "realtime.message"
        assert frame["channel"] == channel
        assert frame["data"] == {"text": "hi"}
        assert frame["name"] == "chat.message"
        assert frame["userId"] == "alice"
        assert frame["seq"] == reply["seq"]
        assert before - 1000 <= frame["ts"] <= now_ms() + 1000


def test_unnamed_rest_publish_has_no_name_and_no_user_id(server):
    channel = unique("unnamed:")
    with WSClient(server) as client:
        client.subscribed(channel)
        publish(server, channel, [1, 2, 3])
        frame = client.recv()
        assert frame["data"] == [1, 2, 3]
        assert "name" not in frame
        assert "userId" not in frame


PAYLOADS = {
    "object": '{"b":1,"a":{"z":[true,false,null]}}',
    "array": '[1,"two",3.5,{"four":4}]',
    "string": '"just a string"',
    "integer": "42",
    "negative_float_exponent": "-1.25e-7",
    "big_integer": "12345678901234567890",
    "null": "null",
    "boolean": "false",
    "unicode_literal": '{"text":"h\u00e9llo \u4e16\u754c \U0001F600"}',
    "unicode_escaped": '{"text":"h\\u00e9llo \\ud83d\\ude00","q":"\\"quoted\\" \\\\ back\\nline"}',
    "nested_deep": '{"a":[{"b":[{"c":[{"d":{"e":[1,[2,[3,[4]]]]}}]}]}]}',
    "spaced": '{ "keeps" : [ 1 , 2 ] }',
    "empty_object": "{}",
    "empty_array": "[]",
}


@pytest.mark.parametrize("raw", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_published_data_reaches_ws_subscribers_byte_for_byte(server, raw):
    channel = unique("bytes:")
    with WSClient(server) as client:
        client.subscribed(channel)
        body = '{"channel":"%s","data":%s}' % (channel, raw)
        r = httpx.post(f"{server.http}/_rt/api/publish", content=body.encode(),
                       headers={**api_headers(), "Content-Type": "application/json"}, timeout=WAIT)
        assert r.status_code == 200, r.text
        text = client.ws.recv(timeout=WAIT)
        assert f'"data":{raw},' in text, text
        assert json.loads(text)["data"] == json.loads(raw)


def test_ws_publish_reaches_other_subscribers_but_not_the_sender(server):
    channel = unique("chat:")
    with WSClient(server) as sender, WSClient(server) as a, WSClient(server) as b:
        for client in (sender, a, b):
            client.subscribed(channel)
        sender.send({"action": "publish", "channel": channel, "data": {"text": "hello"}, "userId": "bob",
                     "name": "typed"})
        for client in (a, b):
            frame = client.recv()
            assert frame["event"] == "realtime.message"
            assert frame["channel"] == channel
            assert frame["data"] == {"text": "hello"}
            assert frame["userId"] == "bob"
            assert frame["name"] == "typed"
            assert isinstance(frame["seq"], int)
        # The sender's next message is a later one: its own never came back.
        assert_next_message_is_marker(server, sender, channel)


def test_every_channel_keeps_history_with_seq_except_nohistory_channels(server):
    kept = unique("kept:")
    unkept = unique("nohistory:")
    with WSClient(server) as client:
        client.subscribed(kept)
        client.subscribed(unkept)
        first = publish(server, kept, {"i": 1})
        second = publish(server, kept, {"i": 2})
        assert (first["seq"], second["seq"]) == (1, 2)
        assert [client.recv()["seq"] for _ in range(2)] == [1, 2]

        reply = publish(server, unkept, {"i": 1})
        assert reply == {"ok": True}
        frame = client.recv()
        assert frame["data"] == {"i": 1} and "seq" not in frame
        assert rest(server, "GET", "history", params={"channel": unkept}).json()["messages"] == []


def test_messages_published_with_nobody_subscribed_are_kept_for_replay(server):
    channel = unique("empty:")
    for i in range(3):
        publish(server, channel, {"i": i})
    with WSClient(server) as client:
        reply = client.subscribed(channel, lastEventId=0)
        assert reply.get("seq") == 3
        assert [(f["seq"], f["data"]["i"]) for f in (client.recv() for _ in range(3))] == [(1, 0), (2, 1), (3, 2)]
        client.assert_alive()


def test_same_channel_name_in_another_app_is_a_different_channel(server):
    channel = unique("shared:")
    with WSClient(server) as main_client, WSClient(server, key=OTHER["key"]) as other_client:
        main_client.subscribed(channel)
        other_client.subscribed(channel)
        publish(server, channel, {"app": "other"}, app=OTHER)
        assert other_client.recv()["data"] == {"app": "other"}
        assert_next_message_is_marker(server, main_client, channel)


def test_connecting_without_key_uses_the_default_app(server):
    channel = unique("default:")
    with WSClient(server, key=None) as client:
        client.subscribed(channel)
        publish(server, channel, {"default": True}, app=MAIN)
        assert client.recv()["data"] == {"default": True}


# ---------------------------------------------------------------------------------------------
# Replay with lastEventId
# ---------------------------------------------------------------------------------------------


def test_replay_after_reconnect_has_no_gap_or_duplicate(server):
    channel = unique("replay:")
    with WSClient(server) as client:
        client.subscribed(channel)
        for i in range(1, 6):
            publish(server, channel, {"i": i})
        seqs = [client.recv()["seq"] for _ in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
    last_seen = 3  # pretend the client processed up to 3 before it dropped
    for i in range(6, 9):
        publish(server, channel, {"i": i})
    with WSClient(server) as client:
        reply = client.subscribed(channel, lastEventId=last_seen)
        assert reply["seq"] == 8
        replayed = [client.recv() for _ in range(5)]
        assert [f["seq"] for f in replayed] == [4, 5, 6, 7, 8]
        assert [f["data"]["i"] for f in replayed] == [4, 5, 6, 7, 8]
        publish(server, channel, {"i": 9})
        live = client.recv()
        assert live["seq"] == 9
        client.assert_alive()


def test_subscribing_again_with_last_event_id_replays_what_followed_it_on_the_held_channel(server):
    """A client that holds a channel and catches up (after a gap it noticed) gets the messages after its lastEventId,
    then live ones, each once, on its one subscription."""
    channel = unique("again:")
    with WSClient(server) as client:
        client.subscribed(channel)
        for i in range(1, 6):
            publish(server, channel, {"i": i})
        assert [client.recv()["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]
        reply = client.subscribed(channel, lastEventId=2)
        assert reply["seq"] == 5, reply
        assert [client.recv()["seq"] for _ in range(3)] == [3, 4, 5]
        publish(server, channel, {"i": "live"})
        assert client.recv()["seq"] == 6
        client.assert_alive()


def test_replay_with_last_event_id_at_the_head_replays_nothing_and_goes_live(server):
    channel = unique("head:")
    for i in range(3):
        publish(server, channel, {"i": i})
    with WSClient(server) as client:
        assert client.subscribed(channel, lastEventId=3)["seq"] == 3
        publish(server, channel, {"i": "live"})
        assert client.recv()["seq"] == 4


def test_last_event_id_ahead_of_a_reset_stream_replays_everything_kept(server):
    # A client that saw seq 100 before a restart finds a new stream: everything in it is new to the client.
    channel = unique("reset:")
    for i in range(1, 4):
        publish(server, channel, {"i": i})
    with WSClient(server) as client:
        assert client.subscribed(channel, lastEventId=100)["seq"] == 3
        assert [client.recv()["seq"] for _ in range(3)] == [1, 2, 3]
        publish(server, channel, {"i": "live"})
        assert client.recv()["seq"] == 4


def test_replay_while_publishes_continue_is_contiguous_without_duplicates(server):
    channel = unique("race:")
    total = 250
    published = []
    stop = threading.Event()
    errors = []

    def publisher():
        with httpx.Client(headers=api_headers(), timeout=WAIT) as http:
            for i in range(1, total + 1):
                if stop.is_set():
                    return
                r = http.post(f"{server.http}/_rt/api/publish", json={"channel": channel, "data": {"i": i}})
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                published.append(r.json()["seq"])

    with WSClient(server) as first:
        first.subscribed(channel)
        thread = threading.Thread(target=publisher, daemon=True)
        thread.start()
        try:
            # Read a little live, then drop the connection in the middle of the stream.
            seen = [first.recv()["seq"] for _ in range(20)]
            assert seen == list(range(1, 21))
        except BaseException:
            stop.set()
            raise
    last = seen[-1]
    try:
        # Reconnect while the publisher keeps going; replay and live messages must join exactly.
        with WSClient(server) as second:
            reply = second.subscribed(channel, lastEventId=last)
            assert reply["seq"] >= last
            received = []
            deadline = time.monotonic() + 30
            while not received or received[-1] < total:
                assert time.monotonic() < deadline, f"stalled at {received[-5:]}"
                frame = second.recv()
                assert frame["event"] == "realtime.message", frame
                assert frame["data"]["i"] == frame["seq"], frame
                received.append(frame["seq"])
            thread.join(WAIT)
            assert not errors, errors
            assert received == list(range(last + 1, total + 1)), "gap or duplicate in replay"
            second.assert_alive()
    finally:
        stop.set()
        thread.join(WAIT)
    assert published == list(range(1, total + 1))


def test_last_event_id_must_be_a_non_negative_integer(server):
    channel = unique("badid:")
    since = now_ms()
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "lastEventId": -1})
        expect_error(client, "bad_request")
        client.assert_alive()
    wait_for_event(server, "bad_request", since, contains="lastEventId")


# ---------------------------------------------------------------------------------------------
# Presence
# ---------------------------------------------------------------------------------------------


def presence_frame(client: WSClient, kind: str, user: str) -> dict:
    frame, _ = client.recv_until(lambda f: f["event"] == f"presence.{kind}" and f.get("userId") == user)
    return frame


def members(server, channel, app=MAIN) -> list:
    r = rest(server, "GET", "presence/members", app=app, params={"channel": channel})
    assert r.status_code == 200, r.text
    return r.json()["members"]


def test_presence_join_update_leave_frames_between_two_clients(server):
    channel = unique("room:")
    with WSClient(server) as alice, WSClient(server) as bob:
        alice.subscribed(channel)
        bob.subscribed(channel)
        alice.send({"action": "presence:join", "channel": channel, "userId": "alice", "metadata": {"status": "here"}})
        join = bob.recv()
        assert join["event"] == "presence.join"
        assert join["channel"] == channel
        assert join["userId"] == "alice"
        assert join["metadata"] == {"status": "here"}
        assert isinstance(join["ts"], int)

        alice.send({"action": "presence:update", "channel": channel, "metadata": {"status": "away"}})
        update = bob.recv()
        assert (update["event"], update["userId"], update["metadata"]) == ("presence.update", "alice", {"status": "away"})

        alice.send({"action": "presence:leave", "channel": channel})
        leave = bob.recv()
        assert (leave["event"], leave["userId"]) == ("presence.leave", "alice")
        assert members(server, channel) == []
        bob.assert_alive()


def test_a_second_connection_claiming_a_present_user_cannot_rewrite_its_metadata(server):
    """Found by an audit: a join as a user someone else held replaced that member's metadata (also a JWT member's
    `conn_info`), and the forgery outlived the forger. The first holder's metadata stays, as Pusher shows a user's
    first connection's; the app's server may still change it."""
    channel = unique("room:")
    with WSClient(server) as alice, WSClient(server) as watcher:
        watcher.subscribed(channel)
        alice.send({"action": "presence:join", "channel": channel, "userId": "alice", "metadata": {"v": "real"}})
        assert watcher.recv()["event"] == "presence.join"
        with WSClient(server) as mallory:
            mallory.send({"action": "presence:join", "channel": channel, "userId": "alice", "metadata": {"v": "FORGED"}})
            mallory.assert_alive()
            assert [m["metadata"] for m in members(server, channel)] == [{"v": "real"}]
        assert [m["metadata"] for m in members(server, channel)] == [{"v": "real"}]
        r = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "alice", "metadata": {"v": "server"}})
        assert r.json() == {"ok": True, "changed": True}
        assert [m["metadata"] for m in members(server, channel)] == [{"v": "server"}]


def test_one_user_with_two_connections_is_one_member_until_the_last_leaves(server):
    channel = unique("multi:")
    with WSClient(server) as watcher:
        watcher.subscribed(channel)
        first = WSClient(server)
        second = WSClient(server)
        try:
            first.send({"action": "presence:join", "channel": channel, "userId": "carol", "metadata": {"tab": 1}})
            assert watcher.recv()["event"] == "presence.join"
            first.assert_alive()
            second.send({"action": "presence:join", "channel": channel, "userId": "carol", "metadata": {"tab": 1}})
            second.assert_alive()
            assert [m["userId"] for m in members(server, channel)] == ["carol"]

            open_before = jsonaction_connections(server)
            first.close()
            # Wait until the server has finished closing `first` (presence included), then check it is still a
            # member: no leave reached the watcher (the marker comes first), and the list keeps carol.
            deadline = time.monotonic() + WAIT
            while jsonaction_connections(server) != open_before - 1:
                assert time.monotonic() < deadline, "the server never finished closing the connection"
                time.sleep(0.05)
            assert_next_message_is_marker(server, watcher, channel)
            assert [m["userId"] for m in members(server, channel)] == ["carol"]

            second.close()
            leave = watcher.recv()
            assert (leave["event"], leave["userId"]) == ("presence.leave", "carol")
            assert members(server, channel) == []
        finally:
            first.close()
            second.close()


def jsonaction_connections(server) -> int:
    """Open JSON-action connections of the server, as the status page counts them (after a close is processed)."""
    r = httpx.get(f"{server.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=WAIT)
    return r.json()["connections"]["jsonaction"]


def test_presence_members_via_rest_list_user_id_metadata_and_last_seen(server):
    channel = unique("members:")
    with WSClient(server) as alice, WSClient(server) as bob:
        before = now_ms()
        alice.send({"action": "presence:join", "channel": channel, "userId": "alice", "metadata": {"n": 1}})
        alice.assert_alive()
        bob.send({"action": "presence:join", "channel": channel, "userId": "bob", "metadata": ["x", 2]})
        bob.assert_alive()
        listed = members(server, channel)
        assert [(m["userId"], m["metadata"]) for m in sorted(listed, key=lambda m: m["userId"])] == [
            ("alice", {"n": 1}), ("bob", ["x", 2])]
        for member in listed:
            assert before - 1000 <= member["lastSeen"] <= now_ms() + 1000


def test_a_member_held_by_an_open_connection_is_listed_as_seen_now_past_the_presence_timeout(server):
    """Listed members are those seen within the presence timeout (3 s here): one whose connection stays open is seen
    for as long as it does, so its `lastSeen` never falls behind the timeout."""
    channel = unique("members:")
    with WSClient(server) as erin:
        erin.send({"action": "presence:join", "channel": channel, "userId": "erin", "metadata": None})
        erin.assert_alive()
        time.sleep(4)
        erin.assert_alive()
        [member] = members(server, channel)
        assert member["userId"] == "erin"
        assert now_ms() - member["lastSeen"] < 3000, member


def test_rest_presence_updates_keep_a_server_side_member_alive(server):
    """An update is heard from the member like a join: one updated within every timeout (3 s) never expires."""
    channel = unique("restpresence:")
    assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": "beat"}).json()["changed"]
    deadline = time.monotonic() + 12  # past the timeout plus the janitor's 5 s sweep, twice
    while time.monotonic() < deadline:
        time.sleep(1)
        r = rest(server, "POST", "presence/update", json={"channel": channel, "userId": "beat", "metadata": {"t": now_ms()}})
        assert r.status_code == 200, r.text
        [member] = members(server, channel)
        assert now_ms() - member["lastSeen"] < 3000, member


def test_disconnect_makes_the_member_leave(server):
    channel = unique("gone:")
    with WSClient(server) as watcher:
        watcher.subscribed(channel)
        dave = WSClient(server)
        dave.send({"action": "presence:join", "channel": channel, "userId": "dave", "metadata": None})
        assert watcher.recv()["event"] == "presence.join"
        dave.close()
        leave = watcher.recv()
        assert (leave["event"], leave["userId"]) == ("presence.leave", "dave")
        assert members(server, channel) == []


def test_rest_presence_join_update_leave_report_changed_and_reach_subscribers(server):
    channel = unique("restpresence:")
    with WSClient(server) as watcher:
        watcher.subscribed(channel)

        r = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "srv", "metadata": {"v": 1}})
        assert r.status_code == 200 and r.json() == {"ok": True, "changed": True}
        assert presence_frame(watcher, "join", "srv")["metadata"] == {"v": 1}

        r = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "srv", "metadata": {"v": 1}})
        assert r.json() == {"ok": True, "changed": False}  # a heartbeat, nothing new

        r = rest(server, "POST", "presence/update", json={"channel": channel, "userId": "srv", "metadata": {"v": 2}})
        assert r.json() == {"ok": True, "changed": True}
        assert presence_frame(watcher, "update", "srv")["metadata"] == {"v": 2}

        r = rest(server, "POST", "presence/leave", json={"channel": channel, "userId": "srv"})
        assert r.json() == {"ok": True, "changed": True}
        assert presence_frame(watcher, "leave", "srv")["userId"] == "srv"

        r = rest(server, "POST", "presence/leave", json={"channel": channel, "userId": "srv"})
        assert r.json() == {"ok": True, "changed": False}
        watcher.assert_alive()


def test_rest_presence_join_expires_after_the_presence_timeout(server):
    channel = unique("expire:")
    with WSClient(server) as watcher:
        watcher.subscribed(channel)
        joined_at = time.monotonic()
        assert rest(server, "POST", "presence/join", json={"channel": channel, "userId": "ghost"}).json()["changed"]
        assert presence_frame(watcher, "join", "ghost")["metadata"] is None
        # Configured timeout 3 s; the janitor sweeps every 5 s: the leave comes between 3 and ~10 s.
        leave, _ = watcher.recv_until(lambda f: f["event"] == "presence.leave", timeout=12)
        elapsed = time.monotonic() - joined_at
        assert leave["userId"] == "ghost"
        assert elapsed >= 3, f"expired after {elapsed:.1f}s, before the 3 s timeout"
        assert members(server, channel) == []


def test_presence_is_refused_on_channels_whose_rules_disable_it(server):
    channel = unique("nopresence:")
    since = now_ms()
    with WSClient(server) as client:
        client.send({"action": "presence:join", "channel": channel, "userId": "eve"})
        expect_error(client, "forbidden", channel)
        client.assert_alive()
    r = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "eve"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    wait_for_event(server, "forbidden", since, contains=channel)


def test_presence_update_before_join_is_a_bad_request(server):
    channel = unique("nojoin:")
    with WSClient(server) as client:
        client.send({"action": "presence:update", "channel": channel, "metadata": {}})
        expect_error(client, "bad_request", channel)
        client.assert_alive()


# ---------------------------------------------------------------------------------------------
# Private and presence channels: channel tokens
# ---------------------------------------------------------------------------------------------


def rest_token(server, channel, **fields) -> str:
    r = rest(server, "POST", "tokens", json={"channel": channel, "userId": "u1", **fields})
    assert r.status_code == 200, r.text
    return r.json()["token"]


@pytest.mark.parametrize("prefix", ["private-", "presence-", "locked:"])
def test_protected_channel_subscribe_without_token_is_unauthorized(server, prefix):
    channel = unique(prefix)
    since = now_ms()
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel})
        expect_error(client, "unauthorized", channel)
        client.assert_alive()
        # Not subscribed: a server publish does not reach it.
        publish(server, channel, {"secret": True})
        client.assert_alive()
    event = wait_for_event(server, "token_invalid", since, contains=channel)
    assert event["app"] == MAIN["id"]


def test_private_channel_subscribe_with_rest_token_receives_messages(server):
    channel = unique("private-room")
    token = rest_token(server, channel)
    with WSClient(server) as client:
        client.subscribed(channel, token=token)
        publish(server, channel, {"private": 1})
        frame = client.recv()
        assert frame["channel"] == channel and frame["data"] == {"private": 1}


def test_private_channel_accepts_an_independently_signed_token(server):
    channel = unique("private-own")
    with WSClient(server) as client:
        client.subscribed(channel, token=channel_token(channel))


def test_token_for_another_channel_is_forbidden(server):
    channel = unique("private-a")
    since = now_ms()
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": rest_token(server, channel + "-other")})
        expect_error(client, "forbidden", channel)
        client.assert_alive()
    wait_for_event(server, "forbidden", since, contains=channel)


def test_expired_token_is_unauthorized(server):
    channel = unique("private-exp")
    since = now_ms()
    expired = sign_jwt({"channel": channel, "sub": "u1", "permissions": ["subscribe", "publish"],
                        "exp": int(time.time()) - 60}, MAIN["secret"])
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": expired})
        expect_error(client, "unauthorized", channel)
        client.assert_alive()
    wait_for_event(server, "token_expired", since, contains=channel)


def test_rest_token_with_short_expiry_stops_working_after_it_expires(server):
    channel = unique("private-short")
    token = rest_token(server, channel, expiresIn=1)
    exp = decode_jwt(token)[1]["exp"]
    assert exp <= int(time.time()) + 1
    while time.time() < exp + 0.05:  # polling the wall clock until the token's second has passed
        time.sleep(0.05)
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": token})
        expect_error(client, "unauthorized", channel)


def test_token_signed_with_another_apps_secret_is_unauthorized(server):
    channel = unique("private-forged")
    since = now_ms()
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": channel_token(channel, app=OTHER)})
        expect_error(client, "unauthorized", channel)
        client.assert_alive()
    wait_for_event(server, "token_invalid", since, contains=channel)


def test_alg_none_token_is_unauthorized(server):
    channel = unique("private-none")
    since = now_ms()
    token = unsigned_jwt({"channel": channel, "sub": "u1", "permissions": ["subscribe", "publish"],
                          "exp": int(time.time()) + 600})
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": token})
        expect_error(client, "unauthorized", channel)
        client.assert_alive()
    wait_for_event(server, "token_invalid", since, contains=channel)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_malformed_token_is_unauthorized(server, token):
    channel = unique("private-bad")
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": token})
        expect_error(client, "unauthorized", channel)
        client.assert_alive()


def test_token_without_publish_permission_cannot_publish(server):
    channel = unique("private-ro")
    since = now_ms()
    with WSClient(server) as reader, WSClient(server) as other:
        reader.subscribed(channel, token=rest_token(server, channel, permissions=["subscribe"]))
        other.subscribed(channel, token=rest_token(server, channel))
        reader.send({"action": "publish", "channel": channel, "data": {"x": 1}})
        expect_error(reader, "forbidden", channel)
        reader.assert_alive()
        assert_next_message_is_marker(server, other, channel)
    wait_for_event(server, "forbidden", since, contains=channel)


def test_token_without_subscribe_permission_cannot_subscribe(server):
    channel = unique("private-wo")
    with WSClient(server) as client:
        client.send({"action": "subscribe", "channel": channel, "token": rest_token(server, channel, permissions=["publish"])})
        expect_error(client, "forbidden", channel)
        client.assert_alive()


def test_publish_on_private_channel_with_token_reaches_subscribers_as_the_token_user(server):
    channel = unique("private-pub")
    with WSClient(server) as writer, WSClient(server) as reader:
        reader.subscribed(channel, token=rest_token(server, channel))
        writer.send({"action": "publish", "channel": channel, "data": {"hello": 1},
                     "token": rest_token(server, channel, userId="writer")})
        frame = reader.recv()
        assert frame["data"] == {"hello": 1} and frame["userId"] == "writer"


def test_publish_as_another_user_than_the_tokens_is_forbidden(server):
    channel = unique("private-impostor")
    with WSClient(server) as writer, WSClient(server) as reader:
        reader.subscribed(channel, token=rest_token(server, channel))
        writer.send({"action": "publish", "channel": channel, "data": {"x": 1}, "userId": "someone-else",
                     "token": rest_token(server, channel, userId="writer")})
        expect_error(writer, "forbidden", channel)
        writer.assert_alive()
        assert_next_message_is_marker(server, reader, channel)


def test_publish_on_private_channel_without_token_is_unauthorized(server):
    channel = unique("private-anon")
    since = now_ms()
    with WSClient(server) as writer, WSClient(server) as reader:
        reader.subscribed(channel, token=rest_token(server, channel))
        writer.send({"action": "publish", "channel": channel, "data": {"x": 1}})
        expect_error(writer, "unauthorized", channel)
        writer.assert_alive()
        assert_next_message_is_marker(server, reader, channel)
    wait_for_event(server, "token_invalid", since, contains=channel)


def test_presence_channel_join_needs_a_subscribe_token_first(server):
    channel = unique("presence-lobby")
    with WSClient(server) as client, WSClient(server) as watcher:
        client.send({"action": "presence:join", "channel": channel, "userId": "u1"})
        expect_error(client, "unauthorized", channel)
        watcher.subscribed(channel, token=rest_token(server, channel, userId="watcher"))
        client.subscribed(channel, token=rest_token(server, channel, userId="u1"))
        client.send({"action": "presence:join", "channel": channel, "userId": "u1", "metadata": {"ok": True}})
        join = watcher.recv()
        assert (join["event"], join["userId"], join["metadata"]) == ("presence.join", "u1", {"ok": True})
        # A token for u1 does not let the connection join as someone else.
        client.send({"action": "presence:join", "channel": channel, "userId": "mallory"})
        refusal, skipped = client.recv_until(lambda f: f["event"] == "error")
        assert refusal["data"]["code"] == "forbidden" and refusal["channel"] == channel, refusal
        assert [f["event"] for f in skipped] == ["presence.join"]  # its own join, announced before


# ---------------------------------------------------------------------------------------------
# Bad input and limits on the WebSocket
# ---------------------------------------------------------------------------------------------

BAD_FRAMES = {
    "malformed_json": '{"action": "subscribe", "channel": ',
    "not_an_object": '["subscribe"]',
    "missing_action": '{"channel": "x"}',
    "unknown_action": '{"action": "teleport", "channel": "x"}',
    "subscribe_missing_channel": '{"action": "subscribe"}',
    "publish_missing_channel": '{"action": "publish", "data": {}}',
    "publish_missing_data": '{"action": "publish", "channel": "x"}',
    "invalid_channel_name": '{"action": "subscribe", "channel": "has spaces and / slashes"}',
    "channel_name_too_long": '{"action": "subscribe", "channel": "%s"}' % ("a" * 201),
    "publish_invalid_channel_name": '{"action": "publish", "channel": "bad channel", "data": 1}',
    "join_missing_user": '{"action": "presence:join", "channel": "x"}',
}


@pytest.mark.parametrize("frame", list(BAD_FRAMES.values()), ids=list(BAD_FRAMES))
def test_bad_frame_gets_bad_request_error_and_the_connection_stays_open(server, frame):
    channel = unique("bad:")
    since = now_ms()
    with WSClient(server) as client, WSClient(server) as witness:
        client.subscribed(channel)
        witness.subscribed(channel)
        client.send(frame)
        expect_error(client, "bad_request")
        client.assert_alive()
        assert_next_message_is_marker(server, [witness, client], channel)
    wait_for_event(server, "bad_request", since)


def test_binary_frame_with_a_json_command_is_handled_like_text(server):
    with WSClient(server) as client:
        client.send(b'{"action":"ping"}')
        assert client.recv()["event"] == "pong"


def test_publish_on_readonly_channel_is_forbidden_and_not_delivered(server):
    channel = unique("readonly:")
    since = now_ms()
    with WSClient(server) as client, WSClient(server) as witness:
        witness.subscribed(channel)
        client.subscribed(channel)
        client.send({"action": "publish", "channel": channel, "data": {"x": 1}})
        expect_error(client, "forbidden", channel)
        client.assert_alive()
        assert_next_message_is_marker(server, witness, channel)  # the server API may still publish there
    wait_for_event(server, "forbidden", since, contains=channel)


def test_publish_over_the_plan_message_size_is_message_too_large(fresh_server):
    server = fresh_server()
    channel = unique("size:")
    since = now_ms()
    with WSClient(server, key=SMALL["key"]) as client, WSClient(server, key=SMALL["key"]) as witness:
        client.subscribed(channel)
        witness.subscribed(channel)
        client.send({"action": "publish", "channel": channel, "data": {"blob": "x" * 1100}})
        expect_error(client, "message_too_large", channel)
        client.assert_alive()
        # A whole frame far over the limit is refused before parsing, and the connection survives it too.
        client.send(json.dumps({"action": "publish", "channel": channel, "data": "y" * 8000}))
        expect_error(client, "message_too_large")
        client.assert_alive()
        # Right at the limit is fine.
        data = "z" * (1024 - 2)
        client.send({"action": "publish", "channel": channel, "data": data})
        assert witness.recv()["data"] == data
        assert_next_message_is_marker(server, witness, channel, app=SMALL)
    wait_for_event(server, "message_too_large", since, app=SMALL["id"])
    r = rest(server, "POST", "publish", app=SMALL, json={"channel": channel, "data": "q" * 1100})
    assert r.status_code == 413 and r.json()["error"]["code"] == "message_too_large"


def test_a_message_far_over_the_plan_is_dropped_unread_and_refused_whole_or_in_fragments(fresh_server):
    """Past the plan's limit plus the protocol's framing the transport keeps nothing of a message, yet JSON-action still
    answers `message_too_large` (the contract's error, not a 1009 close), however many frames the message spans."""
    server = fresh_server()
    channel = unique("huge:")
    since = now_ms()
    with WSClient(server, key=SMALL["key"]) as client, WSClient(server, key=SMALL["key"]) as witness:
        witness.subscribed(channel)
        client.send(json.dumps({"action": "publish", "channel": channel, "data": "h" * 300_000}))
        expect_error(client, "message_too_large")
        client.assert_alive()
        head = json.dumps({"action": "publish", "channel": channel, "data": ""})[:-2]
        client.ws.send(iter([head + '"', *["f" * 50_000] * 6, '"}']))
        expect_error(client, "message_too_large")
        client.assert_alive()
        witness.assert_alive()  # nothing was delivered
    wait_for_event(server, "message_too_large", since, app=SMALL["id"], contains="message over")


def test_fourth_channel_on_a_three_channel_plan_is_channel_limit(fresh_server):
    server = fresh_server()
    since = now_ms()
    with WSClient(server, key=SMALL["key"]) as client:
        channels = [unique(f"c{i}:") for i in range(4)]
        for channel in channels[:3]:
            client.subscribed(channel)
        client.send({"action": "subscribe", "channel": channels[3]})
        expect_error(client, "channel_limit", channels[3])
        client.assert_alive()
        # Not subscribed to the fourth, still subscribed to the others.
        publish(server, channels[0], {"still": "here"}, app=SMALL)
        assert client.recv()["data"] == {"still": "here"}
        # Freeing a channel makes room.
        client.send({"action": "unsubscribe", "channel": channels[0]})
        assert client.recv()["event"] == "unsubscribed"
        client.subscribed(channels[3])
    wait_for_event(server, "over_quota", since, app=SMALL["id"])


def test_publishes_past_the_plan_rate_are_rate_limited(fresh_server):
    server = fresh_server()
    channel = unique("rate:")
    since = now_ms()
    with WSClient(server, key=SMALL["key"]) as client, WSClient(server, key=SMALL["key"]) as witness:
        client.subscribed(channel)
        witness.subscribed(channel)
        for i in range(20):
            client.send({"action": "publish", "channel": channel, "data": {"i": i}})
        assert [witness.recv()["data"]["i"] for _ in range(20)] == list(range(20))
        client.send({"action": "publish", "channel": channel, "data": {"i": 20}})
        expect_error(client, "rate_limited", channel)
        client.assert_alive()
        witness.assert_alive()  # the refused publish never reached anyone
        r = rest(server, "POST", "publish", app=SMALL, json={"channel": channel, "data": 1})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    wait_for_event(server, "rate_limited", since, app=SMALL["id"])


def test_connections_past_the_plan_limit_are_refused(fresh_server):
    server = fresh_server()
    since = now_ms()
    clients = [WSClient(server, key=SMALL["key"]) for _ in range(5)]
    try:
        extra = WSClient(server, key=SMALL["key"], expect_connected=False)
        frame = extra.recv()
        assert frame["event"] == "error" and frame["data"]["code"] == "forbidden", frame
        with pytest.raises(ConnectionClosed):
            extra.recv()
        wait_for_event(server, "over_quota", since, app=SMALL["id"])
        clients.pop().close()
        # A freed slot is usable again (the server releases it when the socket closes).
        deadline = time.monotonic() + WAIT
        while True:
            attempt = WSClient(server, key=SMALL["key"], expect_connected=False)
            frame = attempt.recv()
            if frame["event"] == "connected":
                clients.append(attempt)
                break
            attempt.close()
            assert time.monotonic() < deadline, "the closed connection's slot was never released"
            time.sleep(0.05)
    finally:
        for client in clients:
            client.close()


# ---------------------------------------------------------------------------------------------
# The REST API
# ---------------------------------------------------------------------------------------------


def test_rest_publish_returns_ok_and_seq_only_when_history_is_kept(server):
    kept = unique("restpub:")
    assert rest(server, "POST", "publish", json={"channel": kept, "data": 1}).json() == {"ok": True, "seq": 1}
    assert rest(server, "POST", "publish", json={"channel": kept, "data": 2}).json() == {"ok": True, "seq": 2}
    assert rest(server, "POST", "publish", json={"channel": unique("nohistory:"), "data": 1}).json() == {"ok": True}


def test_rest_channels_lists_channels_with_subscribers(server):
    a, b = unique("list-a:"), unique("list-b:")
    with WSClient(server) as client:
        client.subscribed(a)
        client.subscribed(b)
        listed = rest(server, "GET", "channels").json()["channels"]
        assert a in listed and b in listed
        other = rest(server, "GET", "channels", app=OTHER).json()["channels"]
        assert a not in other
        client.send({"action": "unsubscribe", "channel": a})
        assert client.recv()["event"] == "unsubscribed"
        listed = rest(server, "GET", "channels").json()["channels"]
        assert a not in listed and b in listed


def test_rest_history_is_oldest_first_with_limit_and_after(server):
    channel = unique("hist:")
    for i in range(1, 8):
        publish(server, channel, {"i": i}, name="n" if i % 2 else None, userId=f"u{i}")
    everything = rest(server, "GET", "history", params={"channel": channel}).json()["messages"]
    assert [m["seq"] for m in everything] == [1, 2, 3, 4, 5, 6, 7]
    assert [m["data"] for m in everything] == [{"i": i} for i in range(1, 8)]
    assert everything[0]["channel"] == channel and everything[0]["userId"] == "u1" and everything[0]["name"] == "n"
    assert "name" not in everything[1]
    after = rest(server, "GET", "history", params={"channel": channel, "after": 4}).json()["messages"]
    assert [m["seq"] for m in after] == [5, 6, 7]
    limited = rest(server, "GET", "history", params={"channel": channel, "after": 2, "limit": 2}).json()["messages"]
    assert [m["seq"] for m in limited] == [3, 4]
    newest = rest(server, "GET", "history", params={"channel": channel, "limit": 3}).json()["messages"]
    assert [m["seq"] for m in newest] == [5, 6, 7]


def test_rest_history_keeps_at_most_the_plan_history_size(fresh_server):
    server = fresh_server()
    channel = unique("trim:")
    for i in range(1, 13):
        publish(server, channel, {"i": i}, app=SMALL)
    kept = rest(server, "GET", "history", app=SMALL, params={"channel": channel}).json()["messages"]
    assert [m["seq"] for m in kept] == list(range(3, 13))


def test_rest_tokens_are_hs256_jwts_with_the_documented_claims(server):
    channel = unique("private-claims")
    before = int(time.time())
    r = rest(server, "POST", "tokens", json={"channel": channel, "userId": "zed", "permissions": ["subscribe"],
                                             "expiresIn": 120})
    assert r.status_code == 200
    token = r.json()["token"]
    header, claims = decode_jwt(token)
    assert header["alg"] == "HS256"
    assert claims["channel"] == channel and claims["sub"] == "zed" and claims["permissions"] == ["subscribe"]
    assert before + 119 <= claims["exp"] <= int(time.time()) + 121
    # The signature is the HMAC-SHA256 of header.payload with the app secret, as any HS256 library computes it.
    signing_input, signature = token.rsplit(".", 1)
    assert signature == b64url(hmac.new(MAIN["secret"].encode(), signing_input.encode(), hashlib.sha256).digest())


@pytest.mark.parametrize("body", [
    {"userId": "u"},
    {"channel": "bad channel"},
    {"channel": "ok", "permissions": ["admin"]},
    {"channel": "ok", "expiresIn": 0},
    {"channel": "ok", "expiresIn": 10**9},
], ids=["no_channel", "invalid_channel", "unknown_permission", "zero_expiry", "huge_expiry"])
def test_rest_tokens_refuse_bad_requests(server, body):
    r = rest(server, "POST", "tokens", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"


REST_ENDPOINTS = [
    ("POST", "publish", {"channel": "x", "data": 1}),
    ("GET", "channels", None),
    ("POST", "presence/join", {"channel": "x", "userId": "u"}),
    ("POST", "presence/update", {"channel": "x", "userId": "u"}),
    ("POST", "presence/leave", {"channel": "x", "userId": "u"}),
    ("GET", "presence/members?channel=x", None),
    ("POST", "tokens", {"channel": "private-x"}),
    ("GET", "history?channel=x", None),
]


@pytest.mark.parametrize("method,path,body", REST_ENDPOINTS, ids=[p for _, p, _ in REST_ENDPOINTS])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-secret", "Basic c2tfdGVzdDp4", f"Bearer {MAIN['key']}"],
                         ids=["missing", "wrong", "not_bearer", "public_key"])
def test_rest_endpoints_refuse_a_missing_or_wrong_bearer_with_401(server, method, path, body, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    r = httpx.request(method, f"{server.http}/_rt/api/{path}", json=body, headers=headers, timeout=WAIT)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"


def test_rest_refusal_records_a_security_event(server):
    since = now_ms()
    r = httpx.post(f"{server.http}/_rt/api/publish", json={"channel": "x", "data": 1},
                   headers={"Authorization": "Bearer nope"}, timeout=WAIT)
    assert r.status_code == 401
    wait_for_event(server, "bad_signature", since)


def test_rest_disabled_apps_secret_is_refused(server):
    r = rest(server, "POST", "publish", app=DISABLED, json={"channel": "x", "data": 1})
    assert r.status_code == 403


def test_rest_oversize_body_is_413(server):
    channel = unique("big:")
    # MAIN is enterprise: 1 MB messages, and the body may add 16 KB of envelope.
    r = rest(server, "POST", "publish", json={"channel": channel, "data": "x" * (1024 * 1024 + 20 * 1024)})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "message_too_large"
    r = rest(server, "POST", "publish", json={"channel": channel, "data": "x" * (1024 * 1024 + 100)})
    assert r.status_code == 413, r.text
    assert publish(server, channel, "x" * 1000)["ok"]


@pytest.mark.parametrize("body", ['{"channel": "x", "data": ', "not json", "", '{"channel": "x", "data": 1} trailing'],
                         ids=["truncated", "not_json", "empty", "trailing_garbage"])
def test_rest_bad_json_is_400(server, body):
    r = httpx.post(f"{server.http}/_rt/api/publish", content=body.encode(),
                   headers={**api_headers(), "Content-Type": "application/json"}, timeout=WAIT)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("method,path,body", [
    ("POST", "publish", {"data": 1}),
    ("POST", "publish", {"channel": "x"}),
    ("POST", "publish", {"channel": "no spaces allowed", "data": 1}),
    ("POST", "presence/join", {"channel": "x"}),
    ("POST", "presence/leave", {"userId": "u"}),
    ("GET", "presence/members", None),
    ("GET", "history", None),
], ids=["publish_no_channel", "publish_no_data", "publish_invalid_channel", "join_no_user", "leave_no_channel",
        "members_no_channel", "history_no_channel"])
def test_rest_missing_or_invalid_fields_are_400(server, method, path, body):
    r = rest(server, method, path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


def test_rest_api_key_identifies_its_app(server):
    channel = unique("whose:")
    with WSClient(server) as main_client, WSClient(server, key=OTHER["key"]) as other_client:
        main_client.subscribed(channel)
        other_client.subscribed(channel)
        publish(server, channel, {"from": "other"}, app=OTHER)
        assert other_client.recv()["data"] == {"from": "other"}
        assert_next_message_is_marker(server, main_client, channel, app=MAIN)


# ---------------------------------------------------------------------------------------------
# App resolution and the gate
# ---------------------------------------------------------------------------------------------


def refused_upgrade(server, **kwargs) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught:
        WSClient(server, **kwargs)
    return caught.value


def test_unknown_key_is_refused_with_404_and_an_unknown_key_event(server):
    since = now_ms()
    key = unique("pk_nope_")
    refusal = refused_upgrade(server, key=key)
    assert refusal.response.status_code == 404
    body = json.loads(refusal.response.body)
    assert body["error"]["code"] == "unknown_key"
    wait_for_event(server, "unknown_key", since, contains=key)


def test_disabled_app_is_refused_with_403_and_an_app_disabled_event(server):
    since = now_ms()
    refusal = refused_upgrade(server, key=DISABLED["key"])
    assert refusal.response.status_code == 403
    assert json.loads(refusal.response.body)["error"]["code"] == "app_disabled"
    event = wait_for_event(server, "app_disabled", since)
    assert event["app"] == DISABLED["id"]


@pytest.mark.parametrize("origin", ["http://evil.example", "https://example.com", "http://a.example.com",
                                    "https://a.example.com.evil.net", "http://allowed.example:8080"])
def test_origin_not_in_the_apps_origins_is_refused_with_403_and_an_origin_blocked_event(server, origin):
    since = now_ms()
    refusal = refused_upgrade(server, origin=origin)
    assert refusal.response.status_code == 403
    assert json.loads(refusal.response.body)["error"]["code"] == "origin_blocked"
    event = wait_for_event(server, "origin_blocked", since)
    assert event["origin"] == origin and event["app"] == MAIN["id"]


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "https://a.example.com", "https://deep.sub.example.com", None],
                         ids=["exact", "wildcard", "wildcard_deep", "no_origin"])
def test_allowed_origins_and_requests_without_origin_connect(server, origin):
    with WSClient(server, origin=origin) as client:
        client.assert_alive()


def test_app_without_origins_accepts_any_origin(server):
    with WSClient(server, key=OTHER["key"], origin="https://anything.test") as client:
        client.assert_alive()


HOSTED_CONFIG = CONFIG.replace(f'secret = "{OTHER["secret"]}"', f'secret = "{OTHER["secret"]}"\nhosts = ["other.example.test"]')


def test_host_header_selects_the_app_when_no_key_is_given_and_a_key_wins_over_it(fresh_server):
    server = fresh_server(HOSTED_CONFIG)
    channel = unique("hosted:")

    def connect_as_host(key=None):
        # The real client sends the URI's host in `Host`; the socket itself goes to the loopback server.
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        uri = f"ws://other.example.test:{server.port}/_rt/ws" + (f"?key={key}" if key else "")
        connection = ws_connect(uri, sock=sock, proxy=None, open_timeout=WAIT, close_timeout=2)
        ws = connection.__enter__()
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "connected"
        ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "subscribed"
        return connection, ws

    by_host, by_host_ws = connect_as_host()
    by_key, by_key_ws = connect_as_host(key=MAIN["key"])
    try:
        publish(server, channel, {"for": "other"}, app=OTHER)
        publish(server, channel, {"for": "main"}, app=MAIN)
        assert json.loads(by_host_ws.recv(timeout=WAIT))["data"] == {"for": "other"}
        assert json.loads(by_key_ws.recv(timeout=WAIT))["data"] == {"for": "main"}
    finally:
        by_host.__exit__(None, None, None)
        by_key.__exit__(None, None, None)


def test_plain_http_get_on_the_websocket_route_is_refused(server):
    r = httpx.get(f"{server.http}/_rt/ws", params={"key": MAIN["key"]}, timeout=WAIT)
    assert r.status_code == 426
    r = httpx.get(f"{server.http}/_rt/ws", params={"key": "pk_unknown"}, timeout=WAIT)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_key"


def test_gateway_status_counts_open_jsonaction_connections(server):
    def count():
        r = httpx.get(f"{server.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=WAIT)
        assert r.status_code == 200
        return r.json()["connections"]["jsonaction"]

    with WSClient(server) as client:
        client.assert_alive()
        assert count() >= 1


# ---------------------------------------------------------------------------------------------
# Graceful shutdown
# ---------------------------------------------------------------------------------------------


def test_sigterm_tells_clients_to_reconnect_ends_sse_and_exits_zero(fresh_server):
    server = fresh_server()
    channel = unique("bye:")
    client = WSClient(server)
    client.subscribed(channel)
    stream = SSEStream(server, [channel])
    assert stream.status_code == 200
    publish(server, channel, {"before": "shutdown"})
    assert client.recv()["data"] == {"before": "shutdown"}
    assert json.loads(stream.next().data) == {"before": "shutdown"}

    server.process.send_signal(signal.SIGTERM)
    frame = client.recv(timeout=10)
    assert frame["event"] == "error" and frame["data"]["code"] == "reconnect", frame
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    stream.wait_closed(timeout=10)
    stream.close()
    assert server.process.wait(timeout=20) == 0


def test_a_resume_from_further_back_than_the_queue_holds_replays_everything_in_pages_and_keeps_the_connection(fresh_server):
    """A `lastEventId` whose replay would not fit the connection's queue ended the connection as too slow, and the
    client reconnected with the same id for ever; a later fix replayed only the newest part that fit, a silent gap.
    The replay now goes in pages of at most half the queue, each once the client has read the last: every kept
    message after the id arrives, in order, then live ones, and the connection stays."""
    config = CONFIG.replace("new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 1000\nmax_queued_bytes = 65536")
    server = fresh_server(config)
    channel = unique("far-back:")
    blob = "y" * 2_000
    for n in range(1, 101):  # about 200 KB kept, three times the queue
        publish(server, channel, {"n": n, "blob": blob})
    with WSClient(server) as client:
        reply = client.subscribe(channel, lastEventId=0)
        assert reply["event"] == "subscribed" and reply["seq"] == 100, reply
        replayed = []
        while len(replayed) < 100:
            frame = client.recv()
            assert frame["event"] == "realtime.message", frame
            replayed.append(frame["data"]["n"])
            if len(replayed) == 50:
                publish(server, channel, {"n": 101, "blob": "live"})
        assert replayed == list(range(1, 101))
        live = client.recv()
        assert live["event"] == "realtime.message" and live["data"]["n"] == 101, live
        client.assert_alive()
