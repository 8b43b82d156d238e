import { DomViaRealtime } from "@domvia/realtime";
import {
buildChatChannelName,
createChatRoom,
} from "@domvia/realtime-chat";
const realtime = DomViaRealtime.create({
key: "pk_live_your_public_key",
host: "ws.domvia.net",
authEndpoint: "/realtime/auth",
clientEvents: true,
});
const room = createChatRoom(realtime, {
roomId: "room-42",
channelName: buildChatChannelName("room-42"),
encrypted: true,
});
await room.waitUntilReady();
room.onMessage((event) => {
console.log("New message:", event.message_id);
});
room.onTyping((event) => {
console.log("Typing:", event.user_id, event.is_typing);
});
room.sendTyping({
user_id: "user-1",
});
