// getPlatform().realtime: the server side of Maravilla Realtime Channels, over Switchboard's REST API (`/_rt/api`).
//
//   import { getPlatform } from "@maravilla-labs/platform";
//   const platform = getPlatform();
//   await platform.realtime.publish("chat:lobby", { text: "Hello everyone!" }, { userId: "alice" });
//
// Configured from the environment (see ENV in endpoint.js): MARAVILLA_REALTIME_URL (default http://localhost:3001),
// MARAVILLA_REALTIME_SECRET (the app secret, required), MARAVILLA_REALTIME_KEY (optional). Plain `fetch`: Node 18+,
// Deno, Bun, workers. Keep the secret on the server: never ship it to a browser.

import { ENV, env, serverBaseURL } from "./endpoint.js";

/** A refusal from the realtime API: `status` (HTTP) and `code` (`unauthorized`, `rate_limited`, …). */
export class RealtimeError extends Error {
    constructor(status, code, message) {
        super(message || code || `HTTP ${status}`);
        this.name = "RealtimeError";
        this.status = status;
        this.code = code;
    }
}

/** `platform.realtime`: publish, channels, presence, channel tokens and history of one app. */
export class RealtimeServer {
    /**
     * @param {object} [options]
     * @param {string} [options.url] the edge's base URL (default `MARAVILLA_REALTIME_URL`, else http://localhost:3001)
     * @param {string} [options.secret] the app secret (default `MARAVILLA_REALTIME_SECRET`)
     * @param {string} [options.key] the app key, checked against the secret (default `MARAVILLA_REALTIME_KEY`)
     * @param {Function} [options.fetch] a `fetch` implementation (default the global one)
     */
    constructor(options = {}) {
        this.baseURL = serverBaseURL(options);
        this.secret = options.secret ?? env(ENV.secret);
        this.key = options.key ?? env(ENV.key);
        this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
        const realtime = this;
        /** Server-side presence: joins last `presence_timeout_seconds` (30 s) unless joined again as a heartbeat. */
        this.presence = Object.freeze({
            join: (channel, userId, metadata = null) => realtime._changed("presence/join", { channel, userId, metadata }),
            update: (channel, userId, metadata = null) => realtime._changed("presence/update", { channel, userId, metadata }),
            leave: (channel, userId) => realtime._changed("presence/leave", { channel, userId }),
            // `lastSeen` in Unix seconds, as Maravilla documents it (the edge's REST API answers milliseconds).
            members: async (channel) =>
                (await realtime._call("GET", "presence/members", { query: { channel } })).members.map((member) => ({
                    ...member,
                    lastSeen: Math.floor(member.lastSeen / 1000),
                })),
        });
    }

    /** Publishes `data` (any JSON) on `channel`; `{ userId, name }` optional. Resolves to `{ ok, seq? }`. */
    async publish(channel, data, options = {}) {
        const body = { channel, data };
        if (options.userId !== undefined) body.userId = options.userId;
        if (options.name !== undefined) body.name = options.name;
        return this._call("POST", "publish", { body });
    }

    /** The names of the channels with subscribers now, on every node. */
    async channels() {
        return (await this._call("GET", "channels")).channels;
    }

    /**
     * A channel token (HS256, signed by the edge with the app secret) for `private-…` and `require_token` channels.
     *
     * @param {string} channel
     * @param {object} [options] `userId`, `permissions` (`["subscribe", "publish"]`), `expiresIn` seconds (3600)
     */
    async createChannelToken(channel, options = {}) {
        const body = { channel };
        if (options.userId !== undefined) body.userId = options.userId;
        if (options.permissions !== undefined) body.permissions = options.permissions;
        if (options.expiresIn !== undefined) body.expiresIn = options.expiresIn;
        return (await this._call("POST", "tokens", { body })).token;
    }

    /**
     * Kept messages of `channel`, oldest first: `{ channel, data, userId?, seq, name?, ts }`. `limit` (default 100,
     * at most 1000); `after`: only messages with a greater `seq` (the oldest of those first).
     */
    async history(channel, options = {}) {
        const query = { channel };
        if (options.limit !== undefined) query.limit = options.limit;
        if (options.after !== undefined && options.after !== null) query.after = options.after;
        return (await this._call("GET", "history", { query })).messages;
    }

    async _changed(path, body) {
        return (await this._call("POST", path, { body })).changed;
    }

    async _call(method, path, { body, query } = {}) {
        if (!this.secret) {
            throw new RealtimeError(0, "unauthorized", `platform.realtime needs the app secret: set ${ENV.secret} or pass { secret }`);
        }
        if (typeof this._fetch !== "function") throw new Error("platform.realtime needs fetch (Node 18+), or pass { fetch }");
        const url = new URL(`${this.baseURL}/_rt/api/${path}`);
        for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, String(value));
        if (this.key) url.searchParams.set("key", this.key);
        const headers = { Authorization: `Bearer ${this.secret}` };
        if (body !== undefined) headers["Content-Type"] = "application/json";
        const response = await this._fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await response.text();
        let reply;
        try {
            reply = text ? JSON.parse(text) : {};
        } catch {
            throw new RealtimeError(response.status, "bad_response", `unreadable reply from ${url.pathname}: ${text.slice(0, 200)}`);
        }
        if (!response.ok) {
            throw new RealtimeError(response.status, reply?.error?.code ?? "error", reply?.error?.message ?? `HTTP ${response.status}`);
        }
        return reply;
    }
}

/** The platform services this package provides: `realtime`. */
export class Platform {
    #services = {};

    constructor(options = {}) {
        /** Realtime Channels for server code. */
        this.realtime = new RealtimeServer(options);
    }

    /** Maravilla's database: not provided here; an app assigns its own store (`getPlatform().DB = …`) before use. */
    get DB() {
        return this.#service("DB", "database");
    }

    set DB(store) {
        this.#services.DB = store;
    }

    /** Maravilla's file storage: not provided here; an app assigns its own (`getPlatform().storage = …`) before use. */
    get storage() {
        return this.#service("storage", "file storage");
    }

    set storage(store) {
        this.#services.storage = store;
    }

    // A clear refusal instead of "cannot read properties of undefined" deep inside a route.
    #service(name, what) {
        if (this.#services[name] === undefined) {
            throw new Error(
                `platform.${name} is Maravilla's ${what}, which this package (the Realtime Channels part) does not provide: ` +
                    `assign getPlatform().${name} = <your own> at startup`,
            );
        }
        return this.#services[name];
    }
}

let shared;

/**
 * The platform of this process, configured from the environment on first use. Pass `options` (`url`, `secret`,
 * `key`) to configure it in code instead; a call with options replaces the shared instance.
 */
export function getPlatform(options) {
    if (options !== undefined || shared === undefined) shared = new Platform(options ?? {});
    return shared;
}
