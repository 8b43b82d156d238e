"""Alert rules delivered to a local webhook receiver, checked with the HMAC-SHA256 signature a Pusher webhook has.

One server of the module's own carries three `[[alerts]]` rules with short windows so episodes start and end in
seconds: a burst of forbidden SSE subscribes (security_events), more than two open WebSockets (connections, whose
endpoint answers 500 once, so the notification is retried) and an engine rule that must stay quiet on the memory
engine. The admin API adds, lists and deletes a rule, refuses bad bodies with 400, and keeps API rules across a
restart. The console's Alerts page is shown in Chromium.
"""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import CONFIG, MAIN, WAIT, WSClient, admin_headers, publish, start_server, unique, wait_until
from test_cluster import RedisProcess
from test_console import UI_WAIT, chromium, sign_in

pytestmark = pytest.mark.timeout(60)

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SECRETS = {
    "forbidden-burst": "alert-secret-forbidden-0123",
    "too-many-connections": "alert-secret-connections-0123",
    "engine-down": "alert-secret-engine-0123",
    "unknown-keys": "alert-secret-api-made-0123",
    "metered-usage": "alert-secret-usage-0123",
    "redis-down": "alert-secret-redis-0123",
}
METERED = {"id": "2101", "key": "pk_alert_metered", "secret": "sk_alert_metered_0123456789abcdef0123456"}


class Receiver:
    """A webhook endpoint on 127.0.0.1: every POST is kept; `/flaky` answers 500 to its first request."""

    def __init__(self):
        self.received = []  # (path, status, headers, body)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    failed_before = any(p == "/flaky" for p, _, _, _ in receiver.received)
                    status = 500 if self.path == "/flaky" and not failed_before else 200
                    receiver.received.append((self.path, status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.http.shutdown()
        self.http.server_close()

    def alerts(self, rule: str, accepted_only: bool = True) -> list[dict]:
        """The notifications of `rule` received so far, each signature checked with the rule's secret."""
        with self.lock:
            requests = list(self.received)
        alerts = []
        for _, status, headers, body in requests:
            if headers.get("X-Pusher-Key") != rule or (accepted_only and status != 200):
                continue
            expected = hmac.new(SECRETS[rule].encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers.get("X-Pusher-Signature", ""), expected), f"bad signature: {headers} {body!r}"
            assert headers.get("Content-Type") == "application/json"
            payload = json.loads(body)
            assert isinstance(payload["time_ms"], int)
            alerts.append(payload["alert"])
        return alerts

    def wait_for(self, rule: str, state: str, timeout: float = 10.0) -> dict:
        return wait_until(lambda: next((a for a in self.alerts(rule) if a["state"] == state), None), timeout,
                          message=f"a {state} notification of {rule}")


def config(receiver: Receiver) -> str:
    return CONFIG + f"""
[[alerts]]
name = "forbidden-burst"
kind = "security_events"
event = "forbidden"
app = "{MAIN['id']}"
threshold = 3
window_seconds = 3
url = "{receiver.url('/forbidden')}"
secret = "{SECRETS['forbidden-burst']}"

[[alerts]]
name = "too-many-connections"
kind = "connections"
threshold = 2
url = "{receiver.url('/flaky')}"
secret = "{SECRETS['too-many-connections']}"

[[alerts]]
name = "engine-down"
kind = "engine_unavailable"
url = "{receiver.url('/engine')}"
secret = "{SECRETS['engine-down']}"

[[alerts]]
name = "metered-usage"
kind = "usage"
app = "{METERED['id']}"
url = "{receiver.url('/usage')}"
secret = "{SECRETS['metered-usage']}"

[plans.metered]
monthly_messages = 5

[[apps]]
id = "{METERED['id']}"
key = "{METERED['key']}"
secret = "{METERED['secret']}"
plan = "metered"
"""


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def alert_server(receiver):
    s = start_server(config(receiver))
    yield s
    code = s.stop()
    assert code == 0, f"server exited with {code} on SIGTERM:\n{s.log()[-4000:]}"


def alerts_api(server, method="GET", path="", headers=None, **kwargs) -> httpx.Response:
    headers = {**admin_headers(), **(headers or {})}
    return httpx.request(method, f"{server.http}/api/realtime/alerts{path}", headers=headers, timeout=WAIT, **kwargs)


def forbidden_subscribe(server) -> None:
    r = httpx.get(f"{server.http}/sse", params={"key": MAIN["key"], "channel": f"#server-to-user-{unique('u')}"}, timeout=WAIT)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text


def test_a_burst_of_forbidden_subscribes_fires_once_and_resolves_after_the_window(alert_server, receiver):
    for _ in range(3):
        forbidden_subscribe(alert_server)
    time.sleep(1.2)  # three is the threshold, not above it: no notification
    assert receiver.alerts("forbidden-burst") == []
    for _ in range(4):  # above the threshold even if the first three have left the window
        forbidden_subscribe(alert_server)
    firing = receiver.wait_for("forbidden-burst", "firing", timeout=5)
    assert firing["kind"] == "security_events" and firing["event"] == "forbidden" and firing["app"] == MAIN["id"]
    assert firing["value"] > 3 and firing["threshold"] == 3 and firing["window_seconds"] == 3
    listed = {rule["name"]: rule for rule in alerts_api(alert_server).json()["rules"]}
    assert listed["forbidden-burst"]["state"] in ("firing", "ok")  # it may already have resolved on a slow box
    resolved = receiver.wait_for("forbidden-burst", "resolved", timeout=8)
    assert resolved["started_ms"] == firing["started_ms"] and resolved["resolved_ms"] >= resolved["started_ms"]
    time.sleep(1.5)
    assert [a["state"] for a in receiver.alerts("forbidden-burst")] == ["firing", "resolved"]
    assert alerts_api(alert_server).json()["rules"][0]["state"] == "ok"


def test_connections_alert_is_retried_after_a_500_then_resolves(alert_server, receiver):
    clients = [WSClient(alert_server) for _ in range(3)]
    try:
        firing = receiver.wait_for("too-many-connections", "firing", timeout=8)
        assert firing["value"] >= 3 and firing["threshold"] == 2
        # The first try got 500: the same notification came again and was accepted.
        tries = [a for a in receiver.alerts("too-many-connections", accepted_only=False) if a["state"] == "firing"]
        assert len(tries) == 2 and tries[0]["started_ms"] == tries[1]["started_ms"]
        firing_rule = next(r for r in alerts_api(alert_server).json()["rules"] if r["name"] == "too-many-connections")
        assert firing_rule["state"] == "firing" and firing_rule["firing"][0]["value"] >= 3
        metrics = httpx.get(f"{alert_server.http}/metrics", headers=admin_headers(), timeout=WAIT).text
        assert 'switchboard_alerts_firing{rule="too-many-connections"} 1' in metrics, metrics
    finally:
        for client in clients:
            client.close()
    receiver.wait_for("too-many-connections", "resolved", timeout=8)

    def recorded():
        found = [d for d in alerts_api(alert_server).json()["deliveries"] if d["rule"] == "too-many-connections"]
        return found if found and found[0]["state"] == "resolved" else None

    # The server records a delivery once it has read the endpoint's answer, a moment after the receiver has the body.
    deliveries = wait_until(recorded, message="the resolved delivery recorded")
    assert [(d["state"], d["delivered"]) for d in deliveries] == [("resolved", True), ("firing", True)]
    assert deliveries[1]["attempts"] == 2 and deliveries[1]["status"] == 200
    # The memory engine is always available: its rule never fired.
    assert receiver.alerts("engine-down", accepted_only=False) == []


def test_a_rule_created_through_the_admin_api_fires_is_listed_and_deleted(alert_server, receiver):
    body = {"name": "unknown-keys", "kind": "security_events", "event": "unknown_key", "threshold": 1, "window_seconds": 2,
            "url": receiver.url("/api"), "secret": SECRETS["unknown-keys"]}
    created = alerts_api(alert_server, "POST", json=body)
    assert created.status_code == 201, created.text
    rule = created.json()["rule"]
    assert rule["source"] == "api" and rule["windowSeconds"] == 2 and "secret" not in rule
    assert rule["secretPreview"] == "aler…"
    assert alerts_api(alert_server, "POST", json=body).status_code == 409
    for _ in range(3):
        assert httpx.get(f"{alert_server.http}/sse", params={"key": unique("pk_nope_"), "channel": "x"}, timeout=WAIT).status_code in (401, 404)
    firing = receiver.wait_for("unknown-keys", "firing", timeout=5)
    assert firing["value"] >= 2
    assert alerts_api(alert_server, "DELETE", "/forbidden-burst").status_code == 409  # from the config file
    assert alerts_api(alert_server, "DELETE", "/no-such-rule").status_code == 404
    deleted = alerts_api(alert_server, "DELETE", "/unknown-keys")
    assert deleted.status_code == 200 and deleted.json()["rule"]["name"] == "unknown-keys"
    assert "unknown-keys" not in [r["name"] for r in alerts_api(alert_server).json()["rules"]]


def test_usage_alert_fires_at_80_and_at_100_percent_of_the_monthly_messages(alert_server, receiver):
    channel = unique("metered-")
    for index in range(4):
        publish(alert_server, channel, {"n": index}, app=METERED)
    at80 = receiver.wait_for("metered-usage", "firing", timeout=8)
    assert at80["subject"] == f"{METERED['id']} at 80%" and at80["value"] == 4 and at80["app"] == METERED["id"]
    publish(alert_server, channel, {"n": 5}, app=METERED)
    at100 = wait_until(lambda: next((a for a in receiver.alerts("metered-usage") if a["subject"].endswith("at 100%")), None), 8,
                       message="the 100% notification")
    assert at100["state"] == "firing" and at100["value"] == 5
    # One notification per level: the month is not over, so nothing resolves.
    time.sleep(1.5)
    assert sorted(a["subject"] for a in receiver.alerts("metered-usage")) == [f"{METERED['id']} at 100%", f"{METERED['id']} at 80%"]


def test_engine_unavailable_fires_while_redis_is_down_and_resolves_when_it_is_back(fresh_server, receiver):
    redis = RedisProcess()
    try:
        node = fresh_server(CONFIG + f"""
[engine]
kind = "redis"
url = "redis://127.0.0.1:{redis.port}/0"
prefix = "{unique('sbalerts')}"

[[alerts]]
name = "redis-down"
kind = "engine_unavailable"
url = "{receiver.url('/redis')}"
secret = "{SECRETS['redis-down']}"
""")
        wait_until(lambda: httpx.get(f"{node.http}/health", timeout=WAIT).status_code == 200, 15, message="the engine to connect")
        redis.kill()
        wait_until(lambda: httpx.get(f"{node.http}/health", timeout=WAIT).status_code == 503, 15, message="health to report degraded")
        firing = receiver.wait_for("redis-down", "firing", timeout=10)  # after the 5 s start-up grace at the latest
        assert firing["kind"] == "engine_unavailable" and "unavailable" in firing["message"]
        redis.start()
        resolved = receiver.wait_for("redis-down", "resolved", timeout=20)
        assert resolved["started_ms"] == firing["started_ms"]
        assert [a["state"] for a in receiver.alerts("redis-down")] == ["firing", "resolved"]
    finally:
        redis.kill()


BAD_BODIES = [
    ("[1]", "JSON object"),
    ("{", "JSON object"),
    ({"name": "x", "kind": "connections", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123", "color": "red"}, "unknown field"),
    ({"name": "bad name", "kind": "connections", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "name"),
    ({"name": "x" * 65, "kind": "connections", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "name"),
    ({"name": "x", "kind": "disk_full", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "kind"),
    ({"name": "x", "kind": "connections", "threshold": "5", "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
    ({"name": "x", "kind": "connections", "threshold": -1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
    ({"name": "x", "kind": "connections", "threshold": 1.5, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
    ({"name": "x", "kind": "connections", "threshold": 10**20, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
    ({"name": "x", "kind": "connections", "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
    ({"name": "x", "kind": "connections", "threshold": 1, "url": "file:///etc/passwd", "secret": "s3cret-123"}, "url"),
    ({"name": "x", "kind": "connections", "threshold": 1, "url": "http://u:p@127.0.0.1/", "secret": "s3cret-123"}, "url"),
    ({"name": "x", "kind": "connections", "threshold": 1, "url": "http://h/" + "a" * 3000, "secret": "s3cret-123"}, "url"),
    ({"name": "x", "kind": "connections", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "short"}, "secret"),
    ({"name": "x", "kind": "connections", "threshold": 1, "url": "http://127.0.0.1:9/"}, "secret"),
    ({"name": "x", "kind": "security_events", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "event"),
    ({"name": "x", "kind": "security_events", "event": "nope", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "event"),
    ({"name": "x", "kind": "security_events", "event": "forbidden", "threshold": 1, "window_seconds": 0, "url": "http://127.0.0.1:9/",
      "secret": "s3cret-123"}, "window_seconds"),
    ({"name": "x", "kind": "security_events", "event": "forbidden", "threshold": 1, "window_seconds": 86400, "url": "http://127.0.0.1:9/",
      "secret": "s3cret-123"}, "window_seconds"),
    ({"name": "x", "kind": "connections", "event": "forbidden", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "event"),
    ({"name": "x", "kind": "engine_unavailable", "threshold": 1, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
    ({"name": "x", "kind": "usage", "threshold": 150, "url": "http://127.0.0.1:9/", "secret": "s3cret-123"}, "threshold"),
]


def test_bad_rule_bodies_are_refused_with_400_naming_the_field(alert_server):
    for body, field in BAD_BODIES:
        content = body if isinstance(body, str) else json.dumps(body)
        r = alerts_api(alert_server, "POST", content=content, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (body, r.text)
        error = r.json()["error"]
        assert error["code"] == "bad_request" and field in error["message"], (body, error)
    assert httpx.post(f"{alert_server.http}/api/realtime/alerts", json={}, timeout=WAIT).status_code == 401
    assert "x" not in [r["name"] for r in alerts_api(alert_server).json()["rules"]]


def test_api_rules_survive_a_restart_and_config_errors_name_the_key(fresh_server, receiver):
    first = fresh_server(config(receiver))
    body = {"name": "kept", "kind": "connections", "threshold": 100, "url": receiver.url("/kept"), "secret": "kept-secret-0123"}
    assert alerts_api(first, "POST", json=body).status_code == 201
    assert first.stop() == 0
    again = start_server(config(receiver), workdir=first.workdir)
    try:
        rules = {r["name"]: r for r in alerts_api(again).json()["rules"]}
        assert rules["kept"]["source"] == "api" and rules["kept"]["threshold"] == 100 and rules["forbidden-burst"]["source"] == "config"
        stored = (first.workdir / "switchboard.sqlite").read_bytes()
        assert b"kept-secret-0123" not in stored  # sealed with the master key
    finally:
        again.stop()
    bad = config(receiver).replace("threshold = 2\n", "threshold = -2\n")
    with pytest.raises(RuntimeError, match=r"alerts\[1\]\.threshold"):
        start_server(bad)


def test_console_alerts_page_shows_rules_state_and_deliveries(alert_server, receiver):
    driver = chromium()
    try:
        clients = [WSClient(alert_server) for _ in range(3)]
        try:
            wait_until(lambda: any(r["state"] == "firing" for r in alerts_api(alert_server).json()["rules"]), 8, message="a firing rule")
            sign_in(driver, alert_server)
            WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_element(By.ID, "console").is_displayed())
            row = WebDriverWait(driver, UI_WAIT).until(
                lambda d: d.find_element(By.CSS_SELECTOR, '#alerts-rules tr.alert-firing[data-rule="too-many-connections"]'))
            assert "firing" in row.text and "> 2 connections" in row.text
            assert "config file" in row.text
            WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts-deliveries .delivery-row"))
            section = driver.find_element(By.ID, "alerts")
            driver.execute_script("arguments[0].scrollIntoView()", section)
            IMAGES.mkdir(parents=True, exist_ok=True)
            section.screenshot(str(IMAGES / "console-alerts.png"))
        finally:
            for client in clients:
                client.close()
        # A rule made in the console's form goes through the admin API.
        driver.find_element(By.ID, "alert-name").send_keys("console-made")
        Select(driver.find_element(By.ID, "alert-kind")).select_by_value("connections")
        assert not driver.find_element(By.ID, "alert-window").is_displayed()  # a security_events field
        driver.find_element(By.ID, "alert-threshold").send_keys("50")
        driver.find_element(By.ID, "alert-url").send_keys(receiver.url("/console"))
        driver.find_element(By.ID, "alert-secret").send_keys("console-secret-0123")
        driver.find_element(By.ID, "alert-create").click()
        WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#alerts-rules tr[data-rule="console-made"]'))
        made = next(r for r in alerts_api(alert_server).json()["rules"] if r["name"] == "console-made")
        assert made["kind"] == "connections" and made["threshold"] == 50 and made["source"] == "api"
        assert alerts_api(alert_server, "DELETE", "/console-made").status_code == 200
    finally:
        driver.quit()
