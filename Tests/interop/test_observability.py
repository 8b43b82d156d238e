"""What an operator scrapes and probes: per-app, process, build, connection, HTTP and Redis families in `/metrics`
(read with prometheus_client's parser), `/health` and `/ready` (503 while draining or with Redis down), and
`--log-format json` (every line one JSON object).
"""

import json
import signal
import socket
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import (
    MAIN,
    OTHER,
    WAIT,
    WSClient,
    admin_headers,
    free_port,
    publish,
    unique,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)


def families(server) -> dict:
    """Every family by name, with its samples as {(sample name, sorted label pairs): value}."""
    r = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT)
    assert r.status_code == 200, r.text
    result = {}
    for family in text_string_to_metric_families(r.text):
        result[family.name] = (family.type, {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples})
    return result


def sample(found: dict, family: str, name: str | None = None, **labels) -> float:
    return found[family][1].get((name or family, tuple(sorted(labels.items()))), 0.0)


def test_metrics_carry_app_labels_after_traffic_in_two_apps(fresh_server):
    server = fresh_server()
    for app in (MAIN, OTHER):
        channel = unique("obs:")
        with WSClient(server, key=app["key"]) as client:
            client.subscribed(channel)
            for i in range(3 if app is MAIN else 2):
                publish(server, channel, {"i": i}, app=app)
                assert client.recv()["event"] == "realtime.message"
            during = families(server)
            assert sample(during, "switchboard_app_connections", app=app["id"]) == 1
    # A refusal charged to MAIN: a browser from an origin MAIN does not allow.
    with pytest.raises(Exception):
        WSClient(server, key=MAIN["key"], origin="http://evil.example")

    def settled():
        found = families(server)
        refused = sample(found, "switchboard_app_refusals", "switchboard_app_refusals_total", app=MAIN["id"], kind="origin_blocked")
        idle = all(sample(found, "switchboard_app_connections", app=app["id"]) == 0 for app in (MAIN, OTHER))
        return found if refused >= 1 and idle else None

    found = wait_until(settled, message="a per-app refusal")
    for app, count in ((MAIN, 3), (OTHER, 2)):
        assert found["switchboard_app_messages_in"][0] == "counter"
        assert sample(found, "switchboard_app_messages_in", "switchboard_app_messages_in_total", app=app["id"]) == count
        assert sample(found, "switchboard_app_messages_out", "switchboard_app_messages_out_total", app=app["id"]) == count
        assert sample(found, "switchboard_app_deliveries", "switchboard_app_deliveries_total", app=app["id"]) == count
        assert sample(found, "switchboard_app_connections", app=app["id"]) == 0
    # Every configured app has its gauge, and no label names an app that does not exist.
    apps = {labels[0][1] for (_, labels) in found["switchboard_app_connections"][1]}
    assert {MAIN["id"], OTHER["id"]} <= apps and all(a.isdigit() for a in apps), apps

    # Connection opens and closes by protocol.
    assert sample(found, "switchboard_connections_opened", "switchboard_connections_opened_total", protocol="jsonaction") >= 2
    assert sample(found, "switchboard_connections_closed", "switchboard_connections_closed_total", protocol="jsonaction") >= 2

    # The process and the build.
    assert found["process_cpu_seconds"][0] == "counter"
    assert sample(found, "process_cpu_seconds", "process_cpu_seconds_total") > 0
    assert 10_000_000 < sample(found, "process_resident_memory_bytes") < 4_000_000_000
    assert sample(found, "process_open_fds") >= 3
    assert sample(found, "process_max_fds") >= sample(found, "process_open_fds")
    assert abs(sample(found, "process_start_time_seconds") - time.time()) < 600
    version = httpx.get(f"{server.http}/health", timeout=WAIT).json()["version"]
    assert sample(found, "switchboard_build_info", version=version) == 1

    # HTTP API requests by route pattern (never the raw path), with their latency.
    requests = found["switchboard_http_requests"][1]
    publishes = sum(v for (name, labels), v in requests.items()
                    if dict(labels) == {"method": "POST", "route": "/_rt/api/publish", "status": "200"})
    assert publishes == 5, requests
    scrapes = sample(found, "switchboard_http_requests", "switchboard_http_requests_total", method="GET", route="/metrics",
                     status="200")
    assert scrapes >= 2
    count = sample(found, "switchboard_http_request_duration_seconds", "switchboard_http_request_duration_seconds_count",
                   method="POST", route="/_rt/api/publish")
    assert count == 5
    assert sample(found, "switchboard_http_request_duration_seconds", "switchboard_http_request_duration_seconds_bucket",
                  method="POST", route="/_rt/api/publish", le="+Inf") == 5
    httpx.get(f"{server.http}/no/such/page/{unique('x')}", timeout=WAIT)
    after = families(server)
    unmatched = {dict(labels)["route"] for (_, labels) in after["switchboard_http_requests"][1]}
    assert "unmatched" in unmatched and not any(r.startswith("/no/such") for r in unmatched), unmatched


def test_health_has_an_alias_and_ready_answers_when_serving(server):
    for path in ("/api/health", "/health"):
        r = httpx.get(f"{server.http}{path}", timeout=WAIT)
        assert r.status_code == 200 and r.json()["status"] == "ok", (path, r.text)
        assert r.json()["engine"] == {"kind": "memory", "status": "ok"}
    r = httpx.get(f"{server.http}/ready", timeout=WAIT)
    assert r.status_code == 200 and r.json()["status"] == "ready", r.text


def silent_websocket(server) -> socket.socket:
    """A WebSocket that completes its upgrade and then never reads: the server's goodbye waits on it during a drain."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    sock.sendall(
        (f"GET /_rt/ws?key={MAIN['key']} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_ready_is_503_draining_after_sigterm_while_health_stays_up(fresh_server):
    server = fresh_server()
    sock = silent_websocket(server)
    try:
        assert httpx.get(f"{server.http}/ready", timeout=WAIT).status_code == 200
        server.process.send_signal(signal.SIGTERM)
        seen = None
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and seen is None:
            try:
                r = httpx.get(f"{server.http}/ready", timeout=1)
            except httpx.HTTPError:
                break
            if r.status_code == 503:
                seen = r
        assert seen is not None, "no 503 from /ready during the drain"
        assert seen.json()["status"] == "draining"
        # Liveness is not readiness: the node is still healthy while it drains.
        try:
            assert httpx.get(f"{server.http}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            pass  # the drain already ended and the port closed
    finally:
        sock.close()
    assert server.process.wait(timeout=20) == 0


def test_with_redis_down_ready_and_health_are_503_degraded_and_redis_up_is_0(fresh_server):
    from conftest import CONFIG

    # Nothing listens on this port: the Redis engine cannot connect.
    config = CONFIG.replace("[store]", f'[engine]\nkind = "redis"\nurl = "redis://127.0.0.1:{free_port()}/0"\n\n[store]', 1)
    server = fresh_server(config)
    for path in ("/ready", "/health"):
        r = httpx.get(f"{server.http}{path}", timeout=WAIT)
        assert r.status_code == 503, (path, r.text)
        assert r.json()["status"] == "degraded" and r.json()["engine"] == {"kind": "redis", "status": "unavailable"}
    found = families(server)
    assert sample(found, "switchboard_redis_up") == 0
    assert found["switchboard_redis_command_duration_seconds"][0] == "histogram"


def test_redis_up_and_command_latency_with_a_live_redis(fresh_server, tmp_path):
    import shutil
    import subprocess

    redis_server = shutil.which("redis-server")
    assert redis_server, "redis-server is installed by scripts/test"
    port = free_port()
    redis = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from conftest import CONFIG

        config = CONFIG.replace("[store]", f'[engine]\nkind = "redis"\nurl = "redis://127.0.0.1:{port}/0"\n\n[store]', 1)
        server = fresh_server(config)
        wait_until(lambda: httpx.get(f"{server.http}/ready", timeout=WAIT).status_code == 200, timeout=15, message="ready")
        channel = unique("obs:")
        with WSClient(server) as client:
            client.subscribed(channel)
            publish(server, channel, {"x": 1})
            assert client.recv()["event"] == "realtime.message"
        found = families(server)
        assert sample(found, "switchboard_redis_up") == 1
        count = sample(found, "switchboard_redis_command_duration_seconds", "switchboard_redis_command_duration_seconds_count")
        assert count >= 1
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def test_log_format_json_writes_one_object_per_line(fresh_server):
    server = fresh_server(extra_args=("--log-format", "json"))
    # Something to log: a WebSocket from an origin the app refuses is a security event, logged as a warning.
    with pytest.raises(Exception):
        WSClient(server, key=MAIN["key"], origin="http://evil.example")
    wait_until(lambda: "origin_blocked" in server.log(), message="the refusal in the log")
    assert server.stop() == 0
    lines = [line for line in server.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses
    banner = next(r for r in records if r.get("url") == server.http)
    assert banner["port"] == server.port and banner["app"] == MAIN["id"] and "secret" not in json.dumps(banner)
    logged = [r for r in records if "source" in r]
    assert logged, records
    for record in logged:
        assert {"time", "level", "label", "message"} <= record.keys(), record
        assert record["time"].endswith("Z") and record["level"] in ("trace", "debug", "info", "notice", "warning", "error", "critical")
    assert any("origin_blocked" in json.dumps(r) for r in logged)
