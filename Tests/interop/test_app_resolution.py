"""PROTOCOLS.md's app resolution on the routes the protocol suites do not cover: a JWT client's key, app and origin
refusals, and the server REST APIs (`/_rt/api/*`, `/api/*`) for a browser `Origin` the app does not list.

Clients: centrifuge-python and `cent`'s wire format over httpx, `websockets`. Each refusal gets the protocol's own
answer and a security event.
"""

import asyncio
import time

import httpx
import pytest
from centrifuge import Client, ClientEventHandler, ClientState
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from conftest import ALLOWED_ORIGIN, DISABLED, MAIN, WAIT, api_headers, now_ms, sign_jwt, unique, wait_for_event


class Disconnects(ClientEventHandler):
    def __init__(self):
        self.disconnected = asyncio.Queue()
        self.connecting = 0

    async def on_connecting(self, ctx):
        self.connecting += 1

    async def on_disconnected(self, ctx):
        self.disconnected.put_nowait(ctx)


def disconnect_of(server, key: str, app=MAIN):
    """Connects centrifuge-python with `key`; returns the disconnect it got and the client's state a moment later."""
    token = sign_jwt({"sub": "u", "exp": int(time.time()) + 600}, app["secret"])

    async def main():
        events = Disconnects()
        client = Client(f"{server.ws}/connection/websocket?key={key}", token=token, events=events, proxy=None, timeout=WAIT)
        await client.connect()
        ctx = await asyncio.wait_for(events.disconnected.get(), WAIT)
        await asyncio.sleep(0.5)
        state, attempts = client.state, events.connecting
        await client.disconnect()
        return ctx, state, attempts

    return asyncio.run(asyncio.wait_for(main(), 30))


def test_a_jwt_client_with_an_unknown_key_is_disconnected_for_good_with_3501_and_the_refusal_recorded(server):
    since, key = now_ms(), unique("pk_nope_")
    ctx, state, attempts = disconnect_of(server, key)
    assert ctx.code == 3501, ctx
    assert state == ClientState.DISCONNECTED and attempts == 1, (state, attempts)
    wait_for_event(server, "unknown_key", since, contains=key)


def test_a_jwt_client_of_a_disabled_app_is_disconnected_for_good_with_3503_and_the_refusal_recorded(server):
    since = now_ms()
    ctx, state, _ = disconnect_of(server, DISABLED["key"], app=DISABLED)
    assert ctx.code == 3503, ctx
    assert state == ClientState.DISCONNECTED
    wait_for_event(server, "app_disabled", since, app=DISABLED["id"])


@pytest.mark.parametrize("path", ["/connection/websocket", "/realtime/connection/websocket"])
def test_a_jwt_upgrade_from_an_origin_the_app_does_not_list_is_403_origin_blocked(server, path):
    since, origin = now_ms(), f"http://{unique('evil')}.example"
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"{server.ws}{path}?key={MAIN['key']}", origin=origin, proxy=None, open_timeout=WAIT)
    assert refused.value.response.status_code == 403
    assert b"origin_blocked" in refused.value.response.body
    wait_for_event(server, "origin_blocked", since, contains=origin)
    # The app's own origin, and no origin at all (a server), are let in.
    for allowed in (ALLOWED_ORIGIN, None):
        with ws_connect(f"{server.ws}{path}?key={MAIN['key']}", origin=allowed, proxy=None, open_timeout=WAIT):
            pass


@pytest.mark.parametrize("route,headers,body", [
    ("/_rt/api/publish", api_headers(), {"channel": "origin-check", "data": 1}),
    ("/api/publish", {"X-API-Key": MAIN["secret"]}, {"channel": "origin-check", "data": 1}),
    ("/api/realtime/publish", {"Authorization": f"Bearer {MAIN['secret']}"}, {"channel": "origin-check", "data": 1}),
])
def test_a_server_api_call_from_an_origin_the_app_does_not_list_is_403_and_recorded(server, route, headers, body):
    since, origin = now_ms(), f"http://{unique('evil')}.example"
    refused = httpx.post(f"{server.http}{route}", json=body, headers={**headers, "Origin": origin}, timeout=WAIT)
    assert refused.status_code == 403, refused.text
    wait_for_event(server, "origin_blocked", since, contains=origin)
    for allowed in ({"Origin": ALLOWED_ORIGIN}, {}):
        ok = httpx.post(f"{server.http}{route}", json=body, headers={**headers, **allowed}, timeout=WAIT)
        assert ok.status_code == 200 and "error" not in ok.json(), ok.text
