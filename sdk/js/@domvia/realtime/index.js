// @domvia/realtime: the DomVia Realtime client, speaking the Pusher Channels protocol (v7) to Switchboard.
//
//   const realtime = DomViaRealtime.create({ key: "pk_…", host: "127.0.0.1:8080", authEndpoint: "/realtime/auth" });
//   const channel = realtime.subscribe("private-chat.room.42");
//   channel.bind("chat.message", (data, meta) => …);
//
// Plain ES module, no dependencies: runs in browsers and in any runtime with `WebSocket` and `fetch`
// (Node 20 has no `WebSocket`: pass one as the `WebSocket` option, or use @domvia/realtime-server there).

import { RealtimeChannel } from "./channel.js";
import { backoffDelay, isLoopbackHost } from "./backoff.js";

export { RealtimeChannel } from "./channel.js";
export { backoffDelay } from "./backoff.js";

/** The version this client reports to the server (`client=domvia-js&version=…`). */
export const VERSION = "0.1.0";

/** Connection states, in the order a healthy connection goes through them. */
export const ConnectionState = Object.freeze({
    initialized: "initialized",
    connecting: "connecting",
    connected: "connected",
    /** Lost; a reconnect is scheduled (with backoff and jitter). */
    unavailable: "unavailable",
    /** Closed by `disconnect()`. */
    disconnected: "disconnected",
    /** The server refused the app for good (unknown key, disabled app): no reconnect. */
    failed: "failed",
});

const DEFAULTS = {
    authEndpoint: "/realtime/auth",
    clientEvents: false,
    clientEventsPerSecond: 10,
    reconnect: { minDelayMs: 500, maxDelayMs: 30_000 },
    pongTimeoutMs: 30_000,
    subscribeTimeoutMs: 15_000,
    maxQueuedClientEvents: 200,
};

/**
 * A connection to DomVia Realtime (Switchboard) with its channels.
 *
 * Reconnects on its own after a loss (exponential backoff with jitter), then re-authorizes and resubscribes every
 * channel it held; channel bindings survive reconnects.
 */
export class DomViaRealtime {
    /**
     * Creates a client and starts connecting (unless `autoConnect: false`).
     *
     * @param {object} options
     * @param {string} options.key the app's public key
     * @param {string} options.host `host[:port]`, or a `ws://` / `wss://` URL; TLS unless the host is loopback
     * @param {string} [options.authEndpoint] where private and presence channels are authorized (POST `socket_id`,
     *   `channel_name`); default `/realtime/auth`
     * @param {boolean} [options.clientEvents] allow `channel.trigger(…)` client events (private and presence channels)
     */
    static create(options) {
        const realtime = new DomViaRealtime(options);
        if (options.autoConnect !== false) realtime.connect();
        return realtime;
    }

    constructor(options = {}) {
        if (!options.key) throw new TypeError("DomViaRealtime: `key` (the app's public key) is required");
        if (!options.host) throw new TypeError("DomViaRealtime: `host` is required");
        this.options = { ...DEFAULTS, ...options, reconnect: { ...DEFAULTS.reconnect, ...(options.reconnect || {}) } };
        this.key = options.key;
        this.state = ConnectionState.initialized;
        this.socketId = null;
        this.channels = new Map();
        this.listeners = new Map();
        this.socket = null;
        this.attempt = 0;
        this.timers = new Set();
        this.manualClose = false;
        this.activityTimeoutMs = 120_000;
        this.lastReceivedAt = 0;
        this.sendTokens = this.options.clientEventsPerSecond;
        this.sendRefilledAt = Date.now();
        this.sendQueue = [];
        this.sendTimer = null;
    }

    /** The WebSocket URL: `ws(s)://host/app/{key}?protocol=7&client=domvia-js&version=…`. */
    get url() {
        const host = String(this.options.host).replace(/\/+$/, "");
        let base;
        if (/^wss?:\/\//i.test(host)) {
            base = host;
        } else if (/^https?:\/\//i.test(host)) {
            base = host.replace(/^http/i, "ws");
        } else {
            const tls = this.options.forceTLS ?? !isLoopbackHost(host.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""));
            base = `${tls ? "wss" : "ws"}://${host}`;
        }
        return `${base}/app/${encodeURIComponent(this.key)}?protocol=7&client=domvia-js&version=${VERSION}&flash=false`;
    }

    // MARK: Events

    /** Listens to `state_change` ({previous, current}), `connected`, `error` or `message`; returns a function that stops it. */
    on(event, callback) {
        if (!this.listeners.has(event)) this.listeners.set(event, new Set());
        this.listeners.get(event).add(callback);
        return () => this.off(event, callback);
    }

    off(event, callback) {
        this.listeners.get(event)?.delete(callback);
    }

    emit(event, value) {
        for (const callback of [...(this.listeners.get(event) || [])]) {
            try {
                callback(value);
            } catch (error) {
                queueMicrotask(() => {
                    throw error;
                });
            }
        }
    }

    setState(next) {
        if (this.state === next) return;
        const previous = this.state;
        this.state = next;
        this.emit("state_change", { previous, current: next });
        this.emit(next, undefined);
    }

    /** Resolves once connected (or at once when connected); rejects after `timeoutMs` or when the app is refused. */
    waitUntilConnected({ timeoutMs = 15_000 } = {}) {
        if (this.state === ConnectionState.connected) return Promise.resolve(this);
        return new Promise((resolve, reject) => {
            const stop = this.on("state_change", ({ current }) => {
                if (current === ConnectionState.connected) {
                    finish();
                    resolve(this);
                } else if (current === ConnectionState.failed) {
                    finish();
                    reject(this.lastError || new Error("the connection failed"));
                }
            });
            const timer = this.setTimer(() => {
                finish();
                reject(new Error(`not connected after ${timeoutMs} ms`));
            }, timeoutMs);
            const finish = () => {
                stop();
                this.clearTimer(timer);
            };
        });
    }

    // MARK: Connection

    /** Opens the connection (a no-op while one is open or opening). */
    connect() {
        this.manualClose = false;
        if (this.socket || this.state === ConnectionState.connecting) return this;
        const WebSocketImpl = this.options.WebSocket || globalThis.WebSocket;
        if (!WebSocketImpl) {
            throw new Error(
                "DomViaRealtime needs a WebSocket implementation: pass `WebSocket` in the options " +
                    "(Node 20 has none built in; server code can publish with @domvia/realtime-server instead)",
            );
        }
        this.setState(ConnectionState.connecting);
        let socket;
        try {
            socket = new WebSocketImpl(this.url);
        } catch (error) {
            this.lastError = error;
            this.scheduleReconnect(false);
            return this;
        }
        this.socket = socket;
        socket.onmessage = (message) => {
            if (this.socket === socket) this.receive(message.data);
        };
        socket.onclose = (event) => {
            if (this.socket === socket) this.closed(event.code, event.reason);
        };
        socket.onerror = () => {};
        return this;
    }

    /** Closes the connection for good (until `connect()`); channels are kept and resubscribed by a later `connect()`. */
    disconnect() {
        this.manualClose = true;
        for (const timer of this.timers) clearTimeout(timer);
        this.timers.clear();
        this.sendTimer = null;
        const socket = this.socket;
        this.socket = null;
        this.socketId = null;
        for (const channel of this.channels.values()) channel.connectionLost();
        if (socket) {
            try {
                socket.close(1000);
            } catch {
                // already closing
            }
        }
        this.setState(ConnectionState.disconnected);
    }

    closed(code, reason) {
        this.socket = null;
        this.socketId = null;
        for (const channel of this.channels.values()) channel.connectionLost();
        if (this.manualClose) return this.setState(ConnectionState.disconnected);
        if (code >= 4000 && code < 4100) {
            this.lastError = Object.assign(new Error(reason || `the server refused the connection (${code})`), { code });
            this.emit("error", this.lastError);
            return this.setState(ConnectionState.failed);
        }
        // 4200–4299: reconnect at once (restart, missed pong); anything else backs off.
        this.scheduleReconnect(code >= 4200 && code < 4300);
    }

    scheduleReconnect(immediately) {
        this.setState(ConnectionState.unavailable);
        const delay = immediately ? 50 + Math.random() * 250 : backoffDelay(this.attempt, this.options.reconnect);
        this.attempt += 1;
        this.setTimer(() => {
            if (!this.manualClose && !this.socket) this.connect();
        }, delay);
    }

    send(frame) {
        if (!this.socket || this.socket.readyState !== 1) return false;
        this.socket.send(JSON.stringify(frame));
        return true;
    }

    receive(text) {
        this.lastReceivedAt = Date.now();
        let frame;
        try {
            frame = JSON.parse(text);
        } catch {
            return;
        }
        const data = parseData(frame.data);
        switch (frame.event) {
            case "pusher:connection_established":
                this.socketId = data.socket_id;
                if (data.activity_timeout) this.activityTimeoutMs = Math.max(5, Number(data.activity_timeout)) * 1000;
                this.attempt = 0;
                this.setState(ConnectionState.connected);
                this.armActivityTimer();
                for (const channel of this.channels.values()) channel.subscribeNow();
                this.flushClientEvents();
                return;
            case "pusher:ping":
                this.send({ event: "pusher:pong", data: {} });
                return;
            case "pusher:pong":
                return;
            case "pusher:error": {
                const error = Object.assign(new Error(data?.message || "realtime error"), { code: data?.code, channel: frame.channel });
                this.lastError = error;
                if (frame.channel) this.channels.get(frame.channel)?.receiveError(error);
                this.emit("error", error);
                return;
            }
        }
        this.emit("message", { event: frame.event, channel: frame.channel, data, user_id: frame.user_id });
        if (frame.channel) this.channels.get(frame.channel)?.receive(frame.event, data, frame);
    }

    /** Pings after `activity_timeout` of silence; a missing pong within `pongTimeoutMs` drops and reconnects. */
    armActivityTimer() {
        const check = () => {
            if (!this.socket || this.state !== ConnectionState.connected) return;
            const silentFor = Date.now() - this.lastReceivedAt;
            if (silentFor >= this.activityTimeoutMs + this.options.pongTimeoutMs) {
                const socket = this.socket;
                this.closed(1006, "no pong");
                try {
                    socket.close(4201);
                } catch {
                    // already gone
                }
                return;
            }
            if (silentFor >= this.activityTimeoutMs) this.send({ event: "pusher:ping", data: {} });
            this.setTimer(check, Math.min(this.activityTimeoutMs, this.options.pongTimeoutMs) / 2);
        };
        this.setTimer(check, this.activityTimeoutMs / 2);
    }

    setTimer(callback, delay) {
        const timer = setTimeout(() => {
            this.timers.delete(timer);
            callback();
        }, delay);
        this.timers.add(timer);
        return timer;
    }

    clearTimer(timer) {
        clearTimeout(timer);
        this.timers.delete(timer);
    }

    // MARK: Channels

    /** Subscribes to `name` (private and presence names are authorized through `authEndpoint`) and returns the channel. */
    subscribe(name) {
        let channel = this.channels.get(name);
        if (!channel) {
            channel = new RealtimeChannel(this, name);
            this.channels.set(name, channel);
            if (this.state === ConnectionState.connected) channel.subscribeNow();
        }
        return channel;
    }

    /** The channel `name` if subscribed. */
    channel(name) {
        return this.channels.get(name);
    }

    /** Leaves `name`: unsubscribes and forgets its bindings. */
    unsubscribe(name) {
        const channel = this.channels.get(name);
        if (!channel) return;
        this.channels.delete(name);
        channel.leave();
        this.send({ event: "pusher:unsubscribe", data: { channel: name } });
    }

    /**
     * Authorizes `channelName` for this connection: POSTs `socket_id` and `channel_name` (form-encoded) to
     * `authEndpoint`, or calls the `authorizer({socketId, channelName})` option. Resolves to `{auth, channel_data?}`.
     */
    async authorize(channelName) {
        const socketId = this.socketId;
        if (this.options.authorizer) return this.options.authorizer({ socketId, channelName });
        const headers = typeof this.options.authHeaders === "function" ? await this.options.authHeaders() : this.options.authHeaders;
        const body = new URLSearchParams({ ...(this.options.authParams || {}), socket_id: socketId, channel_name: channelName });
        const fetchImpl = this.options.fetch || globalThis.fetch;
        const response = await fetchImpl(this.options.authEndpoint, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", ...(headers || {}) },
            body: body.toString(),
            credentials: "same-origin",
        });
        let payload = null;
        try {
            payload = await response.json();
        } catch {
            payload = null;
        }
        if (!response.ok || !payload || typeof payload.auth !== "string") {
            const message = payload?.message || `authorization of ${channelName} failed (HTTP ${response.status})`;
            throw Object.assign(new Error(message), { status: response.status, channel: channelName });
        }
        return payload;
    }

    // MARK: Client events

    /**
     * Sends a client event on a subscribed private or presence channel, within `clientEventsPerSecond` (excess waits
     * in a bounded queue instead of being refused by the server). Resolves once written to the socket.
     */
    triggerClientEvent(channel, event, data) {
        if (!this.options.clientEvents) {
            return Promise.reject(new Error("client events are off: create the client with `clientEvents: true`"));
        }
        const name = event.startsWith("client-") ? event : `client-${event}`;
        if (this.sendQueue.length >= this.options.maxQueuedClientEvents) {
            return Promise.reject(new Error("too many client events waiting to be sent"));
        }
        return new Promise((resolve, reject) => {
            this.sendQueue.push({ channel, frame: { event: name, channel: channel.name, data }, resolve, reject });
            this.flushClientEvents();
        });
    }

    flushClientEvents() {
        const rate = this.options.clientEventsPerSecond;
        const now = Date.now();
        this.sendTokens = Math.min(rate, this.sendTokens + ((now - this.sendRefilledAt) / 1000) * rate);
        this.sendRefilledAt = now;
        let waitingForTokens = false;
        while (this.sendQueue.length > 0 && this.state === ConnectionState.connected) {
            const next = this.sendQueue[0];
            if (!this.channels.has(next.channel.name)) {
                this.sendQueue.shift();
                next.reject(new Error(`not subscribed to ${next.channel.name}`));
                continue;
            }
            // The channel's subscription_succeeded calls this again.
            if (!next.channel.subscribed) break;
            if (this.sendTokens < 1) {
                waitingForTokens = true;
                break;
            }
            this.sendQueue.shift();
            this.sendTokens -= 1;
            if (this.send(next.frame)) next.resolve();
            else next.reject(new Error("the connection closed before the event was sent"));
        }
        if (waitingForTokens && !this.sendTimer) {
            const wait = Math.max(20, ((1 - this.sendTokens) / rate) * 1000);
            this.sendTimer = this.setTimer(() => {
                this.sendTimer = null;
                this.flushClientEvents();
            }, wait);
        }
    }
}

/** Pusher sends `data` as a JSON string; anything that is not JSON stays a string. */
export function parseData(data) {
    if (typeof data !== "string") return data;
    try {
        return JSON.parse(data);
    } catch {
        return data;
    }
}

export default DomViaRealtime;
