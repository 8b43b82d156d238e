"""The README's path from `switchboard dev-cert` to an HTTPS + WSS + HTTP/2 SSE edge in front of a sample upstream.

The upstream is `examples/upstream/app.py` (the sample app the README runs): its page and its Pusher auth endpoint
are reached through the edge's TLS listener, and the auth it signs lets a WSS Pusher client into a private channel.
"""

import json
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import httpx_sse
import pytest
from websockets.sync.client import connect as ws_connect

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import BINARY, CONFIG, OTHER, ROOT, WAIT, api_headers, start_server, unique
from test_browser_chat import ARTIFACTS, chromium

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def upstream():
    """The sample upstream on a free loopback port, signing with the key and secret of a test app that allows any
    origin (a browser on the edge's own https origin connects to it)."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "upstream" / "app.py"), "--port", "0"],
        env={"SWITCHBOARD_KEY": OTHER["key"], "SWITCHBOARD_SECRET": OTHER["secret"], "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("sample upstream on http://"), line
    yield line.strip().rsplit(" ", 1)[1]
    process.kill()
    process.wait(timeout=10)


@pytest.fixture
def edge(tmp_path: Path, upstream: str):
    """`switchboard dev-cert`, then the server with a TLS listener and the sample upstream behind it."""
    made = subprocess.run([str(BINARY), "dev-cert", "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    cert, key = tmp_path / "dev-cert.pem", tmp_path / "dev-key.pem"
    config = CONFIG + f"""
[[listeners]]
address = "127.0.0.1"
port = 0
tls = {{ cert = "{cert}", key = "{key}" }}

[proxy]
upstream = "{upstream}"
"""
    server = start_server(config)
    (base,) = server.listeners(1)
    assert base.startswith("https://127.0.0.1:"), base
    context = ssl.create_default_context(cafile=str(cert))
    yield server, base, context, str(cert)
    assert server.stop() == 0


def test_the_sample_app_its_auth_endpoint_wss_and_http2_sse_share_one_https_origin(edge):
    server, base, context, cert = edge
    with httpx.Client(http2=True, verify=context, timeout=WAIT) as https:
        # The page and the app's own routes come from the upstream, over HTTP/2, through the edge.
        page = https.get(f"{base}/")
        assert page.status_code == 200 and page.http_version == "HTTP/2"
        assert "private-orders" in page.text and OTHER["key"] in page.text
        seen = https.get(f"{base}/whoami").json()["forwarded"]
        assert seen["x-forwarded-proto"] == "https" and seen["x-forwarded-host"] == base.removeprefix("https://")
        # The edge's own routes on the same origin.
        assert https.get(f"{base}/api/health").json()["status"] == "ok"
        assert https.get(f"{base}/console").status_code == 200

        channel = "private-orders"
        feed = unique("orders-feed-")
        wss = base.replace("https://", "wss://")
        # A context of its own: httpx set ALPN h2 on the other, and a WebSocket upgrade needs http/1.1.
        with ws_connect(f"{wss}/app/{OTHER['key']}?protocol=7&client=quickstart&version=1",
                        ssl=ssl.create_default_context(cafile=cert), proxy=None,
                        open_timeout=WAIT) as socket:
            established = json.loads(socket.recv(timeout=WAIT))
            socket_id = json.loads(established["data"])["socket_id"]
            # pusher-js would call the app's auth endpoint: here it is the upstream, behind the edge.
            auth = https.post(f"{base}/realtime/auth", data={"socket_id": socket_id, "channel_name": channel})
            assert auth.status_code == 200, auth.text
            socket.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel, "auth": auth.json()["auth"]}}))
            reply = json.loads(socket.recv(timeout=WAIT))
            assert reply["event"] == "pusher_internal:subscription_succeeded", reply

            with httpx_sse.connect_sse(https, "GET", f"{base}/sse", params={"key": OTHER["key"], "channel": feed}) as stream:
                assert stream.response.http_version == "HTTP/2"
                events = stream.iter_sse()
                for target in (channel, feed):
                    r = https.post(f"{base}/_rt/api/publish", headers=api_headers(OTHER),
                                   json={"channel": target, "name": "order.created", "data": {"id": 42}})
                    assert r.status_code == 200, r.text
                frame = json.loads(socket.recv(timeout=WAIT))
                assert frame["event"] == "order.created" and json.loads(frame["data"]) == {"id": 42}
                deadline = time.monotonic() + WAIT
                for event in events:
                    if event.data:
                        assert event.event == "order.created" and json.loads(event.data) == {"id": 42}
                        break
                    assert time.monotonic() < deadline, "no SSE event over HTTP/2"


def test_the_sample_page_in_chromium_over_https_shows_a_published_order_live(edge):
    server, base, context, cert = edge
    browser = chromium_trusting_the_dev_cert()
    try:
        browser.get(f"{base}/")
        WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "status").text == "subscribed")
        r = httpx.post(f"{base}/_rt/api/publish", headers=api_headers(OTHER), verify=context, timeout=WAIT,
                       json={"channel": "private-orders", "name": "order.created", "data": {"id": 7}})
        assert r.status_code == 200, r.text
        WebDriverWait(browser, 15).until(
            lambda d: any("order.created" in li.text and '"id":7' in li.text.replace(" ", "")
                          for li in d.find_elements(By.CSS_SELECTOR, "#events li")))
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "quickstart-orders.png"))
    finally:
        browser.quit()


def chromium_trusting_the_dev_cert():
    """Headless Chromium that accepts the self-signed dev certificate (pages and WSS), as a developer does once."""
    browser = chromium()
    browser.execute_cdp_cmd("Security.setIgnoreCertificateErrors", {"ignore": True})
    return browser
