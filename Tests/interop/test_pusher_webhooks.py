"""Pusher webhooks received on a local HTTP server and checked with the official library's `validate_webhook`.

The server under test gets its own config: one app whose webhooks go to a healthy endpoint, one whose endpoint
fails twice before it accepts (retries), one whose endpoint hangs and one whose endpoint is not listening (both
must cost realtime delivery nothing).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import CONFIG, WAIT, PusherWS, free_port, pusher_api, start_server, unique, wait_until

pytestmark = pytest.mark.timeout(60)

HOOKED = {"id": "2001", "key": "pk_hook_main", "secret": "sk_hook_main_0123456789abcdef0123456789"}
FLAKY = {"id": "2002", "key": "pk_hook_flaky", "secret": "sk_hook_flaky_0123456789abcdef012345678"}
SLOW = {"id": "2003", "key": "pk_hook_slow", "secret": "sk_hook_slow_0123456789abcdef0123456789"}
DEAD = {"id": "2004", "key": "pk_hook_dead", "secret": "sk_hook_dead_0123456789abcdef0123456789"}


class Receiver:
    """A webhook endpoint: `/ok` accepts, `/flaky` fails twice then accepts, `/slow` hangs before answering."""

    def __init__(self):
        self.received = []  # (path, headers, body)
        self.flaky_failures = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    receiver.received.append((self.path, dict(self.headers), body))
                    status = 200
                    if self.path == "/flaky" and receiver.flaky_failures < 2:
                        receiver.flaky_failures += 1
                        status = 500
                if self.path == "/slow":
                    receiver.release.wait(20)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.http.shutdown()
        self.http.server_close()

    def events(self, app, path="/ok") -> list:
        """Every event delivered to `path` so far whose batch validates with the app's secret."""
        api = pusher_api_for(app)
        with self.lock:
            batches = [(headers, body) for p, headers, body in self.received if p == path]
        events = []
        for headers, body in batches:
            validated = api.validate_webhook(headers.get("X-Pusher-Key"), headers.get("X-Pusher-Signature"), body)
            assert validated is not None, f"webhook did not validate: {headers} {body}"
            events.extend(validated["events"])
        return events

    def wait_for(self, app, predicate, path="/ok", timeout: float = WAIT) -> dict:
        return wait_until(lambda: next((e for e in self.events(app, path) if predicate(e)), None), timeout,
                          message=f"a webhook on {path}")


def pusher_api_for(app):
    import pusher

    return pusher.Pusher(app_id=app["id"], key=app["key"], secret=app["secret"], host="127.0.0.1", port=1, ssl=False)


@pytest.fixture(scope="module")
def hooks():
    receiver = Receiver()
    dead_port = free_port()
    apps = ""
    for app, url, events in [
        (HOOKED, f"http://127.0.0.1:{receiver.port}/ok",
         '["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count"]'),
        (FLAKY, f"http://127.0.0.1:{receiver.port}/flaky", '["channel_occupied"]'),
        (SLOW, f"http://127.0.0.1:{receiver.port}/slow", '["channel_occupied", "channel_vacated"]'),
        (DEAD, f"http://127.0.0.1:{dead_port}/nobody", '["channel_occupied", "channel_vacated"]'),
    ]:
        apps += f"""
[[apps]]
id = "{app['id']}"
key = "{app['key']}"
secret = "{app['secret']}"
plan = "enterprise"

[apps.webhooks]
url = "{url}"
events = {events}
"""
    server = start_server(CONFIG + apps)
    yield server, receiver
    receiver.close()
    assert server.stop() == 0, server.log()[-4000:]


def test_channel_occupied_and_vacated(hooks):
    server, receiver = hooks
    channel = unique("hooked-")
    with PusherWS(server, key=HOOKED["key"]) as client:
        client.subscribed(channel, app=HOOKED)
        receiver.wait_for(HOOKED, lambda e: e == {"name": "channel_occupied", "channel": channel})
    receiver.wait_for(HOOKED, lambda e: e == {"name": "channel_vacated", "channel": channel})


def test_batches_are_signed_with_key_and_time(hooks):
    server, receiver = hooks
    channel = unique("hooked-signed-")
    with PusherWS(server, key=HOOKED["key"]) as client:
        client.subscribed(channel, app=HOOKED)
        receiver.wait_for(HOOKED, lambda e: e.get("channel") == channel)
    with receiver.lock:
        path, headers, body = next(r for r in receiver.received if channel in r[2])
    assert headers["X-Pusher-Key"] == HOOKED["key"]
    assert headers["Content-Type"] == "application/json"
    batch = json.loads(body)
    assert abs(batch["time_ms"] - time.time() * 1000) < 60_000
    # A tampered body or another app's secret does not validate.
    assert pusher_api_for(HOOKED).validate_webhook(HOOKED["key"], headers["X-Pusher-Signature"], body + " ") is None
    assert pusher_api_for(FLAKY).validate_webhook(HOOKED["key"], headers["X-Pusher-Signature"], body) is None


def test_member_added_and_removed(hooks):
    server, receiver = hooks
    channel = unique("presence-hooked-")
    with PusherWS(server, key=HOOKED["key"]) as client:
        client.subscribed(channel, app=HOOKED, channel_data={"user_id": "w1"})
        receiver.wait_for(HOOKED, lambda e: e == {"name": "member_added", "channel": channel, "user_id": "w1"})
        client.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})
        receiver.wait_for(HOOKED, lambda e: e == {"name": "member_removed", "channel": channel, "user_id": "w1"})


def test_a_member_back_within_three_seconds_makes_no_webhooks_and_one_who_stays_away_is_removed_after_them(hooks):
    """Pusher holds `member_removed` back 3 s: a page reload (leave, then join again) sends neither event."""
    server, receiver = hooks
    channel = unique("presence-reload-")

    def of_user():
        return [e["name"] for e in receiver.events(HOOKED) if e.get("channel") == channel and e.get("user_id") == "reload"]

    with PusherWS(server, key=HOOKED["key"]) as first:
        first.subscribed(channel, app=HOOKED, channel_data={"user_id": "reload"})
        wait_until(lambda: of_user() == ["member_added"], message="member_added")
    left = time.monotonic()
    with PusherWS(server, key=HOOKED["key"]) as again:
        again.subscribed(channel, app=HOOKED, channel_data={"user_id": "reload"})
        assert time.monotonic() - left < 2
        time.sleep(3.5)  # past the delay: a removal that was not cancelled would have gone out by now
        assert of_user() == ["member_added"], of_user()
    left = time.monotonic()
    wait_until(lambda: of_user() == ["member_added", "member_removed"], timeout=WAIT + 3, message="member_removed")
    assert time.monotonic() - left >= 2.5  # held back, not sent at once


def test_client_event(hooks):
    server, receiver = hooks
    channel = unique("private-hooked-")
    with PusherWS(server, key=HOOKED["key"]) as sender, PusherWS(server, key=HOOKED["key"]) as other:
        sender.subscribed(channel, app=HOOKED)
        other.subscribed(channel, app=HOOKED)
        sender.send({"event": "client-ping", "channel": channel, "data": {"at": 1}})
        event = receiver.wait_for(HOOKED, lambda e: e.get("name") == "client_event" and e.get("channel") == channel)
        assert json.loads(event.pop("data")) == {"at": 1}
        assert event == {"name": "client_event", "channel": channel, "event": "client-ping", "socket_id": sender.socket_id}


def test_cache_miss_and_subscription_count(hooks):
    server, receiver = hooks
    channel = unique("cache-hooked-")
    with PusherWS(server, key=HOOKED["key"]) as first, PusherWS(server, key=HOOKED["key"]) as second:
        first.subscribed(channel, app=HOOKED)
        receiver.wait_for(HOOKED, lambda e: e == {"name": "cache_miss", "channel": channel})
        second.subscribed(channel, app=HOOKED)
        receiver.wait_for(HOOKED, lambda e: e == {"name": "subscription_count", "channel": channel, "subscription_count": 2})


def test_a_failing_endpoint_is_retried_until_it_accepts(hooks):
    server, receiver = hooks
    channel = unique("flaky-")

    def attempts():
        with receiver.lock:
            return [r for r in receiver.received if r[0] == "/flaky" and channel in r[2]]

    with PusherWS(server, key=FLAKY["key"]) as client:
        client.subscribed(channel, app=FLAKY)
        # Two attempts are refused with 500; the third, after backing off, is accepted.
        wait_until(lambda: len(attempts()) >= 3, timeout=10, message="three attempts")
    assert receiver.events(FLAKY, path="/flaky")[-1] == {"name": "channel_occupied", "channel": channel}
    time.sleep(1.5)  # longer than the backoff so far: an accepted batch is not sent again
    assert len(attempts()) == 3
    # A retry is the same batch: `time_ms` says when it was made, so a receiver can tell a late one.
    assert len({json.loads(body)["time_ms"] for _, _, body in attempts()}) == 1


@pytest.mark.parametrize("app", [SLOW, DEAD], ids=["hanging-endpoint", "dead-endpoint"])
def test_a_slow_or_dead_endpoint_costs_no_delivery_latency(hooks, app):
    server, receiver = hooks
    api = pusher_api(server, app)
    worst = 0.0
    with PusherWS(server, key=app["key"]) as client:
        for index in range(20):
            channel = unique("latency-")
            client.subscribed(channel, app=app)  # each subscribe queues a webhook the endpoint never takes
            started = time.monotonic()
            api.trigger(channel, "tick", str(index))
            frame = client.recv()
            worst = max(worst, time.monotonic() - started)
            assert frame["event"] == "tick" and frame["data"] == str(index), frame
            client.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})
    assert worst < 0.5, f"a trigger took {worst:.3f}s to arrive"
