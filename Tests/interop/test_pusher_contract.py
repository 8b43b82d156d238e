"""Parts of the Pusher Channels v7 contract that test_pusher*.py leave open, pinned with real clients.

The WebSocket side runs on the `websockets` client (raw frames, close codes) and the official `pusher` 3.3.4 server
library; HTTP API refusals are signed with the standard library so that one part of a request can be wrong on
purpose. Webhooks are received on a local HTTP server and checked with the library's `validate_webhook`.
"""

import base64
import hashlib
import hmac
import json
import time

import httpx
import nacl.secret
import pusher.errors
import pytest
import websockets

from conftest import (
    CONFIG,
    DISABLED,
    MAIN,
    OTHER,
    PUSHER,
    SMALL,
    WAIT,
    PusherWS,
    WSClient,
    expect_pusher_closed,
    expect_pusher_error,
    now_ms,
    publish,
    pusher_api,
    pusher_api_auth,
    start_server,
    unique,
    wait_for_event,
    wait_until,
)
from test_pusher_webhooks import Receiver, pusher_api_for

pytestmark = pytest.mark.timeout(60)


def signed_call(server, method: str, path: str, app=MAIN, body: bytes | None = None, params=None, timestamp=None, drop=(),
                extra=None, headers=None) -> httpx.Response:
    """An HTTP API request signed as the HTTP API reference describes (HMAC-SHA256 of `METHOD\\nPATH\\nsorted query`).

    `drop` leaves signed parameters out of what is sent; `extra` adds parameters after signing (unsigned).
    """
    query = {key: str(value) for key, value in (params or {}).items()}
    query.update(auth_key=app["key"], auth_timestamp=str(timestamp if timestamp is not None else int(time.time())),
                 auth_version=query.get("auth_version", "1.0"))
    if body:
        query["body_md5"] = hashlib.md5(body).hexdigest()
    for name in drop:
        query.pop(name, None)
    to_sign = "\n".join([method, path, "&".join(f"{k}={v}" for k, v in sorted(query.items()))])
    query["auth_signature"] = hmac.new(app["secret"].encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    query.update(extra or {})
    return httpx.request(method, server.http + path, params=query, content=body,
                         headers={**({"Content-Type": "application/json"} if body else {}), **(headers or {})}, timeout=WAIT)


def event_body(channels, name="e", **extra) -> bytes:
    return json.dumps({"name": name, "channels": channels, "data": json.dumps({"n": 1}), **extra}).encode()


def signin(client: PusherWS, user_data: dict, app=MAIN) -> dict:
    """Sends `pusher:signin` signed by the official library and returns the reply."""
    client.send({"event": "pusher:signin", "data": pusher_api_for(app).authenticate_user(client.socket_id, user_data)})
    return client.recv()


# --- Channel authorization ----------------------------------------------------------------------


def test_a_private_channel_without_auth_or_with_another_apps_signature_is_refused_with_4009(server):
    channel = unique("private-noauth-")
    with PusherWS(server) as client:
        own = pusher_api_auth(MAIN, client.socket_id, channel)
        for auth in [None, OTHER["key"] + own[own.index(":"):], pusher_api_auth(OTHER, client.socket_id, channel)]:
            reply = client.subscribe(channel, auth=auth, sign=False)
            assert reply["event"] == "pusher:subscription_error" and reply["channel"] == channel, reply
            assert reply["data"]["status"] == 401, reply
            expect_pusher_error(client, 4009, channel)
        client.assert_alive()
        assert pusher_api(server).channel_info(channel, ["subscription_count"]) == {"occupied": False, "subscription_count": 0}
        client.subscribed(channel)  # the connection's own signature still works afterwards


def test_a_presence_signature_covers_the_channel_data_sent(server):
    channel = unique("presence-tamper-")
    with PusherWS(server) as client:
        signed = json.dumps({"user_id": "guest"})
        auth = pusher_api_auth(MAIN, client.socket_id, channel, signed)
        reply = client.subscribe(channel, channel_data={"user_id": "admin"}, auth=auth)
        assert reply["event"] == "pusher:subscription_error" and reply["data"]["status"] == 401, reply
        expect_pusher_error(client, 4009, channel)
        # A presence subscription without channel_data is refused too (nothing names the member).
        reply = client.subscribe(channel, auth=pusher_api_auth(MAIN, client.socket_id, channel))
        assert reply["event"] == "pusher:subscription_error", reply
        expect_pusher_error(client, 4300, channel)
        assert pusher_api(server).users_info(channel) == {"users": []}
        reply = client.subscribe(channel, channel_data=signed, auth=auth)
        assert reply["event"] == "pusher_internal:subscription_succeeded", reply
        assert json.loads(reply["data"])["presence"]["ids"] == ["guest"]


def test_a_private_channel_auth_signed_with_custom_data_by_the_official_library_is_accepted(server):
    """`pusher.authenticate(channel, socket_id, custom_data)` signs the data with the channel and returns it as
    `channel_data`, which pusher-js forwards; a signature over other data is still refused."""
    channel = unique("private-custom-")
    with PusherWS(server) as client:
        forged = pusher_api(server).authenticate(channel=channel, socket_id=client.socket_id, custom_data={"role": "guest"})
        reply = client.subscribe(channel, channel_data={"role": "admin"}, auth=forged["auth"])
        assert reply["event"] == "pusher:subscription_error" and reply["data"]["status"] == 401, reply
        expect_pusher_error(client, 4009, channel)
        signed = pusher_api(server).authenticate(channel=channel, socket_id=client.socket_id, custom_data={"role": "admin"})
        reply = client.subscribe(channel, channel_data=signed["channel_data"], auth=signed["auth"])
        assert reply["event"] == "pusher_internal:subscription_succeeded", reply


# --- Presence -----------------------------------------------------------------------------------


def test_a_user_on_two_connections_is_one_member_announced_once_and_removed_after_the_last(server):
    channel = unique("presence-twice-")
    api = pusher_api(server)
    with PusherWS(server) as watcher, PusherWS(server) as first, PusherWS(server) as second:
        watcher.subscribed(channel, channel_data={"user_id": "watcher"})
        first.subscribed(channel, channel_data={"user_id": "dup", "user_info": {"tab": 1}})
        added = watcher.recv()
        assert added["event"] == "pusher_internal:member_added" and json.loads(added["data"])["user_id"] == "dup", added
        reply = second.subscribed(channel, channel_data={"user_id": "dup", "user_info": {"tab": 2}})
        presence = json.loads(reply["data"])["presence"]
        assert sorted(presence["ids"]) == ["dup", "watcher"] and presence["count"] == 2, presence
        # One connection of the member leaves: the member stays, and nobody is told anything.
        first.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})
        first.assert_alive()  # frames are handled in order: the unsubscribe is done
        api.trigger(channel, "marker", "1")
        frame = watcher.recv()
        assert frame["event"] == "marker", f"the second connection of a member was announced: {frame}"
        assert sorted(user["id"] for user in api.users_info(channel)["users"]) == ["dup", "watcher"]
        assert api.channel_info(channel, ["user_count"])["user_count"] == 2
        # Its last connection leaves: now it is removed.
        second.close()
        frame, _ = watcher.recv_until(lambda f: f["event"] == "pusher_internal:member_removed")
        assert json.loads(frame["data"]) == {"user_id": "dup"}
        wait_until(lambda: [user["id"] for user in api.users_info(channel)["users"]] == ["watcher"], message="dup gone")


def test_unsubscribing_stops_delivery_and_a_presence_member_leaving_is_announced(server):
    api = pusher_api(server)
    public, marker, presence = unique("unsub-"), unique("unsub-marker-"), unique("presence-unsub-")
    with PusherWS(server) as client, PusherWS(server) as other:
        client.subscribed(public)
        client.subscribed(marker)
        other.subscribed(presence, channel_data={"user_id": "stays"})
        client.subscribed(presence, channel_data={"user_id": "leaves"})
        assert other.recv()["event"] == "pusher_internal:member_added"
        for channel in (public, presence):
            client.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})
        client.assert_alive()
        frame = other.recv()
        assert frame["event"] == "pusher_internal:member_removed" and json.loads(frame["data"]) == {"user_id": "leaves"}, frame
        api.trigger([public, presence], "gone", "x")
        api.trigger(marker, "mark", "m")
        frame = client.recv()
        assert frame["event"] == "mark", f"an event of an unsubscribed channel arrived: {frame}"
        assert api.channel_info(public) == {"occupied": False}
        assert [user["id"] for user in api.users_info(presence)["users"]] == ["stays"]
        client.subscribed(public)  # and subscribing again works


def test_presence_channels_send_no_subscription_count(server):
    channel = unique("presence-counted-")
    with PusherWS(server, key=PUSHER["key"]) as first, PusherWS(server, key=PUSHER["key"]) as second:
        first.subscribed(channel, app=PUSHER, channel_data={"user_id": "c1"})
        first.assert_alive()  # no pusher_internal:subscription_count after its own subscription
        second.subscribed(channel, app=PUSHER, channel_data={"user_id": "c2"})
        second.assert_alive()
        assert first.recv()["event"] == "pusher_internal:member_added"
        first.assert_alive()  # nor when the count changed


# --- Cache channels -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["private-cache-", "presence-cache-"])
def test_authorized_cache_channels_replay_the_last_server_event_but_never_a_client_event(server, prefix):
    channel = unique(prefix)
    api = pusher_api(server)

    def member(name):
        return {"user_id": name} if prefix.startswith("presence-") else None

    with PusherWS(server) as early, PusherWS(server) as sender:
        early.subscribed(channel, channel_data=member("early"))
        assert early.recv() == {"event": "pusher:cache_miss", "channel": channel}
        api.trigger(channel, "state", {"v": 1})
        assert early.recv()["event"] == "state"
        sender.subscribed(channel, channel_data=member("sender"))
        frame, _ = sender.recv_until(lambda f: f["event"] == "state")
        assert json.loads(frame["data"]) == {"v": 1}
        sender.send({"event": "client-state", "channel": channel, "data": {"v": 2}})
        frame, _ = early.recv_until(lambda f: f["event"] == "client-state")
        with PusherWS(server) as late:
            late.subscribed(channel, channel_data=member("late"))
            frame = late.recv()
            assert frame["event"] == "state" and json.loads(frame["data"]) == {"v": 1}, frame
            late.assert_alive()


def test_a_cache_channel_replays_an_event_published_by_another_protocol(server):
    channel = unique("cache-cross-")
    publish(server, channel, {"from": "rest"}, name="state")
    publish(server, channel, {"from": "rest", "n": 2})  # unnamed: Pusher clients see it as `message`
    with PusherWS(server) as late:
        late.subscribed(channel)
        frame = late.recv()
        assert frame["event"] == "message" and json.loads(frame["data"]) == {"from": "rest", "n": 2}, frame
        late.assert_alive()


@pytest.mark.parametrize("prefix", ["cache-", "private-cache-", "presence-cache-", "private-encrypted-cache-"])
def test_channel_info_cache_is_the_last_event_and_its_ttl_on_every_cache_channel_kind(server, prefix):
    master = base64.b64encode(b"c" * 32).decode()
    api = pusher_api(server, encryption_master_key_base64=master)
    channel = unique(prefix)
    assert api.channel_info(channel, ["cache"]) == {"occupied": False, "cache": None}
    api.trigger(channel, "state", {"v": 1})
    api.trigger(channel, "state", {"v": 2})
    info = api.channel_info(channel, ["cache"])
    assert set(info) == {"occupied", "cache"} and set(info["cache"]) == {"data", "ttl"}, info
    assert 1700 < info["cache"]["ttl"] <= 1800, info
    data = json.loads(info["cache"]["data"])
    if prefix.startswith("private-encrypted-"):
        box = nacl.secret.SecretBox(hashlib.sha256(channel.encode() + base64.b64decode(master)).digest())
        data = json.loads(box.decrypt(base64.b64decode(data["ciphertext"]), base64.b64decode(data["nonce"])))
    assert data == {"v": 2}, info


def test_channel_info_cache_on_a_channel_that_is_not_a_cache_channel_is_400(server):
    with pytest.raises(pusher.errors.PusherBadRequest):
        pusher_api(server).channel_info(unique("plain-"), ["cache"])


def test_channel_info_cache_leaves_out_client_events_and_carries_other_protocols_events(server):
    channel = unique("private-cache-cross-")
    publish(server, channel, {"from": "rest"}, name="state")
    with PusherWS(server) as sender:
        sender.subscribed(channel)
        sender.recv()  # the cached event
        sender.send({"event": "client-state", "channel": channel, "data": {"from": "client"}})
        sender.assert_alive()
    info = pusher_api(server).channel_info(channel, ["cache"])
    assert json.loads(info["cache"]["data"]) == {"from": "rest"}, info


# --- Client events ------------------------------------------------------------------------------


def test_client_event_names_are_limited_to_200_characters(server):
    channel = unique("private-names-")
    longest = "client-" + "n" * 193
    with PusherWS(server) as sender, PusherWS(server) as receiver:
        sender.subscribed(channel)
        receiver.subscribed(channel)
        sender.send({"event": longest, "channel": channel, "data": "{}"})
        assert receiver.recv()["event"] == longest
        sender.send({"event": longest + "n", "channel": channel, "data": "{}"})
        expect_pusher_error(sender, 4300, channel)
        sender.assert_alive()
        receiver.assert_alive()


def test_client_event_data_over_the_plans_message_size_is_4300_and_not_delivered(server):
    channel = unique("private-size-")
    since = now_ms()
    with PusherWS(server, key=SMALL["key"]) as sender, PusherWS(server, key=SMALL["key"]) as receiver:
        sender.subscribed(channel, app=SMALL)
        receiver.subscribed(channel, app=SMALL)
        sender.send({"event": "client-big", "channel": channel, "data": "x" * 1500})  # the tiny plan allows 1024 bytes
        expect_pusher_error(sender, 4300, channel)
        sender.send({"event": "client-small", "channel": channel, "data": "x" * 1000})
        assert receiver.recv()["event"] == "client-small"
        sender.assert_alive()
    wait_for_event(server, "message_too_large", since)


# --- Channel names ------------------------------------------------------------------------------


def test_every_character_pusher_allows_in_channel_names_works_over_the_socket_and_the_http_api(server):
    api = pusher_api(server)
    prefix = unique("presence-a_b-c=d@e,f.g;h")
    channel = prefix + "-room"
    with PusherWS(server) as client:
        client.subscribed(channel, channel_data={"user_id": "p@x.y"})
        api.trigger(channel, "evt", {"ok": True})
        frame = client.recv()
        assert frame["event"] == "evt" and frame["channel"] == channel, frame
        assert api.channel_info(channel, ["user_count", "subscription_count"]) == {
            "occupied": True, "user_count": 1, "subscription_count": 1}
        assert api.users_info(channel) == {"users": [{"id": "p@x.y"}]}
        assert api.channels_info(prefix, ["user_count"]) == {"channels": {channel: {"user_count": 1}}}


def test_channel_names_are_limited_to_200_characters(server):
    base = unique("long-")
    longest = base + "x" * (200 - len(base))
    with PusherWS(server) as client:
        client.subscribed(longest)
        reply = client.subscribe(longest + "x")
        assert reply["event"] == "pusher:subscription_error" and reply["data"]["status"] == 400, reply
        expect_pusher_error(client, 4300)
        client.assert_alive()
    path = f"/apps/{MAIN['id']}/events"
    assert signed_call(server, "POST", path, body=event_body([longest])).status_code == 200
    assert signed_call(server, "POST", path, body=event_body([longest + "x"])).status_code == 400


# --- Sign-in and users --------------------------------------------------------------------------


def test_signin_needs_a_user_id_and_one_connection_is_one_user(server):
    api = pusher_api(server)
    user, other = unique("first"), unique("second")
    with PusherWS(server) as client:
        user_data = json.dumps({"name": "no id"})
        auth = MAIN["key"] + ":" + hmac.new(MAIN["secret"].encode(), f"{client.socket_id}::user::{user_data}".encode(),
                                            hashlib.sha256).hexdigest()
        client.send({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}})
        expect_pusher_error(client, 4300)
        assert signin(client, {"id": user})["event"] == "pusher:signin_success"
        reply = signin(client, {"id": other})
        assert reply["event"] == "pusher:error" and reply["data"]["code"] == 4300, reply
        assert signin(client, {"id": user})["event"] == "pusher:signin_success"  # the same user again is fine
        api.send_to_user(other, "for-other", "x")
        api.send_to_user(user, "for-user", "y")
        frame = client.recv()
        assert frame["event"] == "for-user", f"the refused sign-in still receives that user's events: {frame}"


def test_terminate_connections_ends_every_connection_of_that_user_and_no_other(server):
    api = pusher_api(server)
    user, bystander = unique("a.b@example.com-"), unique("c.d@example.com-")
    with PusherWS(server) as one, PusherWS(server) as two, PusherWS(server) as other:
        for client, name in ((one, user), (two, user), (other, bystander)):
            assert signin(client, {"id": name})["event"] == "pusher:signin_success"
        api.send_to_user(user, "notice", {"n": 1})
        for client in (one, two):
            frame = client.recv()
            assert frame["event"] == "notice" and json.loads(frame["data"]) == {"n": 1}, frame
        api.terminate_user_connections(user)
        for client in (one, two):
            expect_pusher_closed(client, 4009)
        other.assert_alive()
        api.send_to_user(bystander, "still", "here")
        assert other.recv()["event"] == "still"


def test_terminating_a_users_connections_removes_it_from_presence_channels(server):
    api = pusher_api(server)
    user, channel = unique("ended"), unique("presence-ended-")
    with PusherWS(server) as watcher, PusherWS(server) as ended:
        watcher.subscribed(channel, channel_data={"user_id": "watcher"})
        assert signin(ended, {"id": user})["event"] == "pusher:signin_success"
        ended.subscribed(channel, channel_data={"user_id": user})
        assert watcher.recv()["event"] == "pusher_internal:member_added"
        api.terminate_user_connections(user)
        assert ended.close_code() == 4009
        frame = watcher.recv()
        assert frame["event"] == "pusher_internal:member_removed" and json.loads(frame["data"]) == {"user_id": user}, frame
        wait_until(lambda: api.users_info(channel) == {"users": [{"id": "watcher"}]}, message="the ended user gone")


def test_the_channels_list_leaves_out_users_channels(server):
    api = pusher_api(server)
    user = unique("listed")
    with PusherWS(server) as client:
        assert signin(client, {"id": user})["event"] == "pusher:signin_success"
        public = unique("listed-public-")
        client.subscribed(public)
        channels = api.channels_info()["channels"]
        assert public in channels
        assert not [name for name in channels if name.startswith("#")], channels


# --- Origins ------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://a.example.com", "https://deep.sub.example.com"])
def test_a_wildcard_origin_admits_its_subdomains(server, origin):
    with PusherWS(server, origin=origin) as client:
        client.assert_alive()


@pytest.mark.parametrize("origin", ["https://example.com", "http://a.example.com", "https://a.example.com.evil.net"])
def test_a_wildcard_origin_refuses_its_bare_domain_other_schemes_and_lookalikes(server, origin):
    since = now_ms()
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        PusherWS(server, origin=origin)
    assert refused.value.response.status_code == 403
    wait_for_event(server, "origin_blocked", since)


def test_the_http_api_refuses_a_foreign_origin_with_403_and_accepts_a_listed_one(server):
    since = now_ms()
    path = f"/apps/{MAIN['id']}/events"
    refused = signed_call(server, "POST", path, body=event_body([unique("origin-")]), headers={"Origin": "https://evil.example.net"})
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    wait_for_event(server, "origin_blocked", since)
    allowed = signed_call(server, "POST", path, body=event_body([unique("origin-")]), headers={"Origin": "https://a.example.com"})
    assert allowed.status_code == 200, allowed.text


# --- HTTP API signatures ------------------------------------------------------------------------


def test_a_timestamp_more_than_600_seconds_ahead_is_401(server):
    path = f"/apps/{MAIN['id']}/channels"
    since = now_ms()
    # Clear of the edge: 601 s ahead, as read a second later by the server's clock, is only 600 ahead (one CI run).
    response = signed_call(server, "GET", path, timestamp=int(time.time()) + 610)
    assert response.status_code == 401, response.text
    wait_for_event(server, "bad_signature", since, contains="auth_timestamp")
    assert signed_call(server, "GET", path, timestamp=int(time.time()) + 500).status_code == 200


def test_every_query_parameter_is_part_of_the_signature(server):
    path = f"/apps/{MAIN['id']}/channels"
    ok = signed_call(server, "GET", path, params={"filter_by_prefix": "presence-", "info": "user_count"})
    assert ok.status_code == 200, ok.text
    for extra in [{"filter_by_prefix": "private-"}, {"info": "subscription_count"}, {"unsigned": "1"}]:
        response = signed_call(server, "GET", path, params={"filter_by_prefix": "presence-", "info": "user_count"}, extra=extra)
        assert response.status_code == 401, (extra, response.text)


def test_a_body_needs_its_md5_and_auth_version_must_be_1_0(server):
    path = f"/apps/{MAIN['id']}/events"
    body = event_body([unique("md5-")])
    assert signed_call(server, "POST", path, body=body).status_code == 200
    assert signed_call(server, "POST", path, body=body, drop=["body_md5"]).status_code == 401
    assert signed_call(server, "POST", path, body=body, params={"auth_version": "2.0"}).status_code == 401
    assert signed_call(server, "GET", f"/apps/{MAIN['id']}/channels", drop=["auth_key"]).status_code == 401


def test_another_apps_key_and_secret_do_not_sign_for_this_app(server):
    since = now_ms()
    response = signed_call(server, "POST", f"/apps/{MAIN['id']}/events", app=OTHER, body=event_body([unique("cross-")]))
    assert response.status_code == 401, response.text
    wait_for_event(server, "bad_signature", since, contains="auth_key")


def test_http_api_unknown_and_disabled_apps_answer_json_and_are_security_events(server):
    since = now_ms()
    unknown = signed_call(server, "GET", "/apps/987654/channels")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/json"), unknown.text
    assert unknown.json()["error"]["message"]
    wait_for_event(server, "unknown_key", since)
    disabled = signed_call(server, "GET", f"/apps/{DISABLED['id']}/channels", app=DISABLED)
    assert disabled.status_code == 403 and disabled.headers["content-type"].startswith("application/json"), disabled.text
    wait_for_event(server, "app_disabled", since)


# --- HTTP API events ----------------------------------------------------------------------------


def test_event_names_are_limited_to_200_characters(server):
    path = f"/apps/{MAIN['id']}/events"
    channel = unique("names-")
    assert signed_call(server, "POST", path, body=event_body([channel], name="n" * 200)).status_code == 200
    response = signed_call(server, "POST", path, body=event_body([channel], name="n" * 201))
    assert response.status_code == 400, response.text


def test_a_call_costs_a_publish_per_channel_and_is_carried_or_refused_whole(fresh_server):
    """Pusher counts a message per channel, so `publishes_per_minute` does too (25 calls naming 100 channels each
    passed a 30-a-minute plan); and a call over the quota publishes nothing, where a batch used to deliver its first
    events before answering 403, so a retry sent them twice. A channel named twice gets the event once."""
    server = fresh_server()  # the tiny plan's 20 publishes a minute, spent here alone
    api = pusher_api(server, SMALL)
    first, second = unique("quota-a-"), unique("quota-b-")
    with PusherWS(server, key=SMALL["key"]) as watcher:
        watcher.subscribed(first, app=SMALL)
        watcher.subscribed(second, app=SMALL)
        api.trigger([first, first] + [unique("quota-") for _ in range(14)], "spent", {})  # 15 publishes
        assert watcher.recv()["event"] == "spent"
        with pytest.raises(pusher.errors.PusherForbidden):
            api.trigger([second] + [unique("quota-") for _ in range(9)], "over", {})  # 10 more: refused whole
        with pytest.raises(pusher.errors.PusherForbidden):
            api.trigger_batch([{"channel": second, "name": f"b{n}", "data": "{}"} for n in range(10)])
        api.trigger(second, "within", {})
        assert watcher.recv()["event"] == "within"  # nothing of the refused calls came first
        watcher.assert_alive()  # and the first channel got its event once


def test_each_batch_entry_excludes_its_own_socket_id(server):
    api = pusher_api(server)
    first, second = unique("batch-x-"), unique("batch-y-")
    with PusherWS(server) as excluded, PusherWS(server) as included:
        for client in (excluded, included):
            client.subscribed(first)
            client.subscribed(second)
        api.trigger_batch([
            {"channel": first, "name": "one", "data": "1", "socket_id": excluded.socket_id},
            {"channel": second, "name": "two", "data": "2"},
        ])
        assert [included.recv()["event"], included.recv()["event"]] == ["one", "two"]
        frame = excluded.recv()
        assert frame["event"] == "two", f"the excluded socket got {frame}"
        excluded.assert_alive()


def test_a_batch_or_event_with_one_bad_part_publishes_nothing(server):
    good = unique("atomic-")
    with PusherWS(server) as client:
        client.subscribed(good)
        batch = {"batch": [{"channel": good, "name": "first", "data": "1"}, {"channel": "bad channel", "name": "e", "data": "2"}]}
        response = signed_call(server, "POST", f"/apps/{MAIN['id']}/batch_events", body=json.dumps(batch).encode())
        assert response.status_code == 400, response.text
        response = signed_call(server, "POST", f"/apps/{MAIN['id']}/events", body=event_body([good, "bad channel"], name="second"))
        assert response.status_code == 400, response.text
        pusher_api(server).trigger(good, "marker", "m")
        frame = client.recv()
        assert frame["event"] == "marker", f"part of a refused request was published: {frame}"


def test_events_in_the_protocols_namespaces_are_refused_and_never_reach_pusher_clients(server):
    channel = unique("namespace-")
    path = f"/apps/{MAIN['id']}/events"
    with PusherWS(server) as client, WSClient(server) as publisher:
        client.subscribed(channel)
        # Pusher refuses them: pusher-js hands a channel's `pusher:` events to the app as the server's own.
        for name in ["pusher:subscription_error", "pusher:subscription_succeeded", "pusher_internal:subscription_succeeded"]:
            response = signed_call(server, "POST", path, body=event_body([channel], name=name))
            assert response.status_code == 400, (name, response.text)
        # Other protocols may name events freely; a Pusher client still never sees one in those namespaces.
        publisher.send({"action": "publish", "channel": channel, "data": {"status": 401}, "name": "pusher:subscription_error"})
        publisher.assert_alive()  # frames are handled in order: the publish went out
        publish(server, channel, {}, name="pusher:subscription_succeeded")
        pusher_api(server).trigger(channel, "pusher-notice", "only the namespaces are reserved")
        frame = client.recv()
        assert frame["event"] == "pusher-notice", f"a Pusher client got a protocol event from a publisher: {frame}"


def test_an_unknown_auth_key_on_the_users_route_is_no_such_app_404_json_and_a_security_event(server):
    since = now_ms()
    stranger = {"id": "987654", "key": "pk_no_such_key", "secret": "sk_whatever_0123456789abcdef0123456789"}
    response = signed_call(server, "POST", "/users/someone/terminate_connections", app=stranger, body=b"{}")
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/json") and response.json()["error"]["message"]
    wait_for_event(server, "unknown_key", since)
    with pytest.raises(pusher.errors.PusherBadStatus, match="^404"):
        pusher_api(server, app=stranger).terminate_user_connections("someone")


# --- Webhooks -----------------------------------------------------------------------------------

HOOKED = {"id": "3001", "key": "pk_contract_hooked", "secret": "sk_contract_hooked_0123456789abcdef01234"}
QUIET = {"id": "3002", "key": "pk_contract_quiet", "secret": "sk_contract_quiet_0123456789abcdef012345"}


@pytest.fixture(scope="module")
def hooked():
    """A server whose HOOKED app sends only member and client events to a local receiver; QUIET has no client events."""
    receiver = Receiver()
    server = start_server(CONFIG + f"""
[[apps]]
id = "{HOOKED['id']}"
key = "{HOOKED['key']}"
secret = "{HOOKED['secret']}"
plan = "enterprise"

[apps.webhooks]
url = "http://127.0.0.1:{receiver.port}/ok"
events = ["member_added", "member_removed", "client_event"]

[[apps]]
id = "{QUIET['id']}"
key = "{QUIET['key']}"
secret = "{QUIET['secret']}"
plan = "enterprise"
client_events = false
""")
    yield server, receiver
    receiver.close()
    assert server.stop() == 0, server.log()[-4000:]


def test_member_webhooks_follow_the_user_not_the_connection_and_unlisted_kinds_are_not_sent(hooked):
    server, receiver = hooked
    channel = unique("presence-hooked-")

    def of_channel():
        return [e for e in receiver.events(HOOKED) if e.get("channel") == channel]

    with PusherWS(server, key=HOOKED["key"]) as first, PusherWS(server, key=HOOKED["key"]) as second:
        first.subscribed(channel, app=HOOKED, channel_data={"user_id": "w1"})
        second.subscribed(channel, app=HOOKED, channel_data={"user_id": "w1"})
        wait_until(lambda: of_channel() == [{"name": "member_added", "channel": channel, "user_id": "w1"}], message="member_added")
        first.send({"event": "client-hi", "channel": channel, "data": {"at": 1}})
        event = wait_until(lambda: next((e for e in of_channel() if e["name"] == "client_event"), None), message="client_event")
        assert json.loads(event.pop("data")) == {"at": 1}
        assert event == {"name": "client_event", "channel": channel, "event": "client-hi", "socket_id": first.socket_id,
                         "user_id": "w1"}
        first.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})
        first.assert_alive()
        # A later event of another channel goes out after anything this unsubscribe queued (one queue per app).
        marker = unique("presence-hooked-marker-")
        with PusherWS(server, key=HOOKED["key"]) as third:
            third.subscribed(marker, app=HOOKED, channel_data={"user_id": "m"})
            wait_until(lambda: any(e.get("channel") == marker for e in receiver.events(HOOKED)), message="the marker")
        assert [e["name"] for e in of_channel()] == ["member_added", "client_event"], of_channel()
    wait_until(lambda: of_channel()[-1:] == [{"name": "member_removed", "channel": channel, "user_id": "w1"}],
               message="member_removed")
    names = {e["name"] for e in receiver.events(HOOKED)}
    assert names <= {"member_added", "member_removed", "client_event"}, names


def test_an_app_without_client_events_refuses_them_with_4300(hooked):
    server, _ = hooked
    channel = unique("private-quiet-")
    with PusherWS(server, key=QUIET["key"]) as sender, PusherWS(server, key=QUIET["key"]) as receiver:
        sender.subscribed(channel, app=QUIET)
        receiver.subscribed(channel, app=QUIET)
        sender.send({"event": "client-hi", "channel": channel, "data": "{}"})
        expect_pusher_error(sender, 4300, channel)
        pusher_api(server, QUIET).trigger(channel, "marker", "m")
        assert receiver.recv()["event"] == "marker"  # nothing of the refused event came first
        assert sender.recv()["event"] == "marker"  # and the sender is still subscribed
