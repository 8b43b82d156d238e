"""Tokens from the attacker's side: a token grants no more than its claims say, for no longer than it lasts, and
never after its signing key is revoked.

- SSE honours a token's `permissions`: without "subscribe" no stream opens (403 `forbidden`).
- A JSON-action channel token ends its subscription at `exp` (`error` `unauthorized`, then `unsubscribed`) unless the
  client refreshed it by subscribing again with a new token; an SSE stream ends with its connection token.
- Revoking a rotated key ends, at once, what the old key authorized in every protocol (JSON-action channel tokens,
  JWT connection and subscription tokens, SSE stream tokens, Pusher channel signatures) while what the new key
  authorized, and public channels, go on.

Real clients (websockets, httpx-sse, pysher) against a real server; every wait is bounded.
"""

import json
import time

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from conftest import (
    ADMIN_TOKEN,
    MAIN,
    WAIT,
    PysherClient,
    SSEStream,
    WSClient,
    channel_token,
    close_code_of,
    connection_token,
    next_event,
    now_ms,
    publish,
    sign_jwt,
    start_server,
    unique,
    wait_for_event,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def token_server():
    """A server of this module's own: the revocation tests create apps and rotate their keys."""
    s = start_server()
    yield s
    assert s.stop() == 0, s.log()[-4000:]


def admin(server, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.http}{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=WAIT,
                         **kwargs)


def rotated_app(server) -> tuple[dict, dict, str]:
    """A new app whose first key was rotated: (the app signing with the old secret, with the new one, the old key id)."""
    r = admin(server, "POST", "/api/realtime/apps", json={"name": unique("tokens-")})
    assert r.status_code == 201, r.text
    app, old_secret = r.json()["app"], r.json()["secret"]
    keys = f"/api/realtime/apps/{app['id']}/keys"
    old_id = admin(server, "GET", keys).json()["keys"][0]["id"]
    r = admin(server, "POST", f"{keys}/{old_id}/rotate")
    assert r.status_code == 201, r.text
    old = {"id": app["id"], "key": app["key"], "secret": old_secret}
    new = {"id": app["id"], "key": app["key"], "secret": r.json()["secret"]}
    return old, new, old_id


def jwt_frames(ws, timeout: float = WAIT):
    """The next JSON objects from a JWT-protocol socket (one WebSocket message may hold several lines)."""
    return [json.loads(line) for line in ws.recv(timeout=timeout).splitlines() if line.strip()]


def jwt_until(ws, predicate, timeout: float = WAIT) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no matching JWT frame within {timeout}s; got {seen}")
        for frame in jwt_frames(ws, timeout=remaining):
            if predicate(frame):
                return frame
            seen.append(frame)


def exp_in(seconds: int) -> int:
    return int(time.time()) + seconds


# ---------------------------------------------------------------------------------------------
# SSE honours `permissions`
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("public_only", [False, True])
def test_sse_token_without_subscribe_permission_opens_no_stream(token_server, public_only):
    private, public = unique("private-perm"), unique("pub:")
    channels = [public] if public_only else [private, public]
    token = sign_jwt({"sub": "mallory", "channels": [private], "permissions": ["publish"], "exp": exp_in(600)}, MAIN["secret"])
    since = now_ms()
    with SSEStream(token_server, channels, token=token) as stream:
        assert stream.status_code == 403, stream.status_code
        assert stream.body["error"]["code"] == "forbidden"
    wait_for_event(token_server, "forbidden", since, contains="subscribe")
    # The same claims with "subscribe" among the permissions open the stream.
    allowed = sign_jwt({"sub": "u", "channels": [private], "permissions": ["subscribe"], "exp": exp_in(600)}, MAIN["secret"])
    with SSEStream(token_server, channels, token=allowed) as stream:
        assert stream.status_code == 200


# ---------------------------------------------------------------------------------------------
# Expiry
# ---------------------------------------------------------------------------------------------


def test_jsonaction_subscription_ends_at_its_tokens_expiry_unless_refreshed(token_server):
    channel = unique("private-exp")
    since = now_ms()
    with WSClient(token_server) as lapsing, WSClient(token_server) as refreshing:
        exp = exp_in(2)
        short = sign_jwt({"channel": channel, "sub": "u", "permissions": ["subscribe", "publish"], "exp": exp}, MAIN["secret"])
        lapsing.subscribed(channel, token=short)
        refreshing.subscribed(channel, token=short)
        # A refresh before expiry: subscribe again with a new token; the reply is `subscribed` and nothing else changes.
        refreshing.subscribed(channel, token=channel_token(channel, ttl=600))
        publish(token_server, channel, {"n": 1})
        assert lapsing.recv()["data"] == {"n": 1}
        assert refreshing.recv()["data"] == {"n": 1}

        error = lapsing.recv(timeout=WAIT)
        assert error["event"] == "error" and error["data"]["code"] == "unauthorized", error
        assert error["channel"] == channel and "expired" in error["data"]["message"], error
        assert time.time() >= exp - 0.05, "ended before the token's exp"
        ended = lapsing.recv()
        assert ended["event"] == "unsubscribed" and ended["channel"] == channel, ended

        publish(token_server, channel, {"n": 2})
        assert refreshing.recv()["data"] == {"n": 2}
        lapsing.assert_alive()  # the connection stays open and the publish did not reach it
        # The expired token cannot bring the subscription back.
        reply = lapsing.subscribe(channel, token=short)
        assert reply["event"] == "error" and reply["data"]["code"] == "unauthorized", reply
    wait_for_event(token_server, "token_expired", since, contains=channel)


def test_sse_stream_ends_when_its_token_expires(token_server):
    private = unique("private-sse-exp")
    exp = exp_in(2)
    token = sign_jwt({"sub": "u", "channels": [private], "exp": exp}, MAIN["secret"])
    with SSEStream(token_server, [private], token=token) as stream:
        assert stream.status_code == 200
        publish(token_server, private, {"n": 1})
        assert json.loads(stream.next().data) == {"n": 1}
        notice = stream.next(timeout=WAIT)
        assert notice.event == "unauthorized" and json.loads(notice.data)["code"] == "token_expired", notice
        assert time.time() >= exp - 0.05, "ended before the token's exp"
        stream.wait_closed()
    # Reconnecting with the same URL is refused; a fresh token resumes.
    with SSEStream(token_server, [private], token=token) as again:
        assert again.status_code == 401
    with SSEStream(token_server, [private], token=connection_token([private])) as fresh:
        assert fresh.status_code == 200


# ---------------------------------------------------------------------------------------------
# Revocation
# ---------------------------------------------------------------------------------------------


def test_revoking_a_key_ends_what_it_authorized_in_every_protocol_and_nothing_else(token_server):
    old, new, old_id = rotated_app(token_server)
    s = token_server
    ja_old, ja_new, public = unique("private-ja-old"), unique("private-ja-new"), unique("pub:")
    sse_old, sse_new = unique("private-sse-old"), unique("private-sse-new")
    jwt_sub = unique("private-jwt-sub")
    pusher_old, pusher_new = unique("private-pusher-old"), unique("private-pusher-new")

    with WSClient(s, key=old["key"]) as json_old, WSClient(s, key=new["key"]) as json_new, \
            WSClient(s, key=new["key"]) as json_public, \
            SSEStream(s, [sse_old], key=old["key"], token=connection_token([sse_old], app=old)) as stream_old, \
            SSEStream(s, [sse_new], key=new["key"], token=connection_token([sse_new], app=new)) as stream_new, \
            ws_connect(f"{s.ws}/connection/websocket?key={old['key']}", proxy=None, open_timeout=WAIT) as jwt_old, \
            ws_connect(f"{s.ws}/connection/websocket?key={new['key']}", proxy=None, open_timeout=WAIT) as jwt_new, \
            PysherClient(s, app=old) as pysher_old, PysherClient(s, app=new) as pysher_new:
        json_old.subscribed(ja_old, token=channel_token(ja_old, app=old))
        json_new.subscribed(ja_new, token=channel_token(ja_new, app=new))
        json_public.subscribed(public)
        assert stream_old.status_code == 200 and stream_new.status_code == 200

        # A JWT connection whose connection token the old key signed, and one on the new key holding a subscription
        # whose token the old key signed.
        jwt_old.send(json.dumps({"id": 1, "connect": {"token": sign_jwt({"sub": "a", "exp": exp_in(600)}, old["secret"])}}))
        assert "connect" in jwt_until(jwt_old, lambda f: f.get("id") == 1)
        jwt_new.send(json.dumps({"id": 1, "connect": {"token": sign_jwt({"sub": "b", "exp": exp_in(600)}, new["secret"])}}))
        assert "connect" in jwt_until(jwt_new, lambda f: f.get("id") == 1)
        sub = sign_jwt({"sub": "b", "channel": jwt_sub, "exp": exp_in(600)}, old["secret"])
        jwt_new.send(json.dumps({"id": 2, "subscribe": {"channel": jwt_sub, "token": sub}}))
        assert "subscribe" in jwt_until(jwt_new, lambda f: f.get("id") == 2)

        # pysher signs private channels locally with the secret it was given.
        old_events = pysher_old.subscribe(pusher_old, events=("e",))
        new_events = pysher_new.subscribe(pusher_new, events=("e",))
        next_event(old_events, "pusher_internal:subscription_succeeded")
        next_event(new_events, "pusher_internal:subscription_succeeded")

        r = admin(s, "DELETE", f"/api/realtime/apps/{old['id']}/keys/{old_id}")
        assert r.status_code == 200, r.text

        # JSON-action: the old key's subscription ends with `unauthorized`, then `unsubscribed`.
        error = json_old.recv()
        assert error["event"] == "error" and error["data"]["code"] == "unauthorized" and error["channel"] == ja_old, error
        assert json_old.recv()["event"] == "unsubscribed"
        # SSE: the old key's stream ends after an `unauthorized` event.
        notice = stream_old.next()
        assert notice.event == "unauthorized" and json.loads(notice.data)["code"] == "token_revoked", notice
        stream_old.wait_closed()
        # JWT: the old key's connection is closed with 3014 (fetch a new token, reconnect); the old key's subscription
        # on a new-key connection gets an unsubscribe push with 2502 and the connection stays.
        assert close_code_of(jwt_old) == 3014
        push = jwt_until(jwt_new, lambda f: "unsubscribe" in f.get("push", {}))
        assert push["push"]["channel"] == jwt_sub and push["push"]["unsubscribe"]["code"] == 2502, push
        # Pusher: the old key's subscription gets `pusher:subscription_error` (401) and a 4009 error on the channel.
        _, data = next_event(old_events, "pusher:subscription_error")
        assert data["status"] == 401, data
        _, data = next_event(old_events, "pusher:error")
        assert data["code"] == 4009, data

        # What the new key authorized, and public channels, go on; the old key's channels get nothing more.
        for channel in (ja_old, ja_new, public, sse_old, sse_new, pusher_old, pusher_new):
            publish(s, channel, {"after": channel}, app=new, name="e")
        assert json_new.recv()["data"] == {"after": ja_new}
        assert json_public.recv()["data"] == {"after": public}
        assert json.loads(stream_new.next().data) == {"after": sse_new}
        _, data = next_event(new_events, "e")
        assert json.loads(data) == {"after": pusher_new}
        json_old.assert_alive()
        jwt_new.send(json.dumps({"id": 3, "ping": {}}))
        assert jwt_until(jwt_new, lambda f: f.get("id") == 3)
        time.sleep(0.3)
        assert old_events.empty(), list(old_events.queue)

        # The revoked key no longer verifies, not even on connections that were open before the revoke.
        reply = json_old.subscribe(ja_old, token=channel_token(ja_old, app=old))
        assert reply["event"] == "error" and reply["data"]["code"] == "unauthorized", reply
        with SSEStream(s, [sse_old], key=old["key"], token=connection_token([sse_old], app=old)) as again:
            assert again.status_code == 401
