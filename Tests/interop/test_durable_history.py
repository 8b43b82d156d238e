"""Durable history with the memory engine: history saved to the SQLite store survives a restart.

Each test runs its own servers on one work directory (so one store file): clients note where they were,
the server is stopped (SIGTERM, or SIGKILL), a new one starts on the same store, and the clients resume
with their protocol's own position: JSON-action `lastEventId`, centrifuge-python's saved stream position,
SSE `Last-Event-ID`. They must get exactly what they missed, in order, in the same epoch.
"""

import asyncio
import json
import signal
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from centrifuge import Client, StreamPosition

from conftest import (
    ADMIN_TOKEN,
    MAIN,
    WAIT,
    SSEStream,
    WSClient,
    assert_next_message_is_marker,
    publish,
    rest,
    sign_jwt,
    start_server,
    unique,
    wait_until,
)
from test_jwt import Events, SubEvents, get, nothing

pytestmark = pytest.mark.timeout(120)


def config(durable: bool = True, flush_ms: int = 50) -> str:
    return f"""
default_app = "{MAIN['id']}"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"
durable_history = {"true" if durable else "false"}
history_flush_ms = {flush_ms}

[admin]
token = "{ADMIN_TOKEN}"

[limits]
sse_keepalive_seconds = 1

[[apps]]
id = "{MAIN['id']}"
key = "{MAIN['key']}"
secret = "{MAIN['secret']}"
plan = "enterprise"
client_events = true

[[apps.channels]]
match = "nohistory:*"
history_size = 0

[[apps.channels]]
match = "hist:*"
history_size = 100
force_recovery = true
"""


class Restarts:
    """Servers started one after another on one work directory, so they share the store file."""

    def __init__(self, durable: bool = True, flush_ms: int = 50):
        self.workdir = Path(tempfile.mkdtemp(prefix="switchboard-durable-"))
        self.text = config(durable, flush_ms)
        self.current = None

    def start(self):
        self.current = start_server(self.text, self.workdir)
        return self.current

    def stop(self, sig=signal.SIGTERM) -> int:
        server, self.current = self.current, None
        return server.stop(sig)

    def restart(self):
        code = self.stop()
        assert code == 0, f"server exited with {code} on SIGTERM"
        return self.start()

    def rows(self, table: str, channel: str) -> int:
        db = sqlite3.connect(self.workdir / "switchboard.sqlite")
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table} WHERE channel = ?", (channel,)).fetchone()[0]
        finally:
            db.close()

    def close(self):
        if self.current is not None and self.current.process.poll() is None:
            self.current.stop(signal.SIGKILL)


@pytest.fixture
def restarts():
    made = []

    def make(durable: bool = True, flush_ms: int = 50) -> Restarts:
        r = Restarts(durable, flush_ms)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def messages(client: WSClient, n: int) -> list:
    frames = [client.recv() for _ in range(n)]
    assert all(f["event"] == "realtime.message" for f in frames), frames
    return frames


def test_json_action_client_resumes_with_last_event_id_after_a_restart(restarts):
    r = restarts()
    server = r.start()
    channel = unique("hist:ja")
    with WSClient(server) as client:
        assert client.subscribed(channel).get("seq") is None
        for n in range(1, 6):
            assert publish(server, channel, {"n": n})["seq"] == n
        seen = messages(client, 5)
        assert [f["seq"] for f in seen] == [1, 2, 3, 4, 5]
        last = seen[-1]["seq"]
    # Missed while away, on the old server and on the new one.
    for n in range(6, 9):
        publish(server, channel, {"n": n})
    server = r.restart()
    # The stream continues: same offsets, no reset.
    assert [publish(server, channel, {"n": n})["seq"] for n in range(9, 13)] == [9, 10, 11, 12]

    with WSClient(server) as client:
        reply = client.subscribed(channel, lastEventId=last)
        assert reply["seq"] == 12, reply
        missed = messages(client, 7)
        assert [f["seq"] for f in missed] == list(range(6, 13))
        assert [f["data"] for f in missed] == [{"n": n} for n in range(6, 13)]
        assert_next_message_is_marker(server, client, channel)
    assert r.stop() == 0


def test_centrifuge_client_recovers_after_a_restart_in_the_same_epoch(restarts):
    r = restarts()
    server = r.start()
    channel = unique("hist:jwt")
    user = unique("u")
    for n in range(1, 4):
        publish(server, channel, {"n": n})

    def connect(server) -> tuple[Client, Events]:
        events = Events()
        token = sign_jwt({"sub": user, "exp": int(time.time()) + 600}, MAIN["secret"])
        return Client(f"{server.ws}/connection/websocket", token=token, events=events, proxy=None, timeout=WAIT), events

    async def before():
        c, events = connect(server)
        await c.connect()
        await get(events.connected)
        seen = SubEvents()
        # Not asked for by the client: the channel rule's force_recovery makes the subscription recoverable.
        sub = c.new_subscription(channel, events=seen)
        await sub.subscribe()
        subscribed = await get(seen.subscribed)
        assert subscribed.recoverable and subscribed.positioned
        assert subscribed.stream_position.offset == 3 and subscribed.stream_position.epoch
        for n in range(4, 6):
            publish(server, channel, {"n": n})
        got = [(await get(seen.publications)).pub for _ in range(2)]
        assert [p.offset for p in got] == [4, 5]
        await c.disconnect()
        return StreamPosition(offset=got[-1].offset, epoch=subscribed.stream_position.epoch)

    saved = asyncio.run(asyncio.wait_for(before(), 45))
    for n in range(6, 8):
        publish(server, channel, {"n": n})
    server = r.restart()
    for n in range(8, 11):
        publish(server, channel, {"n": n})

    async def after():
        c, events = connect(server)
        await c.connect()
        await get(events.connected)
        seen = SubEvents()

        async def get_state(_channel):
            return saved  # where the app left off before the restart

        sub = c.new_subscription(channel, events=seen, get_state=get_state)
        await sub.subscribe()
        subscribed = await get(seen.subscribed)
        assert subscribed.was_recovering and subscribed.recovered, subscribed
        assert subscribed.stream_position.epoch == saved.epoch
        got = [(await get(seen.publications)).pub for _ in range(5)]
        assert [p.offset for p in got] == list(range(6, 11))
        assert [p.data for p in got] == [{"n": n} for n in range(6, 11)]
        await nothing(seen.publications)
        await c.disconnect()

    asyncio.run(asyncio.wait_for(after(), 45))
    assert r.stop() == 0


def cursor(event_id: str) -> dict:
    return {name: int(seq) for name, seq in (part.split("=") for part in event_id.split(";"))}


def test_sse_last_event_id_cursor_resumes_every_channel_after_a_restart(restarts):
    r = restarts()
    server = r.start()
    a, b = unique("hist:sa"), unique("hist:sb")
    with SSEStream(server, [a, b]) as stream:
        publish(server, a, {"a": 1})
        publish(server, b, {"b": 1})
        publish(server, a, {"a": 2})
        events = stream.take(3)
        last_id = events[-1].id
        assert cursor(last_id) == {a: 2, b: 1}
    publish(server, b, {"b": 2})
    server = r.restart()
    publish(server, a, {"a": 3})
    publish(server, b, {"b": 3})

    with SSEStream(server, [a, b], last_event_id=last_id) as stream:
        got = stream.take(3)
        by_channel = {a: [], b: []}
        for event in got:
            data = json.loads(event.data)
            by_channel[a if "a" in data else b].append(data)
        assert by_channel == {a: [{"a": 3}], b: [{"b": 2}, {"b": 3}]}
        assert cursor(got[-1].id) == {a: 3, b: 3}
        marker = {"marker": unique("m")}
        publish(server, a, marker)
        following = stream.next()
        assert json.loads(following.data) == marker, following.data
        assert cursor(following.id) == {a: 4, b: 3}
    assert r.stop() == 0


def test_a_channel_without_history_leaves_nothing_in_the_store(restarts):
    r = restarts()
    server = r.start()
    plain, kept = unique("nohistory:"), unique("hist:kept")
    for n in range(3):
        assert "seq" not in publish(server, plain, {"n": n})
        publish(server, kept, {"n": n})
    assert r.stop() == 0
    assert r.rows("history_entry", kept) == 3 and r.rows("history_stream", kept) == 1
    assert r.rows("history_entry", plain) == 0 and r.rows("history_stream", plain) == 0


def history(server, channel: str) -> dict:
    reply = rest(server, "GET", "history", params={"channel": channel})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_without_durable_history_a_restart_starts_a_new_epoch(restarts):
    r = restarts(durable=False)
    server = r.start()
    channel = unique("hist:volatile")
    for n in range(1, 4):
        publish(server, channel, {"n": n})
    before = history(server, channel)
    assert before["seq"] == 3 and len(before["messages"]) == 3
    server = r.restart()
    assert history(server, channel).get("messages") == []
    assert publish(server, channel, {"n": 4})["seq"] == 1
    after = history(server, channel)
    # A new epoch tells positioned clients their old offsets mean nothing here.
    assert after["seq"] == 1 and after["epoch"] != before["epoch"]
    assert r.stop() == 0
    assert r.rows("history_entry", channel) == 0


def test_publishes_older_than_the_flush_interval_survive_sigkill(restarts):
    r = restarts()
    server = r.start()
    channel = unique("hist:kill")
    for n in range(1, 6):
        publish(server, channel, {"n": n})
    epoch = history(server, channel)["epoch"]
    # Within a few flush intervals (50 ms) the batch is on disk; then the process dies without any shutdown.
    wait_until(lambda: r.rows("history_entry", channel) == 5, timeout=2, message="the batch written")
    r.stop(signal.SIGKILL)
    server = r.start()
    # The stream keeps its epoch and messages; its next offset skips past any the lost last batch may have handed
    # out (README: Durable history), so no client that saw one is shown another message under it.
    gap = 1_000_000
    with WSClient(server) as client:
        assert client.subscribed(channel, lastEventId=0)["seq"] == 5 + gap
        replayed = messages(client, 5)
        assert [(f["seq"], f["data"]) for f in replayed] == [(n, {"n": n}) for n in range(1, 6)]
    assert publish(server, channel, {"n": 6})["seq"] == 5 + gap + 1
    assert history(server, channel)["epoch"] == epoch
    assert r.stop() == 0


def test_sigterm_writes_the_buffered_history_before_exit(restarts):
    # A flush interval far longer than the test: only the shutdown flush can write these.
    r = restarts(flush_ms=60_000)
    server = r.start()
    channel = unique("hist:term")
    for n in range(1, 4):
        publish(server, channel, {"n": n})
    assert r.rows("history_entry", channel) == 0
    started = time.monotonic()
    assert r.stop() == 0
    assert time.monotonic() - started < 15, "shutdown waited for the flush interval"
    assert r.rows("history_entry", channel) == 3
    server = r.start()
    assert publish(server, channel, {"n": 4})["seq"] == 4
    assert r.stop() == 0
