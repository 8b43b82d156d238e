// @domvia/realtime-location: short-lived live positions for a trip, a courier or a field worker.
//
//   const channelName = buildLocationChannelName({ scope: "trip", scopeId: "trip-77" });   // private-location.trip.trip-77
//   const courier = createLocationPublisher(realtime, { channelName });
//   courier.publish({ lat: 52.52, lon: 13.405, accuracy: 8, heading: 90, speed: 11.5 });   // throttled: 1 per second
//   await courier.end();                                                                  // trip over: the position expires
//
//   const tracker = createLocationTracker(realtime, { channelName });
//   tracker.onPosition((position) => draw(position));       // a late joiner first gets the last position, nothing older
//
// Wire events: client-location.update {lat, lon, accuracy, heading, speed, time, publisher_id}, client-location.ended.
// With the edge's location kit (conf/kits/location.toml) the edge keeps only the last position, for its TTL, caps
// updates per publisher and refuses coordinates out of range.

const PART = /^[A-Za-z0-9_\-=@,;]{1,100}$/;

/** `{channelKind}-location.{scope}.{scopeId}`, e.g. `private-location.trip.trip-77` or `private-location.courier.c-9`. */
export function buildLocationChannelName({ channelKind = "private", scope = "trip", scopeId } = {}) {
    if (channelKind !== "private" && channelKind !== "presence") throw new TypeError(`location channels are private or presence, not ${channelKind}`);
    for (const [name, value] of Object.entries({ scope, scopeId })) {
        if (!PART.test(String(value ?? ""))) throw new TypeError(`invalid ${name} ${JSON.stringify(value)}: letters, digits and _-=@,; only`);
    }
    return `${channelKind}-location.${scope}.${scopeId}`;
}

/** The parts of a location channel name, or null. */
export function parseLocationChannelName(channelName) {
    const match = /^(private|presence)-location\.([^.]+)\.([^.]+)$/.exec(String(channelName));
    return match ? { channelKind: match[1], scope: match[2], scopeId: match[3] } : null;
}

function finite(value, name, min, max) {
    if (value === undefined || value === null) return undefined;
    const number = Number(value);
    if (!Number.isFinite(number) || number < min || number > max) throw new RangeError(`${name} must be a number from ${min} to ${max}`);
    return number;
}

/**
 * A position as sent: `lat` (±90) and `lon` (±180) required; `accuracy` (m), `heading` (0–360°), `speed` (m/s) and
 * `time` (ms since the epoch; now by default) optional. Accepts a browser `GeolocationPosition` too.
 */
export function normalizePosition(input) {
    const source = input?.coords ? { ...input.coords, lat: input.coords.latitude, lon: input.coords.longitude, time: input.timestamp } : input || {};
    const position = {
        lat: finite(source.lat ?? source.latitude, "lat", -90, 90),
        lon: finite(source.lon ?? source.lng ?? source.longitude, "lon", -180, 180),
        time: Math.round(finite(source.time, "time", 0, 8.64e15) ?? Date.now()),
    };
    if (position.lat === undefined || position.lon === undefined) throw new TypeError("a position needs lat and lon");
    for (const [name, min, max] of [
        ["accuracy", 0, 1e7],
        ["heading", 0, 360],
        ["speed", 0, 1e4],
    ]) {
        const value = finite(source[name], name, min, max);
        if (value !== undefined) position[name] = value;
    }
    return position;
}

/** Publishes one publisher's positions on a location channel; see `LocationPublisher`. */
export function createLocationPublisher(realtime, options) {
    return new LocationPublisher(realtime, options);
}

/** Follows the positions on a location channel; see `LocationTracker`. */
export function createLocationTracker(realtime, options) {
    return new LocationTracker(realtime, options);
}

export class LocationPublisher {
    /**
     * @param {object} options `channelName`, `publisherId` (who moves: a courier id), `minIntervalMs` (default 1000: at
     *   most one update per interval; in between only the newest position is kept and sent when the interval is over)
     */
    constructor(realtime, { channelName, publisherId, minIntervalMs = 1000 } = {}) {
        if (!channelName) throw new TypeError("createLocationPublisher needs a channelName");
        this.realtime = realtime;
        this.channelName = channelName;
        this.publisherId = publisherId ?? null;
        this.minIntervalMs = minIntervalMs;
        this.channel = realtime.subscribe(channelName);
        this.lastSentAt = -Infinity;
        this.pending = null;
        this.timer = null;
        this.ended = false;
        this.sent = 0;
    }

    waitUntilReady(options) {
        return this.channel.whenSubscribed(options);
    }

    /**
     * Queues a position: sent at once when the last one left at least `minIntervalMs` ago, else later (newest wins).
     * Resolves to `{sent: true, position}` when it went out, `{sent: false}` when a newer position replaced it.
     */
    publish(input) {
        if (this.ended) return Promise.reject(new Error("the trip has ended"));
        const position = normalizePosition(input);
        if (this.publisherId !== null) position.publisher_id = this.publisherId;
        if (this.pending) this.pending.resolve({ sent: false });
        return new Promise((resolve, reject) => {
            this.pending = { position, resolve, reject };
            const wait = this.lastSentAt + this.minIntervalMs - Date.now();
            if (wait <= 0) this.flush();
            else if (!this.timer) this.timer = setTimeout(() => this.flush(), wait);
        });
    }

    async flush() {
        clearTimeout(this.timer);
        this.timer = null;
        const next = this.pending;
        this.pending = null;
        if (!next) return;
        this.lastSentAt = Date.now();
        try {
            await this.channel.whenSubscribed();
            await this.channel.trigger("client-location.update", next.position);
            this.sent += 1;
            next.resolve({ sent: true, position: next.position });
        } catch (error) {
            next.reject(error);
        }
    }

    /** Follows the browser's geolocation until the returned function is called (or the trip ends). */
    watch(geolocation = globalThis.navigator?.geolocation, options = { enableHighAccuracy: true, maximumAge: 1000 }) {
        if (!geolocation) throw new Error("no geolocation available here");
        const id = geolocation.watchPosition(
            (position) => this.publish(position).catch(() => {}),
            (error) => this.channel.emit("error", error, {}),
            options,
        );
        this.stopWatching = () => geolocation.clearWatch(id);
        return this.stopWatching;
    }

    /** Ends the trip: no more updates, and `location.ended` replaces the last position (late joiners see the end). */
    async end({ reason = "ended" } = {}) {
        if (this.ended) return;
        this.ended = true;
        this.stopWatching?.();
        clearTimeout(this.timer);
        if (this.pending) this.pending.resolve({ sent: false });
        this.pending = null;
        await this.channel.whenSubscribed();
        await this.channel.trigger("client-location.ended", { reason, publisher_id: this.publisherId, time: Date.now() });
    }
}

export class LocationTracker {
    /** @param {object} options `channelName`, `staleAfterMs` (default 30 s: `isStale()` after that without news) */
    constructor(realtime, { channelName, staleAfterMs = 30_000 } = {}) {
        if (!channelName) throw new TypeError("createLocationTracker needs a channelName");
        this.realtime = realtime;
        this.channelName = channelName;
        this.staleAfterMs = staleAfterMs;
        this.channel = realtime.subscribe(channelName);
        this.lastPosition = null;
        this.ended = false;
        this.handlers = { position: new Set(), ended: new Set() };
        const update = (data, meta) => this.receive(data, meta);
        this.channel.bind("client-location.update", update);
        this.channel.bind("location.update", update);
        const end = (data) => this.receiveEnd(data);
        this.channel.bind("client-location.ended", end);
        this.channel.bind("location.ended", end);
    }

    waitUntilReady(options) {
        return this.channel.whenSubscribed(options);
    }

    /** `callback(position)` for each position (the replayed last one first); returns a stop function. */
    onPosition(callback) {
        this.handlers.position.add(callback);
        return () => this.handlers.position.delete(callback);
    }

    /** `callback({reason})` when the trip ends; `lastPosition` is cleared. */
    onEnded(callback) {
        this.handlers.ended.add(callback);
        return () => this.handlers.ended.delete(callback);
    }

    /** True when the newest position is older than `staleAfterMs`. */
    isStale(now = Date.now()) {
        return !this.lastPosition || now - this.lastPosition.time > this.staleAfterMs;
    }

    receive(data) {
        let position;
        try {
            position = normalizePosition(data);
        } catch {
            return;
        }
        if (data.publisher_id !== undefined) position.publisher_id = data.publisher_id;
        // Positions can cross a replay: never go back in time.
        if (this.lastPosition && position.time < this.lastPosition.time) return;
        this.ended = false;
        this.lastPosition = position;
        for (const callback of [...this.handlers.position]) callback(position);
    }

    receiveEnd(data) {
        this.ended = true;
        this.lastPosition = null;
        for (const callback of [...this.handlers.ended]) callback({ reason: data?.reason ?? "ended", time: data?.time ?? null });
    }

    close() {
        this.realtime.unsubscribe(this.channelName);
    }
}

export default { buildLocationChannelName, createLocationPublisher, createLocationTracker };
