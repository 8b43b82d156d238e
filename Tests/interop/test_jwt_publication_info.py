"""Publication tags and the publisher's client info, as Centrifugo carries them, with the real clients.

`cent` publishes and broadcasts with `tags`; a centrifuge-python client publishes with a connection token carrying
`info`. Subscribers read `ctx.pub.tags` and `ctx.pub.info` (client id, user, conn_info) on pushes, history and
recovery: on one node, across two Redis-engine nodes, and after a restart on durable history. Neither library is
patched; every wait is bounded.
"""

import asyncio
import time

import cent
import httpx
import pytest
from centrifuge import Client, StreamPosition

from conftest import MAIN, WAIT, sign_jwt, unique
from test_cluster import cluster, redis  # noqa: F401 (fixtures)
from test_durable_history import restarts  # noqa: F401 (fixture)
from test_jwt import Events, SubEvents, get, nothing, subscribed

pytestmark = pytest.mark.timeout(120)

TAGS = {"event": "chat", "k": "v", "region": "eu"}
INFO = {"name": "Alice", "plan": "pro"}


def api(server) -> cent.Client:
    return cent.Client(f"{server.http}/api", MAIN["secret"], timeout=WAIT)


def token(sub: str, **claims) -> str:
    return sign_jwt({"sub": sub, "exp": int(time.time()) + 600, **claims}, MAIN["secret"])


async def connected(server, sub: str, **claims) -> tuple[Client, str]:
    """A connected centrifuge-python client and the client id the server gave it."""
    events = Events()
    c = Client(f"{server.ws}/connection/websocket", token=token(sub, **claims), events=events, proxy=None, timeout=WAIT)
    await c.connect()
    return c, (await get(events.connected)).client


async def watching(server, channel: str, **options) -> tuple[Client, SubEvents]:
    c, _ = await connected(server, unique("watcher"))
    seen = SubEvents()
    await subscribed(c, channel, events=seen, **options)
    return c, seen


def assert_publisher(info, client_id: str, user: str = "alice"):
    assert info is not None, "a client's publication carries info"
    assert (info.client, info.user, info.conn_info) == (client_id, user, INFO), info


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


def test_cent_publish_tags_reach_subscribers_and_history(server):
    channel = unique("jwt-tags")

    async def main():
        c, seen = await watching(server, channel)
        await asyncio.to_thread(api(server).publish, cent.PublishRequest(channel=channel, data={"n": 1}, tags=TAGS))
        pub = (await get(seen.publications)).pub
        assert pub.data == {"n": 1} and pub.tags == TAGS
        assert pub.info is None, "a server API publication has no client info"
        kept = (await c.history(channel, limit=10)).publications
        assert [p.tags for p in kept] == [TAGS]
        await c.disconnect()

    run(main())
    [kept] = api(server).history(cent.HistoryRequest(channel=channel, limit=10)).publications
    assert kept.tags == TAGS and kept.info is None


def test_cent_broadcast_tags_reach_every_channel(server):
    channels = [unique("jwt-btags"), unique("jwt-btags")]

    async def main():
        watchers = [await watching(server, channel) for channel in channels]
        request = cent.BroadcastRequest(channels=channels, data={"all": True}, tags={"k": "v"})
        result = await asyncio.to_thread(api(server).broadcast, request)
        assert all(r.error is None for r in result.responses), result
        for c, seen in watchers:
            assert (await get(seen.publications)).pub.tags == {"k": "v"}
            await c.disconnect()

    run(main())


def test_a_clients_publication_names_its_client_and_conn_info_live_and_in_history(server):
    channel = unique("jwt-info")

    async def main():
        watcher, seen = await watching(server, channel)
        alice, alice_id = await connected(server, "alice", info=INFO)
        sub = await subscribed(alice, channel)
        await sub.publish({"text": "hi"})
        pub = (await get(seen.publications)).pub
        assert pub.data == {"text": "hi"}
        assert_publisher(pub.info, alice_id)
        assert pub.tags == {}
        [kept] = (await watcher.history(channel, limit=10)).publications
        assert_publisher(kept.info, alice_id)
        await alice.disconnect()
        await watcher.disconnect()
        return alice_id

    alice_id = run(main())
    [kept] = api(server).history(cent.HistoryRequest(channel=channel, limit=10)).publications
    assert (kept.info.client, kept.info.user, kept.info.conn_info) == (alice_id, "alice", INFO)


def test_invalid_or_oversized_tags_are_107_and_publish_nothing(server):
    """An API key holder cannot make publications carry unbounded tags: at most 16 string members, 4096 bytes."""
    channel = unique("jwt-badtags")
    too_many = {f"t{n}": "v" for n in range(17)}
    too_long = {"k": "x" * 4097}

    async def main():
        c, seen = await watching(server, channel)
        for tags in (too_many, too_long):
            for request in (cent.PublishRequest(channel=channel, data=1, tags=tags),
                            cent.BroadcastRequest(channels=[channel], data=1, tags=tags)):
                with pytest.raises(cent.CentApiResponseError) as raised:
                    send = api(server).publish if isinstance(request, cent.PublishRequest) else api(server).broadcast
                    await asyncio.to_thread(send, request)
                assert raised.value.code == 107, raised.value
        # What cent's types would not let through, sent as raw JSON.
        for tags in ({"k": 1}, {"k": {"v": "w"}}, ["k", "v"], "k", {"event": None}):
            for method, body in (("publish", {"channel": channel, "data": 1, "tags": tags}),
                                 ("broadcast", {"channels": [channel], "data": 1, "tags": tags})):
                r = await asyncio.to_thread(httpx.post, f"{server.http}/api/{method}", json=body, headers={"X-API-Key": MAIN["secret"]},
                                            timeout=WAIT)
                assert r.json().get("error", {}).get("code") == 107, (tags, r.text)
        await nothing(seen.publications)
        assert (await c.history(channel, limit=10)).publications == []
        # Exactly at the bounds is fine (`event`, the message's name, is held to 200 bytes of its own: another tag fills up).
        fits = {f"t{n}": "v" for n in range(15)}
        fits["note"] = "x" * (4096 - sum(len(k) + len(v) for k, v in fits.items()) - len("note"))
        await asyncio.to_thread(api(server).publish, cent.PublishRequest(channel=channel, data=2, tags=fits))
        assert (await get(seen.publications)).pub.tags == fits
        await c.disconnect()

    run(main())


def test_tags_and_publisher_info_cross_two_redis_nodes_and_their_history(cluster):  # noqa: F811
    a, b = cluster(2)
    channel = unique("jwt-cluster-tags")

    async def main():
        watcher, seen = await watching(b, channel)
        alice, alice_id = await connected(a, "alice", info=INFO)
        sub = await subscribed(alice, channel)
        await asyncio.to_thread(api(a).publish, cent.PublishRequest(channel=channel, data={"n": 1}, tags=TAGS))
        await sub.publish({"n": 2})
        first, second = (await get(seen.publications)).pub, (await get(seen.publications)).pub
        assert (first.data, first.tags, first.info) == ({"n": 1}, TAGS, None)
        assert second.data == {"n": 2} and second.tags == {}
        assert_publisher(second.info, alice_id)
        kept = (await watcher.history(channel, limit=10)).publications
        assert [p.tags for p in kept] == [TAGS, {}]
        assert_publisher(kept[1].info, alice_id)
        await alice.disconnect()
        await watcher.disconnect()
        return alice_id

    alice_id = run(main())
    kept = api(b).history(cent.HistoryRequest(channel=channel, limit=10)).publications
    assert kept[0].tags == TAGS and kept[1].info.client == alice_id and kept[1].info.conn_info == INFO


def test_tags_and_publisher_info_come_back_through_recovery_after_a_restart(restarts):  # noqa: F811
    r = restarts()
    server = r.start()
    channel = unique("hist:tags")

    async def before():
        c, seen = await watching(server, channel)
        subscribed_ctx = await get(seen.subscribed)
        await c.disconnect()
        alice, alice_id = await connected(server, "alice", info=INFO)
        sub = await subscribed(alice, channel)
        await sub.publish({"n": 1})
        await alice.disconnect()
        return subscribed_ctx.stream_position, alice_id

    position, alice_id = run(before())
    api(server).publish(cent.PublishRequest(channel=channel, data={"n": 2}, tags=TAGS))
    server = r.restart()

    async def after():
        c, _ = await connected(server, unique("watcher"))
        seen = SubEvents()

        async def get_state(_channel):
            return StreamPosition(offset=position.offset, epoch=position.epoch)

        await subscribed(c, channel, events=seen, get_state=get_state)
        ctx = await get(seen.subscribed)
        assert ctx.was_recovering and ctx.recovered, ctx
        one, two = (await get(seen.publications)).pub, (await get(seen.publications)).pub
        assert one.data == {"n": 1} and one.tags == {}
        assert_publisher(one.info, alice_id)
        assert two.data == {"n": 2} and two.tags == TAGS and two.info is None
        await c.disconnect()

    run(after())
    assert r.stop() == 0
