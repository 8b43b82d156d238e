// RealtimeClient: the browser side of Maravilla Realtime Channels, over the JSON-action protocol at `/_rt/ws`.
//
//   const client = new RealtimeClient();
//   client.connect();
//   const off = client.subscribe("chat:general", (event) => render(event.data));
//
// Needs a `WebSocket`: browsers and Node 22+ have one; on Node 20 run `node --experimental-websocket`, or pass
// `new RealtimeClient({ WebSocket })`.
//
// Reconnects with exponential backoff (and jitter) up to `maxBackoffMs`, then resubscribes every channel with
// `lastEventId` set to the last `seq` it saw there, so the server replays exactly what was missed: nothing lost, nothing
// twice. Presence joins made through `presence(channel).join(…)` are made again after a reconnect.

import { socketURL } from "./endpoint.js";

const DEFAULTS = Object.freeze({
    debug: false,
    autoReconnect: true,
    maxBackoffMs: 15_000,
    /** The first reconnect delay; each failed attempt doubles it, up to `maxBackoffMs`. */
    minBackoffMs: 250,
    /** Keepalive `ping` interval; a connection that answers nothing for `pongTimeoutMs` after it is replaced. */
    pingIntervalMs: 25_000,
    pongTimeoutMs: 10_000,
    /** Frames (publishes, presence changes) kept while disconnected, sent in order once connected. */
    maxQueuedFrames: 1_000,
});

const OPEN = 1;
/** A connection open this long (ms) counts as healthy: the next reconnect starts from the shortest delay. */
const STABLE_MS = 5_000;

/** Calls `callback(value)`; an exception in user code is logged, never breaks the client. */
function safely(callback, value) {
    try {
        callback(value);
    } catch (error) {
        console.error("[realtime] listener failed:", error);
    }
}

/**
 * Gives a message's `data` its `seq`, so `event.data?.seq` works as the catch-up pattern reads it. The property is
 * not enumerable: `JSON.stringify(event.data)`, spreads and key listings still show exactly what was published, and
 * a `seq` of the publisher's own wins. Primitive data (a string, a number) cannot carry it: use `event.seq`.
 */
function attachSeq(data, seq) {
    if (seq === undefined || data === null || typeof data !== "object" || !Object.isExtensible(data)) return data;
    if (Object.prototype.hasOwnProperty.call(data, "seq")) return data;
    Object.defineProperty(data, "seq", { value: seq, enumerable: false, configurable: true, writable: true });
    return data;
}

/** One channel this client wants: its listeners, token and where it stands in the channel's stream. */
class ChannelState {
    constructor(name) {
        this.name = name;
        this.callbacks = new Set();
        /** Presence handles and listeners that need the channel's events. */
        this.holds = 0;
        this.token = undefined;
        /** The `lastEventId` the caller asked for on the first subscribe. */
        this.initialLastEventId = undefined;
        /** The last `seq` delivered to listeners: anything at or below it is a duplicate. */
        this.lastDelivered = undefined;
        /** Where to resume after a reconnect: the newest `seq` delivered or announced by `subscribed`. */
        this.position = undefined;
        /** The `lastEventId` of the subscribe in flight, to spot a reset stream in its reply. */
        this.requested = undefined;
        this.subscribed = false;
        this.sent = false;
        /** The presence member this client joined as, `{ userId, metadata }`, re-joined after reconnects. */
        this.joined = undefined;
        this.presenceListeners = { join: new Set(), update: new Set(), leave: new Set() };
    }

    get wanted() {
        return this.callbacks.size > 0 || this.holds > 0 || this.joined !== undefined;
    }
}

/** The presence of one channel, as `client.presence(channel)` returns it. */
class Presence {
    constructor(client, channel, options = {}) {
        this.client = client;
        this.channel = channel;
        if (options.token !== undefined) client._state(channel).token = options.token;
    }

    /** Joins as `userId` with `metadata` (any JSON); made again after every reconnect until `leave()`. */
    join(userId, metadata = null) {
        const state = this.client._state(this.channel);
        const first = state.joined === undefined;
        state.joined = { userId, metadata };
        // A first join subscribes the channel (which sends the join after it); a later one re-sends it.
        if (first && !state.sent) return this.client._retain(state);
        this.client._sendPresenceJoin(state);
    }

    /** Replaces the joined member's metadata without a leave/join cycle. */
    update(metadata) {
        const state = this.client._state(this.channel);
        if (state.joined === undefined) throw new Error(`join ${this.channel} before updating presence`);
        state.joined = { ...state.joined, metadata };
        // While disconnected the server holds no member: the join made on reconnect carries the new metadata.
        this.client._send({ action: "presence:update", channel: this.channel, userId: state.joined.userId, metadata });
    }

    /** Leaves the channel's presence. */
    leave() {
        const state = this.client._channels.get(this.channel);
        if (state?.joined === undefined) return;
        state.joined = undefined;
        this.client._send({ action: "presence:leave", channel: this.channel });
        this.client._release(state);
    }

    /** `callback(member)` for every member that joins (`{ userId, metadata, ts }`); returns a function that stops it. */
    onJoin(callback) {
        return this._listen("join", callback);
    }

    /** `callback(member)` for every metadata update; returns a function that stops it. */
    onUpdate(callback) {
        return this._listen("update", callback);
    }

    /** `callback(member)` for every member that leaves; returns a function that stops it. */
    onLeave(callback) {
        return this._listen("leave", callback);
    }

    /** The members the server listed when the channel was last subscribed, updated by later events. */
    members() {
        return [...(this.client._members.get(this.channel)?.values() ?? [])];
    }

    _listen(kind, callback) {
        const state = this.client._state(this.channel);
        state.presenceListeners[kind].add(callback);
        state.holds += 1;
        this.client._retain(state);
        let active = true;
        return () => {
            if (!active) return;
            active = false;
            state.presenceListeners[kind].delete(callback);
            state.holds -= 1;
            this.client._release(state);
        };
    }
}

/** A connection to Maravilla Realtime Channels (`/_rt/ws`). */
export class RealtimeClient {
    /**
     * @param {object} [options]
     * @param {boolean} [options.debug] log frames and state changes to the console (default false)
     * @param {boolean} [options.autoReconnect] reconnect after a loss (default true)
     * @param {number} [options.maxBackoffMs] the longest wait between reconnect attempts (default 15000)
     * @param {string} [options.url] the edge (`https://host` or `wss://host/_rt/ws`); default auto-detected
     * @param {string} [options.key] the app's public key (`?key=`); default the edge's app for this host
     * @param {string} [options.tenant] the tenant (`?tenant=`, an app key or id)
     * @param {Function} [options.WebSocket] a WebSocket class where the runtime has none
     */
    constructor(options = {}) {
        this.options = { ...DEFAULTS, ...options };
        /** The id the server gave this connection (`connected.data.clientId`). */
        this.clientId = undefined;
        this._channels = new Map();
        this._members = new Map();
        this._any = new Set();
        this._errors = new Set();
        this._queue = [];
        this._socket = undefined;
        this._wanted = false;
        this._open = false;
        this._attempt = 0;
        this._openedAt = undefined;
        this._reconnectTimer = undefined;
        this._pingTimer = undefined;
        this._pongTimer = undefined;
    }

    /** Opens the connection (once; later calls while connected do nothing). Resolves when the server has said hello. */
    connect() {
        this._wanted = true;
        clearTimeout(this._reconnectTimer);
        this._reconnectTimer = undefined;
        if (!this._socket) this._openSocket();
        return new Promise((resolve) => {
            if (this._open) return resolve();
            const off = this.onAny((event) => {
                if (event.event === "connected") {
                    off();
                    resolve();
                }
            });
        });
    }

    /** True while the WebSocket is open. */
    isConnected() {
        return this._open && this._socket?.readyState === OPEN;
    }

    /** Closes the connection and stops reconnecting. Subscriptions are kept for a later `connect()`. */
    disconnect() {
        this._wanted = false;
        this._attempt = 0;
        clearTimeout(this._reconnectTimer);
        this._reconnectTimer = undefined;
        this._stopKeepalive();
        const socket = this._socket;
        this._socket = undefined;
        this._lost();
        if (socket) {
            try {
                socket.close(1000);
            } catch {
                // Already closing.
            }
        }
    }

    /**
     * Listens to `realtime.message` events of `channel`: `callback({ event, channel, data, userId, seq, name, ts })`.
     *
     * @param {object} [options]
     * @param {string|Function} [options.token] a channel token (`private-…` channels), or a function returning one
     *   (a promise too), called again for every resubscribe
     * @param {number} [options.lastEventId] replay the kept messages after this `seq` before live ones
     * @param {Function} [options.onError] `callback(event)` for `error` events about this channel
     * @returns {Function} unsubscribes this callback
     */
    subscribe(channel, callback, options = {}) {
        const state = this._state(channel);
        if (options.token !== undefined) state.token = options.token;
        if (options.lastEventId !== undefined && options.lastEventId !== null && state.position === undefined) {
            state.initialLastEventId = Number(options.lastEventId);
        }
        const entry = { callback, onError: options.onError };
        state.callbacks.add(entry);
        this._retain(state);
        let active = true;
        return () => {
            if (!active) return;
            active = false;
            state.callbacks.delete(entry);
            this._release(state);
        };
    }

    /** Publishes `data` on `channel` (queued while disconnected); the sender does not receive its own message. */
    publish(channel, data, options = {}) {
        const frame = { action: "publish", channel, data };
        if (options.userId !== undefined) frame.userId = options.userId;
        if (options.name !== undefined) frame.name = options.name;
        const token = options.token ?? this._channels.get(channel)?.token;
        if (typeof token === "string") frame.token = token;
        this._enqueue(frame);
    }

    /** The presence of `channel`: `join`, `update`, `leave`, `onJoin`, `onUpdate`, `onLeave`, `members`. */
    presence(channel, options = {}) {
        return new Presence(this, channel, options);
    }

    /** `callback(event)` for every event of every channel (messages, presence, errors, `connected`). */
    onAny(callback) {
        this._any.add(callback);
        return () => this._any.delete(callback);
    }

    /** `callback(event)` for every `error` event (`event.data.code`: `unauthorized`, `forbidden`, `rate_limited`, …). */
    onError(callback) {
        this._errors.add(callback);
        return () => this._errors.delete(callback);
    }

    // MARK: Channels

    _state(channel) {
        let state = this._channels.get(channel);
        if (!state) {
            state = new ChannelState(channel);
            this._channels.set(channel, state);
        }
        return state;
    }

    _retain(state) {
        if (!state.sent && this.isConnected()) this._sendSubscribe(state);
    }

    _release(state) {
        if (state.wanted) return;
        this._channels.delete(state.name);
        this._members.delete(state.name);
        if (state.sent && this.isConnected()) this._send({ action: "unsubscribe", channel: state.name });
    }

    async _sendSubscribe(state) {
        state.sent = true;
        const socket = this._socket;
        const frame = { action: "subscribe", channel: state.name };
        let token = state.token;
        if (typeof token === "function") {
            try {
                token = await token();
            } catch (error) {
                this._log("token callback failed", error);
                token = undefined;
            }
            if (socket !== this._socket || !this.isConnected() || this._channels.get(state.name) !== state) return;
        }
        if (typeof token === "string" && token) frame.token = token;
        const lastEventId = state.position ?? state.initialLastEventId;
        if (lastEventId !== undefined) frame.lastEventId = lastEventId;
        state.requested = lastEventId;
        this._send(frame);
        if (state.joined !== undefined) this._sendPresenceJoin(state);
    }

    /** Sends the join now when the channel's subscribe went out; otherwise that subscribe sends it (on connect). */
    _sendPresenceJoin(state) {
        if (!state.joined || !this.isConnected()) return;
        if (!state.sent) return this._sendSubscribe(state);
        this._send({ action: "presence:join", channel: state.name, userId: state.joined.userId, metadata: state.joined.metadata });
    }

    // MARK: Socket

    _openSocket() {
        const WebSocketClass = this.options.WebSocket ?? globalThis.WebSocket;
        if (typeof WebSocketClass !== "function") {
            throw new Error(
                "RealtimeClient needs a WebSocket: use a browser or Node 22+, run Node 20 with --experimental-websocket, " +
                    "or pass new RealtimeClient({ WebSocket })",
            );
        }
        const url = socketURL(this.options);
        this._log("connecting to", url);
        const socket = new WebSocketClass(url);
        this._socket = socket;
        socket.onopen = () => {
            if (socket !== this._socket) return;
            this._open = true;
            this._openedAt = Date.now();
            this._startKeepalive();
            for (const state of this._channels.values()) if (state.wanted && !state.sent) this._sendSubscribe(state);
            this._flush();
        };
        socket.onmessage = (message) => {
            if (socket !== this._socket) return;
            this._heard();
            let frame;
            try {
                frame = JSON.parse(typeof message.data === "string" ? message.data : new TextDecoder().decode(message.data));
            } catch {
                return this._log("unreadable frame", message.data);
            }
            this._log("<", frame);
            this._receive(frame);
        };
        socket.onclose = (event) => this._drop(socket, event?.code, event?.reason);
        // Browsers follow a failed handshake's `error` with `close`; Node 20's WebSocket may not, so a socket that errs
        // before it opened (or after it closed) is given up here.
        socket.onerror = () => {
            this._log("socket error");
            if (socket.readyState !== OPEN) this._drop(socket, 1006, "connection failed");
        };
    }

    /** Gives up `socket` (once): every channel is resubscribed on the next connection, scheduled with backoff. */
    _drop(socket, code, reason) {
        if (socket !== this._socket) return;
        this._log("closed", code, reason);
        // Backoff starts over only after a connection that lasted: a server that accepts and at once sends clients
        // away (a restart's grace period) is retried ever more slowly, not hammered.
        if (this._openedAt !== undefined && Date.now() - this._openedAt >= STABLE_MS) this._attempt = 0;
        this._openedAt = undefined;
        this._socket = undefined;
        this._stopKeepalive();
        this._lost();
        try {
            socket.close();
        } catch {
            // Already closed.
        }
        this._scheduleReconnect();
    }

    /** Every channel needs a new subscribe on the next connection. */
    _lost() {
        this._open = false;
        for (const state of this._channels.values()) {
            state.sent = false;
            state.subscribed = false;
        }
    }

    _scheduleReconnect() {
        if (!this._wanted || !this.options.autoReconnect || this._reconnectTimer !== undefined) return;
        const ceiling = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** Math.min(this._attempt, 16));
        const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
        this._attempt += 1;
        this._log(`reconnecting in ${delay} ms`);
        this._reconnectTimer = setTimeout(() => {
            this._reconnectTimer = undefined;
            if (this._wanted && !this._socket) this._openSocket();
        }, delay);
    }

    _startKeepalive() {
        this._stopKeepalive();
        this._pingTimer = setInterval(() => {
            this._send({ action: "ping" });
            if (this._pongTimer === undefined) {
                const socket = this._socket;
                this._pongTimer = setTimeout(() => {
                    this._pongTimer = undefined;
                    this._drop(socket, 4000, "no answer to ping");
                }, this.options.pongTimeoutMs);
            }
        }, this.options.pingIntervalMs);
    }

    _stopKeepalive() {
        clearInterval(this._pingTimer);
        clearTimeout(this._pongTimer);
        this._pingTimer = undefined;
        this._pongTimer = undefined;
    }

    /** Any frame shows the connection is alive. */
    _heard() {
        clearTimeout(this._pongTimer);
        this._pongTimer = undefined;
    }

    _send(frame) {
        if (!this.isConnected()) return false;
        this._log(">", frame);
        this._socket.send(JSON.stringify(frame));
        return true;
    }

    _enqueue(frame) {
        if (this.isConnected()) return this._send(frame);
        if (this._queue.length >= this.options.maxQueuedFrames) this._queue.shift();
        this._queue.push(frame);
    }

    _flush() {
        const queued = this._queue;
        this._queue = [];
        for (const frame of queued) this._send(frame);
    }

    // MARK: Events

    _receive(frame) {
        switch (frame.event) {
            case "connected":
                this.clientId = frame.data?.clientId;
                break;
            case "subscribed":
                this._subscribed(frame);
                break;
            case "realtime.message":
                if (!this._message(frame)) return;
                break;
            case "presence.join":
            case "presence.update":
            case "presence.leave":
                this._presence(frame);
                break;
            case "error":
                this._error(frame);
                break;
            default:
                break;
        }
        for (const callback of this._any) safely(callback, frame);
    }

    _subscribed(frame) {
        const state = this._channels.get(frame.channel);
        if (!state) return;
        state.subscribed = true;
        const seq = typeof frame.seq === "number" ? frame.seq : undefined;
        const requested = state.requested;
        state.requested = undefined;
        if (requested !== undefined && (seq === undefined || seq < requested)) {
            // The stream was reset (history lost): the server replays everything it keeps, all new to this client.
            state.lastDelivered = 0;
            state.position = seq ?? 0;
        } else {
            if (requested !== undefined) state.lastDelivered = Math.max(state.lastDelivered ?? 0, requested);
            // Without a seq the channel had no stream yet: everything after 0 is new.
            state.position = Math.max(state.position ?? 0, seq ?? 0, state.lastDelivered ?? 0);
        }
        if (Array.isArray(frame.members)) {
            const members = new Map();
            for (const member of frame.members) members.set(member.userId, { userId: member.userId, metadata: member.metadata ?? null });
            this._members.set(state.name, members);
        }
    }

    /** Delivers a message to the channel's listeners; false for a duplicate. */
    _message(frame) {
        const state = this._channels.get(frame.channel);
        const seq = typeof frame.seq === "number" ? frame.seq : undefined;
        if (state && seq !== undefined) {
            if (state.lastDelivered !== undefined && seq <= state.lastDelivered) return false;
            state.lastDelivered = seq;
            state.position = Math.max(state.position ?? 0, seq);
        }
        attachSeq(frame.data, seq);
        if (!state) return true;
        for (const entry of [...state.callbacks]) safely(entry.callback, frame);
        return true;
    }

    _presence(frame) {
        const kind = frame.event.slice("presence.".length);
        const member = { userId: frame.userId, metadata: frame.metadata ?? null, ts: frame.ts };
        let members = this._members.get(frame.channel);
        if (!members) {
            members = new Map();
            this._members.set(frame.channel, members);
        }
        if (kind === "leave") members.delete(member.userId);
        else members.set(member.userId, { userId: member.userId, metadata: member.metadata });
        const state = this._channels.get(frame.channel);
        if (!state) return;
        for (const callback of [...state.presenceListeners[kind]]) safely(callback, member);
    }

    _error(frame) {
        this._log("error", frame.channel ?? "", frame.data?.code, frame.data?.message);
        for (const callback of this._errors) safely(callback, frame);
        const state = frame.channel !== undefined ? this._channels.get(frame.channel) : undefined;
        if (!state) return;
        if (!state.subscribed && state.requested !== undefined && ["unauthorized", "forbidden"].includes(frame.data?.code)) {
            state.requested = undefined;
        }
        for (const entry of [...state.callbacks]) if (entry.onError) safely(entry.onError, frame);
    }

    _log(...parts) {
        if (this.options.debug) console.debug("[realtime]", ...parts);
    }
}
