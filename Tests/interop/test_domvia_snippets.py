"""Every DomVia seed snippet, verbatim, against the real server: the chat and call client snippets in headless
Chromium, the three `authorizePrivateChannel(…)` routes in the Node app the test starts. Only host, key and secret
change (domvia_support.client_snippet; the server snippets read the key and secret from the environment)."""

import json

import httpx
import pytest

from domvia_support import DOMVIA, client_snippet, errors, logs, read_snippet, save_screenshot, start_stack, wait_js, wait_log

pytestmark = pytest.mark.timeout(90)

# Appended after the verbatim snippet, in the same module, so the test can reach its objects.
EXPOSE_ROOM = "\nwindow.snippet = { realtime, room };\nwindow.snippetDone = true;\n"
EXPOSE_CALL = "\nwindow.snippet = { realtime, call, channelName };\nwindow.snippetDone = true;\n"


def test_seed_server_snippets_are_the_seeds_text():
    # The copies the tests run are the seeds' text, unedited: each starts with the import and keeps the env names.
    for name in ("chat-server.js", "calls-server.js", "docs-server.js"):
        text = read_snippet(name)
        assert text.startswith('import { authorizePrivateChannel } from "@domvia/realtime-server";\napp.post("/realtime/auth"')
        assert "key: process.env.DOMVIA_REALTIME_KEY,\nsecret: process.env.DOMVIA_REALTIME_SECRET," in text
    for name in ("chat-client.js", "calls-client.js"):
        assert read_snippet(name).startswith('import { DomViaRealtime } from "@domvia/realtime";\nimport {\n')


def test_chat_client_and_server_snippets_verbatim_in_two_browsers():
    stack = start_stack("chat-server.js")
    try:
        one, two = stack.browser(), stack.browser()
        module = client_snippet("chat-client.js", stack.edge) + EXPOSE_ROOM
        one.get(stack.page("chat-1.html", "<p>one</p>", module, user="user-1"))
        wait_js(one, "window.snippetDone === true", message="the first tab's snippet finished")
        two.get(stack.page("chat-2.html", "<p>two</p>", module, user="user-2"))
        wait_js(two, "window.snippetDone === true", message="the second tab's snippet finished")

        # The second tab's `room.sendTyping({user_id: "user-1"})` reaches the first tab's `room.onTyping`.
        assert wait_log(one, "Typing: user-1 true") == "Typing: user-1 true"

        # A message from the first tab reaches the second tab's `room.onMessage` (encrypted: true in the snippet).
        sent = one.execute_async_script(
            "const done = arguments[0];"
            "window.snippet.room.sendMessage({user_id: 'user-1', body: 'hello from tab one'}).then(done, (e) => done('ERR ' + e.message));"
        )
        assert isinstance(sent, dict), sent
        assert wait_log(two, f"New message: {sent['message_id']}")
        assert sent["encrypted"] is True

        # Both subscriptions were signed by the seed's route, after its membership check.
        granted = [entry for entry in stack.auth_log() if entry["status"] == 200]
        assert {entry["user"] for entry in granted} == {"user-1", "user-2"}
        assert {entry["channel"] for entry in granted} == {"private-chat.room.room-42"}
        assert errors(one) == [] and errors(two) == []
        save_screenshot(two, "domvia-snippet-chat.png")
    finally:
        stack.stop()


def test_chat_server_snippet_refuses_a_user_outside_the_room():
    stack = start_stack("chat-server.js", room_members={"room-42": ["user-1"]})
    try:
        browser = stack.browser()
        module = client_snippet("chat-client.js", stack.edge) + EXPOSE_ROOM
        browser.get(stack.page("chat-outsider.html", "", module, user="mallory"))
        wait_js(browser, "window.__errors.length > 0", message="waitUntilReady rejected")
        assert "Forbidden" in " ".join(errors(browser))
        assert [entry["status"] for entry in stack.auth_log()] == [403]
        assert not browser.execute_script("return window.snippetDone === true")
        # Without a cookie the route's requireSignedInUser answers 401 and nothing is signed.
        r = httpx.post(f"{stack.http}/realtime/auth", data={"socket_id": "1.2", "channel_name": "private-chat.room.room-42"}, timeout=5)
        assert r.status_code == 401
    finally:
        stack.stop()


def test_docs_server_snippet_signs_what_the_user_may_join_and_the_edge_accepts_it():
    stack = start_stack("docs-server.js", room_members={"room-42": ["user-1", "user-2"]})
    try:
        browser = stack.browser()
        module = client_snippet("chat-client.js", stack.edge) + EXPOSE_ROOM
        browser.get(stack.page("docs.html", "", module, user="user-2"))
        wait_js(browser, "window.snippetDone === true", message="subscribed through the docs route")
        assert wait_js(browser, "window.snippet.room.channel.subscribed") is True
        # user.canJoin(channelName) refuses a room the user is not in.
        r = httpx.post(
            f"{stack.http}/realtime/auth",
            data={"socket_id": "1.2", "channel_name": "private-chat.room.room-42"},
            cookies={"user": "mallory"},
            timeout=5,
        )
        assert r.status_code == 403 and r.json() == {"message": "Forbidden"}
    finally:
        stack.stop()


def test_calls_snippets_verbatim_negotiate_a_real_webrtc_call():
    """The call snippet (callee) and a caller page set up two RTCPeerConnections that reach `connected` with offer,
    answer and ICE carried only by @domvia/realtime-calls over Switchboard."""
    stack = start_stack("calls-server.js", room_members={"chat-room-42": ["user-1", "user-2"]})
    try:
        caller, callee = stack.browser(fake_media=True), stack.browser(fake_media=True)
        caller_module = f"""
import {{ DomViaRealtime }} from "@domvia/realtime";
import {{ buildCallChannelName, createCallSession }} from "@domvia/realtime-calls";
const realtime = DomViaRealtime.create({{ key: {json.dumps(DOMVIA["key"])}, host: "127.0.0.1:{stack.edge.port}", authEndpoint: "/realtime/auth", clientEvents: true }});
const channelName = buildCallChannelName({{ channelKind: "private", scope: "room", scopeId: "chat-room-42", sessionId: "call-9001" }});
const call = createCallSession(realtime, {{ callId: "call-9001", channelName, userId: "user-1" }});
const pc = new RTCPeerConnection();
window.pc = pc;
const media = await navigator.mediaDevices.getUserMedia({{ audio: true, video: true }});
for (const track of media.getTracks()) pc.addTrack(track, media);
call.attachPeerConnection(pc);
call.onAnswer(async (event) => {{ await pc.setRemoteDescription({{ type: "answer", sdp: event.sdp }}); }});
call.onIceCandidate(async (event) => {{
  await pc.addIceCandidate({{ candidate: event.candidate, sdpMid: event.sdp_mid, sdpMLineIndex: event.sdp_mline_index }});
}});
call.onRinging(async (event) => {{
  console.log("ringing", event.user_id);
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await call.sendOffer(offer);
}});
await call.waitUntilReady();
await call.start({{ media: {{ audio: true, video: true }} }});
window.callerReady = true;
"""
        caller.get(stack.page("caller.html", "<p>caller</p>", caller_module, user="user-1"))
        wait_js(caller, "window.callerReady === true", message="the caller is on the call channel")

        # The callee runs the seed's snippet as written; `peerConnection` is the page's own RTCPeerConnection.
        prelude = """
window.peerConnection = new RTCPeerConnection();
window.mediaReady = navigator.mediaDevices.getUserMedia({ audio: true, video: true }).then((media) => {
  for (const track of media.getTracks()) peerConnection.addTrack(track, media);
});
"""
        # Registered synchronously after the snippet's own handlers: the offer cannot arrive before it.
        answer = """
call.attachPeerConnection(peerConnection);
call.onOffer(async () => {
  await window.mediaReady;
  const answer = await peerConnection.createAnswer();
  await peerConnection.setLocalDescription(answer);
  await call.sendAnswer(answer);
});
"""
        module = client_snippet("calls-client.js", stack.edge) + EXPOSE_CALL + answer
        callee.get(stack.page("callee.html", "<p>callee</p>", module, user="user-2", prelude=prelude))
        wait_js(callee, "window.snippetDone === true", message="the call snippet finished")
        assert wait_log(caller, "ringing user-2")

        connected = "['connected', 'completed'].includes({}.iceConnectionState)"
        wait_js(caller, connected.format("window.pc"), timeout=25, message="caller ICE connected")
        wait_js(callee, connected.format("peerConnection"), timeout=25, message="callee ICE connected")
        assert wait_js(callee, "peerConnection.remoteDescription && peerConnection.remoteDescription.type") == "offer"
        assert wait_js(caller, "window.pc.connectionState", timeout=15) in ("connected", "connecting")
        wait_js(caller, "window.pc.connectionState === 'connected'", timeout=15, message="caller DTLS connected")
        assert errors(caller) == [] and errors(callee) == [], (logs(caller), logs(callee))
        granted = {(e["user"], e["channel"]) for e in stack.auth_log() if e["status"] == 200}
        assert granted == {("user-1", "private-call.room.chat-room-42.call-9001"), ("user-2", "private-call.room.chat-room-42.call-9001")}
        save_screenshot(callee, "domvia-snippet-call.png")
    finally:
        stack.stop()
