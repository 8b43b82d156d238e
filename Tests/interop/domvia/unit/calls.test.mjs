// @domvia/realtime-calls over an in-memory channel: state machine, batched ICE, and strong privacy (sealed signaling).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createCallSession } from "@domvia/realtime-calls";

/** A realtime whose channels deliver client events to every other member, never to the sender (as the edge does). */
function network() {
    const members = new Map();
    const wire = [];
    const realtime = () => ({
        options: { clientEvents: true },
        subscribe(name) {
            const bindings = new Map();
            const channel = {
                name,
                subscribed: true,
                whenSubscribed: async () => channel,
                bind(event, callback) {
                    if (!bindings.has(event)) bindings.set(event, new Set());
                    bindings.get(event).add(callback);
                    return () => bindings.get(event).delete(callback);
                },
                emit(event, data, meta = {}) {
                    for (const callback of bindings.get(event) || []) callback(data, meta);
                },
                async trigger(event, data) {
                    const copy = JSON.parse(JSON.stringify(data));
                    wire.push({ event, data: copy });
                    for (const other of members.get(name) || []) if (other !== channel) setTimeout(() => other.emit(event, copy, { event }), 1);
                },
            };
            members.set(name, [...(members.get(name) || []), channel]);
            return channel;
        },
        unsubscribe() {},
    });
    return { realtime, wire };
}

const settle = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

for (const encrypted of [false, true]) {
    test(`offer, answer, batched ICE and call states reach the other side (encrypted: ${encrypted})`, async () => {
        const net = network();
        const channelName = "private-call.room.r1.c1";
        const caller = createCallSession(net.realtime(), { callId: "c1", channelName, userId: "ada", encrypted, iceBatchMs: 10 });
        const callee = createCallSession(net.realtime(), { callId: "c1", channelName, userId: "bob", encrypted, iceBatchMs: 10 });
        await caller.waitUntilReady();
        await callee.waitUntilReady();
        await settle();

        const seen = { offers: [], answers: [], candidates: [], states: [] };
        callee.onOffer((event) => seen.offers.push(event));
        caller.onAnswer((event) => seen.answers.push(event));
        callee.onIceCandidate((event) => seen.candidates.push(event));
        caller.onStateChange(({ current }) => seen.states.push(current));
        callee.onStarted(() => callee.sendRinging({ userId: "bob" }));

        await caller.start({ media: { audio: true, video: true } });
        await settle();
        assert.equal(callee.state, "ringing", "the callee rang back");
        assert.equal(caller.state, "ringing");
        await callee.accept();
        await caller.sendOffer({ type: "offer", sdp: "v=0 offer-sdp-secret" });
        for (let n = 0; n < 3; n++) await caller.sendIceCandidate({ candidate: `candidate:${n} 1 udp 1 127.0.0.1 ${5000 + n} typ host`, sdpMid: "0", sdpMLineIndex: 0 });
        await callee.sendAnswer({ sdp: "v=0 answer-sdp-secret" });
        await settle(80);

        assert.deepEqual(seen.offers.map((e) => [e.sdp, e.user_id, e.call_id]), [["v=0 offer-sdp-secret", "ada", "c1"]]);
        assert.deepEqual(seen.answers.map((e) => e.sdp), ["v=0 answer-sdp-secret"]);
        assert.deepEqual(seen.candidates.map((e) => [e.candidate.split(" ")[0], e.sdp_mid, e.sdp_mline_index]), [
            ["candidate:0", "0", 0],
            ["candidate:1", "0", 0],
            ["candidate:2", "0", 0],
        ]);
        assert.deepEqual(seen.states, ["started", "ringing", "accepted"]);

        const iceEvents = net.wire.filter((f) => f.event === "client-call.ice_candidate");
        assert.equal(iceEvents.length, 1, "three candidates, one batch");
        assert.equal(iceEvents[0].data.count, 3);
        const everything = JSON.stringify(net.wire);
        assert.equal(everything.includes("offer-sdp-secret"), !encrypted);
        assert.equal(everything.includes("candidate:1 1 udp"), !encrypted);
        if (encrypted) {
            const offer = net.wire.find((f) => f.event === "client-call.offer").data;
            assert.deepEqual(Object.keys(offer).sort(), ["call_id", "sealed", "user_id"]);
            assert.deepEqual(Object.keys(offer.sealed).sort(), ["alg", "ct", "iv", "kid", "v"]);
        }

        await caller.end();
        await settle();
        assert.equal(callee.state, "ended");
        // Ended is final: a late state event does not reopen the call.
        await caller.sendRinging();
        await settle();
        assert.equal(callee.state, "ended");
    });
}

test("events of another call on the same channel are ignored", async () => {
    const net = network();
    const one = createCallSession(net.realtime(), { callId: "c1", channelName: "private-call.room.r.s" });
    const two = createCallSession(net.realtime(), { callId: "c2", channelName: "private-call.room.r.s" });
    const offers = [];
    two.onOffer((event) => offers.push(event));
    await one.sendOffer("v=0");
    await settle();
    assert.deepEqual(offers, []);
});
