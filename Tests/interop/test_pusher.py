"""The Pusher Channels protocol with the real pysher 1.0.8 client and the official `pusher` 3.3.4 server library.

Neither library is patched: pysher connects with `custom_host`/`port`/`secure=False`, the server library with
`host`/`port`/`ssl=False`. Frame-level checks (close codes, error codes) use a raw client on `websockets`.
"""

import base64
import json
import re
import time

import nacl.secret
import pytest
import websockets

from conftest import (
    DISABLED,
    MAIN,
    PUSHER,
    SMALL,
    WAIT,
    PusherWS,
    PysherClient,
    expect_pusher_error,
    next_event,
    now_ms,
    publish,
    pusher_api,
    unique,
    wait_for_event,
    wait_subscribers,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)


def next_app_event(events, timeout: float = WAIT):
    """The next event from a pysher queue that is not one of the protocol's own (`pusher:…`, `pusher_internal:…`)."""
    deadline = time.monotonic() + timeout
    while True:
        name, data = next_event(events, timeout=max(0.01, deadline - time.monotonic()))
        if not name.startswith("pusher"):
            return name, data


# --- Connecting ---------------------------------------------------------------------------------


def test_pysher_connects_with_protocol_6_and_gets_a_socket_id(server):
    with PysherClient(server) as client:
        assert re.fullmatch(r"\d+\.\d+", client.socket_id), client.socket_id
        assert client.pusher.connection.state == "connected"


def test_connection_established_data_is_a_json_string(server):
    with PusherWS(server, protocol="7") as client:
        assert re.fullmatch(r"\d+\.\d+", client.established["socket_id"])
        assert client.established["activity_timeout"] == 120
        client.assert_alive()


@pytest.mark.parametrize("protocol", ["5", "6", "7"])
def test_protocols_5_to_7_are_accepted(server, protocol):
    with PusherWS(server, protocol=protocol) as client:
        client.assert_alive()


@pytest.mark.parametrize(
    "key, protocol, code",
    [
        ("pk_no_such_app", "7", 4001),
        (DISABLED["key"], "7", 4003),
        (MAIN["key"], None, 4008),
        (MAIN["key"], "8", 4007),
        (MAIN["key"], "seven", 4006),
    ],
)
def test_refused_connections_get_the_documented_error_and_close_code(server, key, protocol, code):
    with PusherWS(server, key=key, protocol=protocol, expect_established=False) as client:
        frame = client.recv()
        assert frame["event"] == "pusher:error" and frame["data"]["code"] == code, frame
        assert client.close_code() == code


def test_unknown_key_and_disabled_app_are_security_events(server):
    since = now_ms()
    with PusherWS(server, key="pk_no_such_app_either", expect_established=False) as client:
        assert client.close_code() == 4001
    wait_for_event(server, "unknown_key", since)
    with PusherWS(server, key=DISABLED["key"], expect_established=False) as client:
        assert client.close_code() == 4003
    wait_for_event(server, "app_disabled", since)


def test_a_blocked_origin_is_refused_before_the_upgrade(server):
    import websockets

    since = now_ms()
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        PusherWS(server, origin="https://evil.example.net")
    assert refused.value.response.status_code == 403
    wait_for_event(server, "origin_blocked", since)
    with PusherWS(server, origin="http://allowed.example") as client:
        client.assert_alive()


def test_over_the_connection_quota_is_4004(server):
    clients = []
    try:
        for _ in range(6):
            client = PusherWS(server, key=SMALL["key"], expect_established=False)
            clients.append(client)
            frame = client.recv()
            if frame["event"] == "pusher:error":
                assert frame["data"]["code"] == 4004, frame
                assert client.close_code() == 4004
                return
            assert frame["event"] == "pusher:connection_established", frame
        pytest.fail("six connections were admitted on a plan allowing five")
    finally:
        for client in clients:
            client.close()


# --- Subscribing and triggering -----------------------------------------------------------------


def test_public_channel_trigger_reaches_pysher_with_data_as_sent(server):
    channel = unique("public-")
    with PysherClient(server) as client:
        events = client.subscribe(channel, events=["update"])
        wait_subscribers(server, channel, 1, app=PUSHER)
        pusher_api(server, PUSHER).trigger(channel, "update", {"price": 42, "note": "été"})
        name, data = next_event(events, "update")
        assert json.loads(data) == {"price": 42, "note": "été"}


def test_a_data_string_that_reads_as_json_reaches_pysher_as_sent_and_stays_a_string(server):
    """PHP's `json_encode('123')` sends `"123"`; Pusher relays it as is, so a client's JSON parse keeps a string."""
    channel = unique("public-")
    with PysherClient(server) as client:
        events = client.subscribe(channel, events=["note"])
        wait_subscribers(server, channel, 1, app=PUSHER)
        api = pusher_api(server, PUSHER)
        for sent in ('"123"', '"{\\"a\\":1}"', '" true "', "plain"):
            api.trigger(channel, "note", sent)
            assert next_event(events, "note")[1] == sent
        # From another protocol: the JSON string "123" stays the string "123" after a Pusher client's parse.
        publish(server, channel, "123", app=PUSHER, name="note")
        assert json.loads(next_event(events, "note")[1]) == "123"


def test_private_channel_with_pysher_signature_and_with_the_server_library_signature(server):
    api = pusher_api(server, PUSHER)
    with PysherClient(server) as local, PysherClient(server, secret=False) as delegated:
        channel = unique("private-")
        first = local.subscribe(channel, events=["secret"])
        auth = api.authenticate(channel, delegated.socket_id)["auth"]
        second = delegated.subscribe(channel, events=["secret"], auth=auth)
        wait_subscribers(server, channel, 2, app=PUSHER)
        api.trigger(channel, "secret", "plain text")
        assert next_event(first, "secret")[1] == "plain text"
        assert next_event(second, "secret")[1] == "plain text"


def test_a_wrong_signature_is_4009_a_security_event_and_subscribes_nothing(server):
    since = now_ms()
    channel = unique("private-")
    with PusherWS(server) as client:
        reply = client.subscribe(channel, auth=MAIN["key"] + ":" + "0" * 64)
        assert reply["event"] == "pusher:subscription_error" and reply["channel"] == channel, reply
        assert reply["data"]["status"] == 401
        expect_pusher_error(client, 4009, channel)
        client.assert_alive()
        wait_for_event(server, "bad_signature", since)
        assert pusher_api(server).channel_info(channel, ["subscription_count"]) == {"occupied": False, "subscription_count": 0}
        # A signature for another socket does not do either.
        other = PusherWS(server)
        try:
            reply = client.subscribe(channel, auth=pusher_api(server).authenticate(channel, other.socket_id)["auth"])
            assert reply["event"] == "pusher:subscription_error", reply
        finally:
            other.close()


def test_presence_members_join_and_leave_across_pysher_clients(server):
    channel = unique("presence-")
    api = pusher_api(server, PUSHER)
    with PysherClient(server, user_data={"user_id": "alice", "user_info": {"name": "Alice"}}) as alice:
        alice_events = alice.subscribe(channel)
        wait_subscribers(server, channel, 1, app=PUSHER)
        bob = PysherClient(server, user_data={"user_id": "bob", "user_info": {"name": "Bob"}})
        try:
            bob.subscribe(channel)
            _, data = next_event(alice_events, "pusher_internal:member_added")
            assert json.loads(data) == {"user_id": "bob", "user_info": {"name": "Bob"}}
            assert sorted(user["id"] for user in api.users_info(channel)["users"]) == ["alice", "bob"]
            assert api.channel_info(channel, ["user_count", "subscription_count"]) == {
                "occupied": True, "user_count": 2, "subscription_count": 2}
        finally:
            bob.close()
        _, data = next_event(alice_events, "pusher_internal:member_removed")
        assert json.loads(data) == {"user_id": "bob"}
        assert [user["id"] for user in api.users_info(channel)["users"]] == ["alice"]


def test_presence_subscription_succeeded_lists_ids_hash_and_count(server):
    channel = unique("presence-")
    with PusherWS(server) as first, PusherWS(server) as second:
        first.subscribed(channel, channel_data={"user_id": "u1", "user_info": {"n": 1}})
        reply = second.subscribed(channel, channel_data={"user_id": 2})
        presence = json.loads(reply["data"])["presence"]
        assert sorted(presence["ids"]) == ["2", "u1"]
        assert presence["hash"] == {"u1": {"n": 1}, "2": None}
        assert presence["count"] == 2
        added = first.recv()
        assert added["event"] == "pusher_internal:member_added", added
        assert json.loads(added["data"])["user_id"] == "2"
        second.assert_alive()


def test_presence_channel_data_needs_a_user_id(server):
    channel = unique("presence-")
    with PusherWS(server) as client:
        for channel_data in ['{"user_info":{}}', '{"user_id":""}', "not json"]:
            client.subscribe(channel, channel_data=channel_data)
            expect_pusher_error(client, 4300, channel)
        client.assert_alive()
        assert pusher_api(server).users_info(channel)["users"] == []


def test_trigger_batch_and_socket_id_exclusion(server):
    api = pusher_api(server, PUSHER)
    first, second = unique("batch-a-"), unique("batch-b-")
    with PysherClient(server) as a, PysherClient(server) as b:
        a_first, b_first = a.subscribe(first, events=["e1", "mark"]), b.subscribe(first, events=["e1", "mark"])
        b_second = b.subscribe(second, events=["e2"])
        wait_subscribers(server, first, 2, app=PUSHER)
        wait_subscribers(server, second, 1, app=PUSHER)
        api.trigger_batch([
            {"channel": first, "name": "e1", "data": {"n": 1}},
            {"channel": second, "name": "e2", "data": "two"},
        ])
        assert json.loads(next_event(a_first, "e1")[1]) == {"n": 1}
        assert json.loads(next_event(b_first, "e1")[1]) == {"n": 1}
        assert next_event(b_second, "e2")[1] == "two"
        # Excluding a's socket: b gets it, a does not (a then gets the next event, a marker, first).
        api.trigger(first, "e1", {"n": 2}, socket_id=a.socket_id)
        assert json.loads(next_event(b_first, "e1")[1]) == {"n": 2}
        api.trigger(first, "mark", "m")
        name, _ = next_app_event(a_first)
        assert name == "mark"


def test_channels_info_channel_info_and_users_info(server):
    api = pusher_api(server)
    prefix = unique("presence-info")
    channel = prefix + "-room"
    public = unique("info-public-")
    with PusherWS(server) as one, PusherWS(server) as two:
        one.subscribed(channel, channel_data={"user_id": "x"})
        two.subscribed(channel, channel_data={"user_id": "x"})
        two.subscribed(public)
        listed = api.channels_info(prefix, ["user_count", "subscription_count"])
        assert listed == {"channels": {channel: {"user_count": 1, "subscription_count": 2}}}
        everything = api.channels_info()
        assert channel in everything["channels"] and public in everything["channels"]
        assert everything["channels"][public] == {}
        assert api.channel_info(public, ["subscription_count"]) == {"occupied": True, "subscription_count": 1}
        assert api.channel_info(unique("empty-")) == {"occupied": False}
        assert api.users_info(channel) == {"users": [{"id": "x"}]}


def test_channel_info_refuses_user_count_outside_presence(server):
    from pusher.errors import PusherBadRequest

    api = pusher_api(server)
    with pytest.raises(PusherBadRequest):
        api.channel_info(unique("public-"), ["user_count"])
    with pytest.raises(PusherBadRequest):
        api.channels_info("public-", ["user_count"])
    with pytest.raises(PusherBadRequest):
        api.users_info(unique("private-"))


# --- Client events ------------------------------------------------------------------------------


def test_client_events_between_two_pysher_clients_are_not_echoed(server):
    channel = unique("private-chat-")
    with PysherClient(server) as alice, PysherClient(server) as bob:
        alice_events = alice.subscribe(channel, events=["client-typing", "done"])
        bob_events = bob.subscribe(channel, events=["client-typing", "done"])
        wait_subscribers(server, channel, 2, app=PUSHER)
        alice.trigger(channel, "client-typing", {"who": "alice"})
        name, data = next_event(bob_events, "client-typing")
        assert json.loads(data) == {"who": "alice"}
        pusher_api(server, PUSHER).trigger(channel, "done", "")
        assert next_app_event(alice_events)[0] == "done"  # nothing of its own came back first


def test_client_events_on_presence_carry_the_user_id(server):
    channel = unique("presence-chat-")
    with PusherWS(server) as alice, PusherWS(server) as bob:
        alice.subscribed(channel, channel_data={"user_id": "alice"})
        bob.subscribed(channel, channel_data={"user_id": "bob"})
        alice.recv_until(lambda f: f["event"] == "pusher_internal:member_added")
        alice.send({"event": "client-wave", "channel": channel, "data": {"hi": True}})
        frame = bob.recv()
        assert {k: v for k, v in frame.items() if k != "data"} == {"event": "client-wave", "channel": channel, "user_id": "alice"}
        assert json.loads(frame["data"]) == {"hi": True}
        alice.assert_alive()


def test_client_events_are_refused_where_they_do_not_belong(server):
    since = now_ms()
    public, encrypted, unsubscribed = unique("public-"), unique("private-encrypted-"), unique("private-")
    with PusherWS(server) as client:
        client.subscribed(public)
        client.subscribed(encrypted)
        for channel in (public, encrypted, unsubscribed):
            client.send({"event": "client-x", "channel": channel, "data": "{}"})
            expect_pusher_error(client, 4300, channel)
        client.assert_alive()
    wait_for_event(server, "forbidden", since)


def test_client_events_past_ten_per_second_get_4301(server):
    channel = unique("private-rate-")
    with PusherWS(server) as sender, PusherWS(server) as receiver:
        sender.subscribed(channel)
        receiver.subscribed(channel)
        started = time.monotonic()
        for index in range(15):
            sender.send({"event": "client-n", "channel": channel, "data": str(index)})
        # Messages are answered in order: the pong comes after every refusal of the fifteen.
        sender.send({"event": "pusher:ping", "data": {}})
        errors = []
        while (frame := sender.recv())["event"] != "pusher:pong":
            errors.append(frame)
        # The bucket holds ten and earns one back every 100 ms: a machine that took that long earned more.
        earned = int((time.monotonic() - started) * 10)
        assert all(frame["data"]["code"] == 4301 for frame in errors), errors
        passed = 15 - len(errors)
        assert 10 <= passed <= 10 + earned, (passed, earned)
        got = [receiver.recv()["data"] for _ in range(passed)]
        assert got[:10] == [str(index) for index in range(10)] and got == sorted(got, key=int), got
        sender.assert_alive()
        receiver.assert_alive()


# --- Encrypted, cache, counts, sign-in ----------------------------------------------------------



def test_a_burst_of_client_events_is_trimmed_to_the_rate_and_the_connection_stays(server):
    """Pusher drops client events past 10/s with 4301 and keeps the connection (4300–4399 never close it): a pusher-js
    app sending its cursor's moves in a burst was closed with 4100 once 20 of them had been refused."""
    channel = unique("private-burst-")
    with PusherWS(server) as sender, PusherWS(server) as receiver:
        sender.subscribed(channel)
        receiver.subscribed(channel)
        for index in range(60):
            sender.send({"event": "client-move", "channel": channel, "data": str(index)})
        sender.send({"event": "pusher:ping", "data": {}})
        errors = []
        while (frame := sender.recv())["event"] != "pusher:pong":
            errors.append(frame["data"]["code"])
        assert len(errors) >= 40 and set(errors) == {4301}, errors
        assert receiver.recv()["data"] == "0"
        sender.assert_alive()

def test_encrypted_channel_round_trip_with_the_libraries_master_key(server):
    master = base64.b64encode(b"k" * 32).decode()
    api = pusher_api(server, PUSHER, encryption_master_key_base64=master)
    channel = unique("private-encrypted-")
    with PysherClient(server, secret=False) as client:
        auth = api.authenticate(channel, client.socket_id)
        events = client.subscribe(channel, events=["secret"], auth=auth["auth"])
        wait_subscribers(server, channel, 1, app=PUSHER)
        api.trigger(channel, "secret", {"message": "only for you"})
        _, data = next_event(events, "secret")
        envelope = json.loads(data)
        assert set(envelope) == {"nonce", "ciphertext"}
        box = nacl.secret.SecretBox(base64.b64decode(auth["shared_secret"]))
        plain = box.decrypt(base64.b64decode(envelope["ciphertext"]), base64.b64decode(envelope["nonce"]))
        assert json.loads(plain) == {"message": "only for you"}


def test_a_cache_channel_replays_its_last_event_or_reports_a_miss(server):
    channel = unique("cache-price-")
    api = pusher_api(server)
    with PusherWS(server) as early:
        early.subscribed(channel)
        assert early.recv() == {"event": "pusher:cache_miss", "channel": channel}
        api.trigger(channel, "price", {"p": 1})
        api.trigger(channel, "price", {"p": 2})
        early.recv()
        early.recv()
    with PusherWS(server) as late:
        late.subscribed(channel)
        frame = late.recv()
        assert frame["event"] == "price" and json.loads(frame["data"]) == {"p": 2}, frame
        late.assert_alive()


def test_subscription_counts_when_the_app_enables_them(server):
    channel = unique("counted-")
    with PusherWS(server, key=PUSHER["key"]) as first:
        first.subscribed(channel, app=PUSHER)
        count = first.recv()
        assert count == {"event": "pusher_internal:subscription_count", "channel": channel, "data": '{"subscription_count":1}'}
        with PusherWS(server, key=PUSHER["key"]) as second:
            second.subscribed(channel, app=PUSHER)
            assert json.loads(second.recv()["data"]) == {"subscription_count": 2}
            assert json.loads(first.recv()["data"]) == {"subscription_count": 2}
        assert json.loads(first.recv()["data"]) == {"subscription_count": 1}
    with PusherWS(server) as quiet:  # MAIN does not share counts
        quiet.subscribed(channel)
        quiet.assert_alive()


def test_signin_send_to_user_and_terminate_connections(server):
    api = pusher_api(server)
    user = unique("user")
    with PusherWS(server) as client:
        signed = api.authenticate_user(client.socket_id, {"id": user, "name": "Zed"})
        client.send({"event": "pusher:signin", "data": signed})
        frame = client.recv()
        assert frame["event"] == "pusher:signin_success", frame
        assert json.loads(json.loads(frame["data"])["user_data"]) == {"id": user, "name": "Zed"}
        api.send_to_user(user, "notice", {"n": 1})
        notice = client.recv()
        assert notice["event"] == "notice" and json.loads(notice["data"]) == {"n": 1}, notice
        api.terminate_user_connections(user)  # the library posts to /users/{id}/terminate_connections
        frame = client.recv()
        assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4009, frame
        assert client.close_code() == 4009


def test_a_bad_signin_signature_closes_with_4009(server):
    since = now_ms()
    with PusherWS(server) as client:
        client.send({"event": "pusher:signin", "data": {"auth": MAIN["key"] + ":" + "0" * 64, "user_data": '{"id":"x"}'}})
        expect_pusher_error(client, 4009)
        assert client.close_code() == 4009
    wait_for_event(server, "bad_signature", since)


# --- Bad input ----------------------------------------------------------------------------------


def test_bad_frames_get_4300_and_change_nothing(server):
    since = now_ms()
    channel = unique("bad-input-")
    with PusherWS(server) as client:
        client.subscribed(channel)
        for frame in ["{not json", '{"data":{}}', '{"event":"pusher:whatever","data":{}}', '{"event":"hello","data":"x"}',
                      json.dumps({"event": "pusher:subscribe", "data": {"channel": "bad channel!"}})]:
            client.send(frame)
            reply = client.recv()
            if reply["event"] == "pusher:subscription_error":
                reply = client.recv()
            assert reply["event"] == "pusher:error" and reply["data"]["code"] == 4300, reply
        client.send({"event": "pusher:subscribe", "data": {"channel": channel}})
        expect_pusher_error(client, 4300, channel)  # subscribing twice
        client.send({"event": "client-big", "channel": unique("private-"), "data": "x" * (1024 * 1024 + 10_000)})
        expect_pusher_error(client, 4300)
        pusher_api(server).trigger(channel, "after", "still here")
        frame = client.recv()
        assert frame["event"] == "after", frame
        assert pusher_api(server).channel_info(channel, ["subscription_count"])["subscription_count"] == 1
    wait_for_event(server, "bad_request", since)
    wait_for_event(server, "message_too_large", since)


def test_a_thousand_channels_on_one_socket_stop_at_the_limit_and_the_flood_is_closed(server):
    prefix = unique("many")
    with PusherWS(server) as client:
        try:
            for index in range(1000):
                client.send({"event": "pusher:subscribe", "data": {"channel": f"{prefix}-{index}"}})
        except websockets.exceptions.ConnectionClosed:
            pass  # the server may close the flood before all of it is sent; what it answered is still read below
        frames = []
        try:
            while True:
                frames.append(client.recv())
        except websockets.exceptions.ConnectionClosed as closed:
            # Past the limit each frame is refused; after `[limits] max_refusals` refusals the server closes with 4100.
            assert closed.rcvd is not None and closed.rcvd.code == 4100, closed
        succeeded = [f for f in frames if f["event"] == "pusher_internal:subscription_succeeded"]
        errors = [f for f in frames if f["event"] == "pusher:error"]
        assert len(succeeded) == 100
        assert 10 <= len(errors) <= 30 and errors[-1]["data"]["code"] == 4100
    # The socket closed: every channel was left.
    wait_until(lambda: pusher_api(server).channels_info(prefix)["channels"] == {}, message="channels left")


def test_a_presence_channel_past_100_members_refuses_with_4100(server):
    channel = unique("presence-full-")
    clients = []
    try:
        for index in range(100):
            client = PusherWS(server)
            clients.append(client)
            client.subscribed(channel, channel_data={"user_id": f"u{index}"})
        extra = PusherWS(server)
        clients.append(extra)
        reply = extra.subscribe(channel, channel_data={"user_id": "u100"})
        assert reply["event"] == "pusher:subscription_error", reply
        expect_pusher_error(extra, 4100, channel)
        extra.assert_alive()
        assert len(pusher_api(server).users_info(channel)["users"]) == 100
    finally:
        for client in clients:
            client.close()


def test_a_small_presence_limit_is_configurable(server):
    channel = unique("presence-small-")
    clients = [PusherWS(server, key=PUSHER["key"]) for _ in range(4)]
    try:
        for index, client in enumerate(clients[:3]):
            client.subscribed(channel, app=PUSHER, channel_data={"user_id": f"u{index}"})
        clients[3].subscribe(channel, app=PUSHER, channel_data={"user_id": "u3"})
        expect_pusher_error(clients[3], 4100, channel)
    finally:
        for client in clients:
            client.close()


# --- Cross-protocol -----------------------------------------------------------------------------


def test_a_pusher_trigger_reaches_json_action_and_sse_subscribers(server):
    from conftest import SSEStream, WSClient

    channel = unique("cross-")
    with WSClient(server) as action, SSEStream(server, [channel]) as sse:
        action.subscribed(channel)
        wait_subscribers(server, channel, 2)
        pusher_api(server).trigger(channel, "greeting", {"text": "hello"})
        frame = action.recv()
        assert frame["event"] == "realtime.message" and frame["name"] == "greeting" and frame["data"] == {"text": "hello"}, frame
        event = sse.next()
        assert event.event == "greeting" and json.loads(event.data) == {"text": "hello"}
        pusher_api(server).trigger(channel, "note", "not json")
        assert action.recv()["data"] == "not json"


def test_a_json_action_publish_reaches_pysher(server):
    from conftest import publish

    channel = unique("cross-back-")
    with PysherClient(server) as client:
        events = client.subscribe(channel, events=["message", "named"])
        wait_subscribers(server, channel, 1, app=PUSHER)
        publish(server, channel, {"text": "from rest"}, app=PUSHER)
        name, data = next_event(events, "message")
        assert json.loads(data) == {"text": "from rest"}
        publish(server, channel, "just a string", app=PUSHER, name="named")
        assert next_event(events, "named")[1] == "just a string"


def test_presence_is_one_list_whichever_protocol_joined(server):
    from conftest import WSClient, channel_token

    channel = unique("presence-mixed-")
    with PusherWS(server) as pusher_client, WSClient(server) as action:
        pusher_client.subscribed(channel, channel_data={"user_id": "p1", "user_info": {"via": "pusher"}})
        action.subscribed(channel, token=channel_token(channel, sub="j1"))
        action.send({"action": "presence:join", "channel": channel, "userId": "j1", "metadata": {"via": "json"}})
        frame, _ = pusher_client.recv_until(lambda f: f["event"] == "pusher_internal:member_added")
        assert json.loads(frame["data"]) == {"user_id": "j1", "user_info": {"via": "json"}}
        users = wait_until(lambda: sorted(u["id"] for u in pusher_api(server).users_info(channel)["users"]) == ["j1", "p1"])
        assert users
        action.send({"action": "presence:leave", "channel": channel})
        frame, _ = pusher_client.recv_until(lambda f: f["event"] == "pusher_internal:member_removed")
        assert json.loads(frame["data"]) == {"user_id": "j1"}


# --- Keepalive and shutdown ---------------------------------------------------------------------


def test_the_server_pings_a_silent_client_and_closes_with_4201(server):
    from conftest import PUSHER_IDLE

    with PusherWS(server, key=PUSHER_IDLE["key"]) as silent:
        assert silent.established["activity_timeout"] == 1
        started = time.monotonic()
        assert silent.recv(timeout=WAIT) == {"event": "pusher:ping", "data": {}}
        frame = silent.recv(timeout=WAIT)
        assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4201, frame
        assert silent.close_code() == 4201
        assert time.monotonic() - started < 4


def test_a_client_that_answers_pings_stays(server):
    from conftest import PUSHER_IDLE

    with PusherWS(server, key=PUSHER_IDLE["key"]) as client:
        for _ in range(3):
            assert client.recv(timeout=WAIT)["event"] == "pusher:ping"
            client.send({"event": "pusher:pong", "data": {}})
        client.assert_alive()


def test_sigterm_tells_pusher_clients_to_reconnect_with_4200(fresh_server):
    server = fresh_server()
    with PusherWS(server) as client:
        client.subscribed(unique("bye-"))
        server.process.send_signal(15)
        frame = client.recv()
        assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4200, frame
        assert client.close_code() == 4200
    assert server.process.wait(timeout=20) == 0
