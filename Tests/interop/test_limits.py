"""Rate limits and quotas with real clients: new connections per client IP, and subscriptions per connection.

Each refusal is the protocol's own error, a `rate_limited` or `over_quota` security event, and one more on the
`/metrics` refusal counter; a limited client changes nothing for anyone else.
"""

import json
import time

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect as ws_connect

from conftest import (
    CONFIG,
    WAIT,
    PusherWS,
    SSEStream,
    WSClient,
    admin_headers,
    expect_error,
    now_ms,
    publish,
    sign_jwt,
    start_server,
    unique,
    wait_for_event,
)

pytestmark = pytest.mark.timeout(90)

# An app on a plan that allows two subscriptions per connection.
NARROW = {"id": "3001", "key": "pk_test_narrow", "secret": "sk_test_narrow_0123456789abcdef01234567"}
NARROW_CONFIG = CONFIG + f"""
[plans.narrow]
max_subscriptions_per_connection = 2

[[apps]]
id = "{NARROW['id']}"
key = "{NARROW['key']}"
secret = "{NARROW['secret']}"
plan = "narrow"
"""
# One new connection per second per client IP.
SLOW_CONFIG = CONFIG.replace("new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 1", 1)
assert SLOW_CONFIG != CONFIG


def refusals(server, kind: str) -> float:
    """The `/metrics` refusal counter of `kind`."""
    text = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "switchboard_refusals_total" and sample.labels.get("kind") == kind:
                return sample.value
    raise AssertionError(f"no refusal counter for {kind}")


def jwt_token(app, sub="u1") -> str:
    return sign_jwt({"sub": sub, "exp": int(time.time()) + 600}, app["secret"])


@pytest.fixture(scope="module")
def narrow(fresh_server_module):
    return fresh_server_module(NARROW_CONFIG)


@pytest.fixture(scope="module")
def slow(fresh_server_module):
    return fresh_server_module(SLOW_CONFIG)


@pytest.fixture(scope="module")
def fresh_server_module():
    servers = []

    def make(config):
        server = start_server(config)
        servers.append(server)
        return server

    yield make
    for server in servers:
        assert server.stop() == 0, server.log()[-4000:]


# -------------------------------------------------------------------------------------------------
# Subscriptions per connection (plan `max_subscriptions_per_connection`)
# -------------------------------------------------------------------------------------------------


def test_jsonaction_third_subscription_is_channel_limit_and_others_are_unaffected(narrow):
    a, b, c = unique("lim:a"), unique("lim:b"), unique("lim:c")
    since = now_ms()
    counted = refusals(narrow, "over_quota")
    with WSClient(narrow, key=NARROW["key"]) as limited, WSClient(narrow, key=NARROW["key"]) as other:
        limited.subscribed(a)
        limited.subscribed(b)
        limited.send({"action": "subscribe", "channel": c})
        expect_error(limited, "channel_limit", channel=c)
        event = wait_for_event(narrow, "over_quota", since, contains=c, app=NARROW["id"])
        assert "2 subscriptions" in event["detail"]
        assert refusals(narrow, "over_quota") >= counted + 1
        # The refused client keeps its two channels; another client of the same app subscribes to the third.
        other.subscribed(c)
        publish(narrow, c, {"n": "c"}, app=NARROW)
        assert other.recv()["data"] == {"n": "c"}
        publish(narrow, a, {"n": "a"}, app=NARROW)
        assert limited.recv()["data"] == {"n": "a"}
        # Unsubscribing frees a place.
        limited.send({"action": "unsubscribe", "channel": b})
        assert limited.recv()["event"] == "unsubscribed"
        limited.subscribed(c)


def test_pusher_third_subscription_is_a_subscription_error_and_4100(narrow):
    a, b, c = unique("lim-a"), unique("lim-b"), unique("lim-c")
    since = now_ms()
    counted = refusals(narrow, "over_quota")
    with PusherWS(narrow, key=NARROW["key"]) as limited:
        limited.subscribed(a, app=NARROW)
        limited.subscribed(b, app=NARROW)
        reply = limited.subscribe(c, app=NARROW)
        assert reply["event"] == "pusher:subscription_error", reply
        assert reply["data"]["status"] == 429, reply
        error = limited.recv()
        assert error["event"] == "pusher:error" and error["data"]["code"] == 4100, error
        wait_for_event(narrow, "over_quota", since, contains=c, app=NARROW["id"])
        assert refusals(narrow, "over_quota") >= counted + 1
        limited.assert_alive()


def test_jwt_third_subscription_is_error_106(narrow):
    a, b, c = unique("lim:a"), unique("lim:b"), unique("lim:c")
    since = now_ms()
    counted = refusals(narrow, "over_quota")
    url = f"{narrow.ws}/connection/websocket?key={NARROW['key']}"
    with ws_connect(url, proxy=None, open_timeout=WAIT, close_timeout=2) as ws:
        ws.send(json.dumps({"id": 1, "connect": {"token": jwt_token(NARROW)}}))
        assert "connect" in json.loads(ws.recv(timeout=WAIT))
        for n, channel in enumerate((a, b), start=2):
            ws.send(json.dumps({"id": n, "subscribe": {"channel": channel}}))
            reply = json.loads(ws.recv(timeout=WAIT))
            assert reply["id"] == n and "subscribe" in reply, reply
        ws.send(json.dumps({"id": 9, "subscribe": {"channel": c}}))
        reply = json.loads(ws.recv(timeout=WAIT))
        assert reply["id"] == 9 and reply["error"]["code"] == 106, reply
        wait_for_event(narrow, "over_quota", since, contains=c, app=NARROW["id"])
        assert refusals(narrow, "over_quota") >= counted + 1
        # Still connected and subscribed: a publication on the first channel arrives.
        publish(narrow, a, {"n": 1}, app=NARROW)
        push = json.loads(ws.recv(timeout=WAIT))
        assert push["push"]["channel"] == a, push


def test_sse_with_more_channels_than_the_plan_allows_is_403_over_quota(narrow):
    a, b, c = unique("lim:a"), unique("lim:b"), unique("lim:c")
    since = now_ms()
    counted = refusals(narrow, "over_quota")
    stream = SSEStream(narrow, [a, b, c], key=NARROW["key"])
    try:
        assert stream.status_code == 403
        assert stream.body["error"]["code"] == "over_quota"
    finally:
        stream.close()
    wait_for_event(narrow, "over_quota", since, app=NARROW["id"])
    assert refusals(narrow, "over_quota") >= counted + 1
    with SSEStream(narrow, [a, b], key=NARROW["key"]) as ok:
        assert ok.status_code == 200
        publish(narrow, b, {"n": 2}, app=NARROW)
        assert json.loads(ok.next().data) == {"n": 2}


# -------------------------------------------------------------------------------------------------
# New connections per client IP (`[limits] new_connections_per_ip_per_second`)
# -------------------------------------------------------------------------------------------------


def take_the_token(server):
    """Opens (and closes) one JSON-action connection as soon as the address's bucket allows: it is empty after."""
    deadline = time.monotonic() + 5
    while True:
        try:
            WSClient(server).close()
            return
        except websockets.exceptions.InvalidStatus:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def refused_jsonaction(server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        WSClient(server)
    return refused.value.response.status_code, json.loads(refused.value.response.body)


def refused_pusher(server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        PusherWS(server)
    return refused.value.response.status_code, json.loads(refused.value.response.body)


def refused_jwt(server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT)
    return refused.value.response.status_code, json.loads(refused.value.response.body)


def refused_sse(server):
    r = httpx.get(f"{server.http}/sse", params={"channel": "x"}, timeout=WAIT)
    assert r.headers["retry-after"] == "1"
    return r.status_code, r.json()


@pytest.mark.parametrize("attempt", [refused_jsonaction, refused_pusher, refused_jwt, refused_sse],
                         ids=["jsonaction", "pusher", "jwt", "sse"])
def test_new_connections_past_the_per_ip_rate_are_429_rate_limited(slow, attempt):
    server = slow
    since = now_ms()
    counted = refusals(server, "rate_limited")
    take_the_token(server)
    status, body = attempt(server)
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    wait_for_event(server, "rate_limited", since, contains="new connections")
    assert refusals(server, "rate_limited") >= counted + 1


def test_a_rate_limited_address_changes_nothing_for_another_address(slow):
    server = slow
    channel = unique("ip:")
    take_the_token(server)
    refused_jsonaction(server)
    # Loopback accepts any 127.x source: a client from 127.0.0.2 has its own bucket.
    with ws_connect(f"{server.ws}/_rt/ws?key=pk_test_main", proxy=None, open_timeout=WAIT,
                    source_address=("127.0.0.2", 0)) as other:
        assert json.loads(other.recv(timeout=WAIT))["event"] == "connected"
        other.send(json.dumps({"action": "subscribe", "channel": channel}))
        assert json.loads(other.recv(timeout=WAIT))["event"] == "subscribed"
        publish(server, channel, {"n": 1})
        assert json.loads(other.recv(timeout=WAIT))["data"] == {"n": 1}

