// @domvia/realtime-calls: WebRTC call signaling over a protected DomVia Realtime channel.
//
// Realtime carries the call state (started, ringing, accepted, rejected, ended, media state) and the WebRTC
// negotiation (offer, answer, ICE candidates); audio and video flow over WebRTC itself, never through realtime.
//
//   const call = createCallSession(realtime, { callId: "call-9001", channelName: buildCallChannelName({…}) });
//   await call.waitUntilReady();
//   call.onOffer(async (event) => { await pc.setRemoteDescription({ type: "offer", sdp: event.sdp }); … });
//   call.attachPeerConnection(pc);   // sends pc's ICE candidates, batched
//
// Wire events are client events `client-call.<name>` with `{call_id, user_id, …}`; ICE candidates go in batches
// `{candidates: [{candidate, sdp_mid, sdp_mline_index}]}`. With `encrypted: true` (strong privacy) the negotiation
// payloads travel sealed with @domvia/realtime-e2ee: `{call_id, user_id, count?, sealed: envelope}`.

import { RoomEncryption, readiness } from "../realtime-e2ee/index.js";

/** Every signaling event, as named on the wire (after `client-`). */
export const CALL_EVENTS = Object.freeze([
    "call.started",
    "call.ringing",
    "call.accepted",
    "call.rejected",
    "call.ended",
    "call.media_state",
    "call.offer",
    "call.answer",
    "call.ice_candidate",
]);

/** The states a call goes through; `rejected` and `ended` are final. */
export const CALL_STATES = Object.freeze(["idle", "started", "ringing", "accepted", "rejected", "ended"]);

const PART = /^[A-Za-z0-9_\-=@,;]{1,100}$/;
const SEALED = new Set(["call.offer", "call.answer", "call.ice_candidate", "call.media_state"]);

/**
 * The channel of one call session: `{channelKind}-call.{scope}.{scopeId}.{sessionId}`, e.g.
 * `private-call.room.chat-room-42.call-9001`. Parts may not contain dots, so the name parses back unambiguously.
 */
export function buildCallChannelName({ channelKind = "private", scope, scopeId, sessionId } = {}) {
    if (channelKind !== "private" && channelKind !== "presence") throw new TypeError(`call channels are private or presence, not ${channelKind}`);
    for (const [name, value] of Object.entries({ scope, scopeId, sessionId })) {
        if (!PART.test(String(value ?? ""))) throw new TypeError(`invalid ${name} ${JSON.stringify(value)}: letters, digits and _-=@,; only`);
    }
    return `${channelKind}-call.${scope}.${scopeId}.${sessionId}`;
}

/** The parts of a call channel name, or null. */
export function parseCallChannelName(channelName) {
    const match = /^(private|presence)-call\.([^.]+)\.([^.]+)\.([^.]+)$/.exec(String(channelName));
    return match ? { channelKind: match[1], scope: match[2], scopeId: match[3], sessionId: match[4] } : null;
}

/** Joins a call's signaling channel over `realtime` (a `DomViaRealtime` with `clientEvents: true`). */
export function createCallSession(realtime, options) {
    return new CallSession(realtime, options);
}

function sdpOf(value) {
    return typeof value === "string" ? value : value?.sdp;
}

export class CallSession {
    /**
     * @param {object} realtime a `DomViaRealtime`
     * @param {object} options `callId`, `channelName`, `userId` (this user), `encrypted` (seal offer, answer, ICE and
     *   media state end to end), `iceBatchMs` (default 50: candidates gathered within it go in one event)
     */
    constructor(realtime, { callId, channelName, userId, encrypted = false, iceBatchMs = 50, maxIceBatch = 20, keyWaitMs } = {}) {
        if (!callId) throw new TypeError("createCallSession needs a callId");
        if (!channelName) throw new TypeError("createCallSession needs a channelName");
        this.realtime = realtime;
        this.callId = String(callId);
        this.channelName = channelName;
        this.userId = userId ?? null;
        this.state = "idle";
        this.iceBatchMs = iceBatchMs;
        this.maxIceBatch = maxIceBatch;
        this.pendingIce = [];
        this.iceTimer = null;
        this.handlers = new Map();
        this.channel = realtime.subscribe(channelName);
        this.e2ee = encrypted ? new RoomEncryption(this.channel, { roomId: `${channelName}|${this.callId}`, userId: this.userId, keyWaitMs }) : null;
        this.incoming = Promise.resolve();
        this.readiness = readiness(this.channel, this.e2ee, this);
        for (const name of CALL_EVENTS) {
            this.channel.bind(`client-${name}`, (data, meta) => this.receive(name, data, meta));
            this.channel.bind(name, (data, meta) => this.receive(name, data, meta));
        }
        this.channel.bind("error", (error) => this.emit("error", error));
        this.channel.bind("subscription_error", (error) => this.emit("error", error));
    }

    /** Resolves once subscribed to the call channel (and, when encrypted, keys are made and announced). */
    waitUntilReady(options) {
        return this.readiness(options);
    }

    // MARK: Listening

    /** `callback(event)` for a signaling event (`call.offer`, …, or `state` for every state change); returns a stop function. */
    on(name, callback) {
        if (!this.handlers.has(name)) this.handlers.set(name, new Set());
        this.handlers.get(name).add(callback);
        return () => this.handlers.get(name)?.delete(callback);
    }

    emit(name, value) {
        for (const callback of [...(this.handlers.get(name) || [])]) {
            try {
                callback(value);
            } catch (error) {
                queueMicrotask(() => {
                    throw error;
                });
            }
        }
    }

    /**
     * Runs the handlers of a remote event one after another, awaiting each: an answer's `setRemoteDescription`
     * finishes before the ICE candidates that follow it are added.
     */
    async dispatch(name, value) {
        for (const callback of [...(this.handlers.get(name) || [])]) {
            try {
                await callback(value);
            } catch (error) {
                this.emit("error", error);
            }
        }
    }

    /** `callback({call_id, user_id, sdp})` for the caller's offer. */
    onOffer(callback) {
        return this.on("call.offer", callback);
    }

    /** `callback({call_id, user_id, sdp})` for the callee's answer. */
    onAnswer(callback) {
        return this.on("call.answer", callback);
    }

    /** `callback({call_id, user_id, candidate, sdp_mid, sdp_mline_index})` once per remote ICE candidate. */
    onIceCandidate(callback) {
        return this.on("call.ice_candidate", callback);
    }

    onStarted(callback) {
        return this.on("call.started", callback);
    }

    onRinging(callback) {
        return this.on("call.ringing", callback);
    }

    onAccepted(callback) {
        return this.on("call.accepted", callback);
    }

    onRejected(callback) {
        return this.on("call.rejected", callback);
    }

    onEnded(callback) {
        return this.on("call.ended", callback);
    }

    /** `callback({call_id, user_id, audio, video, screen})`. */
    onMediaState(callback) {
        return this.on("call.media_state", callback);
    }

    /** `callback({previous, current})` whenever the call's state changes (local or remote). */
    onStateChange(callback) {
        return this.on("state", callback);
    }

    onError(callback) {
        return this.on("error", callback);
    }

    setState(next) {
        if (this.state === next || this.state === "ended" || this.state === "rejected") return;
        const previous = this.state;
        this.state = next;
        this.emit("state", { previous, current: next });
    }

    stateFor(name) {
        return { "call.started": "started", "call.ringing": "ringing", "call.accepted": "accepted", "call.rejected": "rejected", "call.ended": "ended" }[name];
    }

    receive(name, data, meta) {
        if (!data || typeof data !== "object" || String(data.call_id) !== this.callId) return;
        this.incoming = this.incoming.then(async () => {
            let payload = data;
            if (this.e2ee && SEALED.has(name)) {
                try {
                    payload = { ...(await this.e2ee.decrypt(data.sealed, this.aad(name))), call_id: data.call_id, user_id: data.user_id };
                } catch (error) {
                    return this.emit("error", Object.assign(new Error(`could not open ${name}: ${error.message}`), { cause: error }));
                }
            }
            const user_id = meta?.user_id ?? payload.user_id ?? null;
            if (name === "call.ice_candidate") {
                const list = Array.isArray(payload.candidates) ? payload.candidates : [payload];
                for (const item of list) {
                    if (!item || typeof item.candidate !== "string") continue;
                    await this.dispatch(name, {
                        call_id: this.callId,
                        user_id,
                        candidate: item.candidate,
                        sdp_mid: item.sdp_mid ?? null,
                        sdp_mline_index: item.sdp_mline_index ?? null,
                    });
                }
                return;
            }
            const state = this.stateFor(name);
            if (state) this.setState(state);
            const { sealed: _sealed, ...event } = payload;
            await this.dispatch(name, { ...event, user_id });
        });
    }

    // MARK: Sending

    aad(name) {
        return `${this.channelName}|${this.callId}|${name}`;
    }

    async send(name, fields) {
        await this.waitUntilReady();
        const state = this.stateFor(name);
        if (state) this.setState(state);
        const { user_id: userId, ...rest } = fields;
        const base = { call_id: this.callId, user_id: userId ?? this.userId };
        let data;
        if (this.e2ee && SEALED.has(name)) {
            const { count, ...secret } = rest;
            data = { ...base, sealed: await this.e2ee.encrypt(secret, this.aad(name)) };
            if (count !== undefined) data.count = count;
        } else {
            data = { ...base, ...rest };
        }
        await this.channel.trigger(`client-${name}`, data);
        return data;
    }

    /** Announces a new call (`media`: e.g. `{audio: true, video: true}`). */
    start({ userId, media } = {}) {
        return this.send("call.started", { user_id: userId, media: media ?? { audio: true, video: false } });
    }

    /** Tells the caller the callee's device is ringing. */
    sendRinging({ userId } = {}) {
        return this.send("call.ringing", { user_id: userId });
    }

    accept({ userId } = {}) {
        return this.send("call.accepted", { user_id: userId });
    }

    reject({ userId, reason = "declined" } = {}) {
        return this.send("call.rejected", { user_id: userId, reason });
    }

    /** Ends the call for everyone on the channel. */
    async end({ userId, reason = "hangup" } = {}) {
        await this.flushIce();
        return this.send("call.ended", { user_id: userId, reason });
    }

    sendMediaState({ userId, audio, video, screen } = {}) {
        return this.send("call.media_state", { user_id: userId, audio: Boolean(audio), video: Boolean(video), screen: Boolean(screen) });
    }

    /** Sends the WebRTC offer (`RTCSessionDescription` or `{sdp}` or the SDP text). */
    sendOffer(offer, { userId } = {}) {
        return this.send("call.offer", { user_id: userId, sdp: sdpOf(offer) });
    }

    sendAnswer(answer, { userId } = {}) {
        return this.send("call.answer", { user_id: userId, sdp: sdpOf(answer) });
    }

    /**
     * Queues one local ICE candidate (`RTCIceCandidate` or `{candidate, sdpMid, sdpMLineIndex}`); candidates are sent in
     * batches every `iceBatchMs`, so a burst of gathering costs a few events, not one per candidate.
     */
    sendIceCandidate(candidate) {
        if (!candidate || !candidate.candidate) return Promise.resolve();
        this.pendingIce.push({
            candidate: candidate.candidate,
            sdp_mid: candidate.sdpMid ?? candidate.sdp_mid ?? null,
            sdp_mline_index: candidate.sdpMLineIndex ?? candidate.sdp_mline_index ?? null,
        });
        if (this.pendingIce.length >= this.maxIceBatch) return this.flushIce();
        if (!this.iceTimer) this.iceTimer = setTimeout(() => this.flushIce().catch((error) => this.emit("error", error)), this.iceBatchMs);
        return Promise.resolve();
    }

    async flushIce() {
        clearTimeout(this.iceTimer);
        this.iceTimer = null;
        const batch = this.pendingIce.splice(0, this.pendingIce.length);
        if (batch.length === 0) return;
        await this.send("call.ice_candidate", { candidates: batch, count: batch.length });
    }

    /** Sends `peerConnection`'s ICE candidates through this session as they are gathered; returns a stop function. */
    attachPeerConnection(peerConnection) {
        const listener = (event) => {
            if (event.candidate) this.sendIceCandidate(event.candidate).catch((error) => this.emit("error", error));
            else this.flushIce().catch((error) => this.emit("error", error));
        };
        peerConnection.addEventListener("icecandidate", listener);
        return () => peerConnection.removeEventListener("icecandidate", listener);
    }

    /** Leaves the signaling channel. */
    close() {
        clearTimeout(this.iceTimer);
        this.e2ee?.close();
        this.realtime.unsubscribe(this.channelName);
    }
}

export default { buildCallChannelName, createCallSession };
