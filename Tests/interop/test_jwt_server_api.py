"""The JWT adapter's server API as the real `cent` 5.2 client uses it: `skip_history`, `POST /api/batch`, `refresh`,
`history_remove` (on the memory and the Redis engine), `broadcast`'s refusals and `idempotency_key` (on both engines,
and across two Redis-engine nodes).

Live delivery is watched with the real centrifuge-python client. A batch whose replies `cent` cannot read (one
command's error: `cent` looks up each reply under its method's name) is sent as `cent` builds it
(`BatchRequest.api_payload`) and read raw. Neither library is patched.
"""

import asyncio
import signal
import time

import cent
import httpx
import pytest
from centrifuge import StreamPosition

from conftest import MAIN, WAIT, now_ms, start_server, unique, wait_for_event
from test_cluster import REDIS, RedisProcess, cluster, cluster_config, redis, wait_engine_ready  # noqa: F401 (fixtures)
from test_jwt import SubEvents, api, client, get, nothing, run, subscribed, token, watching
from test_jwt_contract import RawJWT

pytestmark = pytest.mark.timeout(60)


def history(server, channel: str) -> list:
    return [p.data for p in api(server).history(cent.HistoryRequest(channel=channel, limit=100)).publications]


def raw_batch(server, requests, key=MAIN["secret"]) -> httpx.Response:
    """`POST /api/batch` with the body `cent` builds for `requests`, sent with `cent`'s `X-API-Key` header."""
    payload = cent.BatchRequest(requests=requests).api_payload
    return httpx.post(f"{server.http}/api/batch", headers={"X-API-Key": key}, json=payload, timeout=WAIT)


# --- skip_history ---------------------------------------------------------------------------------


def test_a_skip_history_publish_reaches_a_live_subscriber_and_history_stays_empty(server):
    channel = unique("jwt-skip-")

    async def main():
        c, seen = await watching(server, channel)
        request = cent.PublishRequest(channel=channel, data={"n": 1}, skip_history=True)
        result = await asyncio.to_thread(api(server).publish, request)
        assert (await get(seen.publications)).pub.data == {"n": 1}
        assert (result.offset, result.epoch) == (0, ""), "a message not kept has no position"
        assert await asyncio.to_thread(history, server, channel) == []
        await asyncio.to_thread(api(server).publish, cent.PublishRequest(channel=channel, data={"n": 2}))
        assert (await get(seen.publications)).pub.data == {"n": 2}
        kept = await asyncio.to_thread(history, server, channel)
        assert kept == [{"n": 2}], "without skip_history the channel keeps it"
        await c.disconnect()

    run(main())


def test_a_skip_history_broadcast_reaches_every_channel_and_keeps_nothing(server):
    channels = [unique("jwt-skip-a-"), unique("jwt-skip-b-")]

    async def main():
        c, _ = client(server)
        await c.connect()
        seen = [SubEvents(), SubEvents()]
        for channel, events in zip(channels, seen):
            await subscribed(c, channel, events=events)
        request = cent.BroadcastRequest(channels=channels, data={"all": True}, skip_history=True)
        result = await asyncio.to_thread(api(server).broadcast, request)
        assert [r.error for r in result.responses] == [None, None]
        for events in seen:
            assert (await get(events.publications)).pub.data == {"all": True}
        for channel in channels:
            assert await asyncio.to_thread(history, server, channel) == []
        await c.disconnect()

    run(main())


def test_channels_reads_its_pattern_as_centrifugo_does(server):
    """`cent`'s `ChannelsRequest(pattern=…)` is a glob (gobwas syntax): `*`, `?`, `[…]`, `{a,b}`; a malformed one is 107."""
    prefix = unique("jwt-pat-")
    names = [f"{prefix}1", f"{prefix}12", f"{prefix}a"]

    def listed(pattern):
        return sorted(api(server).channels(cent.ChannelsRequest(pattern=pattern)).channels)

    async def main():
        c, _ = client(server)
        await c.connect()
        for name in names:
            await subscribed(c, name)
        assert listed(f"{prefix}*") == names
        assert listed(f"{prefix}?") == [names[0], names[2]]
        assert listed(f"{prefix}[0-9]*") == names[:2]
        assert listed(f"{prefix}{{1,a}}") == [names[0], names[2]]
        with pytest.raises(cent.CentApiResponseError) as raised:
            listed(f"{prefix}[0-9")
        assert raised.value.code == 107
        await c.disconnect()

    run(main())


# --- batch ----------------------------------------------------------------------------------------


def test_a_batch_of_publishes_reaches_subscribers_in_order_and_each_command_gets_its_reply(server):
    channel = unique("jwt-batch-")

    async def main():
        c, seen = await watching(server, channel)
        requests = [cent.PublishRequest(channel=channel, data={"n": n}) for n in range(5)]
        requests += [cent.HistoryRequest(channel=channel, limit=10), cent.ChannelsRequest(pattern=channel)]
        result = await asyncio.to_thread(api(server).batch, cent.BatchRequest(requests=requests))
        assert [reply.offset for reply in result.replies[:5]] == [1, 2, 3, 4, 5]
        assert len({reply.epoch for reply in result.replies[:5]}) == 1
        assert [p.data for p in result.replies[5].publications] == [{"n": n} for n in range(5)]
        assert result.replies[6].channels[channel].num_clients == 1
        assert [(await get(seen.publications)).pub.data for _ in range(5)] == [{"n": n} for n in range(5)]
        await c.disconnect()

    run(main())


def test_a_parallel_batch_still_answers_in_command_order(server):
    channels = [unique(f"jwt-parallel-{n}-") for n in range(20)]
    requests = [cent.PublishRequest(channel=channel, data={"c": channel}) for channel in channels]
    result = api(server).batch(cent.BatchRequest(requests=requests, parallel=True))
    assert [reply.offset for reply in result.replies] == [1] * 20
    for channel in channels[:3]:
        assert history(server, channel) == [{"c": channel}]


def test_a_bad_command_in_a_batch_gets_its_own_error_and_the_others_run(server):
    channel = unique("jwt-batch-bad-")
    requests = [
        cent.PublishRequest(channel=channel, data={"n": 1}),
        cent.PublishRequest(channel="bad name", data={"n": 2}),
        cent.PublishRequest(channel=channel, data={"n": 3}),
    ]
    response = raw_batch(server, requests)
    assert response.status_code == 200, response.text
    replies = response.json()["replies"]
    assert replies[0] == {"publish": {"offset": 1, "epoch": replies[0]["publish"]["epoch"]}}
    assert replies[1] == {"error": {"code": 107, "message": "invalid channel"}}
    assert replies[2]["publish"]["offset"] == 2
    assert history(server, channel) == [{"n": 1}, {"n": 3}]


def test_a_batch_over_1000_commands_is_refused_whole_and_publishes_nothing(server):
    since = now_ms()
    channel = unique("jwt-batch-over-")
    requests = [cent.PublishRequest(channel=channel, data=n) for n in range(1001)]
    with pytest.raises(cent.CentTransportError) as raised:
        api(server).batch(cent.BatchRequest(requests=requests))
    assert raised.value.status_code == 400
    response = raw_batch(server, requests)
    assert response.status_code == 400 and response.json()["error"]["code"] == 106, response.text
    wait_for_event(server, "bad_request", since)
    assert history(server, channel) == []
    assert len(api(server).batch(cent.BatchRequest(requests=requests[:1000])).replies) == 1000


def test_a_batch_with_a_wrong_api_key_is_refused_like_any_method(server):
    channel = unique("jwt-batch-key-")
    wrong = cent.Client(f"{server.http}/api", "wrong-key", timeout=WAIT)
    with pytest.raises(cent.CentUnauthorizedError):
        wrong.batch(cent.BatchRequest(requests=[cent.PublishRequest(channel=channel, data=1)]))
    response = raw_batch(server, [cent.PublishRequest(channel=channel, data=1)], key="wrong-key")
    assert response.status_code == 401 and response.json()["error"]["code"] == 101, response.text
    assert history(server, channel) == []


# --- refresh --------------------------------------------------------------------------------------


def test_refresh_with_expire_at_keeps_a_connection_past_its_tokens_exp(server):
    user = unique("refresh-u")
    with RawJWT(server, token(sub=user, ttl=2)) as c:
        assert c.connected["connect"]["expires"] is True
        api(server).refresh(cent.RefreshRequest(user=user, expire_at=int(time.time()) + 600))
        # The client hears its new expiry, as Centrifugo's refresh push tells it.
        push = c.next(lambda f: "refresh" in f.get("push", {}))["push"]
        assert "channel" not in push and push["refresh"]["expires"] is True and 595 <= push["refresh"]["ttl"] <= 600, push
        time.sleep(5)  # past the token's exp and the 2 s the server allows for a client's own refresh
        assert "presence_stats" in c.call("presence_stats", channel=unique("refresh-c")), "the connection is still open"


def test_refresh_marked_expired_closes_the_users_connections_with_3005_and_spares_others(server):
    user = unique("refresh-u")
    with RawJWT(server, token(sub=user)) as first, RawJWT(server, token(sub=user)) as second, \
            RawJWT(server, token(sub=unique("other-u"))) as other:
        api(server).refresh(cent.RefreshRequest(user=user, client=first.connected["connect"]["client"], expired=True))
        assert first.close_code() == 3005
        api(server).refresh(cent.RefreshRequest(user=user, expired=True))
        assert second.close_code() == 3005
        assert "presence_stats" in other.call("presence_stats", channel=unique("refresh-c"))


# --- history_remove -------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def engine_server(request, server):
    """The shared server (memory engine), or a node of its own on a throwaway redis-server."""
    if request.param == "memory":
        yield server
        return
    if REDIS is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    redis = RedisProcess()
    node = None
    try:
        node = start_server(cluster_config(redis.port, unique("sbtest")))
        wait_engine_ready(node)
        yield node
    finally:
        if node is not None and node.process.poll() is None:
            node.stop(signal.SIGKILL)
        redis.kill()


def test_history_remove_drops_the_messages_but_keeps_the_epoch_and_offset_so_recovery_still_works(engine_server):
    channel = unique("jwt-remove-")
    first = api(engine_server).publish(cent.PublishRequest(channel=channel, data={"n": 1}))
    api(engine_server).publish(cent.PublishRequest(channel=channel, data={"n": 2}))
    api(engine_server).history_remove(cent.HistoryRemoveRequest(channel=channel))
    after = api(engine_server).history(cent.HistoryRequest(channel=channel, limit=100))
    assert (after.publications, after.offset, after.epoch) == ([], 2, first.epoch)

    async def at_the_top(ch):
        return StreamPosition(offset=2, epoch=first.epoch)

    async def main():
        c, _ = client(engine_server)
        await c.connect()
        seen = SubEvents()
        sub = c.new_subscription(channel, events=seen, recoverable=True, get_state=at_the_top)
        await sub.subscribe()
        recovered = await get(seen.subscribed)
        assert recovered.was_recovering and recovered.recovered, recovered
        await nothing(seen.publications)
        published = await asyncio.to_thread(api(engine_server).publish, cent.PublishRequest(channel=channel, data={"n": 3}))
        assert (published.offset, published.epoch) == (3, first.epoch)
        pub = (await get(seen.publications)).pub
        assert (pub.offset, pub.data) == (3, {"n": 3})
        await c.disconnect()

    run(main())


# --- broadcast ------------------------------------------------------------------------------------


def test_a_broadcast_to_no_channel_is_refused_with_107(server):
    since = now_ms()
    with pytest.raises(cent.CentApiResponseError) as raised:
        api(server).broadcast(cent.BroadcastRequest(channels=[], data={"n": 1}))
    assert raised.value.code == 107
    wait_for_event(server, "bad_request", since, contains="broadcast")


# --- idempotency_key ------------------------------------------------------------------------------


async def received(seen: SubEvents, count: int) -> list:
    """The data of the next `count` publications; a marker published last bounds them without waiting on a timer."""
    return [(await get(seen.publications)).pub.data for _ in range(count)]


def test_a_retried_publish_with_one_idempotency_key_keeps_the_first_result_and_is_delivered_and_kept_once(engine_server):
    channel = unique("jwt-idem-")
    other = unique("jwt-idem-other-")

    async def main():
        c, seen = await watching(engine_server, channel)
        publish = api(engine_server).publish
        first = await asyncio.to_thread(publish, cent.PublishRequest(channel=channel, data={"n": 1}, idempotency_key="k"))
        retry = await asyncio.to_thread(publish, cent.PublishRequest(channel=channel, data={"n": 1}, idempotency_key="k"))
        assert (retry.offset, retry.epoch) == (first.offset, first.epoch) == (1, first.epoch)
        await asyncio.to_thread(publish, cent.PublishRequest(channel=channel, data={"marker": True}))
        assert await received(seen, 2) == [{"n": 1}, {"marker": True}], "the retry is not delivered"
        assert await asyncio.to_thread(history, engine_server, channel) == [{"n": 1}, {"marker": True}]
        another_key = await asyncio.to_thread(publish, cent.PublishRequest(channel=channel, data={"n": 2}, idempotency_key="k2"))
        assert another_key.offset == 3
        another_channel = await asyncio.to_thread(publish, cent.PublishRequest(channel=other, data={"n": 1}, idempotency_key="k"))
        assert (another_channel.offset, another_channel.epoch != "") == (1, True)
        assert await received(seen, 1) == [{"n": 2}]
        await c.disconnect()

    run(main())


def test_a_retried_broadcast_with_one_idempotency_key_publishes_each_channel_once(engine_server):
    channels = [unique("jwt-idem-a-"), unique("jwt-idem-b-")]

    async def main():
        c, _ = client(engine_server)
        await c.connect()
        seen = [SubEvents(), SubEvents()]
        for channel, events in zip(channels, seen):
            await subscribed(c, channel, events=events)
        broadcast = api(engine_server).broadcast
        first = await asyncio.to_thread(broadcast, cent.BroadcastRequest(channels=channels, data={"all": 1}, idempotency_key="k"))
        retry = await asyncio.to_thread(broadcast, cent.BroadcastRequest(channels=channels, data={"all": 1}, idempotency_key="k"))
        assert [(r.result.offset, r.result.epoch) for r in retry.responses] == [(r.result.offset, r.result.epoch) for r in first.responses]
        assert [r.result.offset for r in first.responses] == [1, 1]
        await asyncio.to_thread(broadcast, cent.BroadcastRequest(channels=channels, data={"marker": True}))
        for channel, events in zip(channels, seen):
            assert await received(events, 2) == [{"all": 1}, {"marker": True}]
            assert await asyncio.to_thread(history, engine_server, channel) == [{"all": 1}, {"marker": True}]
        await c.disconnect()

    run(main())


def test_a_retry_that_lands_on_another_redis_node_is_not_published_again(cluster):
    a, b = cluster(2)
    channel = unique("jwt-idem-cluster-")

    async def main():
        c, seen = await watching(b, channel)
        first = await asyncio.to_thread(api(a).publish, cent.PublishRequest(channel=channel, data={"n": 1}, idempotency_key="k"))
        retry = await asyncio.to_thread(api(b).publish, cent.PublishRequest(channel=channel, data={"n": 1}, idempotency_key="k"))
        assert (retry.offset, retry.epoch) == (first.offset, first.epoch) == (1, first.epoch)
        await asyncio.to_thread(api(a).publish, cent.PublishRequest(channel=channel, data={"marker": True}))
        assert await received(seen, 2) == [{"n": 1}, {"marker": True}]
        assert await asyncio.to_thread(history, a, channel) == [{"n": 1}, {"marker": True}]
        await c.disconnect()

    run(main())


def test_an_idempotency_key_over_256_bytes_is_refused_with_107_and_publishes_nothing(server):
    channel = unique("jwt-idem-long-")
    for call, request in [
        (api(server).publish, cent.PublishRequest(channel=channel, data={"n": 1}, idempotency_key="x" * 257)),
        (api(server).broadcast, cent.BroadcastRequest(channels=[channel], data={"n": 1}, idempotency_key="x" * 257)),
    ]:
        with pytest.raises(cent.CentApiResponseError) as raised:
            call(request)
        assert raised.value.code == 107
    assert history(server, channel) == []
    assert api(server).publish(cent.PublishRequest(channel=channel, data={"n": 1}, idempotency_key="x" * 256)).offset == 1
