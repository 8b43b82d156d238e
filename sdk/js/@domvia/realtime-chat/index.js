// @domvia/realtime-chat: private chat rooms on DomVia Realtime: messages, typing, read receipts, delivery status,
// presence members, and optional end-to-end encryption of message bodies (@domvia/realtime-e2ee).
//
//   const room = createChatRoom(realtime, { roomId: "room-42", channelName: buildChatChannelName("room-42"), encrypted: true });
//   await room.waitUntilReady();
//   room.onMessage((event) => console.log(event.message_id, event.body));
//   await room.sendMessage({ user_id: "user-1", body: "hello" });
//
// Wire events (client events need `clientEvents: true`; your server may publish `chat.message` too):
//   client-chat.message   {message_id, user_id, body, sent_at}      body: text, or an envelope when encrypted
//   client-chat.typing    {user_id, is_typing}
//   client-chat.delivered {message_id, user_id, at}
//   client-chat.read      {message_id, user_id, at}

import { RoomEncryption, isEnvelope, readiness } from "../realtime-e2ee/index.js";

const ROOM_ID = /^[A-Za-z0-9_\-=@,.;]{1,160}$/;

/** The channel of one conversation: `private-chat.room.{roomId}` (or `presence-chat.room.{roomId}` to list members). */
export function buildChatChannelName(roomId, { channelKind = "private" } = {}) {
    if (!ROOM_ID.test(String(roomId))) throw new TypeError(`invalid room id ${JSON.stringify(roomId)}: letters, digits and _-=@,.; only`);
    if (channelKind !== "private" && channelKind !== "presence") throw new TypeError(`chat rooms are private or presence channels, not ${channelKind}`);
    return `${channelKind}-chat.room.${roomId}`;
}

/** The room id in a chat channel name, or null. */
export function parseChatChannelName(channelName) {
    const match = /^(private|presence)-chat\.room\.(.+)$/.exec(String(channelName));
    return match ? match[2] : null;
}

/** Joins a chat room over `realtime` (a `DomViaRealtime`); see `ChatRoom`. */
export function createChatRoom(realtime, options) {
    return new ChatRoom(realtime, options);
}

function newMessageId() {
    return globalThis.crypto?.randomUUID?.() ?? `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export class ChatRoom {
    /**
     * @param {object} realtime a `DomViaRealtime`
     * @param {object} options `roomId`, `channelName` (default `buildChatChannelName(roomId)`), `encrypted` (E2EE of
     *   bodies), `userId` (this user, for receipts), `typingThrottleMs` (default 2000), `deliveryReceipts` (default true:
     *   confirm each message received with `client-chat.delivered`)
     */
    constructor(realtime, { roomId, channelName, encrypted = false, userId, typingThrottleMs = 2000, deliveryReceipts = true, keyWaitMs } = {}) {
        this.realtime = realtime;
        this.roomId = String(roomId ?? parseChatChannelName(channelName));
        this.channelName = channelName || buildChatChannelName(this.roomId);
        this.encrypted = Boolean(encrypted);
        this.userId = userId ?? null;
        this.typingThrottleMs = typingThrottleMs;
        this.deliveryReceipts = deliveryReceipts;
        this.channel = realtime.subscribe(this.channelName);
        this.e2ee = this.encrypted ? new RoomEncryption(this.channel, { roomId: this.roomId, userId: this.userId, keyWaitMs }) : null;
        this.lastTyping = { state: null, at: 0 };
        this.handlers = { message: new Set(), typing: new Set(), status: new Set(), error: new Set() };
        // Decryption is asynchronous: one queue keeps messages in the order they arrived.
        this.incoming = Promise.resolve();
        this.readiness = readiness(this.channel, this.e2ee, this);
        this.channel.bind("client-chat.message", (data, meta) => this.receiveMessage(data, meta));
        this.channel.bind("chat.message", (data, meta) => this.receiveMessage(data, meta));
        this.channel.bind("client-chat.typing", (data, meta) => this.receiveTyping(data, meta));
        this.channel.bind("client-chat.delivered", (data, meta) => this.receiveStatus("delivered", data, meta));
        this.channel.bind("client-chat.read", (data, meta) => this.receiveStatus("read", data, meta));
        this.channel.bind("error", (error) => this.emit("error", error));
        this.channel.bind("subscription_error", (error) => this.emit("error", error));
    }

    /** Resolves once subscribed (and, when encrypted, this device's keys are made and announced). */
    waitUntilReady(options) {
        return this.readiness(options);
    }

    on(kind, callback) {
        this.handlers[kind].add(callback);
        return () => this.handlers[kind].delete(callback);
    }

    emit(kind, value) {
        for (const callback of [...this.handlers[kind]]) {
            try {
                callback(value);
            } catch (error) {
                queueMicrotask(() => {
                    throw error;
                });
            }
        }
    }

    /** `callback({message_id, user_id, body, sent_at, encrypted})` for each message from others; returns a stop function. */
    onMessage(callback) {
        return this.on("message", callback);
    }

    /** `callback({user_id, is_typing})`; returns a stop function. */
    onTyping(callback) {
        return this.on("typing", callback);
    }

    /** `callback({message_id, user_id, status: "delivered" | "read", at})`; returns a stop function. */
    onDeliveryStatus(callback) {
        return this.on("status", callback);
    }

    /** Read receipts only: `callback({message_id, user_id, at})`. */
    onReadReceipt(callback) {
        return this.on("status", (event) => {
            if (event.status === "read") callback(event);
        });
    }

    /** Subscription, authorization, refusals by the edge and undecryptable messages. */
    onError(callback) {
        return this.on("error", callback);
    }

    aad(messageId) {
        return `${this.channelName}|${messageId}`;
    }

    /**
     * Sends a message; with `encrypted`, the body is sealed for the room's members first (the edge and your server see
     * only ciphertext). Resolves to the message as sent (with its `message_id`; plain body).
     */
    async sendMessage({ body, text, user_id, message_id } = {}) {
        await this.waitUntilReady();
        const content = body ?? text;
        if (content === undefined || content === null || content === "") throw new TypeError("sendMessage needs a body");
        const message = { message_id: message_id || newMessageId(), user_id: user_id ?? this.userId, sent_at: Date.now() };
        const wire = { ...message, body: this.e2ee ? await this.e2ee.encrypt({ body: content }, this.aad(message.message_id)) : content };
        await this.channel.trigger("client-chat.message", wire);
        return { ...message, body: content, encrypted: this.encrypted };
    }

    /** Announces typing; at most one event per `typingThrottleMs` for the same state. Returns whether one was sent. */
    sendTyping({ user_id, is_typing = true } = {}) {
        const now = Date.now();
        const state = Boolean(is_typing);
        if (this.lastTyping.state === state && now - this.lastTyping.at < this.typingThrottleMs) return false;
        this.lastTyping = { state, at: now };
        this.waitUntilReady()
            .then(() => this.channel.trigger("client-chat.typing", { user_id: user_id ?? this.userId, is_typing: state }))
            .catch((error) => this.emit("error", error));
        return true;
    }

    /** Tells the room this user read `message_id`. */
    async sendReadReceipt({ message_id, user_id } = {}) {
        await this.waitUntilReady();
        await this.channel.trigger("client-chat.read", { message_id, user_id: user_id ?? this.userId, at: Date.now() });
    }

    /** Tells the room this device received `message_id` (sent automatically unless `deliveryReceipts: false`). */
    async sendDelivered({ message_id, user_id } = {}) {
        await this.waitUntilReady();
        await this.channel.trigger("client-chat.delivered", { message_id, user_id: user_id ?? this.userId, at: Date.now() });
    }

    /** The room's members (presence rooms only): `[{id, info}]`. */
    members() {
        return this.channel.members ? this.channel.members.list() : [];
    }

    /** `callback(members)` whenever someone joins or leaves (presence rooms). */
    onMembersChange(callback) {
        const notify = () => callback(this.members());
        const stops = ["subscribed", "member_added", "member_removed"].map((event) => this.channel.bind(event, notify));
        return () => stops.forEach((stop) => stop());
    }

    receiveMessage(data, meta) {
        if (!data || typeof data !== "object" || !data.message_id) return;
        this.incoming = this.incoming.then(async () => {
            let body = data.body;
            const sealed = isEnvelope(body);
            if (this.e2ee) {
                if (!sealed) return this.emit("error", new Error(`dropped message ${data.message_id}: not encrypted in an encrypted room`));
                try {
                    body = (await this.e2ee.decrypt(body, this.aad(data.message_id))).body;
                } catch (error) {
                    return this.emit("error", Object.assign(new Error(`could not decrypt message ${data.message_id}: ${error.message}`), { cause: error }));
                }
            }
            const event = {
                message_id: data.message_id,
                user_id: meta?.user_id ?? data.user_id ?? null,
                body,
                sent_at: data.sent_at ?? null,
                encrypted: sealed,
            };
            this.emit("message", event);
            if (this.deliveryReceipts && meta?.event?.startsWith("client-") && this.realtime.options.clientEvents) {
                this.sendDelivered({ message_id: data.message_id }).catch((error) => this.emit("error", error));
            }
        });
    }

    receiveTyping(data, meta) {
        if (!data || typeof data !== "object") return;
        this.emit("typing", { user_id: meta?.user_id ?? data.user_id ?? null, is_typing: data.is_typing !== false });
    }

    receiveStatus(status, data, meta) {
        if (!data || typeof data !== "object" || !data.message_id) return;
        this.emit("status", { message_id: data.message_id, user_id: meta?.user_id ?? data.user_id ?? null, status, at: data.at ?? null });
    }

    /** Leaves the room: unsubscribes and forgets its keys. */
    leave() {
        this.e2ee?.close();
        this.realtime.unsubscribe(this.channelName);
    }
}

export default { buildChatChannelName, createChatRoom };
