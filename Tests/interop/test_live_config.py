"""Live configuration: channel rules and webhooks changed through the admin API, by SIGHUP, and across a Redis cluster,
taking effect on connections that are already open (no reconnect), with real clients (websockets, pysher).
"""

import json
import shutil
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from websockets.exceptions import ConnectionClosed

from conftest import (ADMIN_TOKEN, CONFIG, MAIN, OTHER, PUSHER, SMALL, WAIT, PusherWS, PysherClient, WSClient, admin_headers, expect_error,
                      next_event, now_ms, pusher_api, rest, start_server, unique, wait_for_event, wait_subscribers, wait_until)
from test_hostile_edge import closed_unread, sse_status, with_server_keys
from test_proxy import Upstream
from test_tls import port_of

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def admin(server, method, path, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{server.http}/api/realtime/apps/{path}", headers=admin_headers(), timeout=WAIT, **kwargs)


def put_rules(server, app, rules) -> dict:
    r = admin(server, "PUT", f"{app['id']}/channel-rules", json={"rules": rules})
    assert r.status_code == 200, r.text
    return r.json()


def publish_frame(client: WSClient, channel: str, data) -> dict | None:
    """Publishes from a JSON-action client (which does not get its own message back) followed by a ping: the error
    frame it gets, or None when the publish went through (the pong comes first)."""
    client.send({"action": "publish", "channel": channel, "data": data})
    client.send({"action": "ping"})
    frame = client.recv()
    if frame["event"] == "error":
        assert client.recv()["event"] == "pong"
        return frame
    assert frame["event"] == "pong", frame
    return None


def test_an_admin_rule_turns_publish_off_and_locks_a_channel_for_open_json_action_connections():
    server = start_server()
    try:
        channel, locked = unique("live:"), unique("vault:")
        with WSClient(server) as client:
            client.subscribed(channel)
            assert publish_frame(client, channel, {"n": 1}) is None
            client.subscribed(locked)
            reply = put_rules(server, MAIN, [{"match": "live:*", "client_publish": False}, {"match": "vault:*", "require_token": True}])
            assert reply["source"] == "admin" and [rule["match"] for rule in reply["rules"]] == ["live:*", "vault:*"]
            # The same connection, without reconnecting: its next publish is refused, a new subscribe needs a token.
            error = publish_frame(client, channel, {"n": 2})
            assert error and error["data"]["code"] == "forbidden", error
            client.send({"action": "subscribe", "channel": unique("vault:")})
            expect_error(client, "unauthorized")
            client.assert_alive()
            # Back to the config's rules: publishing works again on the same connection.
            r = admin(server, "DELETE", f"{MAIN['id']}/channel-rules")
            assert r.status_code == 200 and r.json()["source"] == "config", r.text
            assert "readonly:*" in [rule["match"] for rule in r.json()["rules"]]
            assert publish_frame(client, channel, {"n": 3}) is None
    finally:
        server.stop()


def test_an_admin_rule_reaches_open_pysher_connections_and_survives_a_restart():
    server = start_server()
    channel, locked = unique("private-live-"), unique("lockp-")
    try:
        with PysherClient(server) as alice, PusherWS(server, key=PUSHER["key"]) as bob:
            alice_events = alice.subscribe(channel, events=["marker"])
            bob.subscribed(channel, app=PUSHER)
            wait_subscribers(server, channel, 2, app=PUSHER)
            alice.trigger(channel, "client-typing", {"n": 1})
            bob.recv_until(lambda frame: frame["event"] == "client-typing")
            put_rules(server, PUSHER, [{"match": "private-live-*", "client_publish": False}, {"match": "lockp-*", "require_token": True}])
            alice.trigger(channel, "client-typing", {"n": 2})
            # The refusal names the channel, so pysher hands it to the channel's bindings.
            _, error = next_event(alice_events, "pusher:error")
            error = json.loads(error) if isinstance(error, str) else error
            assert error["code"] == 4300, error
            # bob got nothing of it before a server event sent after it.
            pusher_api(server, PUSHER).trigger(channel, "marker", "m")
            _, skipped = bob.recv_until(lambda frame: frame["event"] == "marker")
            assert not [frame for frame in skipped if frame["event"].startswith("client-")], skipped
            locked_events = alice.subscribe(locked)
            name, _ = next_event(locked_events, "pusher:subscription_error")
            assert name == "pusher:subscription_error"
            assert next_event(alice_events, "marker")[0] == "marker"  # alice's connection is the one it had
        assert server.stop() == 0
        # The same store: the rule is there after a restart, and wins over the config file.
        server = start_server(workdir=server.workdir)
        assert admin(server, "GET", f"{PUSHER['id']}/channel-rules").json()["source"] == "admin"
        with PusherWS(server, key=PUSHER["key"]) as client:
            client.subscribed(channel, app=PUSHER)
            client.send({"event": "client-x", "channel": channel, "data": "{}"})
            frame, _ = client.recv_until(lambda frame: frame["event"] == "pusher:error")
            assert frame["data"]["code"] == 4300, frame
    finally:
        server.stop()


def test_bad_rule_and_webhook_bodies_get_a_400_naming_the_member(server):
    path = f"{MAIN['id']}/channel-rules"
    cases = [
        (b"not json", "JSON"),
        (json.dumps({"rules": [{"match": "a b"}]}).encode(), "rules[0].match"),
        (json.dumps({"rules": [{"match": "a", "client_publish": "no"}]}).encode(), "rules[0].client_publish"),
        (json.dumps({"rules": [{"match": "a", "history_size": -1}]}).encode(), "rules[0].history_size"),
        (json.dumps({"rules": [{"match": "a", "kit": "calls"}]}).encode(), "config file"),
        (json.dumps({"rules": [{"match": f"c{i}"} for i in range(101)]}).encode(), "at most 100"),
        (json.dumps({"rules": {"match": "a"}}).encode(), "array"),
        (json.dumps({"rulez": []}).encode(), "unknown field rulez"),
        (b"[" * 5000 + b"]" * 5000, "JSON object"),
        (b'{"rules": []' + b" " * (70 * 1024) + b"}", "at most"),
    ]
    for body, message in cases:
        r = admin(server, "PUT", path, content=body)
        assert r.status_code == 400, (body[:60], r.text)
        assert message in r.json()["error"]["message"], (message, r.text)
    for body, message in [({"url": "ftp://x"}, "webhooks.url"), ({"url": "https://x.example.com", "events": ["nope"]}, "events[0]"),
                          ({"url": "https://x.example.com", "secret": "s"}, "unknown field secret")]:
        r = admin(server, "PUT", f"{MAIN['id']}/webhooks", json=body)
        assert r.status_code == 400 and message in r.json()["error"]["message"], r.text
    assert admin(server, "PUT", "9999/channel-rules", json={"rules": []}).status_code == 404
    assert httpx.put(f"{server.http}/api/realtime/apps/{path}", json={"rules": []}, timeout=WAIT).status_code == 401
    # Nothing changed.
    assert admin(server, "GET", path).json()["source"] == "config"


def test_webhooks_set_through_the_admin_api_are_shown_and_can_be_turned_off(server):
    path = f"{PUSHER['id']}/webhooks"
    try:
        r = admin(server, "PUT", path, json={"url": "http://127.0.0.1:9/hooks", "events": ["member_added"]})
        assert r.status_code == 200, r.text
        assert r.json()["webhooks"] == {"url": "http://127.0.0.1:9/hooks", "events": ["member_added"]} and r.json()["source"] == "admin"
        r = admin(server, "PUT", path, json={"url": None})
        assert r.json()["webhooks"] is None and r.json()["source"] == "admin"
    finally:
        assert admin(server, "DELETE", path).json()["source"] == "config"


def hup_config(rule: str) -> str:
    anchor = 'match = "nopresence:*"\npresence = false\n'
    assert anchor in CONFIG
    return CONFIG.replace(anchor, anchor + "\n[[apps.channels]]\n" + rule + "\n")


def metric(server, name: str) -> float:
    text = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_sighup_applies_an_edited_rule_to_open_connections_and_a_broken_file_keeps_the_old_rules():
    server = start_server(hup_config('match = "hup:*"\nclient_publish = true'))
    config = server.workdir / "switchboard.toml"
    channel = unique("hup:")
    try:
        with WSClient(server) as client:
            client.subscribed(channel)
            assert publish_frame(client, channel, {"n": 1}) is None
            config.write_text(hup_config('match = "hup:*"\nclient_publish = false').replace("{store}", str(server.workdir / "switchboard.sqlite")))
            server.process.send_signal(signal.SIGHUP)
            wait_until(lambda: "config reloaded" in server.log(), message="the reload")
            assert "applies only after a restart" not in server.log()  # `--port` overrides the file's port: not an edit
            error = publish_frame(client, channel, {"n": 2})
            assert error and error["data"]["code"] == "forbidden", error
            assert metric(server, "switchboard_config_reloads_total") == 1
            # A broken file: logged, counted, and nothing changes; the server keeps serving.
            config.write_text(config.read_text().replace("client_publish = false", 'client_publish = "sometimes"'))
            server.process.send_signal(signal.SIGHUP)
            wait_until(lambda: "was not reloaded" in server.log(), message="the refused reload")
            assert "client_publish: must be true or false" in server.log()
            assert metric(server, "switchboard_config_reload_failures_total") == 1
            error = publish_frame(client, channel, {"n": 3})
            assert error and error["data"]["code"] == "forbidden", error
            with WSClient(server) as other:
                other.assert_alive()
            assert server.process.poll() is None
    finally:
        server.stop()


def test_sighup_warns_about_keys_that_need_a_restart():
    server = start_server()
    config = server.workdir / "switchboard.toml"
    try:
        # Every [limits] key applies live; the admin lockout's allowance is read once at start, so [admin] is named.
        config.write_text(config.read_text().replace("sse_keepalive_seconds = 1", "sse_keepalive_seconds = 2")
                          .replace("presence_timeout_seconds = 3", "presence_timeout_seconds = 4")
                          .replace("auth_failures_per_minute = 1000", "auth_failures_per_minute = 999"))
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "applies only after a restart" in server.log(), message="the restart warning")
        warnings = [line for line in server.log().splitlines() if "applies only after a restart" in line]
        assert len(warnings) == 1 and "section=admin" in warnings[0], warnings
    finally:
        server.stop()


def test_sighup_rotates_the_admin_token_and_opens_metrics_from_the_next_request():
    """A leaked admin token is rotated with a SIGHUP: the old one is refused from the next request, without a restart
    that would drop every client; `public_metrics` follows the same reload."""
    server = start_server()
    apps = f"{server.http}/api/realtime/apps"
    rotated = "a-rotated-admin-token-0123456789"
    try:
        assert httpx.get(apps, headers=admin_headers(), timeout=WAIT).status_code == 200
        assert httpx.get(f"{server.http}/metrics", timeout=WAIT).status_code == 401
        with WSClient(server) as client:
            reload_with(server, CONFIG.replace(f'token = "{ADMIN_TOKEN}"', f'token = "{rotated}"\npublic_metrics = true'))
            old = httpx.get(apps, headers=admin_headers(), timeout=WAIT)
            assert old.status_code == 401 and old.json()["error"]["code"] == "unauthorized", old.text
            assert httpx.get(apps, headers={"Authorization": f"Bearer {rotated}"}, timeout=WAIT).status_code == 200
            assert httpx.get(f"{server.http}/metrics", timeout=WAIT).status_code == 200
            client.assert_alive()
        assert "applies only after a restart" not in server.log()
    finally:
        server.stop()


def test_sighup_applies_a_new_trusted_proxy_list_to_the_next_request():
    """Adding or removing a proxy in front of the edge needs no restart: the next request's client is resolved with the
    reloaded `trusted_proxies`, and a peer taken off the list can no longer name the client."""
    server = start_server()

    def client_of_a_refusal(forwarded_for: str) -> str:
        since, key = now_ms(), unique("pk_unknown_")
        assert sse_status(server, forwarded_for=forwarded_for, key=key) == 404
        return wait_for_event(server, "unknown_key", since, contains=key)["clientIp"]

    try:
        assert client_of_a_refusal("198.51.100.7") == "127.0.0.1"
        reload_with(server, with_server_keys(CONFIG, 'trusted_proxies = ["127.0.0.1/32"]'))
        assert client_of_a_refusal("198.51.100.8") == "198.51.100.8"
        reload_with(server, CONFIG)
        assert client_of_a_refusal("198.51.100.9") == "127.0.0.1"
        assert "applies only after a restart" not in server.log()
    finally:
        server.stop()


def test_sighup_points_the_proxy_at_a_new_upstream_from_the_next_request():
    """Moving the app behind the edge to another address needs no restart (which would drop every realtime client):
    the next request no route claims goes to the reloaded `[proxy] upstream`, and with none it is a 404 again."""
    first, second = Upstream("first"), Upstream("second")
    server = start_server(CONFIG + f'\n[proxy]\nupstream = "{first.url}"\n')
    try:
        assert httpx.get(f"{server.http}/{unique('page')}", timeout=WAIT).json()["upstream"] == "first"
        with WSClient(server) as client:
            reload_with(server, CONFIG + f'\n[proxy]\nupstream = "{second.url}"\n')
            assert httpx.get(f"{server.http}/{unique('page')}", timeout=WAIT).json()["upstream"] == "second"
            reload_with(server, CONFIG)
            assert httpx.get(f"{server.http}/{unique('page')}", timeout=WAIT).status_code == 404
            client.assert_alive()
        assert "applies only after a restart" not in server.log()
    finally:
        server.stop()
        first.close()
        second.close()


def test_sighup_counts_loopback_sockets_once_uncounted_addresses_is_emptied():
    """`uncounted_addresses` follows a reload for new connections. Sockets accepted while their address was uncounted
    took no place, so they give none back; the next ones count, and past `max_sockets_per_ip` one is closed unread."""
    server = start_server(limits_config("max_sockets_per_ip = 2"))
    port = port_of(server.http)

    def served_socket() -> socket.socket:
        """A keep-alive connection the server has accepted and answered once."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        return sock

    held = []
    try:
        held += [served_socket() for _ in range(4)]  # loopback is uncounted by default
        reload_with(server, limits_config("max_sockets_per_ip = 2\nuncounted_addresses = []"))
        held += [served_socket() for _ in range(2)]
        assert closed_unread(port)
        for sock in held[:4]:
            sock.close()
        time.sleep(0.5)  # time for the server to see them closed
        assert closed_unread(port)  # the uncounted sockets freed no place
        reload_with(server, limits_config("max_sockets_per_ip = 2"))
        held.append(served_socket())
    finally:
        for sock in held:
            sock.close()
        server.stop()


def limits_config(limits: str, alerts: str = "") -> str:
    """The test config with `limits` in place of its `[limits]` keys, and `alerts` (`[[alerts]]` tables) at the end."""
    anchor = "sse_keepalive_seconds = 1\npresence_timeout_seconds = 3\nnew_connections_per_ip_per_second = 1000\n"
    assert anchor in CONFIG
    return CONFIG.replace(anchor, "presence_timeout_seconds = 3\nnew_connections_per_ip_per_second = 1000\n" + limits + "\n") + alerts


def reload_with(server, text: str) -> None:
    """Writes `text` as the server's config, sends SIGHUP and waits until the server logged that it applied it."""
    done = server.log().count("config reloaded")
    (server.workdir / "switchboard.toml").write_text(text.replace("{store}", str(server.workdir / "switchboard.sqlite")))
    server.process.send_signal(signal.SIGHUP)
    wait_until(lambda: server.log().count("config reloaded") > done, message="the reload")


def pings(client: WSClient, count: int) -> list[str]:
    """Sends `count` pings at once; the replies in order (`pong`, or an error's code), up to the first error (the
    refusals after it may close the connection)."""
    for _ in range(count):
        client.send({"action": "ping"})
    replies = []
    while len(replies) < count and "pong" == (replies[-1] if replies else "pong"):
        reply = client.recv()
        replies.append(reply["data"]["code"] if reply["event"] == "error" else reply["event"])
    return replies


def test_sighup_lowers_the_command_rate_and_max_refusals_of_connections_already_open():
    generous = "sse_keepalive_seconds = 30\ncommands_per_second = 1000\ncommand_burst = 1000\nmax_refusals = 20\n"
    server = start_server(limits_config(generous))
    try:
        with WSClient(server) as client, PusherWS(server, key=PUSHER["key"]) as pusher:
            assert pings(client, 30) == ["pong"] * 30
            for _ in range(3):  # three refused frames, far below max_refusals = 20
                pusher.send("not json")
                assert pusher.recv()["event"] == "pusher:error"
            pusher.assert_alive()
            reload_with(server, limits_config("sse_keepalive_seconds = 30\ncommands_per_second = 1\ncommand_burst = 2\nmax_refusals = 1\n"))
            assert "applies only after a restart" not in server.log()
            # The same JSON-action connection: a burst of 2 now, then `rate_limited`.
            assert pings(client, 5) == ["pong", "pong", "rate_limited"]
            # The same Pusher connection: one more refusal is allowed, the next closes it as over capacity.
            pusher.send("not json")
            assert pusher.recv()["event"] == "pusher:error"
            pusher.send("not json")
            assert pusher.close_code() == 4100
        # A connection opened after the reload gets the new limits from its start.
        with WSClient(server) as late:
            assert pings(late, 5) == ["pong", "pong", "rate_limited"]
    finally:
        server.stop()


def first_keepalive(server, within: float) -> float | None:
    """Opens an SSE stream; the seconds until its first `: keepalive` comment, or None when none came `within`."""
    started = time.monotonic()
    params = {"key": MAIN["key"], "channel": unique("ka:")}
    with httpx.stream("GET", f"{server.http}/sse", params=params, timeout=httpx.Timeout(WAIT, read=within)) as response:
        assert response.status_code == 200
        try:
            for line in response.iter_lines():
                if line.startswith(": keepalive"):
                    return time.monotonic() - started
                if time.monotonic() - started > within:
                    return None
        except httpx.ReadTimeout:
            return None
    return None


def test_sighup_lowers_the_presence_timeout_of_joins_already_made():
    server = start_server(CONFIG.replace("presence_timeout_seconds = 3", "presence_timeout_seconds = 600"))
    try:
        channel = unique("expire:")
        with WSClient(server) as watcher:
            watcher.subscribed(channel)
            r = rest(server, "POST", "presence/join", json={"channel": channel, "userId": "ghost"})
            assert r.json()["changed"], r.text
            watcher.recv_until(lambda f: f["event"] == "presence.join", timeout=WAIT)
            reload_with(server, server.workdir.joinpath("switchboard.toml").read_text()
                        .replace("presence_timeout_seconds = 600", "presence_timeout_seconds = 1"))
            # Under the old timeout (600 s) the join would stay; the janitor sweeps every 5 s.
            leave, _ = watcher.recv_until(lambda f: f["event"] == "presence.leave", timeout=12)
            assert leave["userId"] == "ghost"
    finally:
        server.stop()


def test_sighup_changes_the_keepalive_of_sse_streams_that_start_after_it():
    server = start_server(limits_config("sse_keepalive_seconds = 30\n"))
    try:
        assert first_keepalive(server, 1.2) is None
        reload_with(server, limits_config("sse_keepalive_seconds = 1\n"))
        assert first_keepalive(server, 3.0) is not None
    finally:
        server.stop()


def test_sighup_replaces_the_config_alert_rules_and_keeps_the_api_rules():
    from test_alerts import Receiver

    receiver = Receiver()

    def rule(name: str, threshold: int) -> str:
        return (f'\n[[alerts]]\nname = "{name}"\nkind = "connections"\nthreshold = {threshold}\n'
                f'url = "{receiver.url("/" + name)}"\nsecret = "secret-of-{name}"\n')

    def listed() -> list[str]:
        r = httpx.get(f"{server.http}/api/realtime/alerts", headers=admin_headers(), timeout=WAIT)
        assert r.status_code == 200, r.text
        return [rule["name"] for rule in r.json()["rules"]]

    def received(path: str) -> list[dict]:
        with receiver.lock:
            return [json.loads(body)["alert"] for p, _, _, body in receiver.received if p == path]

    server = start_server(limits_config("", rule("quiet", 1000)))
    try:
        made = httpx.post(f"{server.http}/api/realtime/alerts", headers=admin_headers(), timeout=WAIT,
                          json={"name": "from-api", "kind": "connections", "threshold": 1000, "url": receiver.url("/api"),
                                "secret": "secret-of-from-api-0123"})
        assert made.status_code in (200, 201), made.text
        assert listed() == ["quiet", "from-api"]
        reload_with(server, limits_config("", rule("busy", 0)))
        assert listed() == ["busy", "from-api"]
        with WSClient(server):
            firing = wait_until(lambda: received("/busy"), timeout=5.0, message="the reloaded rule's notification")
        assert firing[0]["state"] == "firing" and firing[0]["rule"] == "busy", firing
        assert received("/quiet") == [] and received("/api") == []
    finally:
        server.stop()
        receiver.close()


REDIS = shutil.which("redis-server")


@pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (scripts/test installs it)")
def test_a_rule_changed_on_node_a_applies_on_node_b_within_two_seconds():
    from test_cluster import RedisProcess, cluster_config, wait_engine_ready

    redis = RedisProcess()
    prefix = unique("sblive")
    nodes = []
    try:
        nodes = [start_server(cluster_config(redis.port, prefix)) for _ in range(2)]
        for node in nodes:
            wait_engine_ready(node)
        a, b = nodes
        channel = unique("live:")
        with WSClient(b) as client:
            client.subscribed(channel)
            assert publish_frame(client, channel, {"n": 1}) is None
            started = time.monotonic()
            put_rules(a, MAIN, [{"match": "live:*", "client_publish": False}])
            wait_until(lambda: admin(b, "GET", f"{MAIN['id']}/channel-rules").json()["source"] == "admin", timeout=2.0,
                       message="the rule on node B")
            assert time.monotonic() - started < 2.5
            error = publish_frame(client, channel, {"n": 2})
            assert error and error["data"]["code"] == "forbidden", error
        # An app disabled on node A: node B ends its open connection and refuses new ones.
        with WSClient(b, key=OTHER["key"]) as other_client:
            r = httpx.patch(f"{a.http}/api/realtime/apps/{OTHER['id']}", json={"enabled": False}, headers=admin_headers(), timeout=WAIT)
            assert r.status_code == 200, r.text
            frame = other_client.recv(timeout=2.5)
            assert frame["event"] == "error" and frame["data"]["code"] == "forbidden", frame
            with pytest.raises(ConnectionClosed):
                other_client.recv()
        assert admin(b, "GET", OTHER["id"]).json()["app"]["enabled"] is False
        # A key revoked on node A stops verifying on node B (it holds the same secret, from the config).
        fresh_on_b = admin(b, "POST", f"{SMALL['id']}/keys")
        assert fresh_on_b.status_code == 201, fresh_on_b.text
        assert admin(a, "POST", f"{SMALL['id']}/keys").status_code == 201  # A keeps an active key too
        seeded = [key for key in admin(a, "GET", f"{SMALL['id']}/keys").json()["keys"] if key["preview"].endswith(SMALL["secret"][-4:])]
        assert admin(a, "DELETE", f"{SMALL['id']}/keys/{seeded[0]['id']}").status_code == 200
        wait_until(lambda: rest(b, "GET", "channels", app=SMALL).status_code == 401, timeout=2.0, message="the revoked key on node B")
        assert rest(b, "GET", "channels", app={**SMALL, "secret": fresh_on_b.json()["secret"]}).status_code == 200
        # A node that starts later reads the rules from Redis, even with an empty store of its own.
        late = start_server(cluster_config(redis.port, prefix))
        nodes.append(late)
        wait_engine_ready(late)
        wait_until(lambda: admin(late, "GET", f"{MAIN['id']}/channel-rules").json()["source"] == "admin", timeout=5.0,
                   message="the rule on the late node")
        assert admin(late, "GET", OTHER["id"]).json()["app"]["enabled"] is False
        # Back to the config, everywhere.
        assert admin(b, "DELETE", f"{MAIN['id']}/channel-rules").status_code == 200
        wait_until(lambda: admin(a, "GET", f"{MAIN['id']}/channel-rules").json()["source"] == "config", timeout=2.0,
                   message="the config's rules on node A")
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.stop(signal.SIGKILL)
        redis.kill()


def test_the_console_edits_the_channel_rules_of_the_selected_app():
    from test_console import chromium, sign_in, UI_WAIT

    server = start_server()
    driver = chromium()
    try:
        sign_in(driver, server)
        WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_element(By.ID, "console").is_displayed())
        # The app list arrives after the console shows: wait for the app's entry rather than race it.
        WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.app-select[data-app="{MAIN["id"]}"]'))[0].click()
        rows = WebDriverWait(driver, UI_WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rules-list .rule-row"))
        matches = [row.find_element(By.CSS_SELECTOR, ".rule-match").get_attribute("value") for row in rows]
        assert matches == ["nohistory:*", "readonly:*", "locked:*", "nopresence:*"], matches
        assert driver.find_element(By.ID, "rules-source").text == "Source: the config file."
        # Delete the first rule, lock a new one behind tokens with publishing off, and save.
        rows[0].find_element(By.CSS_SELECTOR, ".rule-delete").click()
        driver.find_element(By.ID, "rule-add").click()
        new = driver.find_elements(By.CSS_SELECTOR, "#rules-list .rule-row")[-1]
        new.find_element(By.CSS_SELECTOR, ".rule-match").send_keys("vip:*")
        new.find_element(By.CSS_SELECTOR, ".rule-publish").click()
        new.find_element(By.CSS_SELECTOR, ".rule-token").click()
        new.find_element(By.CSS_SELECTOR, ".rule-history").send_keys("25")
        driver.find_element(By.ID, "rules-save").click()
        WebDriverWait(driver, UI_WAIT).until(lambda d: "Saved" in d.find_element(By.ID, "rules-status").text)
        stored = admin(server, "GET", f"{MAIN['id']}/channel-rules").json()
        assert stored["source"] == "admin"
        assert stored["rules"][-1] == {"match": "vip:*", "client_publish": False, "require_token": True, "presence": True, "history_size": 25}
        assert [rule["match"] for rule in stored["rules"]] == ["readonly:*", "locked:*", "nopresence:*", "vip:*"]
        with WSClient(server) as client:
            client.send({"action": "subscribe", "channel": unique("vip:")})
            expect_error(client, "unauthorized")
        # A bad rule is refused with the server's message, and nothing is stored.
        driver.find_element(By.ID, "rule-add").click()
        driver.find_elements(By.CSS_SELECTOR, "#rules-list .rule-row")[-1].find_element(By.CSS_SELECTOR, ".rule-match").send_keys("bad name")
        driver.find_element(By.ID, "rules-save").click()
        WebDriverWait(driver, UI_WAIT).until(lambda d: "Not saved" in d.find_element(By.ID, "rules-status").text)
        assert "rules[4].match" in driver.find_element(By.ID, "rules-status").text
        driver.find_elements(By.CSS_SELECTOR, "#rules-list .rule-row")[-1].find_element(By.CSS_SELECTOR, ".rule-delete").click()
        driver.find_element(By.ID, "rules-save").click()
        WebDriverWait(driver, UI_WAIT).until(lambda d: "Saved" in d.find_element(By.ID, "rules-status").text)
        # Webhooks: a URL and one event.
        driver.find_element(By.ID, "webhook-url").send_keys("https://hooks.example.com/switchboard")
        driver.find_element(By.CSS_SELECTOR, '#webhook-events .webhook-event[value="member_added"]').click()
        driver.find_element(By.ID, "webhook-save").click()
        WebDriverWait(driver, UI_WAIT).until(lambda d: "Saved" in d.find_element(By.ID, "webhook-status").text)
        hooks = admin(server, "GET", f"{MAIN['id']}/webhooks").json()
        assert hooks["webhooks"] == {"url": "https://hooks.example.com/switchboard", "events": ["member_added"]}
        section = driver.find_element(By.ID, "channel-rules")
        driver.execute_script("arguments[0].scrollIntoView()", section)
        IMAGES.mkdir(parents=True, exist_ok=True)
        assert section.screenshot(str(IMAGES / "console-channel-rules.png"))
    finally:
        driver.quit()
        server.stop()
