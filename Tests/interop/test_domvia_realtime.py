"""@domvia/realtime in Chromium against the real server, beyond the seed snippets: after the edge restarts, the client
reconnects on its own, authorizes again with its new socket id and resubscribes, so events published after the
restart reach the same bindings; presence members; client events refused by the edge reach `channel.bind("error")`."""

import json

import pytest

from domvia_support import DOMVIA, errors, start_stack, wait_js
from test_domvia_kits import api

pytestmark = pytest.mark.timeout(90)


def page_module(port: int, channel: str) -> str:
    return f"""
import {{ DomViaRealtime }} from "@domvia/realtime";
const realtime = DomViaRealtime.create({{ key: {json.dumps(DOMVIA["key"])}, host: "127.0.0.1:{port}", authEndpoint: "/realtime/auth",
  clientEvents: true, reconnect: {{ minDelayMs: 200, maxDelayMs: 1000 }} }});
window.realtime = realtime;
window.states = [];
window.got = [];
window.channelErrors = [];
realtime.on("state_change", ({{ current }}) => window.states.push(current));
const channel = realtime.subscribe({json.dumps(channel)});
channel.bind("chat.notice", (data) => window.got.push(data.n));
channel.bind("error", (error) => window.channelErrors.push(error.message));
await channel.whenSubscribed();
window.firstSocket = realtime.socketId;
window.ready = true;
"""


def test_reconnects_after_a_restart_reauthorizes_and_resubscribes():
    stack = start_stack("docs-server.js")
    try:
        browser = stack.browser()
        channel = "private-chat.room.restart"
        browser.get(stack.page("restart.html", "", page_module(stack.edge.port, channel), user="user-1"))
        wait_js(browser, "window.ready === true", message="subscribed")
        api(stack.edge).trigger(channel, "chat.notice", {"n": 1})
        wait_js(browser, "window.got.length === 1")

        stack.restart_edge()
        wait_js(browser, "window.states.filter((s) => s === 'connected').length >= 2", timeout=20, message="reconnected")
        assert "unavailable" in browser.execute_script("return window.states")
        wait_js(browser, "window.realtime.channel('private-chat.room.restart').subscribed", timeout=10, message="resubscribed")
        assert browser.execute_script("return window.realtime.socketId !== window.firstSocket")
        api(stack.edge).trigger(channel, "chat.notice", {"n": 2})
        wait_js(browser, "window.got.length === 2", message="the binding survived the restart")
        assert browser.execute_script("return window.got") == [1, 2]
        grants = [e for e in stack.auth_log() if e["status"] == 200 and e["channel"] == channel]
        assert len(grants) == 2, stack.auth_log()
        assert errors(browser) == []
    finally:
        stack.stop()


def test_presence_members_and_refused_client_events_reach_the_page():
    stack = start_stack("docs-server.js")
    try:
        browser = stack.browser()
        # An encrypted room (conf/kits/chat.toml): a plaintext client event is refused by the edge, and the page hears why.
        module = page_module(stack.edge.port, "private-chat.room.plain") + """
await realtime.channel("private-chat.room.plain").trigger("chat.message", { message_id: "m1", body: "plaintext" });
"""
        browser.get(stack.page("refused.html", "", module, user="user-1"))
        message = wait_js(browser, "window.channelErrors[0]", message="the refusal reached channel.bind('error')")
        assert "end-to-end encrypted" in message
    finally:
        stack.stop()
