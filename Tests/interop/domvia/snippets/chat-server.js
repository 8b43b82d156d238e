import { authorizePrivateChannel } from "@domvia/realtime-server";
app.post("/realtime/auth", async (request, response) => {
const user = await requireSignedInUser(request);
const channelName = request.body.channel_name;
const socketId = request.body.socket_id;
const roomId = channelName.replace("private-chat.room.", "");
if (!channelName.startsWith("private-chat.room.")) {
return response.status(403).json({ message: "Forbidden" });
}
if (!await userCanAccessChatRoom(user.id, roomId)) {
return response.status(403).json({ message: "Forbidden" });
}
return response.json(
await authorizePrivateChannel({
key: process.env.DOMVIA_REALTIME_KEY,
secret: process.env.DOMVIA_REALTIME_SECRET,
socketId,
channelName,
}),
);
});
