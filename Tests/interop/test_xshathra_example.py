"""Xshathra's room chat (`examples/xshathra/`) on the real edge: the example backend mints connection and subscription
JWTs and publishes through `POST /api/realtime/publish` with `Authorization: Bearer <server key>`; its page runs the
unmodified centrifuge-js 5.7.1 build in headless Chromium (served to it by the example backend from
`../shared/clients/`, never by the product)."""

import re
import time
from datetime import datetime, timezone

import httpx
import pytest

from browser_clients_support import CLIENTS, NodeProcess, chromium, js_async, wait_js
from conftest import ROOT, WAIT, WSClient, decode_jwt, free_port, start_server, unique

EXAMPLE = ROOT / "examples" / "xshathra"
KEY = "pk_xshathra_demo"
SERVER_KEY = "sk_xshathra_demo_change_me_0123456789abcdef"


class ExampleStack:
    """The edge on the example's own config (its port, store and origins changed for the test) and the example backend."""

    def __init__(self):
        self.backend_port = free_port()
        text = (EXAMPLE / "switchboard.toml").read_text()
        text = text.replace("port = 8080", "port = 0").replace('path = "data/xshathra.sqlite"', 'path = "{store}"')
        text = re.sub(r"origins = \[.*\]", f'origins = ["http://127.0.0.1:{self.backend_port}"]', text)
        text = text.replace("[server]", "[limits]\nnew_connections_per_ip_per_second = 1000\n\n[server]")
        self.edge = start_server(text)
        self.backend = NodeProcess(EXAMPLE / "server.mjs", {
            "XSHATHRA_SERVER_API_KEY": SERVER_KEY,
            "NEXT_PUBLIC_XSHATHRA_REALTIME_URL": f"{self.edge.ws}/connection/websocket?key={KEY}",
            "XSHATHRA_PROJECT_ID": "proj_test",
            "CENTRIFUGE_JS": str(CLIENTS / "centrifuge-5.7.1.js"),
        }, self.backend_port)
        self.url = f"http://127.0.0.1:{self.backend_port}"

    def close(self):
        self.backend.stop()
        self.edge.stop()


@pytest.fixture(scope="module")
def stack():
    s = ExampleStack()
    yield s
    s.close()


@pytest.fixture(scope="module")
def browsers():
    drivers = [chromium(), chromium()]
    yield drivers
    for d in drivers:
        d.quit()


def sign_in(driver, stack, name: str, room: str = "room_abc123"):
    driver.get(f"{stack.url}/healthz")
    driver.delete_all_cookies()  # a fresh session: sign in through the page's form
    driver.get(f"{stack.url}/?room={room}")
    wait_js(driver, "window.chat.config !== null")
    driver.find_element("id", "name").send_keys(name)
    driver.find_element("id", "login").submit()
    wait_js(driver, f"window.chat.user === {name!r}")


def send(driver, text: str):
    driver.find_element("id", "text").send_keys(text)
    driver.find_element("id", "send").submit()


def texts(driver) -> list:
    return driver.execute_script("return window.chat.messages.map((m) => m.senderId + ': ' + m.text)")


def test_publish_api_takes_the_server_key_as_a_bearer_token(stack):
    channel = unique("news:")
    url = f"{stack.edge.http}/api/realtime/publish"
    with WSClient(stack.edge, key=KEY) as subscriber:
        subscriber.subscribed(channel)
        r = httpx.post(url, headers={"Authorization": f"Bearer {SERVER_KEY}"}, json={"channel": channel, "data": {"n": 1}}, timeout=WAIT)
        assert r.status_code == 200 and "result" in r.json(), r.text
        frame, _ = subscriber.recv_until(lambda f: f["event"] == "realtime.message")
        assert frame["data"] == {"n": 1}
    assert httpx.post(url, headers={"Authorization": "Bearer sk_wrong"}, json={"channel": channel, "data": 1}, timeout=WAIT).status_code == 401
    assert httpx.post(url, json={"channel": channel, "data": 1}, timeout=WAIT).status_code == 401
    # The Centrifugo-style forms still work.
    assert httpx.post(url, headers={"X-API-Key": SERVER_KEY}, json={"channel": channel, "data": 2}, timeout=WAIT).status_code == 200


def test_backend_mints_short_lived_connection_tokens_and_subscription_tokens_for_members_only(stack):
    with httpx.Client(base_url=stack.url, timeout=WAIT) as ada, httpx.Client(base_url=stack.url, timeout=WAIT) as bob:
        assert ada.post("/api/realtime/token").status_code == 401
        ada.post("/login", json={"name": "ada"}).raise_for_status()
        bob.post("/login", json={"name": "bob"}).raise_for_status()
        header, claims = decode_jwt(ada.post("/api/realtime/token").json()["token"])
        assert header["alg"] == "HS256" and claims["sub"] == "ada" and 800 < claims["exp"] - time.time() <= 900
        staff = "chat:proj_test:room_staff"
        _, sub_claims = decode_jwt(ada.post("/api/realtime/subscription-token", json={"channel": staff}).json()["token"])
        assert sub_claims["channel"] == staff and sub_claims["sub"] == "ada"
        assert bob.post("/api/realtime/subscription-token", json={"channel": staff}).status_code == 403
        assert bob.post("/api/realtime/subscription-token", json={"channel": "chat:other_project:room_abc123"}).status_code == 403
        assert bob.post("/api/rooms/room_staff/messages", json={"text": "let me in"}).status_code == 403
        assert bob.post("/api/rooms/room_abc123/messages", json={"text": " "}).status_code == 400


def test_two_users_chat_see_each_other_in_presence_and_a_late_joiner_loads_history(stack, browsers):
    ada, bob = browsers
    sign_in(ada, stack, "ada")
    wait_js(ada, "window.chat.room === 'room_abc123'", message="ada to enter the lobby")
    send(ada, "hello from ada")
    wait_js(ada, "window.chat.messages.some((m) => m.text === 'hello from ada')")
    envelope = ada.execute_script("return window.chat.messages.find((m) => m.text === 'hello from ada')")
    assert envelope["type"] == "chat.message" and envelope["roomId"] == "room_abc123" and envelope["senderId"] == "ada"
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", envelope["id"]), envelope
    assert abs(datetime.fromisoformat(envelope["sentAt"].replace("Z", "+00:00")).timestamp() - datetime.now(timezone.utc).timestamp()) < 60

    sign_in(bob, stack, "bob")
    wait_js(bob, "window.chat.messages.some((m) => m.text === 'hello from ada')", message="bob to load the history")
    wait_js(bob, "new Set(window.chat.members.values()).has('ada') && new Set(window.chat.members.values()).has('bob')",
            message="bob to see ada and himself present")
    wait_js(ada, "new Set(window.chat.members.values()).has('bob')", message="ada to see bob join")
    send(bob, "hi ada")
    wait_js(ada, "window.chat.messages.some((m) => m.senderId === 'bob' && m.text === 'hi ada')")
    assert texts(bob)[-2:] == ["ada: hello from ada", "bob: hi ada"]

    # Step 5 holds: a client cannot publish into the room itself, only through the backend.
    refused = js_async(bob, """
        try { await window.chat.subscription.publish({ type: 'chat.message', senderId: 'ada', text: 'spoofed' }); return 'published'; }
        catch (error) { return error.code; }""")
    assert refused != "published", refused
    time.sleep(0.5)
    assert "ada: spoofed" not in texts(ada)

    bob.get("about:blank")
    wait_js(ada, "!new Set(window.chat.members.values()).has('bob')", message="bob to leave ada's member list")


def test_a_user_outside_a_locked_room_gets_no_subscription(stack, browsers):
    _, bob = browsers
    sign_in(bob, stack, "bob", room="room_staff")
    wait_js(bob, "document.getElementById('error').textContent !== ''", message="the refusal to show")
    assert bob.execute_script("return window.chat.subscription.state") == "unsubscribed"
    assert bob.execute_script("return window.chat.room") in (None, "room_abc123")
    httpx.post(f"{stack.edge.http}/api/realtime/publish", headers={"Authorization": f"Bearer {SERVER_KEY}"},
               json={"channel": "chat:proj_test:room_staff", "data": {"type": "chat.message", "id": "X", "senderId": "ada", "text": "staff only",
                                                                    "roomId": "room_staff", "sentAt": "2026-01-01T00:00:00Z"}},
               timeout=WAIT).raise_for_status()
    time.sleep(0.5)
    assert "ada: staff only" not in texts(bob)
