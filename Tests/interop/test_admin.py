"""The admin and console API against a real server: apps, keys, origins, channels, the token lockout, persistence.

Everything a change does is checked through real clients right after it: the `websockets` JSON-action client, the
JSON-action REST API, the official `pusher` server library, and the store file on disk.
"""

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from conftest import (
    ADMIN_TOKEN,
    BINARY,
    CONFIG,
    MAIN,
    OTHER,
    WAIT,
    PusherWS,
    SSEStream,
    WSClient,
    admin_headers,
    now_ms,
    pusher_server,
    security_events,
    sign_jwt,
    start_server,
    unique,
    wait_for_event,
    wait_until,
)

# The shared CONFIG raises the wrong-token allowance for suites that test many 401s; this is the default.
DEFAULT_LOCKOUT_CONFIG = CONFIG.replace("auth_failures_per_minute = 1000\n", "")


@pytest.fixture(scope="module")
def admin_server():
    """A server of this module's own, so created apps and rotated keys never surprise other suites."""
    s = start_server()
    yield s
    assert s.stop() == 0, s.log()[-4000:]


def api(server, method: str, path: str, token: str | None = ADMIN_TOKEN, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(method, f"{server.http}{path}", headers={**headers, **kwargs.pop("headers", {})}, timeout=WAIT, **kwargs)


def create_app(server, **fields) -> dict:
    r = api(server, "POST", "/api/realtime/apps", json=fields)
    assert r.status_code == 201, r.text
    return r.json()


def rest_publish(server, secret: str, channel: str, data) -> httpx.Response:
    return httpx.post(f"{server.http}/_rt/api/publish", headers={"Authorization": f"Bearer {secret}"},
                      json={"channel": channel, "data": data}, timeout=WAIT)


def pusher_with(server, app: dict, secret: str) -> "pusher_server.Pusher":
    return pusher_server.Pusher(app_id=app["id"], key=app["key"], secret=secret, host="127.0.0.1", port=server.port, ssl=False)


def refused(server, **kwargs) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught:
        WSClient(server, **kwargs)
    return caught.value


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# ---------------------------------------------------------------------------------------------
# The token: every endpoint refuses without it, and a guesser is locked out
# ---------------------------------------------------------------------------------------------

# `/api/plans` is public (limits and prices, like a pricing page): test_usage_quotas.py checks it without a token.
ENDPOINTS = [
    ("GET", "/api/workspaces/current"),
    ("GET", "/api/realtime/apps"),
    ("POST", "/api/realtime/apps"),
    ("GET", f"/api/realtime/apps/{OTHER['id']}"),
    ("PATCH", f"/api/realtime/apps/{OTHER['id']}"),
    ("GET", f"/api/realtime/apps/{OTHER['id']}/keys"),
    ("POST", f"/api/realtime/apps/{OTHER['id']}/keys"),
    ("POST", f"/api/realtime/apps/{OTHER['id']}/keys/key_0000/rotate"),
    ("DELETE", f"/api/realtime/apps/{OTHER['id']}/keys/key_0000"),
    ("GET", f"/api/realtime/apps/{OTHER['id']}/origins"),
    ("POST", f"/api/realtime/apps/{OTHER['id']}/origins"),
    ("DELETE", f"/api/realtime/apps/{OTHER['id']}/origins"),
    ("GET", f"/api/realtime/apps/{OTHER['id']}/channels"),
    ("GET", f"/api/realtime/apps/{OTHER['id']}/channels/chat"),
    ("GET", f"/api/realtime/apps/{OTHER['id']}/usage"),
    ("GET", "/api/realtime/security-events"),
    ("GET", "/api/realtime/gateway/status"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_every_admin_endpoint_refuses_a_missing_or_wrong_token_with_401_and_a_security_event(admin_server, method, path):
    for token in (None, "not-the-token", ADMIN_TOKEN + "x"):
        since = now_ms()
        r = api(admin_server, method, path, token=token, json={"origin": "https://x.example.com"})
        assert r.status_code == 401, r.text
        assert error_code(r) == "unauthorized"
        event = wait_for_event(admin_server, "bad_signature", since, contains="admin API")
        assert event["clientIp"] == "127.0.0.1"
    # Nothing changed: the app is as it was.
    app = api(admin_server, "GET", f"/api/realtime/apps/{OTHER['id']}").json()["app"]
    assert app["origins"] == [] and app["enabled"] is True


def test_ten_wrong_tokens_lock_out_further_guesses_with_429_but_never_the_right_token(fresh_server):
    server = fresh_server(DEFAULT_LOCKOUT_CONFIG)
    # The guesser comes from 127.0.0.2; the operator's reads from 127.0.0.1 stay allowed (the lockout is per address).
    guesser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=WAIT)
    since = now_ms()
    for attempt in range(10):
        r = guesser.get(f"{server.http}/api/realtime/apps", headers={"Authorization": f"Bearer guess-{attempt}"})
        assert r.status_code == 401, (attempt, r.text)
    r = guesser.get(f"{server.http}/api/realtime/apps", headers={"Authorization": "Bearer guess-11"})
    assert r.status_code == 429, r.text
    assert error_code(r) == "rate_limited"
    assert r.headers["retry-after"] == "60"
    assert guesser.get(f"{server.http}/api/realtime/apps").status_code == 401
    assert guesser.get(f"{server.http}/api/realtime/apps", headers=admin_headers()).status_code == 200
    event = wait_for_event(server, "rate_limited", since, contains="admin API")
    assert event["clientIp"] == "127.0.0.2"
    # Ten wrong tokens, and the request without one (recorded, though it does not count toward the lockout). That one
    # came after the 429, so it may reach the store in a later batch than the rate_limited event.
    wait_for_event(server, "bad_signature", since, contains="admin API without a token")
    details = [e["detail"] for e in security_events(server, kind="bad_signature", since=since)]
    assert details.count("admin API without a valid token") == 10, details
    assert details.count("admin API without a token") == 1, details
    assert httpx.get(f"{server.http}/api/realtime/apps", headers=admin_headers(), timeout=WAIT).status_code == 200


# ---------------------------------------------------------------------------------------------
# Plans, workspace, apps
# ---------------------------------------------------------------------------------------------


def test_plans_list_the_built_in_plans_then_the_configured_ones_with_their_limits(admin_server):
    plans = api(admin_server, "GET", "/api/plans").json()["plans"]
    assert [p["name"] for p in plans] == ["free", "builder", "pro", "enterprise", "tiny"]
    assert plans[0]["limits"] == {"maxConnections": 200, "maxChannels": 10, "maxMessageBytes": 65536,
                                  "publishesPerMinute": 500, "historySize": 100, "monthlyMessages": 200000}
    assert plans[3]["limits"]["maxChannels"] is None and plans[3]["limits"]["publishesPerMinute"] is None
    assert plans[4]["limits"]["maxConnections"] == 5


def test_workspace_names_this_edge_and_counts_its_apps(admin_server):
    workspace = api(admin_server, "GET", "/api/workspaces/current").json()["workspace"]
    apps = api(admin_server, "GET", "/api/realtime/apps").json()["apps"]
    assert workspace["apps"] == len(apps) >= 6
    assert workspace["engine"] == "memory" and workspace["version"]


def test_apps_list_shows_the_configured_apps_and_never_a_secret(admin_server):
    r = api(admin_server, "GET", "/api/realtime/apps")
    apps = {a["id"]: a for a in r.json()["apps"]}
    main = apps[MAIN["id"]]
    assert main["key"] == MAIN["key"] and main["plan"] == "enterprise" and main["enabled"] is True
    assert main["origins"] == ["http://allowed.example", "https://*.example.com"]
    assert set(main) >= {"id", "key", "name", "plan", "environment", "region", "enabled", "origins", "hosts",
                         "clientEvents", "upstream", "limits", "usage"}
    assert set(main["limits"]) == {"maxConnections", "maxChannels", "maxMessageBytes", "publishesPerMinute", "historySize",
                                   "monthlyMessages"}
    assert set(main["usage"]) == {"connections", "channels"}
    assert "secret" not in r.text and MAIN["secret"] not in r.text and "sk_test" not in r.text
    assert api(admin_server, "GET", "/api/realtime/apps/nope").status_code == 404


def test_a_created_app_works_at_once_with_its_key_and_the_secret_returned_once(admin_server):
    created = create_app(admin_server, name="Checkout", plan="pro", origins=["https://shop.example.net"])
    app, secret = created["app"], created["secret"]
    assert app["id"].isdigit() and app["key"].startswith("pk_") and secret.startswith("sk_live_")
    assert app["name"] == "Checkout" and app["plan"] == "pro" and app["origins"] == ["https://shop.example.net"]
    assert app["usage"] == {"connections": 0, "channels": 0}
    shown = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}")
    assert shown.json()["app"]["key"] == app["key"] and secret not in shown.text
    keys = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}/keys").json()["keys"]
    assert len(keys) == 1 and keys[0]["preview"] == "sk_live_••••" + secret[-4:] and keys[0]["revokedAt"] is None
    assert secret not in json.dumps(keys)

    channel = unique("orders.")
    with WSClient(admin_server, key=app["key"], origin="https://shop.example.net") as client:
        client.subscribed(channel)
        assert rest_publish(admin_server, secret, channel, {"n": 1}).status_code == 200
        assert client.recv()["data"] == {"n": 1}
        pusher_with(admin_server, app, secret).trigger(channel, "paid", {"n": 2})
        frame = client.recv()
        assert frame["data"] == {"n": 2} and frame["name"] == "paid"
        usage = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}").json()["app"]["usage"]
        assert usage == {"connections": 1, "channels": 1}


def test_created_apps_get_increasing_numeric_ids_and_a_taken_id_or_key_is_409(admin_server):
    first = create_app(admin_server)["app"]
    second = create_app(admin_server, name="Second")["app"]
    assert int(second["id"]) == int(first["id"]) + 1 and second["name"] == "Second"
    own = create_app(admin_server, id=unique("77"), key=unique("pk_own_"))["app"]
    assert own["key"].startswith("pk_own_")
    r = api(admin_server, "POST", "/api/realtime/apps", json={"id": own["id"]})
    assert r.status_code == 409 and error_code(r) == "conflict"
    r = api(admin_server, "POST", "/api/realtime/apps", json={"key": MAIN["key"]})
    assert r.status_code == 409 and error_code(r) == "conflict"


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", b'{"plan": "gold"}', b'{"origins": ["not an origin"]}', b'{"enabled": "yes"}',
    b'{"colour": "blue"}', b'{"limits": {"maxChannels": -1}}', b'{"limits": {"speed": 1}}', b'{"upstream": "ftp://x"}',
    b'{"id": "has spaces"}',
], ids=["bad_json", "not_object", "unknown_plan", "bad_origin", "bad_bool", "unknown_field", "negative_limit",
        "unknown_limit", "bad_upstream", "bad_id"])
def test_bad_bodies_are_400_bad_request_and_change_nothing(admin_server, body):
    before = api(admin_server, "GET", "/api/realtime/apps").json()["apps"]
    for method, path in (("POST", "/api/realtime/apps"), ("PATCH", f"/api/realtime/apps/{OTHER['id']}")):
        if method == "PATCH" and body.startswith(b'{"id"'):
            continue
        r = api(admin_server, method, path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (method, r.text)
        assert error_code(r) == "bad_request" and r.json()["error"]["message"]
    assert api(admin_server, "GET", "/api/realtime/apps").json()["apps"] == before


def test_patch_edits_fields_and_limits_which_the_bus_enforces_at_once(admin_server):
    app = create_app(admin_server)["app"]
    r = api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={
        "name": "Renamed", "plan": "builder", "environment": "production", "region": "eu-west", "hosts": ["shop.test"],
        "clientEvents": False, "upstream": "http://127.0.0.1:9", "limits": {"maxMessageBytes": 64, "maxChannels": 0},
    })
    assert r.status_code == 200, r.text
    patched = r.json()["app"]
    assert (patched["name"], patched["plan"], patched["environment"], patched["region"]) == ("Renamed", "builder", "production", "eu-west")
    assert patched["hosts"] == ["shop.test"] and patched["clientEvents"] is False and patched["upstream"] == "http://127.0.0.1:9"
    assert patched["limits"]["maxMessageBytes"] == 64 and patched["limits"]["maxChannels"] is None
    assert patched["limits"]["publishesPerMinute"] == 5000
    assert api(admin_server, "GET", f"/api/realtime/apps/{app['id']}").json()["app"] == patched
    # A new key gives us a secret to publish with; the 64-byte limit refuses a bigger message at once.
    secret = api(admin_server, "POST", f"/api/realtime/apps/{app['id']}/keys").json()["secret"]
    big = rest_publish(admin_server, secret, unique("c"), {"text": "x" * 100})
    assert big.status_code == 413, big.text
    r = api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={"limits": {"maxMessageBytes": None}, "upstream": None})
    assert r.json()["app"]["limits"]["maxMessageBytes"] == 131072 and r.json()["app"]["upstream"] is None
    assert rest_publish(admin_server, secret, unique("c"), {"text": "x" * 100}).status_code == 200
    assert api(admin_server, "PATCH", "/api/realtime/apps/99999999", json={"name": "x"}).status_code == 404


def test_a_plan_change_sets_the_largest_message_of_connections_already_open(admin_server):
    """The socket's own cap (the plan's message size plus the protocol's framing) follows the plan: an upgrade lets an
    open connection send what the new plan allows, a downgrade refuses a message now too large."""
    app = create_app(admin_server, plan="free")["app"]
    channel = unique("plan-")
    big = {"action": "publish", "channel": channel, "data": "x" * 300_000}
    with WSClient(admin_server, key=app["key"]) as reader, WSClient(admin_server, key=app["key"]) as writer:
        reader.subscribed(channel)
        assert api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={"plan": "enterprise"}).status_code == 200
        writer.send(big)
        assert len(reader.recv()["data"]) == 300_000
        writer.assert_alive()
        assert api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={"plan": "free"}).status_code == 200
        writer.send(big)
        error = writer.recv()
        assert error["event"] == "error" and error["data"]["code"] == "message_too_large", error
        writer.assert_alive()
        reader.assert_alive()


def test_disabling_an_app_refuses_new_connections_with_app_disabled_at_once(admin_server):
    created = create_app(admin_server)
    app, secret = created["app"], created["secret"]
    with WSClient(admin_server, key=app["key"]) as client:
        client.assert_alive()
    since = now_ms()
    assert api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={"enabled": False}).json()["app"]["enabled"] is False
    refusal = refused(admin_server, key=app["key"])
    assert refusal.response.status_code == 403
    assert json.loads(refusal.response.body)["error"]["code"] == "app_disabled"
    assert wait_for_event(admin_server, "app_disabled", since, app=app["id"])
    assert rest_publish(admin_server, secret, "c", {}).status_code == 403
    with PusherWS(admin_server, key=app["key"], expect_established=False) as pusher_client:
        frame = pusher_client.recv()
        assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4003
    api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={"enabled": True})
    with WSClient(admin_server, key=app["key"]) as client:
        client.assert_alive()


def test_disabling_an_app_ends_its_open_connections_in_each_protocol_and_spares_other_apps(admin_server):
    created = create_app(admin_server)
    app = created["app"]
    token = sign_jwt({"sub": "u1", "exp": int(time.time()) + 600}, created["secret"])
    with ws_connect(f"{admin_server.ws}/connection/websocket?key={app['key']}", proxy=None, open_timeout=WAIT) as jwt_socket, \
            WSClient(admin_server, key=app["key"]) as jsonaction, PusherWS(admin_server, key=app["key"]) as pusher_client, \
            WSClient(admin_server) as bystander:
        jwt_socket.send(json.dumps({"id": 1, "connect": {"token": token}}))
        assert "connect" in json.loads(jwt_socket.recv(timeout=WAIT))
        api(admin_server, "PATCH", f"/api/realtime/apps/{app['id']}", json={"enabled": False})
        frame = jsonaction.recv()
        assert frame["event"] == "error" and frame["data"]["code"] == "forbidden", frame
        with pytest.raises(ConnectionClosed):
            jsonaction.recv()
        assert pusher_client.close_code() == 4003
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                jwt_socket.recv(timeout=WAIT)
        # 3503: force disconnect, which Centrifugo clients do not retry.
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 3503
        bystander.assert_alive()


# ---------------------------------------------------------------------------------------------
# Keys: create, rotate, revoke
# ---------------------------------------------------------------------------------------------


def test_rotation_keeps_both_secrets_verifying_until_the_old_key_is_revoked(admin_server):
    created = create_app(admin_server)
    app, old_secret = created["app"], created["secret"]
    keys_path = f"/api/realtime/apps/{app['id']}/keys"
    old_id = api(admin_server, "GET", keys_path).json()["keys"][0]["id"]

    r = api(admin_server, "POST", f"{keys_path}/{old_id}/rotate")
    assert r.status_code == 201, r.text
    rotated = r.json()
    new_secret, new_id = rotated["secret"], rotated["key"]["id"]
    assert new_secret != old_secret and new_id != old_id and new_id.startswith("key_")
    assert rotated["key"]["preview"] == "sk_live_••••" + new_secret[-4:]

    channel = unique("rot.")
    with WSClient(admin_server, key=app["key"]) as client:
        client.subscribed(channel)
        for n, secret in enumerate((old_secret, new_secret)):
            assert rest_publish(admin_server, secret, channel, {"n": n}).status_code == 200
            assert client.recv()["data"] == {"n": n}
            pusher_with(admin_server, app, secret).trigger(channel, "e", {"p": n})
            assert client.recv()["data"] == {"p": n}

        r = api(admin_server, "DELETE", f"{keys_path}/{old_id}")
        assert r.status_code == 200, r.text
        assert r.json()["key"]["id"] == old_id and r.json()["key"]["revokedAt"] >= app["createdAt"]
        # The old secret stops verifying at once, in every API; the new one goes on.
        assert rest_publish(admin_server, old_secret, channel, {"n": "old"}).status_code == 401
        with pytest.raises(pusher_server.errors.PusherBadAuth):
            pusher_with(admin_server, app, old_secret).trigger(channel, "e", {"p": "old"})
        assert rest_publish(admin_server, new_secret, channel, {"n": "new"}).status_code == 200
        assert client.recv()["data"] == {"n": "new"}

    keys = {k["id"]: k for k in api(admin_server, "GET", keys_path).json()["keys"]}
    assert keys[old_id]["revokedAt"] is not None and keys[new_id]["revokedAt"] is None
    # The last active key cannot go; a revoked one cannot be revoked or rotated again; unknown ids are 404.
    assert api(admin_server, "DELETE", f"{keys_path}/{new_id}").status_code == 409
    assert api(admin_server, "DELETE", f"{keys_path}/{old_id}").status_code == 409
    assert api(admin_server, "POST", f"{keys_path}/{old_id}/rotate").status_code == 409
    assert api(admin_server, "DELETE", f"{keys_path}/key_nope").status_code == 404
    assert api(admin_server, "POST", f"{keys_path}/key_nope/rotate").status_code == 404
    assert rest_publish(admin_server, new_secret, channel, {}).status_code == 200


def test_a_new_key_signs_channel_tokens_and_the_list_is_newest_first(admin_server):
    created = create_app(admin_server)
    app = created["app"]
    keys_path = f"/api/realtime/apps/{app['id']}/keys"
    r = api(admin_server, "POST", keys_path)
    assert r.status_code == 201
    added = r.json()
    keys = api(admin_server, "GET", keys_path).json()["keys"]
    assert [k["id"] for k in keys][0] == added["key"]["id"] and len(keys) == 2
    assert all(set(k) == {"id", "preview", "createdAt", "revokedAt"} for k in keys)
    # The JSON-action API mints channel tokens with the newest key; both secrets still verify them.
    minted = httpx.post(f"{admin_server.http}/_rt/api/tokens", headers={"Authorization": f"Bearer {created['secret']}"},
                        json={"channel": "private-x", "userId": "u", "permissions": ["subscribe"], "expiresIn": 60}, timeout=WAIT)
    assert minted.status_code == 200, minted.text
    with WSClient(admin_server, key=app["key"]) as client:
        client.subscribed("private-x", token=minted.json()["token"])


# ---------------------------------------------------------------------------------------------
# Origins
# ---------------------------------------------------------------------------------------------


def test_an_added_origin_is_accepted_at_once_and_a_deleted_one_refused_with_origin_blocked(admin_server):
    app = create_app(admin_server, origins=["https://first.example.net"])["app"]
    path = f"/api/realtime/apps/{app['id']}/origins"
    origin = "https://second.example.net"
    refusal = refused(admin_server, key=app["key"], origin=origin)
    assert refusal.response.status_code == 403

    r = api(admin_server, "POST", path, json={"origin": origin})
    assert r.status_code == 201 and r.json()["origins"] == ["https://first.example.net", origin]
    assert api(admin_server, "POST", path, json={"origin": origin}).json()["origins"].count(origin) == 1
    with WSClient(admin_server, key=app["key"], origin=origin) as client:
        client.assert_alive()
    assert api(admin_server, "GET", path).json()["origins"] == ["https://first.example.net", origin]

    since = now_ms()
    r = api(admin_server, "DELETE", path, json={"origin": origin})
    assert r.status_code == 200 and r.json()["origins"] == ["https://first.example.net"]
    refusal = refused(admin_server, key=app["key"], origin=origin)
    assert refusal.response.status_code == 403
    assert json.loads(refusal.response.body)["error"]["code"] == "origin_blocked"
    event = wait_for_event(admin_server, "origin_blocked", since, app=app["id"])
    assert event["origin"] == origin

    r = api(admin_server, "DELETE", path, params={"origin": "https://first.example.net"})
    assert r.status_code == 200 and r.json()["origins"] == []
    assert api(admin_server, "DELETE", path, params={"origin": "https://first.example.net"}).status_code == 404
    for bad in ("first.example.net", "https://x.example.net/", "https://x.example.net/path", "*", ""):
        r = api(admin_server, "POST", path, json={"origin": bad})
        assert r.status_code == 400 and error_code(r) == "bad_request", bad
    assert api(admin_server, "POST", path, json={}).status_code == 400
    assert api(admin_server, "POST", "/api/realtime/apps/99999999/origins", json={"origin": origin}).status_code == 404


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------


def test_channels_show_subscribers_per_protocol_presence_members_and_the_last_seq(admin_server):
    created = create_app(admin_server, plan="enterprise")
    app, secret = created["app"], created["secret"]
    channel = unique("room.")
    jwt_url = f"{admin_server.ws}/connection/websocket?key={app['key']}"
    with WSClient(admin_server, key=app["key"]) as a, WSClient(admin_server, key=app["key"]) as b, \
            SSEStream(admin_server, [channel], key=app["key"]), PusherWS(admin_server, key=app["key"]) as p, \
            ws_connect(jwt_url, proxy=None, open_timeout=WAIT, close_timeout=2) as jwt:
        a.subscribed(channel)
        b.subscribed(channel)
        jwt.send(json.dumps({"id": 1, "connect": {"token": sign_jwt({"sub": "j", "exp": int(time.time()) + 60}, secret)}}))
        assert "connect" in json.loads(jwt.recv(timeout=WAIT))
        jwt.send(json.dumps({"id": 2, "subscribe": {"channel": channel}}))
        assert "subscribe" in json.loads(jwt.recv(timeout=WAIT))
        p.send({"event": "pusher:subscribe", "data": {"channel": channel}})
        assert p.recv()["event"] == "pusher_internal:subscription_succeeded"
        a.send({"action": "presence:join", "channel": channel, "userId": "ada", "metadata": {"role": "host"}})
        assert b.recv()["event"] == "presence.join"
        for n in range(3):
            assert rest_publish(admin_server, secret, channel, {"n": n}).status_code == 200

        def listed():
            channels = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}/channels").json()["channels"]
            return next((c for c in channels if c["name"] == channel and c["subscribers"]["sse"] == 1), None)

        entry = wait_until(listed, message="the SSE subscriber counted")
        assert entry["subscribers"] == {"total": 5, "pusher": 1, "jsonaction": 2, "jwt": 1, "sse": 1}
        assert entry["presenceMembers"] == 1

        detail = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}/channels/{channel}").json()["channel"]
        assert detail["name"] == channel and detail["occupied"] is True
        assert detail["subscribers"] == entry["subscribers"]
        assert detail["presence"]["count"] == 1
        member = detail["presence"]["members"][0]
        assert member["userId"] == "ada" and member["metadata"] == {"role": "host"} and member["lastSeen"] > 0
        assert detail["lastSeq"] == 3 and detail["epoch"]

    def vacated():
        channels = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}/channels").json()["channels"]
        return all(c["name"] != channel for c in channels)

    wait_until(vacated, message="the channel vacated")
    detail = api(admin_server, "GET", f"/api/realtime/apps/{app['id']}/channels/{channel}").json()["channel"]
    assert detail["occupied"] is False and detail["subscribers"]["total"] == 0 and detail["lastSeq"] == 3
    assert api(admin_server, "GET", "/api/realtime/apps/99999999/channels").status_code == 404


# ---------------------------------------------------------------------------------------------
# Security events: each filter
# ---------------------------------------------------------------------------------------------


def test_a_refusals_security_event_is_listed_as_soon_as_the_refusal_is_answered(admin_server):
    """Events are written to the store in batches, but a read writes what is pending first: whoever just saw a refusal
    finds its event at once, with no polling."""
    since = now_ms()
    key = unique("pk_missing_")
    r = httpx.get(f"{admin_server.http}/sse", params={"key": key, "channel": "a"}, timeout=WAIT)
    assert r.status_code == 404
    assert [e["kind"] for e in security_events(admin_server, since=since)] == ["unknown_key"]
    r = httpx.post(f"{admin_server.http}/_rt/api/publish", json={"channel": "a", "data": 1},
                   headers={"Authorization": "Bearer sk_not_a_secret_0123456789abcdef0123"}, timeout=WAIT)
    assert r.status_code == 401
    kinds = [e["kind"] for e in security_events(admin_server, since=since)]
    assert len(kinds) == 2 and kinds[1] == "unknown_key", kinds


def test_security_events_filter_by_app_kind_since_and_limit(admin_server):
    since = now_ms()
    for _ in range(3):
        refused(admin_server, key=unique("pk_missing_"))
    wait_until(lambda: len(security_events(admin_server, kind="unknown_key", since=since)) >= 3, message="three unknown_key")
    app = create_app(admin_server, origins=["https://only.example.net"])["app"]
    refused(admin_server, key=app["key"], origin="https://other.example.net")
    wait_for_event(admin_server, "origin_blocked", since, app=app["id"])

    by_kind = security_events(admin_server, kind="unknown_key", since=since)
    assert len(by_kind) == 3 and all(e["kind"] == "unknown_key" for e in by_kind)
    by_app = security_events(admin_server, app=app["id"])
    assert len(by_app) == 1 and by_app[0]["kind"] == "origin_blocked" and by_app[0]["app"] == app["id"]
    assert security_events(admin_server, since=now_ms() + 60_000) == []
    newest = security_events(admin_server, since=since, limit=2)
    assert len(newest) == 2 and newest[0]["time"] >= newest[1]["time"]
    everything = security_events(admin_server, since=since)
    assert len(everything) >= 4 and newest == everything[:2]
    for params in ({"kind": "nonsense"}, {"since": "yesterday"}, {"limit": "0"}, {"limit": "many"}):
        r = api(admin_server, "GET", "/api/realtime/security-events", params=params)
        assert r.status_code == 400 and error_code(r) == "bad_request", params


# ---------------------------------------------------------------------------------------------
# Persistence, secrets at rest, the master key
# ---------------------------------------------------------------------------------------------


def restart(server, env: dict | None = None):
    """Starts a new server on the same store (same workdir); `env` adds environment variables."""
    assert server.stop() == 0
    if env is None:
        return start_server(workdir=server.workdir)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return start_server(workdir=server.workdir)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def store_bytes(workdir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(workdir.glob("switchboard.sqlite*")))


def test_admin_edits_and_keys_survive_a_restart_and_secrets_are_never_stored_in_plaintext():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-admin-"))
    server = start_server(workdir=workdir)
    try:
        assert "master key" in server.log() and "master.key" in server.log()
        assert (workdir / "master.key").stat().st_mode & 0o777 == 0o600
        created = create_app(server, name="Durable", origins=["https://keep.example.net"])
        app, first_secret = created["app"], created["secret"]
        keys_path = f"/api/realtime/apps/{app['id']}/keys"
        first_id = api(server, "GET", keys_path).json()["keys"][0]["id"]
        second_secret = api(server, "POST", f"{keys_path}/{first_id}/rotate").json()["secret"]
        assert api(server, "DELETE", f"{keys_path}/{first_id}").status_code == 200
        api(server, "PATCH", f"/api/realtime/apps/{MAIN['id']}", json={"origins": ["https://edited.example.net"], "name": "Main"})
        api(server, "POST", f"/api/realtime/apps/{MAIN['id']}/keys")

        server = restart(server)
        shown = api(server, "GET", f"/api/realtime/apps/{app['id']}").json()["app"]
        assert shown["name"] == "Durable" and shown["origins"] == ["https://keep.example.net"]
        main = api(server, "GET", f"/api/realtime/apps/{MAIN['id']}").json()["app"]
        assert main["origins"] == ["https://edited.example.net"] and main["name"] == "Main"
        assert len(api(server, "GET", f"/api/realtime/apps/{MAIN['id']}/keys").json()["keys"]) == 2
        # Config-only settings still come from the file: MAIN's readonly:* rule refuses client publishes.
        with WSClient(server, key=MAIN["key"], origin="https://edited.example.net") as client:
            client.subscribed("readonly:x")
            client.send({"action": "publish", "channel": "readonly:x", "data": 1})
            assert client.recv()["data"]["code"] == "forbidden"
        refusal = refused(server, key=MAIN["key"], origin="http://allowed.example")
        assert refusal.response.status_code == 403
        # The keys work after the restart: revoked stays revoked.
        channel = unique("d:")
        assert rest_publish(server, second_secret, channel, {}).status_code == 200
        assert rest_publish(server, first_secret, channel, {}).status_code == 401
        assert rest_publish(server, MAIN["secret"], channel, {}).status_code == 200

        server.stop()
        data = store_bytes(workdir)
        assert b"keep.example.net" in data  # the file is the store...
        for secret in (first_secret, second_secret, MAIN["secret"], OTHER["secret"]):
            assert secret.encode() not in data, "a secret is in the store file in plaintext"
    finally:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)


def test_a_wrong_master_key_on_restart_fails_startup_with_a_clear_message():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-admin-"))
    os.environ["SWITCHBOARD_MASTER_KEY"] = "the-right-passphrase"
    try:
        server = start_server(workdir=workdir)
        created = create_app(server, name="Sealed")
        assert not (workdir / "master.key").exists()
        assert server.stop() == 0
        result = subprocess.run(
            [str(BINARY), "serve", "--config", str(workdir / "switchboard.toml"), "--port", "0"],
            cwd=workdir, capture_output=True, text=True, timeout=60,
            env={**os.environ, "SWITCHBOARD_MASTER_KEY": "a-wrong-passphrase"},
        )
        assert result.returncode == 2, result.stderr
        assert "master" in result.stderr and "SWITCHBOARD_MASTER_KEY" in result.stderr, result.stderr
        assert created["secret"] not in result.stderr + result.stdout
        server = start_server(workdir=workdir)
        assert rest_publish(server, created["secret"], "c", {}).status_code == 200
        assert server.stop() == 0
    finally:
        os.environ.pop("SWITCHBOARD_MASTER_KEY", None)


def test_security_events_past_the_retention_age_or_row_count_are_pruned():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-admin-"))
    server = start_server(workdir=workdir)
    try:
        for _ in range(4):
            refused(server, key=unique("pk_missing_"))
        wait_until(lambda: len(security_events(server, kind="unknown_key")) == 4, message="four events")
        assert server.stop() == 0
        # Restarted with a 1 ms retention, the old events are pruned at start; with 2 rows, only the newest 2 stay.
        config = (workdir / "switchboard.toml").read_text().replace(
            'path = "', 'security_event_retention = "1ms"\nsecurity_event_max_rows = 2\npath = "', 1)
        server = start_server(config.replace(str(workdir / "switchboard.sqlite"), "{store}"), workdir=workdir)
        wait_until(lambda: security_events(server, kind="unknown_key") == [], message="old events pruned")
        for _ in range(3):
            refused(server, key=unique("pk_missing_"))
        wait_until(lambda: len(security_events(server, kind="unknown_key")) == 2, message="newest two kept")
        time.sleep(0.5)
        assert len(security_events(server, kind="unknown_key")) == 2
    finally:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)


def test_gateway_status_has_the_documented_shape_and_rates_move_with_traffic(fresh_server):
    server = fresh_server()
    channel = unique("rates:")
    with WSClient(server) as subscriber:
        subscriber.subscribed(channel)
        for i in range(20):
            r = httpx.post(f"{server.http}/_rt/api/publish", headers={"Authorization": f"Bearer {MAIN['secret']}"},
                           json={"channel": channel, "data": i}, timeout=WAIT)
            assert r.status_code == 200, r.text
            subscriber.recv()
        status = httpx.get(f"{server.http}/api/realtime/gateway/status", headers=admin_headers(), timeout=WAIT).json()
    assert set(status) >= {"uptime_s", "version", "connections", "messages_in_per_s", "messages_out_per_s", "engine"}
    assert set(status["connections"]) == {"total", "pusher", "jsonaction", "jwt", "sse"}
    assert status["connections"]["jsonaction"] == 1 and status["connections"]["total"] >= 1
    assert status["messages_in_per_s"] > 0 and status["messages_out_per_s"] > 0
    assert status["engine"] == {"kind": "memory", "status": "ok"}
