"""centrifuge-js 5.7.1 (the unmodified JSON build in `../shared/clients/`) in headless Chromium against the real edge:
a connection token and its refresh through `getToken`, subscription tokens (and their refresh), recovery after a
network outage (`wasRecovering` / `recovered`, no gap), presence with join/leave, and history. Tokens come from the
test site's endpoints, as from an app backend; the server side publishes through the Centrifugo-style server API."""

import time
from collections import Counter

import httpx
import pytest

from browser_clients_support import BROWSER_APP, CuttableProxy, SiteServer, blank_page, browser_edge_config, chromium, js_async, wait_js
from conftest import WAIT, sign_jwt, start_server, unique

SETUP = """
window.endpoint = (port) => `ws://127.0.0.1:${port}/connection/websocket?key=%(key)s`;
window.fetchToken = async (path) => (await (await fetch(path)).json()).token;
window.make = (user, port, options = {}) => {
  const client = new Centrifuge(endpoint(port), Object.assign({
    getToken: () => fetchToken(`/centrifuge/token?user=${user}&ttl=600`),
    minReconnectDelay: 200, maxReconnectDelay: 1000,
  }, options));
  client.on("connected", (ctx) => note(user + " connected"));
  client.on("disconnected", (ctx) => note(user + " disconnected " + ctx.code));
  return client;
};
window.ready = (subscription) => new Promise((resolve, reject) => {
  subscription.once("subscribed", (ctx) => resolve(ctx));
  subscription.once("error", (ctx) => reject(new Error(JSON.stringify(ctx.error))));
  subscription.once("unsubscribed", (ctx) => reject(new Error(JSON.stringify({ code: ctx.code, reason: ctx.reason }))));
});
window.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
"""


@pytest.fixture(scope="module")
def edge():
    server = start_server(browser_edge_config())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(edge):
    site = SiteServer()
    issued = Counter()

    def token(request):
        issued[("connection", request.query["user"])] += 1
        ttl = int(request.query.get("ttl", 600))
        return {"token": sign_jwt({"sub": request.query["user"], "exp": int(time.time()) + ttl}, BROWSER_APP["secret"])}

    def sub_token(request):
        user, channel = request.query["user"], request.query["channel"]
        issued[("subscription", user, channel)] += 1
        ttl = int(request.query.get("ttl", 600))
        return {"token": sign_jwt({"sub": user, "channel": channel, "exp": int(time.time()) + ttl}, BROWSER_APP["secret"])}

    site.route("GET", "/centrifuge/token", token)
    site.route("GET", "/centrifuge/sub-token", sub_token)
    url = site.page("/centrifuge.html", blank_page("centrifuge-5.7.1.js"))
    driver = chromium()

    def open_page():
        driver.get(url)
        wait_js(driver, "typeof Centrifuge === 'function'")
        driver.execute_script(SETUP % {"key": BROWSER_APP["key"]})
        return driver

    open_page.issued = issued
    yield open_page
    driver.quit()
    site.close()


def server_publish(edge, channel: str, data) -> dict:
    r = httpx.post(f"{edge.http}/api/publish", headers={"X-API-Key": BROWSER_APP["secret"]}, json={"channel": channel, "data": data},
                   timeout=WAIT)
    assert r.status_code == 200 and "result" in r.json(), r.text
    return r.json()["result"]


def test_connects_with_a_token_and_refreshes_it_through_get_token(page, edge):
    driver = page()
    channel = unique("news:")
    short = sign_jwt({"sub": "ada", "exp": int(time.time()) + 3}, BROWSER_APP["secret"])
    client_id = js_async(driver, """
        window.ada = make("ada", args[2], { token: args[0] });
        const subscription = ada.newSubscription(args[1]);
        subscription.on("publication", (ctx) => note(ctx.data));
        subscription.subscribe();
        const connected = new Promise((resolve) => ada.once("connected", resolve));
        ada.connect();
        const ctx = await connected;
        await ready(subscription);
        return ctx.client;""", short, channel, edge.port)
    assert client_id
    # The first token expires in about 3 s: centrifuge-js asks getToken for a new one and sends `refresh` in time.
    deadline = time.monotonic() + 10
    while page.issued[("connection", "ada")] < 1:
        assert time.monotonic() < deadline, "getToken was not called to refresh the token"
        time.sleep(0.1)
    time.sleep(2.5)
    assert driver.execute_script("return window.ada.state") == "connected"
    assert not any(isinstance(e, str) and e.startswith("ada disconnected") for e in driver.execute_script("return window.log"))
    server_publish(edge, channel, {"after": "refresh"})
    wait_js(driver, "window.log.some((e) => e && e.after === 'refresh')")


def test_subscription_tokens_are_fetched_refreshed_and_required(page, edge):
    driver = page()
    channel = "private-" + unique("docs-")
    js_async(driver, """
        window.ada = make("ada", args[1]);
        let calls = 0;
        const subscription = ada.newSubscription(args[0], {
          // The first subscription token lasts 3 s, later ones 10 minutes.
          getToken: (ctx) => fetchToken(`/centrifuge/sub-token?user=ada&channel=${encodeURIComponent(ctx.channel)}&ttl=${calls++ ? 600 : 3}`),
        });
        subscription.on("publication", (ctx) => note(ctx.data));
        subscription.on("unsubscribed", (ctx) => note("unsubscribed " + ctx.code));
        subscription.subscribe();
        ada.connect();
        await ready(subscription);""", channel, edge.port)
    deadline = time.monotonic() + 10
    while page.issued[("subscription", "ada", channel)] < 2:
        assert time.monotonic() < deadline, "the subscription token was not refreshed"
        time.sleep(0.1)
    time.sleep(2.5)
    assert driver.execute_script("return window.ada.getSubscription(arguments[0]).state", channel) == "subscribed"
    server_publish(edge, channel, {"doc": 1})
    wait_js(driver, "window.log.some((e) => e && e.doc === 1)")
    refusal = js_async(driver, """
        const bob = make("bob", args[1]);
        const subscription = bob.newSubscription(args[0]);
        subscription.on("publication", (ctx) => note("bob got it"));
        subscription.subscribe();
        bob.connect();
        try { await ready(subscription); return "subscribed"; } catch (error) { return error.message; }""", channel, edge.port)
    # Centrifugo's 103 "permission denied": a refusal the client does not retry.
    assert refusal == '{"code":103,"reason":"permission denied"}', refusal
    server_publish(edge, channel, {"doc": 2})
    wait_js(driver, "window.log.some((e) => e && e.doc === 2)")
    assert "bob got it" not in driver.execute_script("return window.log")


def test_recovers_missed_publications_after_a_network_outage(page, edge):
    driver = page()
    proxy = CuttableProxy(edge.port)
    try:
        channel = unique("recover:")
        js_async(driver, """
            window.ada = make("ada", args[1]);
            window.subscription = ada.newSubscription(args[0], { recoverable: true });
            subscription.on("publication", (ctx) => note(ctx.data.n));
            subscription.on("subscribed", (ctx) => note({ wasRecovering: ctx.wasRecovering, recovered: ctx.recovered }));
            subscription.subscribe();
            ada.connect();
            await ready(subscription);""", channel, proxy.port)
        for n in (1, 2):
            server_publish(edge, channel, {"n": n})
        wait_js(driver, "window.log.includes(2)")
        proxy.cut()
        wait_js(driver, "window.ada.state !== 'connected'", message="centrifuge-js to notice the outage")
        for n in (3, 4, 5):
            server_publish(edge, channel, {"n": n})
        proxy.restore()
        wait_js(driver, "window.log.some((e) => e && e.wasRecovering === true)", timeout=20, message="a recovering resubscribe")
        server_publish(edge, channel, {"n": 6})
        wait_js(driver, "window.log.includes(6)")
        log = driver.execute_script("return window.log")
        assert [e for e in log if isinstance(e, int)] == [1, 2, 3, 4, 5, 6], log
        assert {"wasRecovering": True, "recovered": True} in log, log
    finally:
        proxy.close()


def test_presence_presence_stats_and_join_leave(page, edge):
    driver = page()
    channel = unique("room:")
    result = js_async(driver, """
        window.ada = make("ada", args[1]); window.bob = make("bob", args[1]);
        const a = ada.newSubscription(args[0], { joinLeave: true });
        a.on("join", (ctx) => note("join " + ctx.info.user));
        a.on("leave", (ctx) => note("leave " + ctx.info.user));
        a.subscribe(); ada.connect();
        await ready(a);
        const b = bob.newSubscription(args[0], { joinLeave: true });
        b.subscribe(); bob.connect();
        await ready(b);
        await sleep(200);
        const presence = await a.presence();
        const stats = await a.presenceStats();
        return { users: Object.values(presence.clients).map((c) => c.user).sort(), stats };""", channel, edge.port)
    assert result["users"] == ["ada", "bob"], result
    assert result["stats"]["numClients"] == 2 and result["stats"]["numUsers"] == 2, result
    wait_js(driver, "window.log.includes('join bob')")
    driver.execute_script("window.bob.disconnect()")
    wait_js(driver, "window.log.includes('leave bob')")


def test_history_with_limit_since_and_reverse(page, edge):
    driver = page()
    channel = unique("recover:")
    positions = [server_publish(edge, channel, {"n": n}) for n in range(1, 6)]
    result = js_async(driver, """
        window.ada = make("ada", args[1]);
        const subscription = ada.newSubscription(args[0]);
        subscription.subscribe(); ada.connect();
        await ready(subscription);
        const newest = await subscription.history({ limit: 3, reverse: true });
        const since = await subscription.history({ limit: 10, since: { offset: args[2], epoch: args[3] } });
        const position = await subscription.history({ limit: 0 });
        return {
          newest: newest.publications.map((p) => p.data.n),
          since: since.publications.map((p) => p.data.n),
          offset: position.offset, epoch: position.epoch,
        };""", channel, edge.port, positions[1]["offset"], positions[1]["epoch"])
    assert result["newest"] == [5, 4, 3], result
    assert result["since"] == [3, 4, 5], result
    assert result["offset"] == positions[-1]["offset"] and result["epoch"] == positions[-1]["epoch"], result
