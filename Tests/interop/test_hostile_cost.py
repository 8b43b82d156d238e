"""What a client holding only the public key can make the server do, measured from the client's side: the work a
request causes stays in proportion to the request, not to how big a channel has grown.

Clients: raw Pusher-protocol frames on the `websockets` sync client (`PusherWS`), httpx. Server CPU is read from
/proc. Loopback only, bounded in time and count.
"""

import json
import os
import sqlite3
import time

import httpx

from conftest import (
    CONFIG,
    MAIN,
    PUSHER,
    WAIT,
    PusherWS,
    admin_headers,
    flood_kept_history,
    history_bytes_metric,
    rest,
    unique,
    wait_until,
)


def cpu_seconds(server) -> float:
    """The server process's CPU time so far (user + system), from /proc."""
    with open(f"/proc/{server.process.pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_crowd_joining_a_counted_channel_sends_each_subscriber_a_few_counts_not_one_per_join(server):
    """With `subscription_count`, every join changes the count. Unthrottled, each join sent the count to every
    subscriber: n² frames to fill a channel of n (2,000 joins sent 216 MB). Counts now go out at most once a second
    per channel, and the last one is the true count."""
    channel, crowd = unique("counted-crowd-"), 150
    with PusherWS(server, key=PUSHER["key"]) as first:
        first.subscribed(channel, app=PUSHER)
        assert json.loads(first.recv()["data"]) == {"subscription_count": 1}
        others = []
        try:
            for _ in range(crowd - 1):
                client = PusherWS(server, key=PUSHER["key"])
                client.subscribed(channel, app=PUSHER)
                others.append(client)
            counts = []
            deadline = time.monotonic() + 10
            while (not counts or counts[-1] != crowd) and time.monotonic() < deadline:
                frame = first.recv(timeout=max(0.1, deadline - time.monotonic()))
                assert frame["event"] == "pusher_internal:subscription_count", frame
                counts.append(json.loads(frame["data"])["subscription_count"])
            assert counts and counts[-1] == crowd, counts
            # One a second at most while the crowd joined, and one after.
            assert len(counts) <= 8, f"{len(counts)} count frames for {crowd} joins: {counts}"
            first.assert_alive()
        finally:
            for client in others:
                client.__exit__(None, None, None)


def test_an_sse_request_naming_thousands_of_channels_is_refused_for_the_price_of_the_first_hundred(server):
    """A stream holds at most 100 channels; the names were de-duplicated by scanning the list for each one before
    that check, so 4,000 names cost 8 million comparisons per request (0.5 s of CPU in a debug build)."""
    query = "&".join(f"channel=c{n}" for n in range(4_000))
    before = cpu_seconds(server)
    for _ in range(20):
        r = httpx.get(f"{server.http}/sse?key={MAIN['key']}&{query}", timeout=WAIT)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text
        assert "at most 100 channels" in r.json()["error"]["message"]
    spent = cpu_seconds(server) - before
    assert spent < 5, f"20 refused requests cost {spent:.1f} s of server CPU"


def test_an_unsigned_pusher_api_post_is_refused_before_its_body_is_read(server):
    """The HTTP API reads up to ten events' worth of body (about 10 MB on the enterprise plan); it read it before the
    signature, so anyone knowing an app id could make it hold 10 MB per request (100 at once: +670 MB). The signature
    covers everything but the body (its MD5 included), so a caller without the secret is answered 401 after the
    headers alone."""
    import socket

    declared = 9_000_000
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall((f"POST /apps/{PUSHER['id']}/events?auth_key={PUSHER['key']}&auth_timestamp={int(time.time())}"
                      f"&auth_version=1.0&body_md5=00&auth_signature=forged HTTP/1.1\r\nHost: x\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n").encode())
        sock.sendall(b"x" * 65_536)  # and nothing more: the answer must not wait for the other 8.9 MB
        sock.settimeout(5)
        head = sock.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 401"), head
    assert "bad_signature" in head, head


# The suite's config with kept history limited to 1 MB (the main app is on the enterprise plan, with client events).
BUDGET_CONFIG = CONFIG.replace("new_connections_per_ip_per_second = 1000", "new_connections_per_ip_per_second = 1000\nmax_history_mb = 1")


def test_a_flood_of_large_kept_messages_stays_within_the_history_budget_and_costs_only_its_own_channels(fresh_server):
    """Each channel's history is bounded by its size, but not the sum: with the public key alone, a client kept 62 MB
    in the SQLite store (and as much in memory) with 500 messages of 120 KB to ten public channels, and a plan's own
    figures allowed gigabytes. Kept history now holds at most `max_history_mb` for every channel together, in memory
    and on disk; the channels holding the most lose their oldest messages first, so a quiet channel keeps its own."""
    server = fresh_server(BUDGET_CONFIG)
    quiet, flood = unique("quiet:"), unique("flood:")
    flood_kept_history(server, quiet, flood)

    assert history_bytes_metric(server) <= 1 << 20
    kept = rest(server, "GET", "history", params={"channel": quiet}).json()["messages"]
    assert [m["data"]["n"] for m in kept] == list(range(10))
    flooded = rest(server, "GET", "history", params={"channel": f"{flood}0"}).json()["messages"]
    assert len(flooded) < 5, len(flooded)

    # Durable history forgets what memory let go: the store holds about the budget, not the flood.
    def saved_bytes() -> int:
        with sqlite3.connect(f"file:{server.workdir / 'switchboard.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM history_entry").fetchone()[0]

    wait_until(lambda: saved_bytes() <= 1 << 20)
