"""Laravel Echo 2.0.0 on pusher-js 8.6.0 (the unmodified builds in `../shared/clients/`) in headless Chromium against
the real edge: `channel().listen` with Laravel's event namespace, `private()` through `/broadcasting/auth`, `join()`
with `here`/`joining`/`leaving`, and whispers. The server side is the official `pusher` library, as Laravel's
broadcaster would call it."""

import pytest

from browser_clients_support import (BROWSER_APP, SiteServer, blank_page, browser_edge_config, chromium, js_async, pusher_api,
                                     pusher_auth_routes, wait_js)
from conftest import start_server, unique

SETUP = """
window.echo = (name) => new Echo({
  broadcaster: "pusher", key: %(key)r, wsHost: "127.0.0.1", wsPort: %(port)d, forceTLS: false, enabledTransports: ["ws"],
  cluster: "", disableStats: true, authEndpoint: "/broadcasting/auth", auth: { headers: { "X-User": name } },
});
window.ready = (channel) => new Promise((resolve, reject) => {
  channel.subscribed(() => resolve(true));
  channel.error((error) => reject(new Error("subscription error " + JSON.stringify(error))));
});
"""


@pytest.fixture(scope="module")
def edge():
    server = start_server(browser_edge_config())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(edge):
    site = SiteServer()
    pusher_auth_routes(site, edge)
    url = site.page("/echo.html", blank_page("pusher-8.6.0.js", "laravel-echo-2.0.0.js"))
    driver = chromium()

    def open_page():
        driver.get(url)
        wait_js(driver, "typeof Echo === 'function' && typeof Pusher === 'function'")
        driver.execute_script(SETUP % {"key": BROWSER_APP["key"], "port": edge.port})
        return driver

    open_page.site = site
    yield open_page
    driver.quit()
    site.close()


def test_channel_listen_gets_laravel_namespaced_events_and_dot_prefixed_names(page, edge):
    driver = page()
    channel = unique("orders.")
    js_async(driver, """
        window.ada = echo("ada");
        const channel = ada.channel(args[0]);
        channel.listen("OrderShipped", (e) => note(["shipped", e]));
        channel.listen(".order.refunded", (e) => note(["refunded", e]));
        await ready(channel);""", channel)
    api = pusher_api(edge)
    api.trigger(channel, "App\\Events\\OrderShipped", {"order": {"id": 7}})
    api.trigger(channel, "order.refunded", {"order": {"id": 8}})
    wait_js(driver, "window.log.length >= 2")
    assert driver.execute_script("return window.log") == [["shipped", {"order": {"id": 7}}], ["refunded", {"order": {"id": 8}}]]


def test_private_channel_is_authorized_at_broadcasting_auth(page, edge):
    driver = page()
    channel = unique("users.")
    before = len(page.site.requests)
    js_async(driver, """
        window.ada = echo("ada");
        const channel = ada.private(args[0]);
        channel.listen("BalanceChanged", (e) => note(e));
        await ready(channel);""", channel)
    assert ("POST", "/broadcasting/auth") in page.site.requests[before:]
    pusher_api(edge).trigger("private-" + channel, "App\\Events\\BalanceChanged", {"balance": 10})
    wait_js(driver, "window.log.some((e) => e.balance === 10)")
    refused = js_async(driver, """
        const channel = echo("mallory").private(args[0]);
        try { await ready(channel); return "subscribed"; } catch (error) { return error.message; }""", channel)
    assert refused.startswith("subscription error") and "403" in refused, refused


def test_join_here_joining_leaving(page, edge):
    driver = page()
    room = unique("room.")
    here = js_async(driver, """
        window.ada = echo("ada");
        return await new Promise((resolve) => {
          ada.join(args[0])
            .here((users) => resolve(users))
            .joining((user) => note("joining " + user.name))
            .leaving((user) => note("leaving " + user.name));
        });""", room)
    assert here == [{"name": "Ada"}], here
    bob_here = js_async(driver, """
        window.bob = echo("bob");
        return await new Promise((resolve) => bob.join(args[0]).here((users) => resolve(users.map((u) => u.name).sort())));""", room)
    assert bob_here == ["Ada", "Bob"]
    wait_js(driver, "window.log.includes('joining Bob')")
    driver.execute_script("window.bob.leave(arguments[0])", room)
    wait_js(driver, "window.log.includes('leaving Bob')")


def test_whispers_reach_the_other_listeners_only(page, edge):
    driver = page()
    channel = unique("chat.")
    js_async(driver, """
        window.ada = echo("ada"); window.bob = echo("bob");
        const a = ada.private(args[0]); const b = bob.private(args[0]);
        a.listenForWhisper("typing", (e) => note("ada heard " + e.name));
        b.listenForWhisper("typing", (e) => note("bob heard " + e.name));
        await Promise.all([ready(a), ready(b)]);
        a.whisper("typing", { name: "Ada" });""", channel)
    wait_js(driver, "window.log.includes('bob heard Ada')")
    js_async(driver, "await new Promise((r) => setTimeout(r, 300));")
    assert "ada heard Ada" not in driver.execute_script("return window.log")
