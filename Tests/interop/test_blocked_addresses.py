"""`[server] blocked_addresses`: an operator's block list, from the attacker's side. A blocked peer's sockets are closed
unread, a trusted proxy's requests for a blocked client are refused, and a SIGHUP that blocks an address ends what it
already holds open, in every protocol, and nobody else's connections.
"""
import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from conftest import (CONFIG, MAIN, WAIT, PusherWS, SSEStream, WSClient, now_ms, security_events, sign_jwt, socket_from,
                      start_server, unique, wait_for_event, wait_until)
from test_hostile_edge import closed_unread, health_status, sse_status, with_server_keys
from test_hostile_input import dropped_total
from test_live_config import reload_with
from test_tls import port_of


def test_a_blocked_peer_is_closed_unread_before_any_request_and_the_event_names_it():
    server = start_server(with_server_keys(CONFIG, 'blocked_addresses = ["127.0.0.3", "2001:db8::/32"]'))
    try:
        since = now_ms()
        assert closed_unread(port_of(server.http), "127.0.0.3")
        assert health_status(server, "127.0.0.2") == 200
        with WSClient(server, local_address="127.0.0.2") as client:
            client.assert_alive()
        event = wait_for_event(server, "address_blocked", since, contains="closed at accept")
        assert event["clientIp"] == "127.0.0.3"
    finally:
        server.stop()



def test_a_blocked_address_that_reconnects_in_a_loop_keeps_only_its_event_budget():
    """A blocked client that reconnects as fast as it can is closed unread every time; the store keeps no more of its
    `address_blocked` events than the per-address budget (20 a second, bursts of 50), and /metrics counts the rest."""
    server = start_server(with_server_keys(CONFIG, 'blocked_addresses = ["127.0.0.3"]'))
    try:
        since, started = now_ms(), time.monotonic()
        attempts = 300
        assert all(closed_unread(port_of(server.http), "127.0.0.3") for _ in range(attempts))
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # the store is written in batches
        events = security_events(server, kind="address_blocked", since=since, limit=1000)
        allowed = 50 + 20 * (elapsed + 1.5)
        assert 40 <= len(events) <= allowed, f"{len(events)} events kept from {attempts} sockets in {elapsed:.1f}s"
        assert dropped_total(server) >= attempts - allowed
        assert health_status(server, "127.0.0.2") == 200
    finally:
        server.stop()


def test_a_trusted_proxys_request_for_a_blocked_client_is_refused_403_in_every_protocol():
    """Behind a proxy every client arrives from the proxy's address, so the block is read from the client it forwards:
    REST, SSE and every WebSocket upgrade for that client are refused; the proxy's other clients are served."""
    config = with_server_keys(CONFIG, 'trusted_proxies = ["127.0.0.1/32"]\nblocked_addresses = ["198.51.100.0/24"]')
    server = start_server(config)
    blocked, allowed = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.9"}
    try:
        since = now_ms()
        body = {"channel": unique("c"), "data": {"n": 1}}
        auth = {"Authorization": f"Bearer {MAIN['secret']}"}
        refused = httpx.post(f"{server.http}/_rt/api/publish", json=body, headers={**auth, **blocked}, timeout=WAIT)
        assert refused.status_code == 403 and refused.json()["error"]["message"] == "this address is blocked", refused.text
        assert httpx.post(f"{server.http}/_rt/api/publish", json=body, headers={**auth, **allowed}, timeout=WAIT).status_code == 200
        assert sse_status(server, forwarded_for="198.51.100.7") == 403
        assert sse_status(server, forwarded_for="203.0.113.9") == 200
        for path in [f"/_rt/ws?key={MAIN['key']}", f"/app/{MAIN['key']}?protocol=7", "/connection/websocket"]:
            with pytest.raises(InvalidStatus) as refusal:
                with ws_connect(f"{server.ws}{path}", additional_headers=blocked, proxy=None, open_timeout=WAIT):
                    pass
            assert refusal.value.response.status_code in (400, 403), (path, refusal.value.response.status_code)
            with ws_connect(f"{server.ws}{path}", additional_headers=allowed, proxy=None, open_timeout=WAIT):
                pass
        event = wait_for_event(server, "address_blocked", since, contains="/sse")
        assert event["clientIp"] == "198.51.100.7"
    finally:
        server.stop()


def test_sighup_blocking_an_address_ends_its_open_connections_in_every_protocol_and_spares_the_others():
    """Blocking an abusive client must not wait for it to reconnect: a reload that adds its address sends its open
    JSON-action, Pusher and JWT connections away (each with its protocol's refusal, none asking it to come back) and ends
    its SSE streams; from then on it is closed at accept. A client on another address keeps its connection throughout,
    and taking the address off the list lets it in again."""
    server = start_server()
    port = port_of(server.http)
    token = sign_jwt({"sub": "mallory", "exp": int(time.time()) + 600}, MAIN["secret"])
    try:
        with WSClient(server, local_address="127.0.0.2") as json_action, \
                PusherWS(server, local_address="127.0.0.2") as pusher, \
                ws_connect(f"{server.ws}/connection/websocket", proxy=None, open_timeout=WAIT,
                           sock=socket_from(server.ws, "127.0.0.2")) as jwt, \
                WSClient(server, local_address="127.0.0.4") as bystander:
            jwt.send(json.dumps({"id": 1, "connect": {"token": token}}))
            assert "connect" in json.loads(jwt.recv(timeout=WAIT))
            stream = SSEStream(server, [unique("c")],
                               client_options={"transport": httpx.HTTPTransport(local_address="127.0.0.2")})
            assert stream.status_code == 200
            since = now_ms()
            reload_with(server, with_server_keys(CONFIG, 'blocked_addresses = ["127.0.0.2/32"]'))

            error = json_action.recv()
            assert error["event"] == "error" and error["data"] == {"code": "forbidden", "message": "this address is blocked"}, error
            refused = pusher.recv()
            assert refused["event"] == "pusher:error" and refused["data"]["code"] == 4009, refused
            for client in (json_action, pusher):
                wait_until(lambda: _closed(client.ws), message="the blocked client's connection to close")
            # 3503: force disconnect, which Centrifugo's clients take as "do not reconnect".
            wait_until(lambda: _closed(jwt), message="the blocked JWT connection to close")
            assert jwt.close_code == 3503, jwt.close_code
            stream.wait_closed()
            assert closed_unread(port, "127.0.0.2")
            bystander.assert_alive()

            reload_with(server, CONFIG)
            assert health_status(server, "127.0.0.2") == 200
            bystander.assert_alive()
        assert "applies only after a restart" not in server.log()
        # Not a flood of events: the reload sent four connections away; the one refused socket is the only event.
        assert wait_for_event(server, "address_blocked", since, contains="closed at accept")["clientIp"] == "127.0.0.2"
        assert len(security_events(server, kind="address_blocked", since=since)) == 1
    finally:
        server.stop()


def test_sighup_blocking_a_trusted_proxy_ends_what_its_clients_hold_open_and_refuses_its_kept_alive_connection():
    """A proxy that turned abusive is blocked by its own address: the reload ends the WebSocket connections of every
    client that came through it, and the next request on a connection it keeps alive is refused, although the clients
    it forwarded are not on the list. A client of another proxy keeps its connection."""
    config = with_server_keys(CONFIG, 'trusted_proxies = ["127.0.0.5/32", "127.0.0.6/32"]')
    server = start_server(config)
    url = f"{server.ws}/_rt/ws?key={MAIN['key']}"
    try:
        with ws_connect(url, proxy=None, open_timeout=WAIT, sock=socket_from(url, "127.0.0.5"),
                        additional_headers={"X-Forwarded-For": "198.51.100.7"}) as proxied, \
                ws_connect(url, proxy=None, open_timeout=WAIT, sock=socket_from(url, "127.0.0.6"),
                           additional_headers={"X-Forwarded-For": "203.0.113.9"}) as other, \
                httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5"), timeout=WAIT) as kept_alive:
            for ws in (proxied, other):
                assert json.loads(ws.recv(timeout=WAIT))["event"] == "connected"
            assert kept_alive.get(f"{server.http}/api/health", headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 200
            reload_with(server, with_server_keys(config, 'blocked_addresses = ["127.0.0.5"]'))

            error = json.loads(proxied.recv(timeout=WAIT))
            assert error["event"] == "error" and error["data"]["code"] == "forbidden", error
            wait_until(lambda: _closed(proxied), message="the connection through the blocked proxy to close")
            refused = kept_alive.get(f"{server.http}/api/health", headers={"X-Forwarded-For": "198.51.100.8"})
            assert refused.status_code == 403 and refused.json()["error"]["message"] == "this address is blocked", refused.text
            other.send(json.dumps({"action": "ping"}))
            assert json.loads(other.recv(timeout=WAIT))["event"] == "pong"
            assert closed_unread(port_of(server.http), "127.0.0.5")
    finally:
        server.stop()


def _closed(ws) -> bool:
    """Whether the server ended the connection: reads what is left until the close."""
    try:
        ws.recv(timeout=0.2)
        return False
    except TimeoutError:
        return False
    except ConnectionClosed:
        return True
