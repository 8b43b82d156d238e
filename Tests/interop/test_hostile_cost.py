"""What a client holding only the public key can make the server do, measured from the client's side: the work a
request causes stays in proportion to the request, not to how big a channel has grown.

Clients: raw Pusher-protocol frames on the `websockets` sync client (`PusherWS`). Loopback only, bounded in time and
count.
"""

import json
import time

from conftest import PUSHER, PusherWS, unique


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
