"""Kit rules from the attacker's side: a member of a protected channel (it holds a valid signature) sends what the kit
forbids, over the Pusher protocol (client events), JSON-action and the server APIs, and is refused with its protocol's
error and a security event, while the other members see nothing of it. The rules are the presets in conf/kits/."""

import json
import time

import httpx
import pusher as pusher_server
import pytest

from conftest import PusherWS, WSClient, channel_token, now_ms, rest, sign_jwt, start_server, unique, wait_for_event
from domvia_support import CONFIG, DOMVIA, KIT_RULES

pytestmark = pytest.mark.timeout(60)


def kit_config(rules: str = KIT_RULES) -> str:
    # No upstream needed here: these tests speak the protocols directly.
    return CONFIG.replace('upstream = "{upstream}"\n', "").replace("{rules}", rules)


@pytest.fixture(scope="module")
def kits():
    server = start_server(kit_config())
    yield server
    assert server.stop() == 0, server.log()[-3000:]


def member(server, channel: str) -> PusherWS:
    client = PusherWS(server, key=DOMVIA["key"])
    client.subscribed(channel, app=DOMVIA)
    return client


def send(client: PusherWS, channel: str, event: str, data) -> None:
    client.send({"event": event, "channel": channel, "data": data})


def next_event(client: PusherWS, name: str, timeout: float = 5.0) -> dict:
    frame, _ = client.recv_until(lambda f: f["event"] == name, timeout=timeout)
    return frame


def expect_pusher_error(client: PusherWS, code: int, channel: str) -> dict:
    """The next `pusher:error` on `channel` (other members' events may come before it) must carry `code`."""
    frame, _ = client.recv_until(lambda f: f["event"] == "pusher:error", timeout=5)
    assert frame["data"]["code"] == code and frame.get("channel") == channel, frame
    assert frame["data"]["message"], frame
    return frame


def assert_only(client: PusherWS, event: str, channel: str, server) -> dict:
    """The next frame the client gets on `channel` is `event` (nothing refused reached it before)."""
    frame, skipped = client.recv_until(lambda f: f.get("channel") == channel and not f["event"].startswith("pusher"), timeout=5)
    assert frame["event"] == event, (frame, skipped)
    return frame


def envelope(kid: str = "dev1.k1") -> dict:
    return {"v": 1, "alg": "A256GCM", "kid": kid, "iv": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVkLWJ5dGVz"}


def api(server) -> pusher_server.Pusher:
    return pusher_server.Pusher(app_id=DOMVIA["id"], key=DOMVIA["key"], secret=DOMVIA["secret"], host="127.0.0.1", port=server.port, ssl=False)


# MARK: calls


def test_calls_refuse_a_signaling_payload_over_16_kb(kits):
    channel = f"private-call.room.{unique('r')}.call-1"
    since = now_ms()
    with member(kits, channel) as attacker, member(kits, channel) as peer:
        send(attacker, channel, "client-call.offer", {"call_id": "call-1", "sdp": "v=0\r\n" + "a" * 17_000})
        error = expect_pusher_error(attacker, 4300, channel)
        assert "16384" in error["data"]["message"]
        # A real-sized offer still goes through, and it is the first thing the peer sees.
        send(attacker, channel, "client-call.offer", {"call_id": "call-1", "sdp": "v=0\r\n" + "a" * 6_000})
        assert len(json.loads(assert_only(peer, "client-call.offer", channel, kits)["data"])["sdp"]) > 6_000
        event = wait_for_event(kits, "message_too_large", since, contains="16384")
        assert event["app"] == DOMVIA["id"]


def test_calls_rate_limit_ice_candidates_per_connection(kits):
    channel = f"private-call.room.{unique('r')}.call-2"
    candidate = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdp_mid": "0", "sdp_mline_index": 0}
    since = now_ms()
    with member(kits, channel) as attacker, member(kits, channel) as other, member(kits, channel) as peer:
        # A burst of 60 candidates (the preset's 20/s × 3) passes, in one batch.
        send(attacker, channel, "client-call.ice_candidate", {"call_id": "c", "candidates": [candidate] * 60, "count": 60})
        assert len(json.loads(assert_only(peer, "client-call.ice_candidate", channel, kits)["data"])["candidates"]) == 60
        # The next batch right away is over the connection's rate.
        send(attacker, channel, "client-call.ice_candidate", {"call_id": "c", "candidates": [candidate] * 30, "count": 30})
        error = expect_pusher_error(attacker, 4301, channel)
        assert "ICE candidates" in error["data"]["message"]
        # Lying about the count does not help: the batch is counted.
        send(attacker, channel, "client-call.ice_candidate", {"call_id": "c", "candidates": [candidate] * 30, "count": 1})
        expect_pusher_error(attacker, 4301, channel)
        # Call state from the same connection still passes; another connection has its own budget.
        send(attacker, channel, "client-call.ringing", {"call_id": "c", "user_id": "u2"})
        assert assert_only(peer, "client-call.ringing", channel, kits)
        send(other, channel, "client-call.ice_candidate", {"call_id": "c", "candidates": [candidate] * 40, "count": 40})
        assert len(json.loads(assert_only(peer, "client-call.ice_candidate", channel, kits)["data"])["candidates"]) == 40
        wait_for_event(kits, "rate_limited", since, contains="ICE candidates")


def test_calls_in_strong_privacy_mode_refuse_clear_signaling(kits):
    rules = KIT_RULES.replace("# encrypted = true ", "encrypted = true #")
    assert "\nencrypted = true #" in rules
    server = start_server(kit_config(rules))
    try:
        channel = f"private-call.room.{unique('r')}.call-3"
        with member(server, channel) as attacker, member(server, channel) as peer:
            send(attacker, channel, "client-call.offer", {"call_id": "c", "sdp": "v=0"})
            assert "sdp" in expect_pusher_error(attacker, 4300, channel)["data"]["message"]
            send(attacker, channel, "client-call.offer", {"call_id": "c"})
            assert "sealed" in expect_pusher_error(attacker, 4300, channel)["data"]["message"]
            send(attacker, channel, "client-call.offer", {"call_id": "c", "sealed": envelope()})
            assert json.loads(assert_only(peer, "client-call.offer", channel, server)["data"])["sealed"]["ct"]
    finally:
        assert server.stop() == 0


# MARK: encrypted chat


def test_encrypted_rooms_refuse_plaintext_in_every_protocol(kits):
    room = unique("room")
    channel = f"private-chat.room.{room}"
    since = now_ms()
    with member(kits, channel) as attacker, member(kits, channel) as peer:
        for data, hint in (
            ({"message_id": "m1", "user_id": "u1", "body": "the plan is at noon"}, "body"),
            ({"message_id": "m2", "user_id": "u1", "text": "the plan is at noon"}, "text"),
            ({"message_id": "m3", "user_id": "u1", "body": {"v": 1, "alg": "A256GCM", "kid": "k", "iv": "x y", "ct": "zz"}}, "body"),
            ({"message_id": "m4", "user_id": "u1"}, "body"),
            ("the plan is at noon", "JSON object"),
        ):
            send(attacker, channel, "client-chat.message", data)
            assert hint in expect_pusher_error(attacker, 4300, channel)["data"]["message"]
        # Typing stays a normal protected event; a sealed message goes through.
        send(attacker, channel, "client-chat.typing", {"user_id": "u1", "is_typing": True})
        assert assert_only(peer, "client-chat.typing", channel, kits)
        send(attacker, channel, "client-chat.message", {"message_id": "m5", "user_id": "u1", "body": envelope()})
        assert json.loads(assert_only(peer, "client-chat.message", channel, kits)["data"])["body"]["kid"] == "dev1.k1"
        wait_for_event(kits, "forbidden", since, contains="end-to-end encrypted")

    # JSON-action: code plaintext_refused. The server APIs: 403 with the same code.
    with WSClient(kits, key=DOMVIA["key"]) as client:
        client.subscribed(channel, token=channel_token(channel, app=DOMVIA))
        client.send({"action": "publish", "channel": channel, "name": "chat.message", "data": {"message_id": "m6", "body": "clear"},
                     "token": channel_token(channel, app=DOMVIA)})
        frame, _ = client.recv_until(lambda f: f["event"] == "error")
        assert frame["data"]["code"] == "plaintext_refused", frame
    r = rest(kits, "POST", "publish", app=DOMVIA, json={"channel": channel, "name": "chat.message", "data": {"message_id": "m7", "body": "clear"}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "plaintext_refused", r.text
    with pytest.raises(pusher_server.errors.PusherForbidden):
        api(kits).trigger(channel, "chat.message", {"message_id": "m8", "body": "clear"})
    # Nothing in clear was kept.
    kept = rest(kits, "GET", "history", app=DOMVIA, params={"channel": channel}).json()["messages"]
    assert "noon" not in json.dumps(kept) and "clear" not in json.dumps(kept)


def test_a_signed_in_member_cannot_write_as_another_user_in_every_protocol(kits):
    """Chat and calls receivers show a message's `user_id` as its sender: a member the edge knows as alice (a presence
    member, a token's `sub`) is refused when it names bob, in each protocol's way, and bob's peers never see it."""
    from test_jwt_contract import RawJWT

    room = unique("room")
    channel = f"presence-chat.room.{room}"
    since = now_ms()
    with PusherWS(kits, key=DOMVIA["key"]) as alice, PusherWS(kits, key=DOMVIA["key"]) as peer:
        alice.subscribed(channel, app=DOMVIA, channel_data={"user_id": "alice"})
        peer.subscribed(channel, app=DOMVIA, channel_data={"user_id": "carol"})
        send(alice, channel, "client-chat.message", {"message_id": "m1", "user_id": "bob", "body": "it is bob here"})
        assert "user_id" in expect_pusher_error(alice, 4300, channel)["data"]["message"]
        send(alice, channel, "client-chat.typing", {"user_id": "alice", "is_typing": True})
        assert json.loads(assert_only(peer, "client-chat.typing", channel, kits)["data"])["user_id"] == "alice"
    wait_for_event(kits, "forbidden", since, contains="user_id")

    # JSON-action: the token says alice; `forbidden`, as for any publish the token does not allow.
    private = f"private-chat.room.{room}"
    with WSClient(kits, key=DOMVIA["key"]) as client:
        client.subscribed(private, token=channel_token(private, app=DOMVIA, sub="alice"))
        client.send({"action": "publish", "channel": private, "name": "chat.message", "data": {"message_id": "m2", "user_id": "bob", "body": "hi"}})
        frame, _ = client.recv_until(lambda f: f["event"] == "error")
        assert frame["data"]["code"] == "forbidden" and "user_id" in frame["data"]["message"], frame

    # JWT: 103 permission denied; the same publish under alice's own id goes through.
    calls = f"private-call.{room}"
    connect = sign_jwt({"sub": "alice", "exp": int(time.time()) + 600}, DOMVIA["secret"])
    with RawJWT(kits, connect, key=DOMVIA["key"]) as jwt:
        sub = sign_jwt({"sub": "alice", "channel": calls, "exp": int(time.time()) + 600}, DOMVIA["secret"])
        assert "error" not in jwt.call("subscribe", channel=calls, token=sub)
        refused = jwt.call("publish", channel=calls, data={"call_id": "c1", "user_id": "bob"})
        assert refused.get("error", {}).get("code") == 103, refused
        assert "error" not in jwt.call("publish", channel=calls, data={"call_id": "c1", "user_id": "alice"})
    # The app's own server may publish for anyone.
    r = rest(kits, "POST", "publish", app=DOMVIA, json={"channel": calls, "name": "call.ringing", "data": {"call_id": "c1", "user_id": "bob"}})
    assert r.status_code == 200, r.text


# MARK: location


def test_location_caps_updates_per_publisher_and_checks_coordinates(kits):
    channel = f"private-location.trip.{unique('t')}"
    position = {"lat": 52.52, "lon": 13.405, "accuracy": 8, "heading": 90, "speed": 11.5, "time": 1}
    since = now_ms()
    with member(kits, channel) as courier, member(kits, channel) as other, member(kits, channel) as customer:
        send(courier, channel, "client-location.update", {**position, "time": 1})
        send(courier, channel, "client-location.update", {**position, "time": 2})
        assert json.loads(assert_only(customer, "client-location.update", channel, kits)["data"])["time"] == 1
        assert json.loads(assert_only(customer, "client-location.update", channel, kits)["data"])["time"] == 2
        send(courier, channel, "client-location.update", {**position, "time": 3})
        assert "position updates per second" in expect_pusher_error(courier, 4301, channel)["data"]["message"]
        # Another publisher has its own budget; bad coordinates are refused whoever sends them.
        send(other, channel, "client-location.update", {**position, "time": 4})
        assert json.loads(assert_only(customer, "client-location.update", channel, kits)["data"])["time"] == 4
        send(other, channel, "client-location.update", {**position, "lat": 123.0})
        assert "lat" in expect_pusher_error(other, 4300, channel)["data"]["message"]
        send(other, channel, "client-location.update", {"lon": 1})
        expect_pusher_error(other, 4300, channel)
        time.sleep(1.1)
        send(courier, channel, "client-location.update", {**position, "time": 5})
        assert json.loads(assert_only(customer, "client-location.update", channel, kits)["data"])["time"] == 5
        wait_for_event(kits, "rate_limited", since, contains="position updates")


def test_location_late_joiner_gets_only_the_last_position_and_nothing_after_the_trip_ends(kits):
    channel = f"private-location.trip.{unique('t')}"
    with member(kits, channel) as courier:
        for n in range(3):
            send(courier, channel, "client-location.update", {"lat": 48.85 + n / 100, "lon": 2.35, "time": n})
            time.sleep(0.55)
        courier.assert_alive()
        with member(kits, channel) as late:
            first = late.recv(timeout=5)
            assert first["event"] == "client-location.update" and json.loads(first["data"])["time"] == 2, first
            late.assert_alive()  # nothing older follows
        send(courier, channel, "client-location.ended", {"reason": "arrived"})
        courier.assert_alive()
        with member(kits, channel) as after_end:
            first = after_end.recv(timeout=5)
            assert first["event"] == "client-location.ended", first
            after_end.assert_alive()


def test_location_positions_expire_with_the_presets_ttl():
    server = start_server(kit_config(KIT_RULES.replace('history_ttl = "10m"', 'history_ttl = "1s"')))
    try:
        channel = f"private-location.trip.{unique('t')}"
        with member(server, channel) as courier:
            send(courier, channel, "client-location.update", {"lat": 1.0, "lon": 2.0})
            courier.assert_alive()
            time.sleep(1.6)
            with member(server, channel) as late:
                late.assert_alive()  # the position expired: no replay
    finally:
        assert server.stop() == 0


# MARK: delivery


def test_delivery_refuses_an_invalid_transition_and_keeps_the_timeline(kits):
    delivery = unique("d")
    channel = f"private-delivery.{delivery}"
    server_api = api(kits)
    since = now_ms()
    for status in ("pickup", "in_transit", "nearby", "delivered"):
        server_api.trigger(channel, "delivery.status", {"status": status, "note": f"now {status}"})
    # The trusted server's HTTP publish: 409 with a clear message.
    with pytest.raises(pusher_server.errors.PusherBadStatus) as refused:
        server_api.trigger(channel, "delivery.status", {"status": "in_transit"})
    assert str(refused.value).startswith("409")
    assert "cannot go to in_transit from delivered" in str(refused.value), refused.value
    # A client event (a courier's app) is refused the same way.
    with member(kits, channel) as courier:
        replayed = [courier.recv(timeout=5) for _ in range(4)]
        assert [json.loads(f["data"])["status"] for f in replayed] == ["pickup", "in_transit", "nearby", "delivered"]
        send(courier, channel, "client-delivery.status", {"status": "in_transit"})
        error = expect_pusher_error(courier, 4300, channel)
        assert "cannot go to in_transit from delivered" in error["data"]["message"]
        assert "support_needed" in error["data"]["message"]
        send(courier, channel, "client-delivery.status", {"status": "teleported"})
        assert "unknown delivery status" in expect_pusher_error(courier, 4300, channel)["data"]["message"]
        send(courier, channel, "client-delivery.status", {"status": "support_needed", "note": "box damaged"})
        courier.assert_alive()
    r = rest(kits, "POST", "publish", app=DOMVIA, json={"channel": channel, "name": "delivery.status", "data": {"status": "pickup"}})
    assert r.status_code == 200, r.text  # support can reopen a delivery
    r = rest(kits, "POST", "publish", app=DOMVIA, json={"channel": channel, "name": "delivery.status", "data": {"status": "nearby"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition", r.text
    timeline = [m["data"]["status"] for m in rest(kits, "GET", "history", app=DOMVIA, params={"channel": channel}).json()["messages"]]
    assert timeline == ["pickup", "in_transit", "nearby", "delivered", "support_needed", "pickup"]
    wait_for_event(kits, "bad_request", since, contains="cannot go to in_transit")


def test_a_subscriber_cannot_rewrite_a_delivered_timeline_through_support_or_filler_events(kits):
    """Found by an audit: any member could undo `delivered` with `support_needed` then `in_transit`, or flood the kept
    window with other events until no status was left to check against."""
    channel = f"private-delivery.{unique('d')}"
    server_api = api(kits)
    for status in ("pickup", "in_transit", "delivered"):
        server_api.trigger(channel, "delivery.status", {"status": status})
    with member(kits, channel) as customer:
        for _ in range(3):
            next_event(customer, "delivery.status")
        send(customer, channel, "client-delivery.status", {"status": "support_needed", "actor": "courier"})
        send(customer, channel, "client-delivery.status", {"status": "in_transit", "actor": "courier"})
        error = expect_pusher_error(customer, 4300, channel)
        assert "cannot go to in_transit from support_needed (allowed: delivered, support_needed)" in error["data"]["message"], error
        # Filler past the kept window (100) is delivered but not kept: the statuses stay, and so does the check.
        for n in range(120):
            r = rest(kits, "POST", "publish", app=DOMVIA, json={"channel": channel, "name": "junk", "data": {"n": n}})
            assert r.status_code == 200, r.text
        time.sleep(2.5)  # past the node's memory of its last admission: the kept timeline decides
        send(customer, channel, "client-delivery.status", {"status": "in_transit"})
        assert "from support_needed" in expect_pusher_error(customer, 4300, channel)["data"]["message"]
        customer.assert_alive()
    kept = rest(kits, "GET", "history", app=DOMVIA, params={"channel": channel}).json()["messages"]
    assert [m["data"]["status"] for m in kept] == ["pickup", "in_transit", "delivered", "support_needed"]
    # The app's server resolves the request, to any state.
    r = rest(kits, "POST", "publish", app=DOMVIA, json={"channel": channel, "name": "delivery.status", "data": {"status": "pickup"}})
    assert r.status_code == 200, r.text


def test_delivery_transitions_hold_across_a_restart(tmp_path):
    config = kit_config()
    server = start_server(config, workdir=tmp_path)
    channel = f"private-delivery.{unique('d')}"
    api(server).trigger(channel, "delivery.status", {"status": "in_transit"})
    api(server).trigger(channel, "delivery.status", {"status": "delivered"})
    time.sleep(0.3)  # the kept timeline reaches the store within history_flush_ms
    assert server.stop() == 0
    server = start_server(config, workdir=tmp_path)
    try:
        # The new process knows the status only from the kept timeline, and still refuses going back.
        r = rest(server, "POST", "publish", app=DOMVIA, json={"channel": channel, "name": "delivery.status", "data": {"status": "in_transit"}})
        assert r.status_code == 409, r.text
    finally:
        assert server.stop() == 0


def test_kit_settings_are_checked_when_the_config_loads(tmp_path):
    for rules, problem in (
        ('[[apps.channels]]\nmatch = "x.*"\nkit = "video"\n', 'unknown kit "video"'),
        ('[[apps.channels]]\nmatch = "x.*"\nmax_signal_bytes = 100000\n', "needs a kit"),
        ('[[apps.channels]]\nmatch = "x.*"\nkit = "chat"\nmax_signal_bytes = 100000\n', "applies to kit = calls"),
    ):
        with pytest.raises(RuntimeError) as failed:
            start_server(kit_config(rules))
        assert problem in str(failed.value), failed.value
