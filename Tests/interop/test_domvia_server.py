"""@domvia/realtime-server in Debian's Node 20 against the real server: its signatures are accepted by the edge for
private and presence channels, and its publish client reaches subscribers of every protocol, reads the kept
history, and surfaces the edge's refusals (status, code, message)."""

import json
import subprocess

import pytest

from conftest import PusherWS, WSClient, channel_token, start_server, unique
from domvia_support import CONFIG, DOMVIA, KIT_RULES, NODE, SDK

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def edge():
    server = start_server(CONFIG.replace('upstream = "{upstream}"\n', "").replace("{rules}", KIT_RULES))
    yield server
    assert server.stop() == 0, server.log()[-3000:]


def node(script: str, **env) -> dict:
    """Runs `script` as an ES module with the package imported as `server`; returns what it prints (JSON)."""
    module = (SDK / "@domvia" / "realtime-server" / "index.js").as_uri()
    source = f"import * as server from {json.dumps(module)};\n{script}"
    run = subprocess.run([NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", **{k: str(v) for k, v in env.items()}})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_private_and_presence_signatures_are_accepted_by_the_edge(edge):
    with PusherWS(edge, key=DOMVIA["key"]) as client:
        signed = node(
            """
const key = process.env.KEY, secret = process.env.SECRET, socketId = process.env.SOCKET;
console.log(JSON.stringify({
  private: await server.authorizePrivateChannel({ key, secret, socketId, channelName: "private-chat.room.n1" }),
  presence: await server.authorizePresenceChannel({ key, secret, socketId, channelName: "presence-chat.room.n1",
                                                     user: { id: "ada", info: { name: "Ada" } } }),
  wrong: await server.authorizePrivateChannel({ key, secret: "not-the-secret", socketId, channelName: "private-chat.room.n2" }),
}));
""",
            KEY=DOMVIA["key"], SECRET=DOMVIA["secret"], SOCKET=client.socket_id,
        )
        reply = client.subscribe("private-chat.room.n1", auth=signed["private"]["auth"])
        assert reply["event"] == "pusher_internal:subscription_succeeded", reply
        reply = client.subscribe("presence-chat.room.n1", auth=signed["presence"]["auth"], channel_data=signed["presence"]["channel_data"])
        assert reply["event"] == "pusher_internal:subscription_succeeded", reply
        data = reply["data"] if isinstance(reply["data"], dict) else json.loads(reply["data"])
        assert data["presence"]["hash"] == {"ada": {"name": "Ada"}}, reply
        reply = client.subscribe("private-chat.room.n2", auth=signed["wrong"]["auth"])
        assert reply["event"] == "pusher:subscription_error", reply
        assert (reply["data"] if isinstance(reply["data"], dict) else json.loads(reply["data"]))["status"] == 401, reply


def test_bad_inputs_are_refused_before_signing():
    result = node(
        """
const out = {};
for (const [name, args] of Object.entries({
  missingSecret: { key: "k", secret: undefined, socketId: "1.2", channelName: "private-a" },
  badSocket: { key: "k", secret: "s", socketId: "1.2:private-b", channelName: "private-a" },
  badChannel: { key: "k", secret: "s", socketId: "1.2", channelName: "private-a:evil" },
  presenceAsPrivate: { key: "k", secret: "s", socketId: "1.2", channelName: "presence-a" },
})) {
  try { await server.authorizePrivateChannel(args); out[name] = "signed"; } catch (e) { out[name] = e.message; }
}
console.log(JSON.stringify(out));
"""
    )
    assert "`secret` is required" in result["missingSecret"]
    assert "invalid socket id" in result["badSocket"]
    assert "invalid channel name" in result["badChannel"]
    assert "authorizePresenceChannel" in result["presenceAsPrivate"]


def test_the_publish_client_reaches_every_protocol_and_reports_refusals(edge):
    channel = f"private-delivery.{unique('d')}"
    with PusherWS(edge, key=DOMVIA["key"]) as pusher_client, WSClient(edge, key=DOMVIA["key"]) as json_client:
        pusher_client.subscribed(channel, app=DOMVIA)
        json_client.subscribed(channel, token=channel_token(channel, app=DOMVIA))
        result = node(
            """
const realtime = server.createRealtimeServer({ appId: process.env.APP, key: process.env.KEY, secret: process.env.SECRET,
                                               host: `127.0.0.1:${process.env.PORT}` });
const channel = process.env.CHANNEL;
const out = { triggered: [] };
for (const status of ["pickup", "in_transit", "delivered"]) out.triggered.push(await realtime.trigger(channel, "delivery.status", { status }));
try { await realtime.trigger(channel, "delivery.status", { status: "in_transit" }); out.refused = null; }
catch (e) { out.refused = { status: e.status, code: e.code, message: e.message }; }
out.history = (await realtime.history(channel)).messages.map((m) => m.data.status);
out.channel = await realtime.channel(channel, { info: "subscription_count" });
console.log(JSON.stringify(out));
""",
            APP=DOMVIA["id"], KEY=DOMVIA["key"], SECRET=DOMVIA["secret"], PORT=edge.port, CHANNEL=channel,
        )
        assert result["triggered"] == [{}, {}, {}]
        assert result["refused"]["status"] == 409 and result["refused"]["code"] == "invalid_transition"
        assert "cannot go to in_transit from delivered" in result["refused"]["message"]
        assert result["history"] == ["pickup", "in_transit", "delivered"]
        assert result["channel"]["occupied"] is True and result["channel"]["subscription_count"] == 2
        for status in ("pickup", "in_transit", "delivered"):
            frame = pusher_client.recv()
            assert frame["event"] == "delivery.status" and json.loads(frame["data"]) == {"status": status}, frame
            frame = json_client.recv()
            assert frame["event"] == "realtime.message" and frame["data"] == {"status": status} and frame["name"] == "delivery.status"
        pusher_client.assert_alive()
