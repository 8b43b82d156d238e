"""Watchlist events (Pusher user authentication): a signed-in connection whose `user_data` names a `watchlist` hears
`pusher_internal:watchlist_events` when a watched user's first connection signs in and when its last one closes.

Sign-ins are signed by the official `pusher` server library, as an app's backend does; the frames are read raw, as
pusher-js reads them (the browser scenario is in test_browser_clients_pusher.py, the cluster one in test_cluster.py).
"""

import json

import cent
import pytest

from conftest import (MAIN, SMALL, PusherWS, expect_pusher_error, now_ms, pusher_api, rest, security_events, unique,
                      wait_for_event)
from test_jwt import api as cent_api


def sign_in(server, user: str, watchlist=None, app=MAIN) -> PusherWS:
    """A raw Pusher connection to `app` signed in as `user`; returns once `pusher:signin_success` came."""
    client = PusherWS(server, key=app["key"])
    user_data = {"id": user} if watchlist is None else {"id": user, "watchlist": watchlist}
    client.send({"event": "pusher:signin", "data": pusher_api(server, app=app).authenticate_user(client.socket_id, user_data)})
    assert client.recv()["event"] == "pusher:signin_success"
    return client


def watchlist_events(frame: dict) -> list:
    """The (name, user ids) pairs of one `pusher_internal:watchlist_events` frame."""
    assert frame["event"] == "pusher_internal:watchlist_events", frame
    assert "channel" not in frame, frame
    return [(event["name"], event["user_ids"]) for event in json.loads(frame["data"])["events"]]


@pytest.fixture
def users():
    """Fresh user names (the suite shares one server) and the connections a test opened, closed at the end."""
    opened = []

    def make(count):
        return [unique("user-") for _ in range(count)]

    make.opened = opened
    yield make
    for client in opened:
        client.close()


def test_signing_in_tells_at_once_which_watched_users_are_online(server, users):
    bob, carol, dave, ann = users(4)
    users.opened += [sign_in(server, bob), sign_in(server, carol)]
    with sign_in(server, ann, watchlist=[bob, carol, dave]) as watcher:
        assert watchlist_events(watcher.recv()) == [("online", [bob, carol])]
        watcher.assert_alive()


def test_a_watcher_hears_online_at_a_users_first_connection_and_offline_after_its_last(server, users):
    bob, ann = users(2)
    with sign_in(server, ann, watchlist=[bob]) as watcher:
        watcher.assert_alive()  # nobody online: nothing at sign-in
        first = sign_in(server, bob)
        assert watchlist_events(watcher.recv()) == [("online", [bob])]
        second = sign_in(server, bob)
        first.close()
        watcher.assert_alive()  # bob still has a connection
        second.close()
        assert watchlist_events(watcher.recv()) == [("offline", [bob])]


def test_users_outside_the_watchlist_and_past_its_hundredth_entry_are_not_announced(server, users):
    """Past 100 users the sign-in stands and Pusher's 4302 tells the client the rest are not watched."""
    ann, carol = users(2)
    watched = users(101)
    with sign_in(server, ann, watchlist=watched) as watcher:
        expect_pusher_error(watcher, 4302)
        users.opened.append(sign_in(server, carol))
        users.opened.append(sign_in(server, watched[100]))
        watcher.assert_alive()
        users.opened.append(sign_in(server, watched[99]))
        assert watchlist_events(watcher.recv()) == [("online", [watched[99]])]


def test_a_watchlist_of_exactly_a_hundred_users_gets_no_4302(server, users):
    ann = users(1)[0]
    with sign_in(server, ann, watchlist=users(100)) as watcher:
        watcher.assert_alive()


def test_a_client_cannot_watch_without_the_apps_signature_nor_subscribe_to_an_online_status(server, users):
    bob, mallory = users(2)
    users.opened.append(sign_in(server, bob))
    with PusherWS(server) as attacker:
        reply = attacker.subscribe(f"#online-{bob}", sign=False)
        assert reply["event"] == "pusher:subscription_error" and reply["data"]["status"] == 403, reply
        expect_pusher_error(attacker, 4300)
        forged = {"auth": MAIN["key"] + ":" + "0" * 64, "user_data": json.dumps({"id": mallory, "watchlist": [bob]})}
        attacker.send({"event": "pusher:signin", "data": forged})
        frame, _ = attacker.recv_until(lambda f: f["event"] == "pusher:error")
        assert frame["data"]["code"] == 4009, frame
        assert attacker.close_code() == 4009


def test_the_servers_own_channels_are_listed_by_no_protocols_server_api(server, users):
    """A signed-in user's channel and its watched users' statuses are server bookkeeping: the Pusher HTTP API, the
    JSON-action REST API and `cent` list (and count) only the channels clients opened."""
    bob, ann = users(2)
    users.opened += [sign_in(server, bob), sign_in(server, ann, watchlist=[bob])]
    opened = unique("listed-")
    with PusherWS(server) as holder:
        holder.subscribed(opened)
        listings = {
            "pusher": list(pusher_api(server).channels_info()["channels"]),
            "jsonaction": rest(server, "GET", "channels").json()["channels"],
            "jwt": list(cent_api(server).channels(cent.ChannelsRequest()).channels),
        }
        for protocol, channels in listings.items():
            assert opened in channels, (protocol, channels)
            assert not [name for name in channels if name.startswith("#")], (protocol, channels)
        info = cent_api(server).info(cent.InfoRequest()).nodes[0]
        assert info.num_channels == len(listings["jwt"]), info


def test_watching_works_when_the_plans_channels_are_all_in_use(server, users):
    """The tiny plan allows 3 channels: a user's own channel and its watched users' statuses are the server's
    bookkeeping, not the app's channels, so signing in and watching four users still works beside 3 open channels."""
    ann, bob, *others = users(5)
    with PusherWS(server, key=SMALL["key"]) as holder:
        for name in users(3):
            holder.subscribed(name, app=SMALL)
        with sign_in(server, ann, watchlist=others + [bob], app=SMALL) as watcher:
            watcher.assert_alive()
            with sign_in(server, bob, app=SMALL):
                assert watchlist_events(watcher.recv()) == [("online", [bob])]
            assert watchlist_events(watcher.recv()) == [("offline", [bob])]


def test_a_signed_in_connection_is_told_it_is_in_its_own_user_channel_and_refused_anothers(server, users):
    """pusher-js subscribes to `#server-to-user-<id>` with an empty auth right after `signin_success`: no error, no
    security event. Another user's channel stays refused."""
    ann, bob = users(2)
    since = now_ms()
    with sign_in(server, ann) as client:
        client.send({"event": "pusher:subscribe", "data": {"auth": "", "channel": f"#server-to-user-{ann}"}})
        reply = client.recv()
        assert reply["event"] == "pusher_internal:subscription_succeeded" and reply["channel"] == f"#server-to-user-{ann}", reply
        client.send({"event": "pusher:subscribe", "data": {"auth": "", "channel": f"#server-to-user-{bob}"}})
        expect_pusher_error(client, 4300, channel=f"#server-to-user-{bob}")
        pusher_api(server).send_to_user(ann, "notice", {"n": 1})
        notice = client.recv()
        assert notice["event"] == "notice" and notice["channel"] == f"#server-to-user-{ann}", notice
    # Events are stored in order: once the refusal is there, a (wrong) one for ann's own channel would be too.
    wait_for_event(server, "forbidden", since, contains=f"#server-to-user-{bob}")
    assert not [e for e in security_events(server, since=since) if f"#server-to-user-{ann}" in e.get("detail", "")]
