"""The Pusher HTTP API's signature checks and limits, with requests signed independently of the server.

The happy paths run through the official `pusher` library in test_pusher.py; here each request is signed with
the standard library (HMAC-SHA256 over `METHOD\\nPATH\\nsorted query`) so that bad signatures, stale timestamps
and oversize bodies can be sent on purpose.
"""

import hashlib
import hmac
import json
import time

import httpx
import pytest
from pusher.errors import PusherBadStatus

from conftest import DISABLED, MAIN, SMALL, WAIT, PusherWS, now_ms, pusher_api, unique, wait_for_event

pytestmark = pytest.mark.timeout(60)


def signed_params(method: str, path: str, app=MAIN, body: bytes = b"", params=None, timestamp=None, secret=None) -> dict:
    """The query parameters of a signed request, as the HTTP API reference describes them."""
    query = {key: str(value) for key, value in (params or {}).items()}
    query.update(auth_key=app["key"], auth_timestamp=str(timestamp if timestamp is not None else int(time.time())), auth_version="1.0")
    if body:
        query["body_md5"] = hashlib.md5(body).hexdigest()
    to_sign = "\n".join([method, path, "&".join(f"{k}={v}" for k, v in sorted(query.items()))])
    query["auth_signature"] = hmac.new((secret or app["secret"]).encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return query


def call(server, method: str, path: str, app=MAIN, body=None, **options) -> httpx.Response:
    raw = json.dumps(body).encode() if body is not None else b""
    params = signed_params(method, path, app=app, body=raw, **options)
    return httpx.request(method, server.http + path, params=params, content=raw or None,
                         headers={"Content-Type": "application/json"} if raw else {}, timeout=WAIT)


def event(channels, app=MAIN, **extra) -> dict:
    return {"name": "e", "channels": channels, "data": json.dumps({"n": 1}), **extra}


def test_a_correctly_signed_trigger_is_accepted(server):
    response = call(server, "POST", f"/apps/{MAIN['id']}/events", body=event([unique("http-")]))
    assert response.status_code == 200, response.text
    assert response.json() == {}


def test_an_events_parameters_may_come_in_the_signed_query_string_instead_of_a_body(server):
    """Pusher's HTTP API reference: for POST requests parameters MAY be submitted in the query string (arrays as
    `channels[]=a&channels[]=b`); the signature covers them as it covers the body's MD5."""
    path = f"/apps/{MAIN['id']}/events"
    one, two = unique("http-query-"), unique("http-query-")
    with PusherWS(server) as first, PusherWS(server) as second:
        first.subscribe(one)
        second.subscribe(two)
        single = httpx.post(server.http + path, params=signed_params(
            "POST", path, params={"name": "q", "channel": one, "data": json.dumps({"via": "query"})}), timeout=WAIT)
        assert single.status_code == 200 and single.json() == {}, single.text
        frame = first.recv()
        assert frame["event"] == "q" and json.loads(frame["data"]) == {"via": "query"}, frame
        query = [("auth_key", MAIN["key"]), ("auth_timestamp", str(int(time.time()))), ("auth_version", "1.0"),
                 ("channels[]", one), ("channels[]", two), ("data", "plain"), ("name", "q2")]
        to_sign = "\n".join(["POST", path, "&".join(f"{k}={v}" for k, v in sorted(query, key=lambda kv: kv[0]))])
        query.append(("auth_signature", hmac.new(MAIN["secret"].encode(), to_sign.encode(), hashlib.sha256).hexdigest()))
        several = httpx.post(server.http + path, params=query, timeout=WAIT)
        assert several.status_code == 200, several.text
        for client in (first, second):
            frame = client.recv()
            assert frame["event"] == "q2" and frame["data"] == "plain", frame
    unsigned = httpx.post(server.http + path, params={"name": "q", "channel": one, "data": "x", "auth_key": MAIN["key"]}, timeout=WAIT)
    assert unsigned.status_code == 401


def test_a_bad_signature_is_401_with_a_json_error_and_a_security_event(server):
    since = now_ms()
    response = call(server, "POST", f"/apps/{MAIN['id']}/events", body=event([unique("http-")]), secret="not-the-secret")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert "signature" in json.dumps(response.json())
    wait_for_event(server, "bad_signature", since, contains="auth_signature")


def test_a_stale_timestamp_is_401(server):
    since = now_ms()
    response = call(server, "GET", f"/apps/{MAIN['id']}/channels", timestamp=int(time.time()) - 601)
    assert response.status_code == 401
    wait_for_event(server, "bad_signature", since, contains="auth_timestamp")
    assert call(server, "GET", f"/apps/{MAIN['id']}/channels", timestamp=int(time.time()) - 500).status_code == 200


def test_a_body_that_does_not_match_its_md5_is_401(server):
    path = f"/apps/{MAIN['id']}/events"
    params = signed_params("POST", path, body=json.dumps(event(["a"])).encode())
    response = httpx.post(server.http + path, params=params, content=json.dumps(event(["b"])).encode(), timeout=WAIT)
    assert response.status_code == 401


def test_the_path_is_part_of_the_signature(server):
    params = signed_params("GET", f"/apps/{MAIN['id']}/channels")
    response = httpx.get(f"{server.http}/apps/{MAIN['id']}/channels/x", params=params, timeout=WAIT)
    assert response.status_code == 401


def test_unknown_and_disabled_apps(server):
    assert call(server, "GET", "/apps/999999/channels").status_code == 404
    assert call(server, "GET", f"/apps/{DISABLED['id']}/channels", app=DISABLED).status_code == 403


def test_data_over_the_plans_message_size_is_413(server):
    since = now_ms()
    with pytest.raises(PusherBadStatus, match="413"):
        pusher_api(server, SMALL).trigger(unique("big-"), "e", "x" * 2000)
    wait_for_event(server, "message_too_large", since)
    pusher_api(server, SMALL).trigger(unique("small-"), "e", "x" * 500)


def test_at_most_100_channels_per_event_and_10_events_per_batch(server):
    channels = [unique(f"c{index}-") for index in range(101)]
    assert call(server, "POST", f"/apps/{MAIN['id']}/events", body=event(channels)).status_code == 400
    assert call(server, "POST", f"/apps/{MAIN['id']}/events", body=event(channels[:100])).status_code == 200
    batch = [{"channel": unique("b-"), "name": "e", "data": "{}"} for _ in range(11)]
    assert call(server, "POST", f"/apps/{MAIN['id']}/batch_events", body={"batch": batch}).status_code == 400
    assert call(server, "POST", f"/apps/{MAIN['id']}/batch_events", body={"batch": batch[:10]}).status_code == 200


def test_bad_events_are_400(server):
    path = f"/apps/{MAIN['id']}/events"
    for body in [{"channels": ["a"], "data": "{}"}, {"name": "e", "data": "{}"}, {"name": "e", "channels": ["a b"], "data": "{}"},
                 {"name": "e", "channels": ["a"]}, {"name": "pusher_internal:member_added", "channels": ["a"], "data": "{}"},
                 {"name": "e", "channels": ["a"], "data": "{}", "socket_id": "not-a-socket"},
                 {"name": "e", "channels": ["private-encrypted-a", "b"], "data": "{}"}]:
        response = call(server, "POST", path, body=body)
        assert response.status_code == 400, (body, response.text)


def test_events_reply_with_the_info_asked_for(server):
    channel = unique("presence-info-")
    with PusherWS(server) as client:
        client.subscribed(channel, channel_data={"user_id": "u1"})
        body = {**event([channel]), "info": "user_count,subscription_count"}
        response = call(server, "POST", f"/apps/{MAIN['id']}/events", body=body)
        assert response.json() == {"channels": {channel: {"user_count": 1, "subscription_count": 1}}}
        batch = {"batch": [{"channel": channel, "name": "e", "data": "{}", "info": "subscription_count"}]}
        assert call(server, "POST", f"/apps/{MAIN['id']}/batch_events", body=batch).json() == {"batch": [{"subscription_count": 1}]}


def test_terminate_connections_with_the_apps_prefix_too(server):
    user = unique("term")
    api = pusher_api(server)
    with PusherWS(server) as client:
        client.send({"event": "pusher:signin", "data": api.authenticate_user(client.socket_id, {"id": user})})
        assert client.recv()["event"] == "pusher:signin_success"
        response = call(server, "POST", f"/apps/{MAIN['id']}/users/{user}/terminate_connections", body={})
        assert response.status_code == 200 and response.json() == {}
        assert client.recv()["data"]["code"] == 4009
        assert client.close_code() == 4009
