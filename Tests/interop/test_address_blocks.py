"""`/api/realtime/blocks`: an operator blocks an address or range at runtime, without editing the config. The block
ends what the address holds open, closes its next sockets unread, outlives a restart, may expire by itself, and cannot
lock the operator out. Exercised from both sides: the operator's requests and the blocked client's connections.
"""
import socket
import time

import httpx
from conftest import CONFIG, WAIT, PusherWS, WSClient, admin_headers, start_server, wait_until
from test_blocked_addresses import _closed
from test_hostile_edge import closed_unread, health_status, with_server_keys
from test_tls import port_of

BLOCKS = "/api/realtime/blocks"


def block(server, **body) -> httpx.Response:
    return httpx.post(f"{server.http}{BLOCKS}", json=body, headers=admin_headers(), timeout=WAIT)


def blocks(server) -> dict:
    listed = httpx.get(f"{server.http}{BLOCKS}", headers=admin_headers(), timeout=WAIT)
    assert listed.status_code == 200, listed.text
    return listed.json()


def test_a_runtime_block_ends_the_addresss_connections_refuses_its_sockets_and_outlives_a_restart():
    server = start_server()
    try:
        with WSClient(server, local_address="127.0.0.2") as json_action, \
                PusherWS(server, local_address="127.0.0.2") as pusher, \
                WSClient(server, local_address="127.0.0.4") as bystander:
            added = block(server, address="127.0.0.2", reason="credential stuffing")
            assert added.status_code == 201, added.text
            created = added.json()["block"]
            assert created["address"] == "127.0.0.2/32" and created["reason"] == "credential stuffing"
            assert created["expiresAt"] is None and abs(created["createdAt"] - time.time() * 1000) < 60_000

            error = json_action.recv()
            assert error["event"] == "error" and error["data"]["code"] == "forbidden", error
            refused = pusher.recv()
            assert refused["event"] == "pusher:error" and refused["data"]["code"] == 4009, refused
            for client in (json_action, pusher):
                wait_until(lambda: _closed(client.ws), message="the blocked client's connection to close")
            assert closed_unread(port_of(server.http), "127.0.0.2")
            bystander.assert_alive()
        assert blocks(server) == {"blocks": [created], "configured": []}
        # Blocking it again replaces the reason and answers 200.
        again = block(server, address="127.0.0.2", reason="still at it")
        assert again.status_code == 200 and again.json()["block"]["reason"] == "still at it", again.text

        server.stop()
        server = start_server(workdir=server.workdir)
        assert closed_unread(port_of(server.http), "127.0.0.2")
        assert [b["reason"] for b in blocks(server)["blocks"]] == ["still at it"]

        lifted = httpx.delete(f"{server.http}{BLOCKS}", params={"address": "127.0.0.2"}, headers=admin_headers(), timeout=WAIT)
        assert lifted.status_code == 200 and lifted.json() == {"lifted": "127.0.0.2/32"}, lifted.text
        assert health_status(server, "127.0.0.2") == 200
        again = httpx.request("DELETE", f"{server.http}{BLOCKS}", json={"address": "127.0.0.2"}, headers=admin_headers(), timeout=WAIT)
        assert again.status_code == 404, again.text
        assert blocks(server)["blocks"] == []
    finally:
        server.stop()


def test_a_block_also_closes_an_idle_http_keep_alive_connection_from_the_address(fresh_server):
    """A keep-alive connection between requests carries no session to send away; the block closes its socket too, so
    the blocked address keeps nothing open (another address's keep-alive connection stays). Loopback is counted here
    (`uncounted_addresses = []`), as any client address is by default."""
    server = fresh_server(CONFIG.replace("[limits]\n", "[limits]\nuncounted_addresses = []\n", 1))
    port = port_of(server.http)
    sockets = {}
    for address in ("127.0.0.14", "127.0.0.15"):
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT, source_address=(address, 0))
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: edge\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200"), address
        sockets[address] = sock
    try:
        assert block(server, address="127.0.0.14", expiresIn=60).status_code == 201
        blocked = sockets["127.0.0.14"]
        blocked.settimeout(5)
        assert blocked.recv(4096) == b"", "the blocked address's idle connection is closed by the server"
        bystander = sockets["127.0.0.15"]
        bystander.sendall(b"GET /health HTTP/1.1\r\nHost: edge\r\n\r\n")
        assert bystander.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for sock in sockets.values():
            sock.close()
        httpx.delete(f"{server.http}{BLOCKS}", params={"address": "127.0.0.14"}, headers=admin_headers(), timeout=WAIT)


def test_a_block_with_an_expiry_lifts_by_itself_and_a_configured_range_is_listed_apart():
    server = start_server(with_server_keys(CONFIG, 'blocked_addresses = ["198.51.100.0/24"]'))
    try:
        added = block(server, address="127.0.0.3", expiresIn=2)
        assert added.status_code == 201, added.text
        expires_at = added.json()["block"]["expiresAt"]
        assert 1_000 <= expires_at - time.time() * 1000 <= 3_000, added.text
        assert closed_unread(port_of(server.http), "127.0.0.3")
        assert blocks(server)["configured"] == ["198.51.100.0/24"]
        wait_until(lambda: health_status(server, "127.0.0.3") == 200, timeout=6, message="the block to expire")
        assert blocks(server)["blocks"] == []
    finally:
        server.stop()


def test_the_blocks_api_refuses_what_it_cannot_apply_and_changes_nothing(server):
    """Anyone may try the admin routes: without the token nothing is blocked; a malformed address, an overlong reason
    or a nonsensical expiry is a 400; and a range holding the operator's own address is refused, so one typo cannot lock
    the operator out of the API that would lift it."""
    no_token = httpx.post(f"{server.http}{BLOCKS}", json={"address": "203.0.113.7"}, timeout=WAIT)
    assert no_token.status_code == 401
    assert httpx.get(f"{server.http}{BLOCKS}", timeout=WAIT).status_code == 401
    refused = [
        {},
        {"address": "10.0.0.1/8"},
        {"address": "example.com"},
        {"address": "1" * 100},
        {"address": "203.0.113.7", "reason": "x" * 201},
        {"address": "203.0.113.7", "expiresIn": 0},
        {"address": "203.0.113.7", "expiresIn": 366 * 24 * 3600},
        {"address": "203.0.113.7", "expiresIn": "60"},
        {"address": "203.0.113.7", "ttl": 60},
        {"address": "127.0.0.0/8"},
        {"address": "127.0.0.1"},
    ]
    for body in refused:
        answer = block(server, **body)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request", (body, answer.text)
    assert "lock you out" in block(server, address="0.0.0.0/0").json()["error"]["message"]
    missing = httpx.delete(f"{server.http}{BLOCKS}", params={"address": "203.0.113.7"}, headers=admin_headers(), timeout=WAIT)
    assert missing.status_code == 404
    assert httpx.delete(f"{server.http}{BLOCKS}", headers=admin_headers(), timeout=WAIT).status_code == 400
    assert blocks(server)["blocks"] == []
    assert health_status(server) == 200
