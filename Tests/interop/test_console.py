"""The operator console at /console in headless Chromium, against a server of its own (it rotates keys and edits origins).

Everything the page does is checked from outside as well: the admin API (httpx) for what it stored, real WebSocket
clients for what the edge now admits, and the JSON-action REST API for secrets it revealed.
"""

import json
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from websockets.exceptions import InvalidStatus

from conftest import ADMIN_TOKEN, MAIN, OTHER, SMALL, WAIT, WSClient, admin_headers, now_ms, publish, rest, start_server, unique, wait_for_event, wait_until

ARTIFACTS = Path(__file__).parent / "artifacts"
UI_WAIT = 10  # seconds the page may take to show something (its polls run every 2 to 5 s)


@pytest.fixture(scope="module")
def console_server():
    # Its own server: this module rotates and revokes keys, edits origins and disables an app.
    s = start_server()
    yield s
    code = s.stop()
    assert code == 0, f"server exited with {code} on SIGTERM:\n{s.log()[-4000:]}"


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,900"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def sign_in(driver, server, token=ADMIN_TOKEN):
    driver.get(f"{server.http}/console")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{server.http}/console")
    field = WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_element(By.ID, "login-token"))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "login-submit").click()


@pytest.fixture
def console(browser, console_server):
    """The console signed in with the admin token, MAIN selected."""
    sign_in(browser, console_server)
    WebDriverWait(browser, UI_WAIT).until(lambda d: d.find_element(By.ID, "console").is_displayed())
    button = WebDriverWait(browser, UI_WAIT).until(lambda d: d.find_element(By.CSS_SELECTOR, f'.app-select[data-app="{MAIN["id"]}"]'))
    button.click()
    WebDriverWait(browser, UI_WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#keys-list .key-row"))
    return browser


def texts(driver, selector):
    """The visible texts of what `selector` matches, read in one go (the page re-renders its lists while polling)."""
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText.trim())", selector)


def security_kinds(driver):
    """The kinds of the rows the security list shows."""
    return driver.execute_script("return Array.from(document.querySelectorAll('#security-list tr.security-row'), (e) => e.dataset.kind)")


def blocked_origin(server) -> str:
    """A connection from an origin no app allows, refused; returns the origin once its security event is stored."""
    since = now_ms()
    origin = f"http://blocked-{time.monotonic_ns()}.test"
    with pytest.raises(InvalidStatus):
        WSClient(server, origin=origin)
    wait_for_event(server, "origin_blocked", since)
    return origin


def admin(server, method, path, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.http}{path}", headers=admin_headers(), timeout=WAIT, **kwargs)


# ---- Without a browser ----------------------------------------------------------------------


def test_console_page_and_assets_are_served_without_a_token_and_not_cached(console_server):
    for path in ("/console", "/console/", "/console/index.html"):
        r = httpx.get(console_server.http + path, timeout=WAIT)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert r.headers["cache-control"] == "no-cache", path
        assert 'id="login-token"' in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"] and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        r = httpx.get(f"{console_server.http}/console/{name}", timeout=WAIT)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
        assert r.headers["cache-control"] == "no-cache"
    assert httpx.get(f"{console_server.http}/console/missing.js", timeout=WAIT).status_code == 404
    assert httpx.get(f"{console_server.http}/console/..%2Fexamples%2Fchat.html", timeout=WAIT).status_code == 404
    assert httpx.get(f"{console_server.http}/examples/chat.html", timeout=WAIT).status_code == 200
    # Offline machines: nothing is loaded from another host.
    page = httpx.get(f"{console_server.http}/console", timeout=WAIT).text
    assets = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert assets[:2] == ["/console/console.css", "/console/console.js"] and all(a.startswith("/console/") for a in assets), assets
    for asset in assets:  # every page module (alerts.js, …) is served, and so is every module it imports
        r = httpx.get(console_server.http + asset, timeout=WAIT)
        assert r.status_code == 200, asset
        for imported in re.findall(r'from "\./([^"]+)"', r.text):
            assert httpx.get(f"{console_server.http}/console/{imported}", timeout=WAIT).status_code == 200, (asset, imported)


def test_debug_stream_and_publish_refuse_a_missing_or_wrong_admin_token(console_server):
    channel = unique("console:")
    base = f"{console_server.http}/api/realtime/apps/{MAIN['id']}/channels/{channel}"
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": f"Bearer {MAIN['secret']}"}):
        r = httpx.get(f"{base}/stream", headers=headers, timeout=WAIT)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized"
        r = httpx.post(f"{base}/events", headers=headers, json={"event": "x", "data": 1}, timeout=WAIT)
        assert r.status_code == 401, r.text
    assert admin(console_server, "POST", f"/api/realtime/apps/9999/channels/{channel}/events", json={"data": 1}).status_code == 404
    assert admin(console_server, "POST", f"/api/realtime/apps/{MAIN['id']}/channels/bad%20name/events", json={"data": 1}).status_code == 400
    assert admin(console_server, "POST", f"{base[len(console_server.http):]}/events", json={"event": "x"}).status_code == 400


def test_debug_publish_over_the_plans_size_is_refused_with_413_and_a_security_event(console_server):
    since = now_ms()
    path = f"/api/realtime/apps/{SMALL['id']}/channels/{unique('console:')}/events"
    r = admin(console_server, "POST", path, json={"event": "big", "data": "x" * 20_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "message_too_large", r.text
    wait_for_event(console_server, "message_too_large", since, app=SMALL["id"])
    r = admin(console_server, "POST", path, json={"event": "big", "data": "x" * 1100})
    assert r.status_code == 413 and r.json()["error"]["code"] == "message_too_large", r.text


def test_debug_stream_carries_outside_publishes_and_debug_publish_reaches_websocket_subscribers(console_server):
    channel = unique("console:")
    path = f"/api/realtime/apps/{MAIN['id']}/channels/{channel}"
    received = []
    opened = threading.Event()

    def read():
        with httpx.stream("GET", f"{console_server.http}{path}/stream", headers=admin_headers(), timeout=WAIT) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            opened.set()
            block = []
            for line in r.iter_lines():
                if line:
                    block.append(line)
                    continue
                data = [l[6:] for l in block if l.startswith("data: ")]
                if data:
                    received.append(json.loads("\n".join(data)))
                block = []
                if len(received) >= 2:
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(WAIT)
    with WSClient(console_server) as client:
        client.subscribed(channel)
        publish(console_server, channel, {"from": "outside"}, name="greeting", userId="ada")
        r = admin(console_server, "POST", f"{path}/events", json={"event": "ping-test", "data": {"from": "console"}})
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        frame, _ = client.recv_until(lambda f: f["event"] == "realtime.message" and f["data"] == {"from": "console"})
        assert frame["channel"] == channel and frame.get("name") == "ping-test"
    reader.join(WAIT)
    assert [m["data"] for m in received] == [{"from": "outside"}, {"from": "console"}]
    assert received[0]["event"] == "greeting" and received[0]["userId"] == "ada" and received[0]["channel"] == channel


# ---- In the browser -------------------------------------------------------------------------


def test_wrong_admin_token_shows_an_error_and_stays_on_the_login_form(browser, console_server):
    sign_in(browser, console_server, token="definitely-wrong")
    WebDriverWait(browser, UI_WAIT).until(lambda d: d.find_element(By.ID, "login-error").text)
    assert "not accepted" in browser.find_element(By.ID, "login-error").text
    assert not browser.find_element(By.ID, "console").is_displayed()
    assert browser.execute_script("return sessionStorage.length") == 0


def test_origin_added_in_the_console_is_stored_and_admits_a_websocket_with_that_origin(console, console_server):
    origin = f"https://console-{time.monotonic_ns()}.test"
    with pytest.raises(InvalidStatus):
        WSClient(console_server, origin=origin)
    console.find_element(By.ID, "origin-input").send_keys(origin)
    console.find_element(By.ID, "origin-add").click()
    WebDriverWait(console, UI_WAIT).until(lambda d: origin in texts(d, "#origins-list li span"))
    stored = admin(console_server, "GET", f"/api/realtime/apps/{MAIN['id']}/origins").json()
    assert origin in (stored["origins"] if isinstance(stored, dict) else stored)
    with WSClient(console_server, origin=origin) as client:
        client.subscribed(unique("console:"))


def test_rotating_a_key_reveals_the_new_secret_once_and_lists_new_and_old_previews(console, console_server):
    before = texts(console, "#keys-list .key-preview")
    assert not console.find_element(By.ID, "secret-reveal").is_displayed()
    console.find_element(By.CSS_SELECTOR, "#keys-list .key-rotate").click()
    reveal = WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "secret-reveal") if d.find_element(By.ID, "secret-reveal").is_displayed() else None)
    assert "will not be shown again" in reveal.text
    assert reveal.find_element(By.ID, "secret-copy").text == "Copy"
    secret = console.find_element(By.ID, "secret-value").get_attribute("value")
    assert secret.startswith("sk_") and len(secret) >= 32
    preview = "sk_live_••••" + secret[-4:]
    WebDriverWait(console, UI_WAIT).until(lambda d: preview in texts(d, "#keys-list .key-preview"))
    after = texts(console, "#keys-list .key-preview")
    assert len(after) == len(before) + 1 and set(before) <= set(after)
    # The secret appears nowhere else on the page, nor in what the admin API lists afterwards.
    assert secret not in console.find_element(By.TAG_NAME, "body").text
    assert secret not in admin(console_server, "GET", f"/api/realtime/apps/{MAIN['id']}/keys").text
    console.find_element(By.ID, "secret-copy").click()
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "secret-copy").text == "Copied")
    ARTIFACTS.mkdir(exist_ok=True)
    console.find_element(By.ID, "keys").screenshot(str(ARTIFACTS / "console-secret.png"))
    console.find_element(By.ID, "secret-dismiss").click()
    assert not console.find_element(By.ID, "secret-reveal").is_displayed()
    assert console.find_element(By.ID, "secret-value").get_attribute("value") == ""
    # Both the revealed secret and the old one sign server calls.
    channel = unique("console:")
    for secret_used in (secret, MAIN["secret"]):
        r = rest(console_server, "POST", "publish", app={"secret": secret_used}, json={"channel": channel, "data": {"k": secret_used[-4:]}})
        assert r.status_code == 200, r.text


def test_debug_console_shows_outside_publishes_and_its_test_event_reaches_a_websocket_subscriber(console, console_server):
    channel = unique("console:")
    console.find_element(By.ID, "debug-channel").send_keys(channel)
    console.find_element(By.ID, "debug-subscribe").click()
    WebDriverWait(console, UI_WAIT).until(lambda d: "Subscribed" in d.find_element(By.ID, "debug-status").text)
    marker = unique("outside-")
    publish(console_server, channel, {"marker": marker}, name="greeting")
    # A name a client chose that reads like data is shown apart from the data, in its own element.
    publish(console_server, channel, {"marker": marker + "-2"}, name='greeting {"fake":1}')
    WebDriverWait(console, UI_WAIT).until(lambda d: any(marker + "-2" in t for t in texts(d, "#debug-log li")))
    assert any("greeting" in t and marker in t for t in texts(console, "#debug-log li"))
    assert texts(console, "#debug-log li .event-name")[-2:] == ["greeting", 'greeting {"fake":1}']

    with WSClient(console_server) as client:
        client.subscribed(channel)
        # The live channels view shows both subscribers, each under its protocol.
        WebDriverWait(console, UI_WAIT).until(
            lambda d: any("jsonaction 1" in t for t in texts(d, f'#channels-list tr[data-channel="{channel}"] .channel-protocols'))
        )
        sent = unique("console-")
        data = console.find_element(By.ID, "debug-data")
        data.clear()
        data.send_keys(json.dumps({"sent": sent}))
        console.find_element(By.ID, "debug-publish").click()
        frame, _ = client.recv_until(lambda f: f["event"] == "realtime.message" and f["data"] == {"sent": sent})
        assert frame["channel"] == channel and frame.get("name") == "test"
    WebDriverWait(console, UI_WAIT).until(lambda d: sum(sent in t for t in texts(d, "#debug-log li")) >= 1)
    ARTIFACTS.mkdir(exist_ok=True)
    console.find_element(By.ID, "debug").screenshot(str(ARTIFACTS / "console-debug.png"))
    console.find_element(By.ID, "debug-subscribe").click()
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "debug-status").text == "Not subscribed")


def test_blocked_origin_shows_up_in_the_security_list(console, console_server):
    origin = blocked_origin(console_server)
    kind = console.find_element(By.ID, "security-kind")
    kind.find_element(By.CSS_SELECTOR, 'option[value="origin_blocked"]').click()

    # An auto-refresh from before the click (every 3 s, unfiltered) may already show the event: wait for the filtered list.
    WebDriverWait(console, UI_WAIT).until(
        lambda d: any(origin in t for t in texts(d, '#security-list tr.security-row[data-kind="origin_blocked"]'))
        and set(security_kinds(d)) == {"origin_blocked"}
    )
    assert set(security_kinds(console)) == {"origin_blocked"}
    console.find_element(By.ID, "security").screenshot(str(ARTIFACTS / "console-security.png"))


def test_the_security_filter_and_the_alert_form_offer_every_kind_the_server_records(console, console_server):
    """Both lists come from the server's own (`/console/security-kinds.js`), so a new kind cannot be missing from one of
    them, as `address_blocked` once was from the alert form. Each listed kind is one the events API filters by."""
    module = httpx.get(f"{console_server.http}/console/security-kinds.js", timeout=WAIT)
    assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript"), module.text
    kinds = json.loads(module.text[module.text.index("["):module.text.rindex("]") + 1])
    assert "address_blocked" in kinds and "origin_blocked" in kinds
    for kind in kinds + ["no_such_kind"]:
        answer = httpx.get(f"{console_server.http}/api/realtime/security-events", params={"kind": kind}, headers=admin_headers(), timeout=WAIT)
        assert answer.status_code == (400 if kind == "no_such_kind" else 200), (kind, answer.text)

    def offered(driver, select_id):
        return [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, f"#{select_id} option") if o.get_attribute("value")]

    WebDriverWait(console, UI_WAIT).until(lambda d: offered(d, "security-kind") == kinds)
    assert offered(console, "alert-event") == kinds


def test_a_late_answer_to_an_older_security_query_does_not_replace_the_newer_list(console, console_server):
    since = now_ms()
    origin = blocked_origin(console_server)
    # An event of another kind, so that the unfiltered list differs from the filtered one.
    assert rest(console_server, "POST", "publish", headers={"Authorization": "Bearer wrong-secret"}, json={"channel": "x", "data": 1}).status_code == 401
    wait_for_event(console_server, "bad_signature", since)
    console.find_element(By.ID, "security-auto").click()
    # The page's unfiltered query is answered 1.5 s late (the server is not slowed; the page's own fetch is), and the
    # filtered query asked after it is answered at once.
    console.execute_script("""
        const real = window.fetch;
        window.lateAnswered = false;
        window.fetch = async (url, init) => {
            if (!String(url).includes("security-events") || String(url).includes("kind=")) return real(url, init);
            await new Promise((resolve) => setTimeout(resolve, 1500));
            try { return await real(url, init); } finally { window.lateAnswered = true; }
        };
    """)
    console.find_element(By.ID, "security-refresh").click()
    kind = console.find_element(By.ID, "security-kind")
    kind.find_element(By.CSS_SELECTOR, 'option[value="origin_blocked"]').click()

    WebDriverWait(console, UI_WAIT).until(lambda d: d.execute_script("return window.lateAnswered"))
    time.sleep(0.5)  # the late answer's rendering would follow within a few tasks: it must not come
    assert set(security_kinds(console)) == {"origin_blocked"}
    assert any(origin in t for t in texts(console, '#security-list tr.security-row[data-kind="origin_blocked"]'))


def test_revoking_a_key_takes_a_confirmation_and_the_secret_stops_verifying(console, console_server):
    created = admin(console_server, "POST", f"/api/realtime/apps/{MAIN['id']}/keys")
    assert created.status_code == 201, created.text
    key, secret = created.json()["key"], created.json()["secret"]
    assert rest(console_server, "GET", "channels", app={"secret": secret}).status_code == 200
    console.find_element(By.CSS_SELECTOR, f'.app-select[data-app="{MAIN["id"]}"]').click()
    revoke = WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.CSS_SELECTOR, f'tr.key-row[data-key="{key["id"]}"] .key-revoke'))
    revoke.click()
    assert revoke.text == "Confirm revoke"
    assert rest(console_server, "GET", "channels", app={"secret": secret}).status_code == 200
    revoke.click()
    WebDriverWait(console, UI_WAIT).until(
        lambda d: any("revoked" in t for t in texts(d, f'tr.key-row[data-key="{key["id"]}"]'))
    )
    assert rest(console_server, "GET", "channels", app={"secret": secret}).status_code == 401
    listed = {k["id"]: k for k in admin(console_server, "GET", f"/api/realtime/apps/{MAIN['id']}/keys").json()["keys"]}
    assert listed[key["id"]]["revokedAt"] is not None


def test_enabled_switch_disables_and_reenables_the_app(console, console_server):
    console.find_element(By.CSS_SELECTOR, f'.app-select[data-app="{OTHER["id"]}"]').click()
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "app-title").text.endswith(f"#{OTHER['id']}"))
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "app-enabled").is_selected())
    path = f"/api/realtime/apps/{OTHER['id']}"
    try:
        console.find_element(By.ID, "app-enabled").click()
        wait_until(lambda: admin(console_server, "GET", path).json()["app"]["enabled"] is False, timeout=UI_WAIT)
        with pytest.raises(InvalidStatus) as refused:
            WSClient(console_server, key=OTHER["key"])
        assert refused.value.response.status_code == 403
        console.find_element(By.ID, "app-enabled").click()
        wait_until(lambda: admin(console_server, "GET", path).json()["app"]["enabled"] is True, timeout=UI_WAIT)
        with WSClient(console_server, key=OTHER["key"]) as client:
            client.assert_alive()
    finally:
        admin(console_server, "PATCH", path, json={"enabled": True})


def test_live_channels_show_presence_members_and_subscribers_per_protocol(console, console_server):
    channel = unique("console:")
    with WSClient(console_server) as client:
        client.subscribed(channel)
        client.send({"action": "presence:join", "channel": channel, "userId": "ada", "metadata": {"name": "Ada"}})
        client.recv_until(lambda f: f["event"] == "presence.join" and f.get("userId") == "ada")
        row = f'#channels-list tr[data-channel="{channel}"]'
        WebDriverWait(console, UI_WAIT).until(lambda d: texts(d, f"{row} .channel-members") == ["ada"])
        assert texts(console, f"{row} .channel-protocols") == ["jsonaction 1"]
        assert texts(console, f"{row} .channel-total") == ["1"]
    WebDriverWait(console, UI_WAIT).until(lambda d: not d.find_elements(By.CSS_SELECTOR, row))


def test_a_token_the_server_no_longer_accepts_returns_the_console_to_login(console, console_server):
    console.execute_script("sessionStorage.setItem('switchboard.console.token', 'stale-token')")
    console.refresh()
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "login").is_displayed())
    assert "not accepted" in console.find_element(By.ID, "login-error").text
    assert not console.find_element(By.ID, "console").is_displayed()
    assert console.execute_script("return sessionStorage.getItem('switchboard.console.token')") is None


def test_debug_stream_ends_cleanly_when_the_server_shuts_down(fresh_server):
    server = fresh_server()
    path = f"/api/realtime/apps/{MAIN['id']}/channels/{unique('console:')}/stream"
    with httpx.stream("GET", f"{server.http}{path}", headers=admin_headers(), timeout=WAIT) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        server.process.send_signal(signal.SIGTERM)
        rest_of_stream = list(lines)  # ends (no read timeout) once the server lets go of the stream
    assert all(line == "" or line.startswith(":") for line in rest_of_stream), rest_of_stream
    assert server.process.wait(timeout=20) == 0, server.log()[-4000:]


def test_app_created_in_the_console_reveals_its_secret_once_and_the_secret_publishes(console, console_server):
    name = unique("Console app ")
    console.find_element(By.ID, "app-create-name").send_keys(name)
    console.find_element(By.ID, "app-create").click()
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "secret-reveal").is_displayed())
    secret = console.find_element(By.ID, "secret-value").get_attribute("value")
    apps = admin(console_server, "GET", "/api/realtime/apps").json()["apps"]
    created = next(app for app in apps if app["name"] == name)
    WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.ID, "app-title").text == f"{name} #{created['id']}")
    assert texts(console, "#keys-list .key-preview") == ["sk_live_••••" + secret[-4:]]
    r = rest(console_server, "POST", "publish", app={"secret": secret}, json={"channel": unique("console:"), "data": 1})
    assert r.status_code == 200, r.text
    # Another plan from the list changes the app's limits.
    plan = console.find_element(By.ID, "app-plan")
    plan.find_element(By.CSS_SELECTOR, 'option[value="builder"]').click()
    wait_until(lambda: admin(console_server, "GET", f"/api/realtime/apps/{created['id']}").json()["app"]["plan"] == "builder", timeout=UI_WAIT)
    WebDriverWait(console, UI_WAIT).until(lambda d: texts(d, '#app-limits-body tr[data-limit="maxChannels"] td') == ["50", "0"])


def test_blocking_an_address_in_the_console_ends_its_connection_and_lifting_it_lets_it_back(console, console_server):
    from selenium.webdriver.support.ui import Select
    from test_hostile_edge import closed_unread, health_status
    from test_tls import port_of

    with WSClient(console_server, local_address="127.0.0.2") as client:
        # The operator's own address is refused, and the page says why.
        console.find_element(By.ID, "block-address").send_keys("127.0.0.1")
        console.find_element(By.ID, "block-create").click()
        WebDriverWait(console, UI_WAIT).until(lambda d: "lock you out" in d.find_element(By.ID, "blocks-status").text)

        address = console.find_element(By.ID, "block-address")
        address.clear()
        address.send_keys("127.0.0.2")
        console.find_element(By.ID, "block-reason").send_keys("scraping <b>everything</b>")
        Select(console.find_element(By.ID, "block-expiry")).select_by_value("3600")
        console.find_element(By.ID, "block-create").click()
        row = WebDriverWait(console, UI_WAIT).until(lambda d: d.find_element(By.CSS_SELECTOR, '.block-row[data-address="127.0.0.2/32"]'))
        # Text from the server stays text.
        assert "scraping <b>everything</b>" in row.text and not row.find_elements(By.TAG_NAME, "b")
        error = client.recv()
        assert error["event"] == "error" and error["data"]["code"] == "forbidden", error
    listed = admin(console_server, "GET", "/api/realtime/blocks").json()["blocks"]
    assert [(b["address"], b["reason"]) for b in listed] == [("127.0.0.2/32", "scraping <b>everything</b>")]
    assert 3_500_000 <= listed[0]["expiresAt"] - listed[0]["createdAt"] <= 3_600_000
    assert closed_unread(port_of(console_server.http), "127.0.0.2")

    row.find_element(By.CSS_SELECTOR, ".block-lift").click()
    WebDriverWait(console, UI_WAIT).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".block-row"))
    assert health_status(console_server, "127.0.0.2") == 200
