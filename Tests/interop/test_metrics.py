"""`GET /metrics`: Prometheus text, behind the admin token unless `[admin] public_metrics = true`.

The text is read with prometheus_client's own parser, so it must be valid exposition format.
"""

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from conftest import ADMIN_TOKEN, CONFIG, WAIT, WSClient, admin_headers, publish, unique


def scrape(server, headers=None) -> dict:
    """Every sample as {(name, sorted label pairs): value}."""
    r = httpx.get(f"{server.http}/metrics", headers=admin_headers() if headers is None else headers, timeout=WAIT)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_without_the_admin_token_are_401(server):
    r = httpx.get(f"{server.http}/metrics", timeout=WAIT)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_counters_move_after_a_publish_reaches_a_subscriber(server):
    before = scrape(server)
    for kind in ("origin_blocked", "rate_limited", "over_quota"):
        assert ("switchboard_refusals_total", (("kind", kind),)) in before
    channel = unique("metrics:")
    with WSClient(server) as client:
        client.subscribed(channel)
        publish(server, channel, {"text": "x" * 100})
        frame = client.recv()
        assert frame["event"] == "realtime.message"
        during = scrape(server)
        assert value(during, "switchboard_connections", protocol="jsonaction") >= 1
        assert value(during, "switchboard_subscriptions") >= 1
        assert value(during, "switchboard_channels") >= 1
    after = scrape(server)
    for name in ("switchboard_messages_in_total", "switchboard_messages_out_total", "switchboard_deliveries_total"):
        assert value(after, name) >= value(before, name) + 1, name
    assert value(after, "switchboard_bytes_out_total") >= value(before, "switchboard_bytes_out_total") + 100
    count = "switchboard_fanout_latency_seconds_count"
    assert value(after, count) >= value(before, count) + 1
    assert value(after, "switchboard_fanout_latency_seconds_bucket", le="+Inf") == value(after, count)


def test_an_origin_blocked_websocket_counts_as_a_refusal(server):
    name = "switchboard_refusals_total"
    before = value(scrape(server), name, kind="origin_blocked")
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        WSClient(server, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    after = value(scrape(server), name, kind="origin_blocked")
    assert after >= before + 1


def test_public_metrics_are_served_without_a_token(fresh_server):
    config = CONFIG.replace(f'token = "{ADMIN_TOKEN}"', f'token = "{ADMIN_TOKEN}"\npublic_metrics = true', 1)
    assert "public_metrics = true" in config
    server = fresh_server(config)
    samples = scrape(server, headers={})
    assert ("switchboard_messages_in_total", ()) in samples
    assert value(samples, "switchboard_connections", protocol="sse") == 0
