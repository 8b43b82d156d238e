"""Usage per app and day, and the plans' `monthly_messages` quota, against real clients and servers of their own.

A `tiny` plan allows 3 messages a month: the 4th publish is refused in every protocol with that protocol's error
(REST 403 `over_quota`, Pusher HTTP 403, Pusher client event `pusher:error` 4100, JSON-action `over_quota`, JWT 106)
and an `over_quota` security event. Usage survives a restart (same SQLite file) and, with Redis, adds up across two
nodes. Clients: httpx, the official `pusher` server library, `websockets` (Pusher and JSON-action frames),
centrifuge-python and `cent`; nothing is patched. Every wait is bounded.
"""

import asyncio
import json
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cent
import httpx
import pusher as pusher_server
from pusher.errors import PusherForbidden
import pytest
from centrifuge import Client
from prometheus_client.parser import text_string_to_metric_families

from conftest import (
    ADMIN_TOKEN,
    WAIT,
    PusherWS,
    SSEStream,
    WSClient,
    admin_headers,
    rest,
    sign_jwt,
    start_server,
    unique,
    wait_for_security_event,
    wait_until,
)
from test_cluster import RedisProcess

pytestmark = pytest.mark.timeout(90)

QUOTA = {"id": "2001", "key": "pk_test_quota", "secret": "sk_test_quota_0123456789abcdef0123456789"}
METERED = {"id": "2002", "key": "pk_test_metered", "secret": "sk_test_metered_0123456789abcdef01234567"}


def usage_config(engine: str = "") -> str:
    """Two apps: QUOTA on the `tiny` plan (3 messages a month), METERED unlimited; `{store}` is the store path."""
    return f"""
workspace_plan = "pro"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"

[admin]
token = "{ADMIN_TOKEN}"
auth_failures_per_minute = 1000

[limits]
new_connections_per_ip_per_second = 1000

[plans.tiny]
monthly_messages = 3

[plans.pro]
price_monthly = 49
currency = "EUR"

[[apps]]
id = "{QUOTA['id']}"
key = "{QUOTA['key']}"
secret = "{QUOTA['secret']}"
plan = "tiny"
client_events = true

[[apps]]
id = "{METERED['id']}"
key = "{METERED['key']}"
secret = "{METERED['secret']}"
plan = "enterprise"
client_events = true
{engine}"""


@pytest.fixture
def usage_server():
    s = start_server(usage_config())
    yield s
    if s.process.poll() is None:
        s.stop(signal.SIGKILL)


def usage(server, app=METERED, **params) -> httpx.Response:
    return httpx.get(f"{server.http}/api/realtime/apps/{app['id']}/usage", params=params, headers=admin_headers(), timeout=WAIT)


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def rest_publish(server, app, channel="quota") -> httpx.Response:
    return rest(server, "POST", "publish", app=app, json={"channel": channel, "data": {"n": 1}})


def jwt_token(app, sub="u1") -> str:
    return sign_jwt({"sub": sub, "exp": int(time.time()) + 600}, app["secret"])


async def jwt_publish(server, app, channel: str):
    """Connects centrifuge-python, subscribes and publishes once; returns the error raised, or None."""
    client = Client(f"{server.ws}/connection/websocket?key={app['key']}", token=jwt_token(app), proxy=None, timeout=WAIT)
    await client.connect()
    try:
        sub = client.new_subscription(channel)
        await sub.subscribe()
        await sub.ready(timeout=WAIT)
        try:
            await sub.publish({"via": "jwt"})
        except Exception as error:  # noqa: BLE001 - the client raises its own error type with `code`
            return error
        return None
    finally:
        await client.disconnect()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_past_the_monthly_quota_every_protocol_refuses_with_its_own_error_and_an_over_quota_event(usage_server):
    server = usage_server
    for _ in range(3):
        assert rest_publish(server, QUOTA).status_code == 200
    # JSON-action REST: 403 over_quota.
    refused = rest_publish(server, QUOTA)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "over_quota"
    assert "3 messages a month" in refused.json()["error"]["message"]
    # Pusher HTTP API through the official library: 403, as Pusher answers an app over its message quota.
    api = pusher_server.Pusher(app_id=QUOTA["id"], key=QUOTA["key"], secret=QUOTA["secret"], host="127.0.0.1",
                               port=server.port, ssl=False)
    with pytest.raises(PusherForbidden) as raised:
        api.trigger("quota", "e", {"n": 1})
    assert "over_quota" in str(raised.value), raised.value
    # Pusher client event: pusher:error 4100 (over capacity) on the channel.
    channel = unique("private-quota-")
    with PusherWS(server, key=QUOTA["key"]) as ws:
        ws.subscribed(channel, app=QUOTA)
        ws.send({"event": "client-x", "channel": channel, "data": {"n": 1}})
        frame, _ = ws.recv_until(lambda f: f["event"] == "pusher:error")
        assert frame["data"]["code"] == 4100, frame
        assert "month" in frame["data"]["message"], frame
    # JSON-action WebSocket publish: an error frame with code over_quota.
    with WSClient(server, key=QUOTA["key"]) as ws:
        ws.send({"action": "publish", "channel": "quota", "data": {"n": 1}})
        frame = ws.recv()
        assert frame["event"] == "error" and frame["data"]["code"] == "over_quota", frame
    # JWT (Centrifugo protocol) publish: 106 limit exceeded; and the cent server API the same.
    error = run(jwt_publish(server, QUOTA, unique("quota")))
    assert getattr(error, "code", None) == 106, error
    with pytest.raises(Exception) as raised:
        cent.Client(f"{server.http}/api", QUOTA["secret"], timeout=WAIT).publish(cent.PublishRequest(channel="quota", data=1))
    assert getattr(raised.value, "code", None) == 106, raised.value
    event = wait_for_security_event(server, "over_quota", app=QUOTA["id"])
    assert "month" in event["detail"], event
    # The other app is not affected, and the usage API says where QUOTA stands.
    assert rest_publish(server, METERED).status_code == 200
    month = usage(server, QUOTA).json()["month"]
    assert month["messages"] == 3 and month["limit"] == 3, month


def test_usage_counts_messages_by_protocol_deliveries_and_connections(usage_server):
    server = usage_server
    channel = unique("usage")
    private = unique("private-usage-")
    with WSClient(server, key=METERED["key"]) as listener, WSClient(server, key=METERED["key"]) as sender:
        listener.subscribed(channel)
        for n in range(2):
            assert rest_publish(server, METERED, channel).status_code == 200
            listener.recv()
        sender.send({"action": "publish", "channel": channel, "data": {"via": "jsonaction"}})
        listener.recv()
        with PusherWS(server, key=METERED["key"]) as a, PusherWS(server, key=METERED["key"]) as b:
            a.subscribed(private, app=METERED)
            b.subscribed(private, app=METERED)
            a.send({"event": "client-x", "channel": private, "data": {"via": "pusher"}})
            b.recv_until(lambda f: f["event"] == "client-x")
        assert run(jwt_publish(server, METERED, unique("usage"))) is None
    body = usage(server).json()
    row = body["days"][-1]
    assert row["date"] == today() == body["to"], body
    assert row["messagesIn"] == {"rest": 2, "jsonaction": 1, "pusher": 1, "jwt": 1}, row
    assert row["messagesInTotal"] == 5
    assert row["deliveries"] >= 4, row
    assert row["peakConnections"] >= 4, row
    assert len(body["days"]) == 30 and body["totals"]["messagesInTotal"] == 5, body
    assert body["month"] == {"month": today()[:7], "messages": 5, "limit": None}, body["month"]


def test_usage_counts_deliveries_and_peak_connections_by_protocol(usage_server):
    server = usage_server
    channel = unique("usage-fan")
    with WSClient(server, key=METERED["key"]) as listener, WSClient(server, key=METERED["key"]), \
            PusherWS(server, key=METERED["key"]) as pusher_client, SSEStream(server, [channel], key=METERED["key"]) as stream:
        assert stream.status_code == 200
        listener.subscribed(channel)
        pusher_client.send({"event": "pusher:subscribe", "data": {"channel": channel}})
        assert pusher_client.recv()["event"] == "pusher_internal:subscription_succeeded"
        assert rest_publish(server, METERED, channel).status_code == 200
        assert listener.recv()["data"] == {"n": 1}
        frame, _ = pusher_client.recv_until(lambda f: f.get("channel") == channel)
        assert json.loads(frame["data"]) == {"n": 1}
        assert json.loads(stream.next().data) == {"n": 1}
    body = usage(server).json()
    for counts in (body["days"][-1], body["totals"]):
        assert counts["deliveriesByProtocol"] == {"jsonaction": 1, "pusher": 1, "sse": 1}, counts
        assert counts["deliveries"] == 3, counts
        assert counts["peakConnectionsByProtocol"] == {"jsonaction": 2, "pusher": 1, "sse": 1}, counts
        assert counts["peakConnections"] == 4, counts


def test_the_usage_api_checks_its_token_app_and_dates(usage_server):
    server = usage_server
    url = f"{server.http}/api/realtime/apps/{METERED['id']}/usage"
    assert httpx.get(url, timeout=WAIT).status_code == 401
    assert httpx.get(f"{server.http}/api/realtime/apps/nope/usage", headers=admin_headers(), timeout=WAIT).status_code == 404
    start = (datetime.now(timezone.utc) - timedelta(days=400)).strftime("%Y-%m-%d")
    for params in ({"from": "2026-13-01"}, {"to": "2026-02-30"}, {"from": "yesterday"}, {"from": "2026-12-05", "to": "2026-12-04"},
                   {"from": start}, {"from": "2026-12-04' OR 1=1"}, {"to": "9" * 5000}):
        r = usage(server, **params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["code"] == "bad_request"
    year = usage(server, **{"from": "2025-12-05", "to": "2026-12-05"})
    assert year.status_code == 200 and len(year.json()["days"]) == 366


def test_plans_answer_without_a_token_with_monthly_limits_and_prices_and_the_workspace_names_its_plan(usage_server):
    server = usage_server
    plans = {p["name"]: p for p in httpx.get(f"{server.http}/api/plans", timeout=WAIT).json()["plans"]}
    assert plans["free"]["limits"]["monthlyMessages"] == 200_000
    assert plans["builder"]["limits"]["monthlyMessages"] == 2_000_000
    assert plans["pro"]["limits"]["monthlyMessages"] == 20_000_000
    assert plans["enterprise"]["limits"]["monthlyMessages"] is None
    assert plans["tiny"]["limits"]["monthlyMessages"] == 3
    assert plans["pro"]["priceMonthly"] == 49 and plans["pro"]["currency"] == "EUR"
    assert "priceMonthly" not in plans["free"]
    workspace = httpx.get(f"{server.http}/api/workspaces/current", headers=admin_headers(), timeout=WAIT).json()["workspace"]
    assert workspace["plan"]["name"] == "pro" and workspace["plan"]["limits"]["monthlyMessages"] == 20_000_000, workspace
    assert workspace["plan"]["priceMonthly"] == 49


def test_an_event_to_more_channels_than_the_month_has_messages_left_is_refused_whole(usage_server):
    """Pusher counts a message per channel: with one message of the quota left, an event to two channels is refused
    whole (none of it published) and an event to one channel still fits."""
    server = usage_server
    for _ in range(2):
        assert rest_publish(server, QUOTA).status_code == 200
    api = pusher_server.Pusher(app_id=QUOTA["id"], key=QUOTA["key"], secret=QUOTA["secret"], host="127.0.0.1",
                               port=server.port, ssl=False)
    with pytest.raises(PusherForbidden) as raised:
        api.trigger(["quota-a", "quota-b"], "e", {"n": 2})
    assert "over_quota" in str(raised.value), raised.value
    api.trigger("quota-a", "e", {"n": 3})
    assert rest_publish(server, QUOTA).status_code == 403


def test_a_bad_quota_config_stops_serve_with_the_key_named():
    for bad, key in (("monthly_messages = -1", "monthly_messages"), ('currency = "euro"', "currency"),
                     ('price_monthly = "cheap"', "price_monthly")):
        config = usage_config().replace("monthly_messages = 3", bad, 1)
        with pytest.raises(RuntimeError) as raised:
            start_server(config)
        assert key in str(raised.value), raised.value


def test_usage_and_the_quota_survive_a_restart_and_show_in_metrics(usage_server):
    server = usage_server
    for _ in range(3):
        assert rest_publish(server, QUOTA).status_code == 200
    with SSEStream(server, ["quota"], key=METERED["key"]) as stream:
        assert rest_publish(server, METERED).status_code == 200
        assert json.loads(stream.next().data) == {"n": 1}
    assert server.stop() == 0
    again = start_server(usage_config(), workdir=server.workdir)
    try:
        refused = rest_publish(again, QUOTA)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "over_quota", refused.text
        row = usage(again).json()["days"][-1]
        assert row["messagesIn"] == {"rest": 1}, row
        assert row["deliveriesByProtocol"] == {"sse": 1} and row["peakConnectionsByProtocol"] == {"sse": 1}, row

        def monthly():
            text = httpx.get(f"{again.http}/metrics", headers=admin_headers(), timeout=WAIT).text
            found = {}
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name.startswith("switchboard_app_monthly_messages"):
                        found[(sample.name, sample.labels.get("app"))] = sample.value
            return found if found.get(("switchboard_app_monthly_messages", QUOTA["id"])) == 3 else None

        found = wait_until(monthly, timeout=10, message="the monthly gauge")
        assert found[("switchboard_app_monthly_messages_limit", QUOTA["id"])] == 3
        assert ("switchboard_app_monthly_messages_limit", METERED["id"]) not in found
    finally:
        again.stop(signal.SIGKILL)


def test_with_redis_usage_and_the_quota_add_up_across_two_nodes():
    redis = RedisProcess()
    nodes = []
    try:
        engine = f'\n[engine]\nkind = "redis"\nurl = "redis://127.0.0.1:{redis.port}/0"\nprefix = "{unique("sbusage")}"\n'
        nodes = [start_server(usage_config(engine)) for _ in range(2)]
        a, b = nodes
        for node in nodes:
            wait_until(lambda: rest_publish(node, METERED).status_code == 200, 15, message="the node's Redis engine")
        assert rest_publish(a, QUOTA).status_code == 200
        assert rest_publish(a, QUOTA).status_code == 200
        assert rest_publish(b, QUOTA).status_code == 200
        # Each node flushes its counts to Redis every 2 s and reads the sum back: both see 3, and refuse the 4th.
        for node in nodes:
            wait_until(lambda: usage(node, QUOTA).json()["month"]["messages"] == 3, 10, message="the summed month")
            refused = rest_publish(node, QUOTA)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "over_quota", refused.text
        row = usage(b, QUOTA).json()["days"][-1]
        assert row["messagesIn"] == {"rest": 3}, row
        # Deliveries by protocol add up across nodes; each node's per-protocol peak is summed (an upper bound).
        channel = unique("usage-nodes")
        with SSEStream(a, [channel], key=METERED["key"]) as on_a, SSEStream(b, [channel], key=METERED["key"]) as on_b:
            assert rest_publish(a, METERED, channel).status_code == 200
            for stream in (on_a, on_b):
                assert json.loads(stream.next().data) == {"n": 1}

        def summed():
            row = usage(b).json()["days"][-1]
            return row if row["deliveriesByProtocol"] == {"sse": 2} and row["peakConnectionsByProtocol"] == {"sse": 2} else None

        # Until both nodes have flushed, the asking node's unflushed peak only raises the ledger's (a max, not a sum).
        row = wait_until(summed, 10, message="deliveries and peaks summed across nodes")
        assert row["deliveries"] == 2 and row["peakConnections"] == 2, row
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.stop(signal.SIGKILL)
        redis.kill()


def test_the_console_usage_page_charts_the_last_30_days_from_the_store(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from test_console import chromium, sign_in

    # Thirty days of history written into the store the way flushes write it, then today's publishes on top.
    first = start_server(usage_config())
    assert first.stop() == 0
    today_number = (datetime.now(timezone.utc).date() - datetime(1970, 1, 1).date()).days
    seeded = {today_number - back: 40 + (back * 37) % 90 for back in range(1, 30)}
    with sqlite3.connect(first.workdir / "switchboard.sqlite") as db:
        db.executemany("INSERT INTO usage_daily (app, day, metric, value) VALUES (?, ?, ?, ?)",
                       [(METERED["id"], day, metric, count * factor) for day, count in seeded.items()
                        for metric, factor in (("in.rest", 1), ("out", 3))])
    server = start_server(usage_config(), workdir=first.workdir)
    driver = chromium()
    try:
        for _ in range(7):
            assert rest_publish(server, METERED).status_code == 200
        sign_in(driver, server)
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "console").is_displayed())
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, f'.app-select[data-app="{METERED["id"]}"]')).click()

        def bars():
            found = driver.execute_script(
                "return Array.from(document.querySelectorAll('#usage-chart rect.usage-bar'), (r) => [r.dataset.date, +r.dataset.messages])")
            return found if len(found) == 30 and found[-1] == [today(), 7] else None

        drawn = WebDriverWait(driver, 10).until(lambda d: bars())
        oldest = (datetime.now(timezone.utc) - timedelta(days=29)).strftime("%Y-%m-%d")
        assert drawn[0] == [oldest, seeded[today_number - 29]], drawn[0]
        total = sum(seeded.values()) + 7
        assert driver.find_element(By.ID, "usage-in").text.startswith(f"{total:,}"), driver.find_element(By.ID, "usage-in").text
        assert driver.find_element(By.ID, "usage-month").text.endswith("(no limit)")
        assert driver.find_element(By.ID, "usage-out").text == f"{sum(seeded.values()) * 3:,}"
        # QUOTA: 2 of its 3 messages used, shown against the limit.
        for _ in range(2):
            assert rest_publish(server, QUOTA).status_code == 200
        driver.find_element(By.CSS_SELECTOR, f'.app-select[data-app="{QUOTA["id"]}"]').click()
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "usage-month").text == "2 of 3 (67%)")
        driver.find_element(By.CSS_SELECTOR, f'.app-select[data-app="{METERED["id"]}"]').click()
        WebDriverWait(driver, 10).until(lambda d: bars())
        images = Path(__file__).resolve().parents[2] / "docs" / "images"
        images.mkdir(parents=True, exist_ok=True)
        section = driver.find_element(By.ID, "usage")
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", section)
        section.screenshot(str(images / "console-usage.png"))
    finally:
        driver.quit()
        server.stop(signal.SIGKILL)
