"""The Maravilla seed's client snippets, verbatim, in headless Chromium against the real edge.

Pages import `@maravilla-labs/platform` through an import map pointing at the edge's `/sdk/…`; the server routes they
call are the seed's, verbatim, on Node (`maravilla/app.mjs`), behind the edge's reverse proxy: one origin, as on
Maravilla, so `new RealtimeClient()` finds `/_rt/ws` by itself.
"""

import json
import time

import httpx
import pytest

from browser_clients_support import chromium, restart_on_same_port, wait_js
from conftest import WAIT, WSClient, decode_jwt, publish, wait_until
from maravilla_support import APP, Stack


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def stack():
    s = Stack()
    yield s
    s.close()


def logs(driver) -> list:
    return driver.execute_script("return window.logs")


def open_snippet(driver, stack: Stack, snippet: str) -> None:
    driver.get(stack.page(snippet))
    wait_js(driver, "window.loaded === true || window.errors.length > 0", message=f"snippet {snippet} to load")
    assert driver.execute_script("return window.errors") == [], driver.execute_script("return window.errors")


def members(stack: Stack, channel: str = "chat:general") -> list:
    r = httpx.get(f"{stack.edge.http}/_rt/api/presence/members", params={"channel": channel},
                  headers={"Authorization": f"Bearer {APP['secret']}"}, timeout=WAIT)
    return [m["userId"] for m in r.json()["members"]]


def wait_log(driver, text: str, timeout: float = 10) -> None:
    wait_js(driver, f"window.logs.includes({json.dumps(text)})", timeout=timeout, message=f"the log line {text!r}")


def test_quickstart_client_relays_a_browser_publish_and_receives_the_server_routes_publish(browser, stack):
    with WSClient(stack.edge, key=APP["key"]) as other:
        other.subscribed("room:general")
        open_snippet(browser, stack, "quickstart")
        relayed, _ = other.recv_until(lambda f: f["event"] == "realtime.message")
        assert relayed["channel"] == "room:general" and relayed["data"] == {"text": "Hi from browser!"}, relayed
        # The seed's quick-start server route, reached through the edge's proxy like the page's own origin.
        r = httpx.post(f"{stack.edge.http}/api/quickstart", json={"text": "Hello everyone!", "roomId": "general", "userId": "alice"},
                       timeout=WAIT)
        assert r.status_code == 200 and r.json() == {"ok": True}, r.text
        wait_log(browser, "Hello everyone!")
        server_frame, _ = other.recv_until(lambda f: f["event"] == "realtime.message")
        assert server_frame["data"]["type"] == "chat" and server_frame["data"]["userId"] == "alice", server_frame

        browser.execute_script("window.cleanUp()")
        assert browser.execute_script("return window.client.isConnected()") is False
        publish(stack.edge, "room:general", {"text": "after clean-up"}, app=APP)
        other.recv_until(lambda f: f["event"] == "realtime.message")
        time.sleep(0.5)
        assert "after clean-up" not in logs(browser)
        assert browser.execute_script("return window.client.isConnected()") is False


def test_client_api_snippets_subscribe_publish_presence_and_on_any(browser, stack):
    with WSClient(stack.edge, key=APP["key"]) as watcher, WSClient(stack.edge, key=APP["key"]) as bob:
        watcher.subscribed("chat:general")
        watcher.subscribed("chat:lobby")
        open_snippet(browser, stack, "api")
        # The client sends its subscribes and the presence join on connect, then what was published before it opened.
        joined, _ = watcher.recv_until(lambda f: f["event"] == "presence.join")
        sent, _ = watcher.recv_until(lambda f: f["event"] == "realtime.message")
        assert sent["data"] == {"text": "Hello from browser!"} and sent["userId"] == "bob", sent
        assert joined["userId"] == "alice" and joined["metadata"]["name"] == "Alice", joined
        # join and update ran before the socket opened: the member the server holds carries the updated metadata.
        members = httpx.get(f"{stack.edge.http}/_rt/api/presence/members", params={"channel": "chat:lobby"},
                            headers={"Authorization": f"Bearer {APP['secret']}"}, timeout=WAIT).json()["members"]
        assert [(m["userId"], m["metadata"]) for m in members] == [("alice", {"name": "Alice", "status": "away"})]

        assert browser.execute_script("return window.client.isConnected()") is True
        publish(stack.edge, "chat:general", {"text": "Hello!"}, app=APP, userId="alice")
        wait_log(browser, '{"text":"Hello!"}')
        lines = logs(browser)
        at = lines.index('{"text":"Hello!"}')
        assert lines[at - 2:at + 2] == ["realtime.message", "chat:general", '{"text":"Hello!"}', "alice"], lines
        assert int(lines[at + 2]) > 1_700_000_000_000, lines
        wait_log(browser, '[chat:general] realtime.message: {"text":"Hello!"}')

        bob.subscribed("chat:lobby")
        bob.send({"action": "presence:join", "channel": "chat:lobby", "userId": "bob", "metadata": {"name": "Bob"}})
        wait_log(browser, 'bob joined {"name":"Bob"}')
        bob.send({"action": "presence:update", "channel": "chat:lobby", "userId": "bob", "metadata": {"name": "Bob", "status": "busy"}})
        wait_log(browser, 'bob updated {"name":"Bob","status":"busy"}')
        bob.send({"action": "presence:leave", "channel": "chat:lobby"})
        wait_log(browser, "bob left")

        browser.execute_script("window.stop()")
        left, _ = watcher.recv_until(lambda f: f["event"] == "presence.leave" and f["userId"] == "alice")
        assert left["channel"] == "chat:lobby"
        before = len(logs(browser))
        publish(stack.edge, "chat:general", {"text": "after unsubscribe"}, app=APP)
        watcher.recv_until(lambda f: f["event"] == "realtime.message" and f["data"] == {"text": "after unsubscribe"})
        time.sleep(0.5)
        assert not any("after unsubscribe" in line for line in logs(browser)[before:]), logs(browser)[before:]


def test_private_channel_needs_the_token_the_server_route_mints(browser, stack):
    open_snippet(browser, stack, "private")
    wait_js(browser, "window.logs.some((l) => l.startsWith('intruder ') && l.includes('\"code\":\"unauthorized\"'))",
            message="the intruder's unauthorized error")
    error = json.loads(next(line for line in logs(browser) if line.startswith("intruder "))[len("intruder "):])
    assert error["event"] == "error" and error["channel"] == "private-room:vip" and error["data"]["code"] == "unauthorized", error
    wait_js(browser, "window.client.isConnected()")
    # The token the seed's route minted: alice, this channel, subscribe and publish, one hour.
    token = httpx.get(f"{stack.edge.http}/api/chat/vip/token", timeout=WAIT).json()["token"]
    _, claims = decode_jwt(token)
    assert claims["sub"] == "alice" and claims["channel"] == "private-room:vip"
    assert claims["permissions"] == ["subscribe", "publish"] and 3500 < claims["exp"] - time.time() <= 3600

    deadline = time.monotonic() + 10
    while '{"secret":1}' not in logs(browser):
        assert time.monotonic() < deadline, logs(browser)
        publish(stack.edge, "private-room:vip", {"secret": 1}, app=APP)
        time.sleep(0.3)
    assert not any(line.startswith("intruder got") for line in logs(browser))


def test_catch_up_snippet_replays_history_and_the_client_resumes_after_a_restart_without_gaps_or_repeats(browser, stack):
    for n in (1, 2, 3):
        publish(stack.edge, "chat:general", {"n": n}, app=APP)
    open_snippet(browser, stack, "catchup")
    wait_js(browser, "window.rendered.length >= 3")
    rendered = browser.execute_script("return window.rendered")
    # `event.data?.seq` is there for the snippet, but the data renders exactly as published.
    assert rendered == [{"json": json.dumps({"n": n}, separators=(",", ":")), "seq": n} for n in (1, 2, 3)], rendered
    assert browser.execute_script("return window.lastSeq()") == 3
    publish(stack.edge, "chat:general", {"n": 4}, app=APP)
    wait_js(browser, "window.lastSeq() === 4")

    stack.edge = restart_on_same_port(stack.edge)
    for n in (5, 6, 7):
        publish(stack.edge, "chat:general", {"n": n}, app=APP)
    wait_js(browser, "window.lastSeq() === 7", timeout=20, message="the client to reconnect and catch up")
    publish(stack.edge, "chat:general", {"n": 8}, app=APP)
    wait_js(browser, "window.lastSeq() === 8")
    seen = [json.loads(r["json"])["n"] for r in browser.execute_script("return window.rendered")]
    assert seen == list(range(1, 9)), seen


def test_live_chat_example_two_tabs_load_history_see_presence_and_messages(browser, stack):
    first = browser.current_window_handle
    open_snippet(browser, stack, "chat")
    wait_js(browser, "window.chat.connected")
    # The component joined presence through the seed's server hook (racing its own subscribe, so it may or may not see
    # its own join event); the member is on the server for the next tab to load.
    wait_until(lambda: "current-user" in members(stack), message="the component's presence join")
    browser.execute_script("return window.chat.send('first message')")
    wait_js(browser, "window.chat.messages.some((m) => m.text === 'first message')")

    browser.switch_to.new_window("tab")
    second = browser.current_window_handle
    try:
        open_snippet(browser, stack, "chat")
        wait_js(browser, "window.chat.connected")
        state = browser.execute_script("return {messages: window.chat.messages, members: window.chat.onlineMembers}")
        assert [m["text"] for m in state["messages"]] == ["first message"], state
        assert "current-user" in [m["userId"] for m in state["members"]], state
        browser.execute_script("return window.chat.send('hello from tab two')")
        wait_js(browser, "window.chat.messages.some((m) => m.text === 'hello from tab two')")
        browser.switch_to.window(first)
        wait_js(browser, "window.chat.messages.some((m) => m.text === 'hello from tab two')")
        message = browser.execute_script("return window.chat.messages.find((m) => m.text === 'hello from tab two')")
        assert message["type"] == "message" and message["userId"] == "current-user" and message["userName"] == "You", message
        # Another user joining through the server shows up in both tabs; leaving removes them.
        httpx.post(f"{stack.edge.http}/api/chat/general/join", json={"userId": "bob", "userName": "Bob"}, timeout=WAIT)
        wait_js(browser, "window.chat.onlineMembers.some((m) => m.userId === 'bob' && m.metadata.name === 'Bob')")
        httpx.post(f"{stack.edge.http}/_rt/api/presence/leave", json={"channel": "chat:general", "userId": "bob"},
                   headers={"Authorization": f"Bearer {APP['secret']}"}, timeout=WAIT)
        wait_js(browser, "!window.chat.onlineMembers.some((m) => m.userId === 'bob')")
        browser.switch_to.window(second)
        wait_js(browser, "!window.chat.onlineMembers.some((m) => m.userId === 'bob')")
    finally:
        browser.switch_to.window(second)
        browser.close()
        browser.switch_to.window(first)
