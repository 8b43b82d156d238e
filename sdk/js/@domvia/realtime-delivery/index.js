// @domvia/realtime-delivery: delivery status and timeline for customer and operator screens.
//
//   const delivery = createDeliveryTracker(realtime, { channelName: buildDeliveryChannelName("884") });
//   delivery.onTimeline((timeline) => render(timeline));   // the kept timeline arrives first, then each new status
//   await delivery.updateStatus({ status: "nearby", note: "2 minutes away" });   // a courier's app (client events)
//
// Statuses: pickup, in_transit, nearby, delivered, failed, support_needed. `canTransition` is the table the edge's
// delivery kit enforces (conf/kits/delivery.toml): `delivered` → `in_transit` is refused there with a clear error, so a
// buggy or hostile client cannot rewrite a delivery. Trusted servers publish `delivery.status` with
// @domvia/realtime-server (`trigger(channel, "delivery.status", {status, note})`).

/** Every status, in the order a delivery usually goes through them. */
export const DELIVERY_STATES = Object.freeze(["pickup", "in_transit", "nearby", "delivered", "failed", "support_needed"]);

/** The statuses a delivery may start with. */
export const INITIAL_STATES = Object.freeze(["pickup", "in_transit", "failed", "support_needed"]);

/** Which status may follow which (the same table as Switchboard's `DeliveryStatus`). */
export const DELIVERY_TRANSITIONS = Object.freeze({
    pickup: Object.freeze(["in_transit", "failed", "support_needed"]),
    in_transit: Object.freeze(["in_transit", "nearby", "delivered", "failed", "support_needed"]),
    nearby: Object.freeze(["nearby", "in_transit", "delivered", "failed", "support_needed"]),
    delivered: Object.freeze(["support_needed"]),
    failed: Object.freeze(["pickup", "support_needed"]),
    support_needed: Object.freeze(["support_needed", "pickup", "in_transit", "nearby", "delivered", "failed"]),
});

/**
 * Whether `to` may follow `from` (`from` null or undefined: the first status). Given `interrupted` (the newest status
 * before a support request, null when none is kept), it answers for a client as the edge does: from `support_needed`
 * a client may only ask again, go back to the interrupted status, or go where that one may; the app's server (which
 * leaves `interrupted` out) may resolve support to any state.
 */
export function canTransition(from, to, { interrupted } = {}) {
    if (!DELIVERY_STATES.includes(to)) return false;
    if (from === null || from === undefined) return INITIAL_STATES.includes(to);
    if (from === "support_needed" && interrupted !== undefined) {
        if (to === "support_needed") return true;
        return interrupted !== null && (to === interrupted || (DELIVERY_TRANSITIONS[interrupted] || []).includes(to));
    }
    return (DELIVERY_TRANSITIONS[from] || []).includes(to);
}

const ID = /^[A-Za-z0-9_\-=@,.;]{1,160}$/;

/** `private-delivery.{deliveryId}` (or `presence-delivery.{deliveryId}` to see who watches). */
export function buildDeliveryChannelName(deliveryId, { channelKind = "private" } = {}) {
    if (!ID.test(String(deliveryId))) throw new TypeError(`invalid delivery id ${JSON.stringify(deliveryId)}`);
    if (channelKind !== "private" && channelKind !== "presence") throw new TypeError(`delivery channels are private or presence, not ${channelKind}`);
    return `${channelKind}-delivery.${deliveryId}`;
}

/** The delivery id of a delivery channel name, or null. */
export function parseDeliveryChannelName(channelName) {
    const match = /^(?:private|presence)-delivery\.(.+)$/.exec(String(channelName));
    return match ? match[1] : null;
}

/** Follows (and, with client events, updates) one delivery; see `DeliveryTracker`. */
export function createDeliveryTracker(realtime, options) {
    return new DeliveryTracker(realtime, options);
}

function entryId() {
    return globalThis.crypto?.randomUUID?.() ?? `e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export class DeliveryTracker {
    /** @param {object} options `channelName` (or `deliveryId`), `actor` (who this screen is: "courier", "operator", …) */
    constructor(realtime, { channelName, deliveryId, actor } = {}) {
        this.realtime = realtime;
        this.channelName = channelName || buildDeliveryChannelName(deliveryId);
        this.deliveryId = deliveryId ?? parseDeliveryChannelName(this.channelName);
        this.actor = actor ?? null;
        this.timeline = [];
        this.seen = new Set();
        this.handlers = { status: new Set(), timeline: new Set(), error: new Set() };
        this.channel = realtime.subscribe(this.channelName);
        const receive = (data, meta) => this.receive(data, meta);
        this.channel.bind("delivery.status", receive);
        this.channel.bind("client-delivery.status", receive);
        this.channel.bind("error", (error) => this.emit("error", error));
        this.channel.bind("subscription_error", (error) => this.emit("error", error));
    }

    waitUntilReady(options) {
        return this.channel.whenSubscribed(options);
    }

    /** The newest status, or null. */
    get status() {
        return this.timeline.length ? this.timeline[this.timeline.length - 1].status : null;
    }

    /** The newest status that is not a support request, or null: where a client may take the delivery back to. */
    get interruptedStatus() {
        for (let i = this.timeline.length - 1; i >= 0; i--) if (this.timeline[i].status !== "support_needed") return this.timeline[i].status;
        return null;
    }

    emit(kind, value) {
        for (const callback of [...this.handlers[kind]]) callback(value);
    }

    /** `callback(entry)` for each status (`{status, at, note, actor, event_id}`); returns a stop function. */
    onStatus(callback) {
        this.handlers.status.add(callback);
        return () => this.handlers.status.delete(callback);
    }

    /** `callback(timeline)` with the whole timeline each time it grows. */
    onTimeline(callback) {
        this.handlers.timeline.add(callback);
        if (this.timeline.length) callback([...this.timeline]);
        return () => this.handlers.timeline.delete(callback);
    }

    /** Refusals from the edge (an invalid transition from this client lands here) and subscription errors. */
    onError(callback) {
        this.handlers.error.add(callback);
        return () => this.handlers.error.delete(callback);
    }

    receive(data) {
        if (!data || typeof data !== "object" || !DELIVERY_STATES.includes(data.status)) return;
        // After a reconnect the kept timeline is replayed again: skip what is already shown.
        const id = data.event_id ?? `${data.status}@${data.at ?? ""}`;
        if (this.seen.has(id)) return;
        this.seen.add(id);
        const entry = { status: data.status, at: data.at ?? Date.now(), note: data.note ?? null, actor: data.actor ?? null, event_id: data.event_id ?? null };
        this.timeline.push(entry);
        this.emit("status", entry);
        this.emit("timeline", [...this.timeline]);
    }

    /**
     * Publishes a new status as a client event (needs `clientEvents: true`); refuses locally what the edge would refuse.
     * Resolves to the entry as sent (it is not echoed back to this client).
     */
    async updateStatus({ status, note, actor } = {}) {
        if (!canTransition(this.status, status, { interrupted: this.interruptedStatus })) {
            throw Object.assign(new Error(`a delivery cannot go to ${status} from ${this.status ?? "nothing"}`), { reason: "invalid_transition" });
        }
        await this.channel.whenSubscribed();
        const entry = { status, at: Date.now(), note: note ?? null, actor: actor ?? this.actor, event_id: entryId() };
        await this.channel.trigger("client-delivery.status", entry);
        this.receive(entry);
        return entry;
    }

    close() {
        this.realtime.unsubscribe(this.channelName);
    }
}

export default { buildDeliveryChannelName, canTransition, createDeliveryTracker };
