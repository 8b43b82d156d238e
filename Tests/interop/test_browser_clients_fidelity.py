"""Fidelity fixes seen from outside (issue 13): what a migrating app's unchanged server code relies on.

- A REST call whose `?key=` names no app gets 404, and one whose `?key=` names another app than its secret gets 401
  (before, the key was ignored whenever the secret matched some app).
- Pusher `socket_id` exclusion holds across nodes: `trigger(…, socket_id=X)` sent to node A does not reach X on node B,
  while the channel's other subscribers (on both nodes) get it.
- Found by the browser suites: Chromium opens sockets ahead of need (preconnect) and may never send a request on them;
  such a connection, or one stalled mid request head, no longer holds a graceful shutdown (SIGTERM) forever.
"""

import json
import signal
import socket
import time

import httpx
import pytest

from conftest import MAIN, OTHER, start_server, PUSHER, WAIT, PysherClient, api_headers, next_event, pusher_api, unique, wait_until
from test_cluster import REDIS, cluster, redis  # noqa: F401  (pytest fixtures)


def test_rest_key_naming_no_app_is_404_and_another_apps_key_is_401(server):
    for path in ("_rt/api/channels", "api/channels"):
        headers = api_headers(MAIN) if path.startswith("_rt") else {"X-API-Key": MAIN["secret"]}
        method = "GET" if path.startswith("_rt") else "POST"
        ok = httpx.request(method, f"{server.http}/{path}", params={"key": MAIN["key"]}, headers=headers, json=None if method == "GET" else {},
                           timeout=WAIT)
        assert ok.status_code == 200, (path, ok.text)
        unknown = httpx.request(method, f"{server.http}/{path}", params={"key": "pk_nobody"}, headers=headers,
                                json=None if method == "GET" else {}, timeout=WAIT)
        assert unknown.status_code == 404, (path, unknown.status_code, unknown.text)
        other = httpx.request(method, f"{server.http}/{path}", params={"key": OTHER["key"]}, headers=headers,
                              json=None if method == "GET" else {}, timeout=WAIT)
        assert other.status_code == 401, (path, other.status_code, other.text)


def test_a_publish_with_an_unknown_key_reaches_nobody(server):
    channel = unique("fidelity:")
    r = httpx.post(f"{server.http}/_rt/api/publish", params={"key": "pk_nobody"}, headers=api_headers(MAIN),
                   json={"channel": channel, "data": {"n": 1}}, timeout=WAIT)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    history = httpx.get(f"{server.http}/_rt/api/history", params={"channel": channel}, headers=api_headers(MAIN), timeout=WAIT)
    assert history.json()["messages"] == []


@pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (scripts/test installs it)")
def test_pusher_socket_id_exclusion_holds_across_nodes(cluster):  # noqa: F811
    a, b = cluster(2)
    channel = unique("excluded-")
    api_a = pusher_api(a, PUSHER)
    with PysherClient(b, app=PUSHER) as excluded, PysherClient(b, app=PUSHER) as neighbour, PysherClient(a, app=PUSHER) as local:
        queues = {}
        for name, client in (("excluded", excluded), ("neighbour", neighbour), ("local", local)):
            queues[name] = client.subscribe(channel, events=("note",))
            next_event(queues[name], "pusher_internal:subscription_succeeded")
        wait_until(lambda: api_a.channel_info(channel, ["subscription_count"]).get("subscription_count") == 3, timeout=10,
                   message="three subscribers counted across both nodes")
        # Sent to node A, naming a socket on node B.
        api_a.trigger(channel, "note", {"n": 1}, socket_id=excluded.socket_id)
        api_a.trigger(channel, "note", {"n": 2})
        for name in ("neighbour", "local"):
            assert [json.loads(next_event(queues[name], "note")[1])["n"] for _ in range(2)] == [1, 2], name
        # Same-node ordering: the excluded socket's first `note` is the second message.
        assert json.loads(next_event(queues["excluded"], "note")[1]) == {"n": 2}


@pytest.mark.parametrize("sent", [b"", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"], ids=["silent", "partial-head"])
def test_a_connection_without_a_complete_request_does_not_hold_a_graceful_shutdown(sent):
    node = start_server()
    with socket.create_connection(("127.0.0.1", node.port), timeout=WAIT) as idle:
        if sent:
            idle.sendall(sent)
        time.sleep(0.3)
        started = time.monotonic()
        node.process.send_signal(signal.SIGTERM)
        try:
            code = node.process.wait(timeout=10)
        finally:
            if node.process.poll() is None:
                node.process.kill()
        assert code == 0 and time.monotonic() - started < 10
        idle.settimeout(WAIT)
        assert idle.recv(1024) == b""  # closed by the server
