// One subscribed channel of a DomViaRealtime connection: bindings, presence members, client events.

/** The channel kinds the protocol knows, by name prefix. */
export function channelKind(name) {
    if (name.startsWith("presence-")) return "presence";
    if (name.startsWith("private-encrypted-")) return "private-encrypted";
    if (name.startsWith("private-")) return "private";
    return "public";
}

/** Members of a presence channel, as the server announced them. */
export class PresenceMembers {
    constructor() {
        this.byId = new Map();
        this.myId = null;
    }

    get count() {
        return this.byId.size;
    }

    /** `{id, info}` of the member `id`, or undefined. */
    get(id) {
        return this.byId.has(id) ? { id, info: this.byId.get(id) } : undefined;
    }

    /** This connection's own member, once subscribed. */
    get me() {
        return this.myId == null ? undefined : this.get(this.myId);
    }

    /** Every member as `{id, info}`, sorted by id. */
    list() {
        return [...this.byId.keys()].sort().map((id) => this.get(id));
    }

    each(callback) {
        for (const member of this.list()) callback(member);
    }
}

export class RealtimeChannel {
    constructor(realtime, name) {
        this.realtime = realtime;
        this.name = name;
        this.kind = channelKind(name);
        this.subscribed = false;
        this.subscribing = false;
        this.left = false;
        this.bindings = new Map();
        this.allBindings = new Set();
        this.waiters = new Set();
        this.lastError = null;
        this.members = this.kind === "presence" ? new PresenceMembers() : null;
    }

    /** Calls `callback(data, meta)` for every `event` on this channel; returns a function that stops it. */
    bind(event, callback) {
        if (!this.bindings.has(event)) this.bindings.set(event, new Set());
        this.bindings.get(event).add(callback);
        return () => this.unbind(event, callback);
    }

    unbind(event, callback) {
        if (callback) this.bindings.get(event)?.delete(callback);
        else this.bindings.delete(event);
    }

    /** Calls `callback(event, data, meta)` for every event on this channel; returns a function that stops it. */
    bindAll(callback) {
        this.allBindings.add(callback);
        return () => this.allBindings.delete(callback);
    }

    /** Sends a client event (`client-` is added when missing); needs `clientEvents: true` and a private or presence channel. */
    trigger(event, data) {
        if (this.kind === "public") return Promise.reject(new Error(`client events need a private or presence channel, not ${this.name}`));
        return this.realtime.triggerClientEvent(this, event, data);
    }

    /** Resolves once the server confirmed the subscription; rejects on a subscription error or after `timeoutMs`. */
    whenSubscribed({ timeoutMs = this.realtime.options.subscribeTimeoutMs } = {}) {
        if (this.subscribed) return Promise.resolve(this);
        return new Promise((resolve, reject) => {
            const waiter = { resolve, reject };
            waiter.timer = setTimeout(() => {
                this.waiters.delete(waiter);
                reject(this.lastError || new Error(`${this.name}: not subscribed after ${timeoutMs} ms`));
            }, timeoutMs);
            this.waiters.add(waiter);
        });
    }

    settle(error) {
        for (const waiter of this.waiters) {
            clearTimeout(waiter.timer);
            if (error) waiter.reject(error);
            else waiter.resolve(this);
        }
        this.waiters.clear();
    }

    async subscribeNow() {
        if (this.left || this.subscribing || this.subscribed) return;
        this.subscribing = true;
        const attempt = (this.attempt = (this.attempt || 0) + 1);
        const socketId = this.realtime.socketId;
        try {
            const data = { channel: this.name };
            if (this.kind !== "public") {
                const authorization = await this.realtime.authorize(this.name);
                data.auth = authorization.auth;
                if (authorization.channel_data !== undefined) data.channel_data = authorization.channel_data;
                if (this.members && authorization.channel_data) {
                    try {
                        this.members.myId = String(JSON.parse(authorization.channel_data).user_id);
                    } catch {
                        this.members.myId = null;
                    }
                }
            }
            // A reconnect while authorizing: the new connection subscribes with its own socket id.
            if (this.left || socketId !== this.realtime.socketId) return;
            this.realtime.send({ event: "pusher:subscribe", data });
        } catch (error) {
            this.fail(Object.assign(error, { type: "AuthError" }));
        } finally {
            if (this.attempt === attempt) this.subscribing = false;
        }
    }

    fail(error) {
        this.lastError = error;
        this.emit("subscription_error", error, {});
        this.realtime.emit("error", error);
        this.settle(error);
    }

    receive(event, data, frame) {
        switch (event) {
            case "pusher_internal:subscription_succeeded":
                this.subscribed = true;
                this.lastError = null;
                if (this.members) {
                    this.members.byId.clear();
                    const presence = data?.presence || {};
                    for (const id of presence.ids || []) this.members.byId.set(String(id), presence.hash?.[id] ?? null);
                }
                this.emit("subscribed", data, {});
                this.emit("pusher:subscription_succeeded", this.members || data, {});
                this.settle(null);
                this.realtime.flushClientEvents();
                return;
            case "pusher:subscription_error":
                this.fail(Object.assign(new Error(data?.error || `subscription to ${this.name} refused`), { status: data?.status, type: data?.type }));
                return;
            case "pusher_internal:member_added": {
                if (!this.members) return;
                const member = { id: String(data.user_id), info: data.user_info ?? null };
                this.members.byId.set(member.id, member.info);
                this.emit("member_added", member, {});
                return;
            }
            case "pusher_internal:member_removed": {
                if (!this.members) return;
                const id = String(data.user_id);
                const info = this.members.byId.get(id);
                this.members.byId.delete(id);
                this.emit("member_removed", { id, info: info ?? null }, {});
                return;
            }
            case "pusher_internal:subscription_count":
                this.emit("subscription_count", data, {});
                return;
        }
        this.emit(event, data, { event, channel: this.name, user_id: frame?.user_id });
    }

    receiveError(error) {
        this.lastError = error;
        this.emit("error", error, {});
    }

    emit(event, data, meta) {
        const call = (callback, ...args) => {
            try {
                callback(...args);
            } catch (error) {
                queueMicrotask(() => {
                    throw error;
                });
            }
        };
        for (const callback of [...(this.bindings.get(event) || [])]) call(callback, data, meta);
        for (const callback of [...this.allBindings]) call(callback, event, data, meta);
    }

    connectionLost() {
        this.subscribed = false;
        this.subscribing = false;
        this.attempt = (this.attempt || 0) + 1;
    }

    leave() {
        this.left = true;
        this.subscribed = false;
        this.settle(new Error(`unsubscribed from ${this.name}`));
    }
}
