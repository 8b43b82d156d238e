import { DomViaRealtime } from "@domvia/realtime";
import {
buildCallChannelName,
createCallSession,
} from "@domvia/realtime-calls";
const realtime = DomViaRealtime.create({
key: "pk_live_your_public_key",
host: "ws.domvia.net",
authEndpoint: "/realtime/auth",
clientEvents: true,
});
const channelName = buildCallChannelName({
channelKind: "private",
scope: "room",
scopeId: "chat-room-42",
sessionId: "call-9001",
});
const call = createCallSession(realtime, {
callId: "call-9001",
channelName,
});
await call.waitUntilReady();
call.onOffer(async (event) => {
await peerConnection.setRemoteDescription({
type: "offer",
sdp: event.sdp,
});
});
call.onAnswer(async (event) => {
await peerConnection.setRemoteDescription({
type: "answer",
sdp: event.sdp,
});
});
call.onIceCandidate(async (event) => {
await peerConnection.addIceCandidate({
candidate: event.candidate,
sdpMid: event.sdp_mid,
sdpMLineIndex: event.sdp_mline_index,
});
});
call.sendRinging({
userId: "user-2",
});
