"""The Maravilla seed's server-side snippets, verbatim, on Node against the real edge (`getPlatform().realtime`).

Each snippet lives in `maravilla/server/` between `--- seed ---` and `--- harness ---` markers; the harness prints what
the test checks. The SDK is configured only through the environment (MARAVILLA_REALTIME_URL, MARAVILLA_REALTIME_SECRET,
MARAVILLA_REALTIME_KEY), as server code on Maravilla is.
"""

import time
from pathlib import Path

import pytest

from browser_clients_support import json_lines, node_project, run_node
from conftest import WSClient, decode_jwt, publish, start_server
from maravilla_support import APP, OTHER_TENANT, edge_config, platform_env

SNIPPETS = Path(__file__).parent / "maravilla" / "server"


@pytest.fixture(scope="module")
def edge():
    server = start_server(edge_config())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def folder():
    return node_project()


def snippet(name: str, edge, folder, **env) -> dict:
    output = run_node((SNIPPETS / f"{name}.mjs").read_text(), {**platform_env(edge), **env}, folder=folder).stdout
    return json_lines(output)[-1]


def test_publish_and_members_snippet_reaches_a_browser_protocol_subscriber(edge, folder):
    with WSClient(edge, key=APP["key"]) as subscriber:
        subscriber.subscribed("chat:lobby")
        result = snippet("intro", edge, folder)
        frame, _ = subscriber.recv_until(lambda f: f["event"] == "realtime.message")
    assert frame["channel"] == "chat:lobby" and frame["data"] == {"text": "Hello everyone!"} and frame["userId"] == "alice", frame
    assert result == {"members": []}


def test_publish_examples_with_and_without_a_sender(edge, folder):
    with WSClient(edge, key=APP["key"]) as subscriber:
        subscriber.subscribed("notifications")
        subscriber.subscribed("chat:general")
        snippet("publish", edge, folder)
        note, _ = subscriber.recv_until(lambda f: f.get("channel") == "notifications")
        chat, _ = subscriber.recv_until(lambda f: f.get("channel") == "chat:general")
    assert note["data"] == {"title": "New comment", "body": "Alice replied to your post"} and "userId" not in note, note
    assert chat["data"] == {"text": "Hello!"} and chat["userId"] == "alice", chat


def test_channels_snippet_lists_the_channels_with_subscribers(edge, folder):
    with WSClient(edge, key=APP["key"]) as subscriber:
        for channel in ("chat:support", "game:room-1"):
            subscriber.subscribed(channel)
        active = snippet("channels", edge, folder)["activeChannels"]
    assert {"chat:support", "game:room-1"} <= set(active), active
    with WSClient(edge, key=OTHER_TENANT["key"]) as elsewhere:
        elsewhere.subscribed("other:tenant-only")
        assert "other:tenant-only" not in snippet("channels", edge, folder)["activeChannels"]


def test_presence_snippets_join_update_members_and_leave_with_the_documented_results(edge, folder):
    with WSClient(edge, key=APP["key"]) as subscriber:
        subscriber.subscribed("chat:lobby")
        result = snippet("presence", edge, folder)
        kinds = [subscriber.recv_until(lambda f: f["event"].startswith("presence."))[0] for _ in range(3)]
    assert [(k["event"], k["userId"]) for k in kinds] == [("presence.join", "alice"), ("presence.update", "alice"),
                                                          ("presence.leave", "alice")], kinds
    assert kinds[1]["metadata"] == {"name": "Alice", "status": "away"}
    assert result["isNew"] is True
    [alice] = result["members"]
    assert alice["userId"] == "alice" and alice["metadata"] == {"name": "Alice", "status": "away"}
    # lastSeen in Unix seconds, as the seed shows it.
    assert abs(alice["lastSeen"] - result["now"]) <= 5, alice
    assert result["afterLeave"] == []
    assert (result["joinAgain"], result["joinTwice"]) == (True, False)
    assert (result["updateAbsent"], result["updatePresent"]) == (False, True)
    assert (result["leavePresent"], result["leaveAbsent"]) == (True, False)


def test_create_channel_token_snippet_mints_a_token_the_edge_accepts(edge, folder):
    token = snippet("token", edge, folder)["token"]
    _, claims = decode_jwt(token)
    assert claims["sub"] == "alice" and claims["channel"] == "private-room:vip"
    assert claims["permissions"] == ["subscribe", "publish"] and 3500 < claims["exp"] - time.time() <= 3600
    with WSClient(edge, key=APP["key"]) as client, WSClient(edge, key=APP["key"]) as watcher:
        assert client.subscribe("private-room:vip")["event"] == "error"
        client.subscribed("private-room:vip", token=token)
        watcher.subscribed("private-room:vip", token=token)
        client.send({"action": "publish", "channel": "private-room:vip", "data": {"hi": 1}})
        frame, _ = watcher.recv_until(lambda f: f["event"] == "realtime.message")
    assert frame["userId"] == "alice" and frame["data"] == {"hi": 1}


def test_history_snippet_returns_the_last_messages_and_pages_after_a_seq(edge, folder):
    seqs = [publish(edge, "chat:general", {"n": n}, app=APP)["seq"] for n in range(60)]
    result = snippet("history", edge, folder, LAST_SEEN_SEQ=str(seqs[9]))
    messages, older = result["messages"], result["older"]
    assert len(messages) == 50 and [m["data"]["n"] for m in messages[-3:]] == [57, 58, 59], messages[-3:]
    assert all(m["channel"] == "chat:general" and isinstance(m["seq"], int) for m in messages)
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    assert [m["seq"] for m in older] == seqs[10:30] and [m["data"]["n"] for m in older] == list(range(10, 30))


def test_a_wrong_secret_or_a_key_of_another_app_is_refused_by_the_server_sdk(edge, folder):
    source = """import { getPlatform } from '@maravilla-labs/platform';
try {
  await getPlatform().realtime.publish('chat:x', { n: 1 });
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.log(JSON.stringify({ name: error.name, status: error.status, code: error.code }));
}"""
    wrong = run_node(source, {**platform_env(edge), "MARAVILLA_REALTIME_SECRET": "sk_wrong"}, folder=folder).stdout
    assert json_lines(wrong)[-1] == {"name": "RealtimeError", "status": 401, "code": "unauthorized"}
    other = run_node(source, {**platform_env(edge), "MARAVILLA_REALTIME_KEY": OTHER_TENANT["key"]}, folder=folder).stdout
    assert json_lines(other)[-1] == {"name": "RealtimeError", "status": 401, "code": "unauthorized"}
    unknown = run_node(source, {**platform_env(edge), "MARAVILLA_REALTIME_KEY": "pk_nobody"}, folder=folder).stdout
    assert json_lines(unknown)[-1] == {"name": "RealtimeError", "status": 404, "code": "not_found"}
    right = run_node(source, {**platform_env(edge), "MARAVILLA_REALTIME_KEY": APP["key"]}, folder=folder).stdout
    assert json_lines(right)[-1] == {"ok": True}
