"""What a token's claims and validity cost a client, as Centrifugo decides it, and the same claims read the same way by
every protocol that takes an HS256 token.

- An invalid subscription token (bad signature, garbage, `alg: none`) refuses only the subscribe with 103; the
  connection stays. A subscription token used to connect is refused with 3500.
- `exp` may be fractional (RFC 7519 NumericDate, `time.time() + 600`); a token whose `nbf` is still ahead is answered
  like an expired one (109). JSON-action channel tokens and SSE stream tokens read `exp` and `nbf` the same way.

Real clients: centrifuge-python unpatched, raw `websockets` frames where the library hides a code.
"""

import json
import time

import pytest
from centrifuge import ClientState, SubscriptionState

from conftest import MAIN, OTHER, SSEStream, WSClient, now_ms, publish, sign_jwt, unique, unsigned_jwt, wait_for_event
from test_jwt import SubEvents, client, get, run, sub_token, subscribed, token
from test_jwt_contract import RawJWT, error_code

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "bad, kind",
    [
        (lambda channel: sub_token(channel, app=OTHER), "bad_signature"),
        (lambda channel: "not.a.jwt", "token_invalid"),
        (lambda channel: unsigned_jwt({"sub": "u1", "channel": channel, "exp": int(time.time()) + 600}), "token_invalid"),
    ],
    ids=["other-apps-secret", "garbage", "alg-none"],
)
def test_an_invalid_subscription_token_is_refused_with_103_and_the_connection_stays(server, bad, kind):
    channel = unique("private-jwt")
    since = now_ms()

    async def main():
        c, events = client(server)
        await c.connect()
        seen = SubEvents()
        sub = c.new_subscription(channel, events=seen, token=bad(channel))
        await sub.subscribe()
        assert (await get(seen.unsubscribed)).code == 103
        assert sub.state == SubscriptionState.UNSUBSCRIBED and c.state == ClientState.CONNECTED
        assert events.disconnected.empty()
        # The same connection still subscribes with a good token and hears the channel.
        c.remove_subscription(sub)
        good = SubEvents()
        await subscribed(c, channel, events=good, token=sub_token(channel))
        publish(server, channel, {"after": "refusal"})
        assert (await get(good.publications)).pub.data == {"after": "refusal"}
        await c.disconnect()

    run(main())
    wait_for_event(server, kind, since, contains=channel)


def test_a_subscription_token_used_to_connect_closes_with_3500(server):
    since = now_ms()

    async def main():
        c, events = client(server, token=sub_token(unique("private-jwt")))
        await c.connect()
        assert (await get(events.disconnected)).code == 3500
        assert c.state == ClientState.DISCONNECTED

    run(main())
    wait_for_event(server, "token_invalid", since, contains="channel claim")


def test_a_fractional_exp_is_accepted_for_connection_and_subscription_tokens(server):
    channel = unique("private-jwt")
    exp = time.time() + 600

    async def main():
        c, events = client(server, token=sign_jwt({"sub": "u1", "exp": exp}, MAIN["secret"]))
        await c.connect()
        await get(events.connected)
        seen = SubEvents()
        await subscribed(c, channel, events=seen, token=sign_jwt({"sub": "u1", "channel": channel, "exp": exp}, MAIN["secret"]))
        publish(server, channel, {"n": 1})
        assert (await get(seen.publications)).pub.data == {"n": 1}
        await c.disconnect()

    run(main())


def test_hs512_and_hs384_tokens_connect_and_subscribe_as_centrifugo_accepts_them(server):
    """Found by an audit: only HS256 verified, while Centrifugo also takes HS384 and HS512, so a backend that signs with
    either lost every client on migration. centrifuge-python connects with an HS512 token and subscribes with an HS384
    one; a JSON-action channel token in HS512 opens its channel too."""
    channel = unique("private-jwt")
    exp = int(time.time()) + 600

    async def main():
        c, events = client(server, token=sign_jwt({"sub": "u1", "exp": exp}, MAIN["secret"], {"alg": "HS512", "typ": "JWT"}))
        await c.connect()
        await get(events.connected)
        seen = SubEvents()
        sub = sign_jwt({"sub": "u1", "channel": channel, "exp": exp}, MAIN["secret"], {"alg": "HS384", "typ": "JWT"})
        await subscribed(c, channel, events=seen, token=sub)
        publish(server, channel, {"n": 1})
        assert (await get(seen.publications)).pub.data == {"n": 1}
        await c.disconnect()

    run(main())
    with WSClient(server) as ws:
        other = unique("private-hs512")
        ws.send({"action": "subscribe", "channel": other,
                 "token": sign_jwt({"sub": "u1", "channel": other, "permissions": ["subscribe"], "exp": exp}, MAIN["secret"],
                                   {"alg": "HS512", "typ": "JWT"})})
        assert ws.recv()["event"] == "subscribed"


def test_a_token_whose_nbf_is_ahead_gets_109_at_connect_and_at_subscribe(server):
    channel = unique("private-jwt")
    ahead = int(time.time()) + 600
    with RawJWT(server, sign_jwt({"sub": "u1", "nbf": ahead}, MAIN["secret"])) as early:
        assert error_code(early.connected) == 109
        assert "connect" in early.call("connect", token=token()), "the refused client may connect with a valid token"
    with RawJWT(server, token()) as c:
        reply = c.call("subscribe", channel=channel, token=sign_jwt({"sub": "u1", "channel": channel, "nbf": ahead}, MAIN["secret"]))
        assert error_code(reply) == 109
        started = sign_jwt({"sub": "u1", "channel": channel, "nbf": int(time.time()) - 5}, MAIN["secret"])
        assert "subscribe" in c.call("subscribe", channel=channel, token=started)


def test_jsonaction_channel_tokens_accept_a_fractional_exp_and_refuse_an_nbf_ahead(server):
    channel = unique("private-ja")
    since = now_ms()
    claims = {"channel": channel, "sub": "u", "permissions": ["subscribe", "publish"]}
    with WSClient(server) as ws:
        early = ws.subscribe(channel, token=sign_jwt({**claims, "nbf": int(time.time()) + 600}, MAIN["secret"]))
        assert early["event"] == "error" and early["data"]["code"] == "unauthorized", early
        ws.subscribed(channel, token=sign_jwt({**claims, "exp": time.time() + 600}, MAIN["secret"]))
        publish(server, channel, {"n": 1})
        assert ws.recv()["data"] == {"n": 1}
    wait_for_event(server, "token_expired", since, contains=channel)


def test_sse_stream_tokens_accept_a_fractional_exp_and_refuse_an_nbf_ahead(server):
    private = unique("private-sse")
    since = now_ms()
    early = sign_jwt({"sub": "u", "channels": [private], "nbf": int(time.time()) + 600}, MAIN["secret"])
    with SSEStream(server, [private], token=early) as stream:
        assert stream.status_code == 401, stream.status_code
    wait_for_event(server, "token_expired", since)
    fractional = sign_jwt({"sub": "u", "channels": [private], "exp": time.time() + 600}, MAIN["secret"])
    with SSEStream(server, [private], token=fractional) as stream:
        assert stream.status_code == 200, stream.status_code
        publish(server, private, {"n": 1})
        assert json.loads(stream.next().data) == {"n": 1}
