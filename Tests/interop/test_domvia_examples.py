"""The DomVia examples as the README runs them (examples/domvia/server.mjs behind an edge on
examples/domvia/switchboard.toml), in headless Chromium: chat with E2EE in two tabs (and what everyone else sees: only
ciphertext), a real WebRTC call between two tabs, the courier map with a late customer, the delivery timeline with a
refused transition. The screenshots they take are the README's pictures (docs/images/, refreshed when
DOMVIA_UPDATE_IMAGES=1)."""

import json
import threading
import time

import httpx
import pytest
from selenium.webdriver.common.by import By

from conftest import WSClient, channel_token, rest
from domvia_support import errors, save_screenshot, start_demo, wait_js

pytestmark = pytest.mark.timeout(120)

DEMO_APP = {"id": "1001", "key": "pk_dev_demo", "secret": "sk_dev_demo"}


@pytest.fixture(scope="module")
def demo():
    running = start_demo()
    yield running
    running.stop()


def texts(driver, selector: str) -> list:
    return driver.execute_script(f"return [...document.querySelectorAll({json.dumps(selector)})].map((e) => e.textContent)")


class Recorder:
    """A JSON-action subscriber on the room (with a channel token, as any backend service could hold): every frame."""

    def __init__(self, demo, channel: str):
        self.client = WSClient(demo.edge, key=DEMO_APP["key"])
        self.client.subscribed(channel, token=channel_token(channel, app=DEMO_APP))
        self.frames = []
        self.thread = threading.Thread(target=self.pump, daemon=True)
        self.running = True
        self.thread.start()

    def pump(self):
        while self.running:
            try:
                self.frames.append(self.client.recv(timeout=0.2))
            except TimeoutError:
                continue
            except Exception:
                return

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.client.close()


def test_chat_example_two_tabs_with_e2ee_and_only_ciphertext_outside_them(demo):
    # Fixed names (the module's server is its own): they appear in the README's pictures.
    room = "42"
    channel = f"presence-chat.room.{room}"
    secret_text = "meet at the old mill at noon"
    recorder = Recorder(demo, channel)
    try:
        ada, bob = demo.browser(), demo.browser()
        page = f"{demo.http}/examples/domvia-chat.html?room={room}"
        ada.get(page + "&user=ada")
        wait_js(ada, "window.demo && !document.getElementById('text').disabled", message="ada's room is ready")
        bob.get(page + "&user=bob")
        wait_js(bob, "window.demo && !document.getElementById('text').disabled", message="bob's room is ready")
        for tab in (ada, bob):
            wait_js(tab, "document.querySelectorAll('#members li').length === 2", message="both members present")
        assert sorted(texts(ada, "#members li")) == ["ada (you)", "bob"]

        ada.find_element(By.ID, "text").send_keys("meet at the old mill")
        wait_js(bob, "document.getElementById('typing').textContent.includes('ada is typing')", message="bob sees ada typing")
        ada.find_element(By.ID, "text").send_keys(" at noon")
        ada.find_element(By.ID, "send").click()
        wait_js(bob, f"[...document.querySelectorAll('#log li.theirs .body')].some((e) => e.textContent === {json.dumps(secret_text)})",
                message="bob reads ada's message, decrypted")
        # Delivered, then read: the ticks of ada's bubble turn blue.
        wait_js(ada, "document.querySelector('#log li.mine .ticks[data-status=\"read\"]')", message="ada sees bob read it")
        bob.find_element(By.ID, "text").send_keys("see you there")
        bob.find_element(By.ID, "send").click()
        wait_js(ada, "[...document.querySelectorAll('#log li.theirs .body')].some((e) => e.textContent === 'see you there')")
        wait_js(bob, "document.querySelector('#log li.mine .ticks[data-status=\"read\"]')")
        time.sleep(0.3)
        assert errors(ada) == [] and errors(bob) == []
        save_screenshot(ada, "domvia-chat-ada.png", readme=True)
        save_screenshot(bob, "domvia-chat-bob.png", readme=True)
    finally:
        recorder.close()

    # Outside the two tabs there is only ciphertext: the JSON-action subscriber on the same channel, the edge's
    # history, the edge's log and the trusted server's log.
    messages = [f for f in recorder.frames if f.get("name") == "client-chat.message"]
    assert len(messages) == 2, recorder.frames
    for frame in messages:
        body = frame["data"]["body"]
        assert set(body) == {"v", "alg", "kid", "iv", "ct"} and body["alg"] == "A256GCM", frame
    assert any(f.get("name") == "client-chat.typing" for f in recorder.frames)
    assert any(f.get("name") == "client-chat.read" for f in recorder.frames)
    everything = json.dumps(recorder.frames)
    assert "old mill" not in everything and "see you there" not in everything
    kept = rest(demo.edge, "GET", "history", app=DEMO_APP, params={"channel": channel}).json()["messages"]
    assert [m["name"] for m in kept].count("client-chat.message") == 2
    assert "old mill" not in json.dumps(kept) and "see you there" not in json.dumps(kept)
    assert "old mill" not in demo.edge.log() and "old mill" not in demo.app_log()


def test_call_example_connects_two_tabs_over_webrtc(demo):
    call = "call-9001"
    ada, bob = demo.browser(fake_media=True), demo.browser(fake_media=True)
    page = f"{demo.http}/examples/domvia-call.html?call={call}"
    ada.get(page + "&user=ada")
    bob.get(page + "&user=bob")
    for tab in (ada, bob):
        wait_js(tab, "!document.getElementById('call').disabled", message="ready to call")
    ada.find_element(By.ID, "call").click()
    wait_js(bob, "!document.getElementById('answer').hidden", message="bob sees the incoming call")
    assert "Incoming call from ada" in bob.find_element(By.ID, "banner").text
    wait_js(ada, "document.getElementById('banner').textContent.startsWith('Ringing bob')", message="ada hears it ring")
    bob.find_element(By.ID, "answer").click()
    for tab in (ada, bob):
        wait_js(tab, "['connected', 'completed'].includes(window.demo.peer()?.iceConnectionState)", timeout=25, message="ICE connected")
        wait_js(tab, "document.getElementById('remote').videoWidth > 0", timeout=15, message="remote video plays")
    assert all(c in texts(ada, "#states span.done") for c in ("started", "ringing", "accepted"))
    time.sleep(0.5)
    save_screenshot(ada, "domvia-call.png", readme=True)
    bob.find_element(By.ID, "hangup").click()
    wait_js(ada, "document.getElementById('banner').textContent === 'bob hung up'", message="ada sees the hang-up")
    assert errors(ada) == [] and errors(bob) == []


def test_courier_example_late_customer_starts_from_the_last_position(demo):
    trip = "trip-77"
    courier = demo.browser()
    courier.get(f"{demo.http}/examples/domvia-courier.html?trip={trip}&role=courier&user=courier-1")
    wait_js(courier, "!document.getElementById('start').hidden", message="the courier is ready")
    courier.find_element(By.ID, "start").click()
    wait_js(courier, "window.demo.courier.sent >= 3", timeout=10, message="three positions sent")
    sent = courier.execute_script("return window.demo.courier.sent")
    customer = demo.browser()
    customer.get(f"{demo.http}/examples/domvia-courier.html?trip={trip}&user=customer-1")
    # The first position the late customer sees is the courier's latest, not the start of the route.
    first = wait_js(customer, "window.demo && window.demo.tracker.lastPosition", message="the replayed position")
    assert first["lon"] > 13.4001, first
    count = customer.execute_script("return window.demo.tracker.lastPosition && 1")
    assert count == 1
    wait_js(customer, f"window.demo.tracker.lastPosition.time > {first['time']}", timeout=10, message="live updates follow")
    assert courier.execute_script("return window.demo.courier.sent") > sent
    save_screenshot(customer, "domvia-courier.png", readme=True)
    courier.find_element(By.ID, "end").click()
    wait_js(customer, "document.getElementById('status').textContent.startsWith('Trip ended')", message="the customer sees the end")
    late = demo.browser()
    late.get(f"{demo.http}/examples/domvia-courier.html?trip={trip}&user=customer-2")
    wait_js(late, "window.demo && window.demo.tracker.ended === true", message="a customer after the end gets no position")
    assert late.execute_script("return window.demo.tracker.lastPosition") is None


def test_delivery_example_timeline_and_refused_transition(demo):
    delivery = "884"
    operator, customer = demo.browser(), demo.browser(size="760,720")
    operator.get(f"{demo.http}/examples/domvia-delivery.html?delivery={delivery}&role=operator&user=ops")
    customer.get(f"{demo.http}/examples/domvia-delivery.html?delivery={delivery}&user=customer-1")
    for tab in (operator, customer):
        wait_js(tab, "window.demo && window.demo.delivery.channel.subscribed", message="subscribed to the delivery")
    for status, label in (("pickup", "Picked up"), ("in_transit", "In transit"), ("nearby", "Nearby"), ("delivered", "Delivered")):
        operator.find_element(By.CSS_SELECTOR, f"#buttons button[data-status='{status}']").click()
        wait_js(customer, f"document.getElementById('current').textContent === {json.dumps(label)}", message=f"customer sees {status}")
    operator.find_element(By.CSS_SELECTOR, "#buttons button[data-status='in_transit']").click()
    problem = wait_js(operator, "document.getElementById('problem').textContent", message="the refusal is shown")
    assert "409" in problem and "cannot go to in_transit from delivered" in problem, problem
    assert texts(customer, "#timeline li") and len(texts(customer, "#timeline li")) == 4
    save_screenshot(customer, "domvia-delivery.png", readme=True)
    save_screenshot(operator, "domvia-delivery-operator.png")
    # A customer who opens the page later gets the whole kept timeline first; so does the server's history route.
    late = demo.browser()
    late.get(f"{demo.http}/examples/domvia-delivery.html?delivery={delivery}&user=customer-2")
    wait_js(late, "document.querySelectorAll('#timeline li').length === 4", message="the late customer gets the timeline")
    cookies = {"domvia_user": "ops"}
    timeline = httpx.get(f"{demo.http}/demo/deliveries/{delivery}/timeline", cookies=cookies, timeout=5).json()["timeline"]
    assert [entry["status"] for entry in timeline] == ["pickup", "in_transit", "nearby", "delivered"]
