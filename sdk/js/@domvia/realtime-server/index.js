// @domvia/realtime-server: trusted-server helpers for DomVia Realtime on Switchboard.
//
//   import { authorizePrivateChannel } from "@domvia/realtime-server";
//   response.json(await authorizePrivateChannel({ key, secret, socketId, channelName }));
//
// Channel authorization is an HMAC-SHA256 signature with the app secret (WebCrypto: Node 20+, Deno, Bun, workers).
// `createRealtimeServer` publishes through the HTTP API (`POST /apps/{appId}/events`, signed the Pusher way).
// The secret never leaves this process: only signatures do.

const encoder = new TextEncoder();
const SOCKET_ID = /^\d+\.\d+$/;
const CHANNEL_NAME = /^[A-Za-z0-9_\-=@,.;]{1,200}$/;

function required(value, name) {
    if (typeof value !== "string" || value.length === 0) {
        throw new TypeError(`@domvia/realtime-server: \`${name}\` is required (a non-empty string); is its environment variable set?`);
    }
    return value;
}

function checkSocketAndChannel(socketId, channelName) {
    if (typeof socketId !== "string" || !SOCKET_ID.test(socketId)) {
        throw Object.assign(new TypeError(`invalid socket id ${JSON.stringify(socketId)}`), { status: 400 });
    }
    if (typeof channelName !== "string" || !CHANNEL_NAME.test(channelName)) {
        throw Object.assign(new TypeError(`invalid channel name ${JSON.stringify(channelName)}`), { status: 400 });
    }
}

/** Lowercase hex HMAC-SHA256 of `text` with `secret`. */
export async function hmacSHA256Hex(secret, text) {
    // Node 18 has WebCrypto only as node:crypto's `webcrypto`; Node 20+, Deno, Bun and workers as `globalThis.crypto`.
    const subtle = globalThis.crypto?.subtle ?? (globalThis.process?.versions?.node ? (await import("node:crypto")).webcrypto.subtle : undefined);
    if (!subtle) throw new Error("@domvia/realtime-server needs WebCrypto (globalThis.crypto.subtle)");
    const key = await subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const signature = new Uint8Array(await subtle.sign("HMAC", key, encoder.encode(text)));
    return [...signature].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Signs a `private-…` channel for one connection. Returns `{auth}`, the body the client's `authEndpoint` answers with.
 * Call it only after your own check that the signed-in user may join `channelName`.
 */
export async function authorizePrivateChannel({ key, secret, socketId, channelName }) {
    required(key, "key");
    required(secret, "secret");
    checkSocketAndChannel(socketId, channelName);
    if (channelName.startsWith("presence-")) {
        throw new TypeError(`${channelName} is a presence channel: use authorizePresenceChannel with the user's id and info`);
    }
    return { auth: `${key}:${await hmacSHA256Hex(secret, `${socketId}:${channelName}`)}` };
}

/**
 * Signs a `presence-…` channel for one connection with the member's identity: `user` is `{id, info}` (or pass
 * `userId` and `userInfo`). Returns `{auth, channel_data}`; other members see `id` and `info`.
 */
export async function authorizePresenceChannel({ key, secret, socketId, channelName, user, userId, userInfo }) {
    required(key, "key");
    required(secret, "secret");
    checkSocketAndChannel(socketId, channelName);
    if (!channelName.startsWith("presence-")) throw new TypeError(`${channelName} is not a presence channel`);
    const id = user?.id ?? user?.user_id ?? userId;
    if (id === undefined || id === null || String(id).length === 0) throw new TypeError("presence authorization needs the user's id");
    const member = { user_id: String(id) };
    const info = user?.info ?? user?.user_info ?? userInfo;
    if (info !== undefined) member.user_info = info;
    const channelData = JSON.stringify(member);
    const auth = `${key}:${await hmacSHA256Hex(secret, `${socketId}:${channelName}:${channelData}`)}`;
    return { auth, channel_data: channelData };
}

/** `authorizePresenceChannel` for `presence-…` names, `authorizePrivateChannel` for the rest. */
export async function authorizeChannel(options) {
    return options.channelName?.startsWith("presence-") ? authorizePresenceChannel(options) : authorizePrivateChannel(options);
}

let md5Hex = null;
async function bodyMD5(body) {
    if (!md5Hex) {
        const { createHash } = await import("node:crypto");
        md5Hex = (text) => createHash("md5").update(text).digest("hex");
    }
    return md5Hex(body);
}

/**
 * A publish client for the trusted server: `trigger`, `triggerBatch`, channel queries and the kept history.
 *
 *   const realtime = createRealtimeServer({ appId: "1001", key, secret, host: "127.0.0.1:8080" });
 *   await realtime.trigger("private-chat.room.42", "chat.message", { message_id: "m1", user_id: "u1", body: "hi" });
 */
export function createRealtimeServer(options) {
    return new DomViaRealtimeServer(options);
}

export class DomViaRealtimeServer {
    /**
     * @param {object} options `appId`, `key`, `secret`, `host` (`host[:port]` or an `http(s)://` URL; plain HTTP on
     *   loopback, HTTPS elsewhere unless `useTLS` says otherwise), optional `fetch`, `timeoutMs` (default 10 s)
     */
    constructor({ appId, key, secret, host, useTLS, fetch, timeoutMs = 10_000 } = {}) {
        this.appId = required(appId, "appId");
        this.key = required(key, "key");
        this.secret = required(secret, "secret");
        const text = required(host, "host").replace(/\/+$/, "");
        if (/^https?:\/\//i.test(text)) {
            this.baseURL = text;
        } else {
            const hostname = text.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
            const loopback = hostname === "localhost" || /^127\./.test(hostname) || hostname === "::1";
            this.baseURL = `${(useTLS ?? !loopback) ? "https" : "http"}://${text}`;
        }
        this.fetch = fetch || globalThis.fetch;
        this.timeoutMs = timeoutMs;
    }

    /** The signed query for `method path` with `body` (Pusher's HTTP API signature). */
    async signedQuery(method, path, body, params = {}) {
        const query = { ...params, auth_key: this.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: "1.0" };
        if (body !== undefined) query.body_md5 = await bodyMD5(body);
        const sorted = Object.keys(query)
            .sort()
            .map((name) => `${name}=${query[name]}`)
            .join("&");
        const signature = await hmacSHA256Hex(this.secret, `${method}\n${path}\n${sorted}`);
        const encoded = Object.keys(query)
            .sort()
            .map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(query[name])}`)
            .join("&");
        return `${encoded}&auth_signature=${signature}`;
    }

    async request(method, path, { body, params } = {}) {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const query = await this.signedQuery(method, path, text, params);
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.timeoutMs);
        let response;
        try {
            response = await this.fetch(`${this.baseURL}${path}?${query}`, {
                method,
                headers: text === undefined ? {} : { "Content-Type": "application/json" },
                body: text,
                signal: controller.signal,
            });
        } finally {
            clearTimeout(timer);
        }
        const raw = await response.text();
        let json = null;
        try {
            json = raw ? JSON.parse(raw) : {};
        } catch {
            json = null;
        }
        if (!response.ok) {
            const message = json?.error?.message || json?.error || raw || `HTTP ${response.status}`;
            throw Object.assign(new Error(`${method} ${path}: ${response.status} ${message}`), {
                status: response.status,
                code: json?.error?.code,
                body: json ?? raw,
            });
        }
        return json ?? raw;
    }

    /**
     * Publishes `event` with `data` (any JSON value) on one channel or up to 100; `socketId` names a connection that
     * must not receive it (the sender's own). Rejects with the edge's error (status, code, message) when refused.
     */
    async trigger(channels, event, data, { socketId, info } = {}) {
        const list = Array.isArray(channels) ? channels : [channels];
        const body = { name: event, channels: list, data: typeof data === "string" ? data : JSON.stringify(data) };
        if (socketId) body.socket_id = socketId;
        if (info) body.info = info;
        return this.request("POST", `/apps/${this.appId}/events`, { body });
    }

    /** Publishes up to 10 events at once: `[{channel, name, data, socketId?}]`. */
    async triggerBatch(events) {
        const batch = events.map(({ channel, name, data, socketId }) => {
            const entry = { channel, name, data: typeof data === "string" ? data : JSON.stringify(data) };
            if (socketId) entry.socket_id = socketId;
            return entry;
        });
        return this.request("POST", `/apps/${this.appId}/batch_events`, { body: { batch } });
    }

    /** Occupied channels: `{channels: {name: {…}}}` (`prefix` filters by name). */
    async channels({ prefix, info } = {}) {
        const params = {};
        if (prefix) params.filter_by_prefix = prefix;
        if (info) params.info = info;
        return this.request("GET", `/apps/${this.appId}/channels`, { params });
    }

    /** One channel's state: `{occupied, subscription_count?, user_count?}`. */
    async channel(name, { info } = {}) {
        return this.request("GET", `/apps/${this.appId}/channels/${encodeURIComponent(name)}`, { params: info ? { info } : {} });
    }

    /** Members of a presence channel: `{users: [{id}]}`. */
    async users(name) {
        return this.request("GET", `/apps/${this.appId}/channels/${encodeURIComponent(name)}/users`);
    }

    /**
     * The channel's kept messages, oldest first (Switchboard's REST history, authorized by the app secret):
     * `{messages: [{channel, name, data, seq, ts}], seq, epoch}`. A delivery timeline or a trip's last position.
     */
    async history(channel, { limit, after } = {}) {
        const params = new URLSearchParams({ key: this.key, channel });
        if (limit !== undefined) params.set("limit", String(limit));
        if (after !== undefined) params.set("after", String(after));
        const response = await this.fetch(`${this.baseURL}/_rt/api/history?${params}`, {
            headers: { Authorization: `Bearer ${this.secret}` },
        });
        const json = await response.json().catch(() => null);
        if (!response.ok) {
            throw Object.assign(new Error(`history of ${channel}: ${response.status} ${json?.error?.message || ""}`.trim()), {
                status: response.status,
                code: json?.error?.code,
            });
        }
        return json;
    }
}

export default { authorizePrivateChannel, authorizePresenceChannel, authorizeChannel, createRealtimeServer };
