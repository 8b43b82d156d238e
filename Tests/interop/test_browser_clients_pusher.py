"""pusher-js 8.6.0 (the unmodified browser builds in `../shared/clients/`) in headless Chromium against the real edge:
public, private (through an auth endpoint), presence, client events, `private-encrypted-` with the encryption build,
signin with `send_to_user`, and reconnecting after a server restart. The server side is the official `pusher` library."""

import json

import pytest

from browser_clients_support import (BROWSER_APP, SiteServer, blank_page, browser_edge_config, chromium, js_async, pusher_api,
                                     pusher_auth_routes, restart_on_same_port, wait_js)
from conftest import PysherClient, next_event, start_server, unique

SETUP = """
window.make = (name, extra = {}) => {
  const client = new Pusher(%(key)r, Object.assign({
    wsHost: "127.0.0.1", wsPort: %(port)d, forceTLS: false, enabledTransports: ["ws"], cluster: "", disableStats: true,
    channelAuthorization: { endpoint: "/pusher/auth", transport: "ajax", params: { user: name } },
    userAuthentication: { endpoint: "/pusher/user-auth", transport: "ajax", params: { user: name } },
  }, extra));
  client.connection.bind("state_change", (s) => note(name + " state " + s.current + " @" + (Date.now() %% 100000)));
  return client;
};
window.connected = (client) => new Promise((resolve) => {
  if (client.connection.state === "connected") return resolve(client.connection.socket_id);
  client.connection.bind("connected", () => resolve(client.connection.socket_id));
});
window.subscribed = (channel) => new Promise((resolve, reject) => {
  channel.bind("pusher:subscription_succeeded", (data) => resolve(data ?? true));
  channel.bind("pusher:subscription_error", (error) => reject(new Error("subscription_error " + JSON.stringify(error))));
});
"""


@pytest.fixture(scope="module")
def edge():
    server = start_server(browser_edge_config())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(edge):
    s = SiteServer()
    pusher_auth_routes(s, edge)
    s.page("/pusher.html", blank_page("pusher-8.6.0.js"))
    s.page("/pusher-encrypted.html", blank_page("pusher-with-encryption-8.6.0.js"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def open_page(driver, site, edge, page="/pusher.html"):
    driver.get(site.url + page)
    wait_js(driver, "typeof Pusher === 'function'")
    driver.execute_script(SETUP % {"key": BROWSER_APP["key"], "port": edge.port})


def test_public_channel_receives_server_triggers_as_objects_and_strings(browser, site, edge):
    open_page(browser, site, edge)
    channel = unique("orders-")
    js_async(browser, """
        window.ada = make("ada");
        const channel = ada.subscribe(args[0]);
        channel.bind("order.created", (data) => note(data));
        await subscribed(channel);""", channel)
    api = pusher_api(edge)
    api.trigger(channel, "order.created", {"id": 1, "total": 9.5})
    api.trigger(channel, "order.created", "plain text")
    wait_js(browser, "window.log.filter((e) => typeof e !== 'string' || !e.includes(' state ')).length >= 2")
    received = [e for e in browser.execute_script("return window.log") if not (isinstance(e, str) and " state " in e)]
    assert received == [{"id": 1, "total": 9.5}, "plain text"], received


def test_private_channel_is_authorized_by_the_auth_endpoint_and_a_refusal_reaches_the_page(browser, site, edge):
    open_page(browser, site, edge)
    channel = "private-" + unique("account-")
    before = len(site.requests)
    js_async(browser, """
        window.ada = make("ada");
        const channel = ada.subscribe(args[0]);
        channel.bind("balance", (data) => note(data));
        await subscribed(channel);""", channel)
    assert ("POST", "/pusher/auth") in site.requests[before:]
    pusher_api(edge).trigger(channel, "balance", {"amount": 42})
    wait_js(browser, "window.log.some((e) => e && e.amount === 42)")
    refused = js_async(browser, """
        const mallory = make("mallory");
        const channel = mallory.subscribe(args[0]);
        try { await subscribed(channel); return "subscribed"; } catch (error) { return String(error.message); }""", channel)
    assert refused.startswith("subscription_error") and "403" in refused, refused


def test_presence_members_and_member_added_and_removed(browser, site, edge):
    open_page(browser, site, edge)
    channel = "presence-" + unique("room-")
    members = js_async(browser, """
        window.ada = make("ada");
        const channel = ada.subscribe(args[0]);
        channel.bind("pusher:member_added", (m) => note("added " + m.id + " " + m.info.name));
        channel.bind("pusher:member_removed", (m) => note("removed " + m.id));
        const members = await subscribed(channel);
        return { count: members.count, me: members.me };""", channel)
    assert members == {"count": 1, "me": {"id": "ada", "info": {"name": "Ada"}}}, members
    bob_view = js_async(browser, """
        window.bob = make("bob");
        const members = await subscribed(bob.subscribe(args[0]));
        const ids = []; members.each((m) => ids.push(m.id));
        return { count: members.count, ids: ids.sort() };""", channel)
    assert bob_view == {"count": 2, "ids": ["ada", "bob"]}
    wait_js(browser, "window.log.includes('added bob Bob')")
    browser.execute_script("window.bob.disconnect()")
    wait_js(browser, "window.log.includes('removed bob')")
    info = pusher_api(edge).users_info(channel)
    assert [u["id"] for u in info["users"]] == ["ada"], info


def test_client_events_reach_the_other_members_and_not_the_sender(browser, site, edge):
    open_page(browser, site, edge)
    channel = "private-" + unique("chat-")
    js_async(browser, """
        window.ada = make("ada"); window.bob = make("bob");
        const a = ada.subscribe(args[0]); const b = bob.subscribe(args[0]);
        a.bind("client-typing", (d) => note("ada got " + d.who));
        b.bind("client-typing", (d, meta) => note("bob got " + d.who + " from " + (meta && meta.user_id)));
        await Promise.all([subscribed(a), subscribed(b)]);
        a.trigger("client-typing", { who: "ada" });""", channel)
    wait_js(browser, "window.log.some((e) => typeof e === 'string' && e.startsWith('bob got ada'))")
    js_async(browser, "await new Promise((r) => setTimeout(r, 300));")
    assert not any(isinstance(e, str) and e.startswith("ada got") for e in browser.execute_script("return window.log"))


def test_private_encrypted_channel_round_trip_with_the_encryption_build(browser, site, edge):
    open_page(browser, site, edge, "/pusher-encrypted.html")
    channel = "private-encrypted-" + unique("vault-")
    js_async(browser, """
        window.ada = make("ada");
        const channel = ada.subscribe(args[0]);
        channel.bind("secret", (data) => note(data));
        await subscribed(channel);""", channel)
    # A client with the app secret but not the encryption key sees what the edge relays: ciphertext only.
    with PysherClient(edge, app=BROWSER_APP) as eavesdropper:
        events = eavesdropper.subscribe(channel, events=("secret",))
        next_event(events, "pusher_internal:subscription_succeeded")
        pusher_api(edge).trigger(channel, "secret", {"pin": "1234"})
        relayed = json.loads(next_event(events, "secret")[1])
    assert set(relayed) == {"nonce", "ciphertext"} and "1234" not in json.dumps(relayed), relayed
    wait_js(browser, "window.log.some((e) => e && e.pin === '1234')")


def test_signin_and_send_to_user_reach_every_connection_of_that_user(browser, site, edge):
    open_page(browser, site, edge)
    js_async(browser, """
        window.ada = make("ada"); window.ada2 = make("ada"); window.bob = make("bob");
        for (const [name, client] of [["ada", ada], ["ada2", ada2], ["bob", bob]]) {
          client.user.bind("notice", (data) => note(name + " " + data.text));
          client.connection.bind("error", (error) => note(name + " error " + JSON.stringify(error)));
          client.signin();
        }
        await Promise.all([ada, ada2, bob].map((c) => c.user.signinDonePromise));
        await new Promise((r) => setTimeout(r, 300));""")
    assert ("POST", "/pusher/user-auth") in site.requests
    # pusher-js subscribes to the user's own channel after signing in: it is told it is in, with no error.
    wait_js(browser, "[ada, ada2, bob].every((c) => c.user.serverToUserChannel.subscribed)")
    assert not [e for e in browser.execute_script("return window.log") if isinstance(e, str) and " error " in e]
    pusher_api(edge).send_to_user("ada", "notice", {"text": "hello ada"})
    wait_js(browser, "window.log.includes('ada hello ada') && window.log.includes('ada2 hello ada')")
    js_async(browser, "await new Promise((r) => setTimeout(r, 300));")
    assert "bob hello ada" not in browser.execute_script("return window.log")


def test_a_signed_in_user_joins_presence_when_the_auth_endpoint_names_no_member(browser, site, edge):
    """pusher-js accepts a presence authorization without `channel_data` once the connection signed in: the member is
    the signed-in user, with the `user_info` its sign-in carried."""
    open_page(browser, site, edge)
    channel = "presence-" + unique("signed-")
    members = js_async(browser, """
        window.ada = make("ada", { channelAuthorization: {
          endpoint: "/pusher/auth", transport: "ajax", params: { user: "ada", member: "signed-in" } } });
        ada.signin();
        await ada.user.signinDonePromise;
        const members = await subscribed(ada.subscribe(args[0]));
        return { count: members.count, me: members.me };""", channel)
    assert members == {"count": 1, "me": {"id": "ada", "info": {"name": "Ada"}}}, members
    info = pusher_api(edge).users_info(channel)
    assert [u["id"] for u in info["users"]] == ["ada"], info


def test_watchlist_events_tell_pusher_js_when_watched_users_come_online_and_go_offline(browser, site, edge):
    ann, bob, carol = unique("ann-"), unique("bob-"), unique("carol-")
    open_page(browser, site, edge)
    js_async(browser, """
        const [ann, bob, carol] = args;
        window.bob = make(bob);
        window.bob.signin();
        await window.bob.user.signinDonePromise;
        window.ann = make(ann, { userAuthentication: {
          endpoint: "/pusher/user-auth", transport: "ajax", params: { user: ann, watchlist: bob + "," + carol } } });
        for (const name of ["online", "offline"]) {
          window.ann.user.watchlist.bind(name, (event) => note("watch " + event.name + " " + event.user_ids.join(",")));
        }
        window.ann.signin();
        await window.ann.user.signinDonePromise;""", ann, bob, carol)
    wait_js(browser, f"window.log.includes('watch online {bob}')", message="the watched user online at sign-in")
    js_async(browser, "window.carol = make(args[0]); window.carol.signin(); await window.carol.user.signinDonePromise;", carol)
    wait_js(browser, f"window.log.includes('watch online {carol}')", message="a watched user coming online")
    browser.execute_script("window.bob.disconnect();")
    wait_js(browser, f"window.log.includes('watch offline {bob}')", message="a watched user going offline")


def test_reconnects_and_resubscribes_after_a_server_restart(browser, site):
    node = start_server(browser_edge_config())
    try:
        local_site = SiteServer()
        pusher_auth_routes(local_site, node)
        local_site.page("/pusher.html", blank_page("pusher-8.6.0.js"))
        open_page(browser, local_site, node)
        public, private = unique("news-"), "private-" + unique("desk-")
        js_async(browser, """
            window.ada = make("ada");
            const a = ada.subscribe(args[0]); const b = ada.subscribe(args[1]);
            a.bind("tick", (d) => note("public " + d.n)); b.bind("tick", (d) => note("private " + d.n));
            await Promise.all([subscribed(a), subscribed(b)]);
            window.firstSocket = ada.connection.socket_id;""", public, private)
        node = restart_on_same_port(node)
        wait_js(browser, "window.ada.connection.state === 'connected' && window.ada.connection.socket_id !== window.firstSocket",
                timeout=25, message="pusher-js to reconnect to the restarted server")
        api = pusher_api(node)

        def both_arrived():
            api.trigger([public, private], "tick", {"n": 2})
            return browser.execute_script("return window.log.includes('public 2') && window.log.includes('private 2')")

        # The private channel is re-authorized through the auth endpoint on the new socket before it gets events.
        wait_js(browser, f"window.ada.channel({json.dumps(private)})?.subscribed === true", timeout=10)
        for _ in range(20):
            if both_arrived():
                break
            js_async(browser, "await new Promise((r) => setTimeout(r, 250));")
        assert browser.execute_script("return window.log.includes('public 2') && window.log.includes('private 2')"), \
            browser.execute_script("return window.log")
        local_site.close()
    finally:
        if node.process.poll() is None:
            node.stop()
