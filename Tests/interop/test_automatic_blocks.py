"""`[limits] auto_block_refusals`: an address refused again and again, whatever the protocol, is blocked for a while as
an operator would block it, and every node of a cluster shuts it out. Exercised from the attacker's side (refused
attempts over Pusher, SSE and the REST API, then a connection it held open and its next sockets), from a bystander's
(a few refusals of its own change nothing) and from the operator's (its own address is never blocked this way).
"""
import time

import httpx
from conftest import CONFIG, WAIT, PusherWS, WSClient, admin_headers, security_events, start_server, unique, wait_until
from test_blocked_addresses import _closed
from test_cluster import cluster_config, redis, wait_engine_ready  # noqa: F401 (redis: a fixture)
from test_hostile_edge import closed_unread, health_status, sse_status
from test_tls import port_of

REFUSALS = 6
AUTO_BLOCK = f"""[limits]
auto_block_refusals = {REFUSALS}
auto_block_window_seconds = 60
auto_block_seconds = 3
uncounted_addresses = ["127.0.0.1/32"]
"""


def auto_block_config(config: str = CONFIG) -> str:
    return config.replace("[limits]\n", AUTO_BLOCK, 1)


def refuse(server, address: str, times: int) -> None:
    """`times` refusals of `address`, taking turns: a Pusher key nobody has (4001), an SSE stream with that key (404),
    and a REST publish with a wrong secret (401)."""
    for attempt in range(times):
        match attempt % 3:
            case 0:
                with PusherWS(server, key="pk_nobody", expect_established=False, local_address=address) as client:
                    frame = client.recv()
                    assert frame["event"] == "pusher:error" and frame["data"]["code"] == 4001, frame
            case 1:
                assert sse_status(server, local_address=address, key="pk_nobody") == 404
            case 2:
                with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=WAIT) as client:
                    answer = client.post(f"{server.http}/_rt/api/publish", json={"channel": "c", "data": 1},
                                         headers={"Authorization": "Bearer not-the-secret"})
                    assert answer.status_code == 401, answer.text


def automatic_blocks(server) -> list:
    listed = httpx.get(f"{server.http}/api/realtime/blocks", headers=admin_headers(), timeout=WAIT)
    assert listed.status_code == 200, listed.text
    return [block for block in listed.json()["blocks"] if block["reason"].startswith("automatic:")]


def test_an_address_refused_auto_block_refusals_times_is_blocked_for_auto_block_seconds_then_let_back():
    server = start_server(auto_block_config())
    try:
        with WSClient(server, local_address="127.0.0.2") as held, WSClient(server, local_address="127.0.0.4") as bystander:
            refuse(server, "127.0.0.2", REFUSALS - 1)
            refuse(server, "127.0.0.4", REFUSALS - 1)
            # The operator's own address is uncounted: twice the refusals block nothing.
            refuse(server, "127.0.0.1", 2 * REFUSALS)
            assert health_status(server, "127.0.0.2") == 200 and automatic_blocks(server) == []

            refuse(server, "127.0.0.2", 1)
            error = held.recv()
            assert error["event"] == "error" and error["data"]["code"] == "forbidden", error
            wait_until(lambda: _closed(held.ws), message="the blocked address's open connection to close")
            assert closed_unread(port_of(server.http), "127.0.0.2")
            bystander.assert_alive()
        (block,) = automatic_blocks(server)
        assert block["address"] == "127.0.0.2/32", block
        assert block["reason"].startswith(f"automatic: {REFUSALS} refusals in 60 s, the last "), block
        assert block["expiresAt"] - block["createdAt"] == 3_000, block
        assert health_status(server, "127.0.0.4") == 200 and health_status(server) == 200
        # The block is an event of its own, so an alert on address_blocked hears of it even if the address goes quiet.
        wait_until(lambda: any(e["clientIp"] == "127.0.0.2" and e["detail"].startswith("127.0.0.2/32 blocked for 3 s (automatic: ")
                               for e in security_events(server, kind="address_blocked")),
                   message="the automatic block's address_blocked event")
        metrics = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT).text
        assert "switchboard_automatic_blocks_total 1" in metrics

        wait_until(lambda: health_status(server, "127.0.0.2") == 200, timeout=6, message="the automatic block to lift")
        assert automatic_blocks(server) == []
    finally:
        server.stop()


def test_refusals_spread_wider_than_the_window_never_block():
    """Three refusals a window, windows of one second: a client that retries slowly is never blocked."""
    server = start_server(auto_block_config().replace("auto_block_window_seconds = 60", "auto_block_window_seconds = 1")
                          .replace(f"auto_block_refusals = {REFUSALS}", "auto_block_refusals = 3"))
    try:
        for _ in range(4):
            refuse(server, "127.0.0.2", 2)
            time.sleep(1.1)
        assert automatic_blocks(server) == [] and health_status(server, "127.0.0.2") == 200
    finally:
        server.stop()


def test_only_the_kinds_of_auto_block_kinds_count():
    """Counting only failed signatures: twelve refusals for an unknown key block nothing, the sixth bad signature does."""
    server = start_server(auto_block_config().replace("[limits]\n", '[limits]\nauto_block_kinds = ["bad_signature"]\n', 1))
    try:
        refuse(server, "127.0.0.2", 3 * REFUSALS - 1)  # REFUSALS - 1 bad signatures among them
        assert automatic_blocks(server) == [] and health_status(server, "127.0.0.2") == 200
        refuse(server, "127.0.0.2", 3)
        wait_until(lambda: closed_unread(port_of(server.http), "127.0.0.2"), message="the automatic block")
        assert automatic_blocks(server)[0]["reason"].endswith("the last bad_signature")
    finally:
        server.stop()


def test_blameless_refusals_never_block_but_the_next_real_ones_do():
    """Admin requests with no token guess nothing, and a Pusher app bursting client events past its rate is dropped as
    Pusher drops them: both are security events, and neither counts toward a block."""
    server = start_server(auto_block_config().replace(f"auto_block_refusals = {REFUSALS}", "auto_block_refusals = 3"))
    try:
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=WAIT) as client:
            for _ in range(5):
                assert client.get(f"{server.http}/api/realtime/blocks").status_code == 401
        channel = f"private-{unique('burst')}"
        with PusherWS(server, local_address="127.0.0.2") as member:
            member.subscribed(channel)
            for n in range(40):
                member.send({"event": "client-moved", "channel": channel, "data": {"n": n}})
            frame, _ = member.recv_until(lambda f: f["event"] == "pusher:error")
            assert frame["data"]["code"] == 4301, frame
            member.send({"event": "pusher:ping", "data": {}})
            member.recv_until(lambda f: f["event"] == "pusher:pong")
        assert automatic_blocks(server) == [] and health_status(server, "127.0.0.2") == 200

        refuse(server, "127.0.0.2", 3)
        wait_until(lambda: closed_unread(port_of(server.http), "127.0.0.2"), message="the automatic block")
    finally:
        server.stop()


def test_an_address_refused_on_one_node_is_blocked_on_every_node(redis):
    """The block one node makes travels like an operator's: another node ends what the address holds open there and
    closes its next socket unread."""
    prefix = unique("sbtest")
    nodes = []
    try:
        for _ in range(2):
            nodes.append(start_server(auto_block_config(cluster_config(redis.port, prefix))))
        a, b = nodes
        for node in nodes:
            wait_engine_ready(node)
        with WSClient(b, local_address="127.0.0.2") as held:
            refuse(a, "127.0.0.2", REFUSALS)
            error = held.recv()
            assert error["event"] == "error" and error["data"]["code"] == "forbidden", error
            wait_until(lambda: _closed(held.ws), message="the connection on the other node to close")
        assert closed_unread(port_of(b.http), "127.0.0.2")
        assert [block["address"] for block in automatic_blocks(b)] == ["127.0.0.2/32"]
    finally:
        for node in nodes:
            node.stop()
