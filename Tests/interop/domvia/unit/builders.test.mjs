// Channel-name builders and parsers of every DomVia package, the delivery transition table, positions, backoff.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay } from "@domvia/realtime";
import { buildChatChannelName, parseChatChannelName } from "@domvia/realtime-chat";
import { buildCallChannelName, parseCallChannelName, CALL_EVENTS } from "@domvia/realtime-calls";
import { buildLocationChannelName, parseLocationChannelName, normalizePosition } from "@domvia/realtime-location";
import {
    DELIVERY_STATES,
    INITIAL_STATES,
    buildDeliveryChannelName,
    canTransition,
    parseDeliveryChannelName,
} from "@domvia/realtime-delivery";

test("chat channels are private-chat.room.{roomId} as the seed shows", () => {
    assert.equal(buildChatChannelName("room-42"), "private-chat.room.room-42");
    assert.equal(buildChatChannelName(42), "private-chat.room.42");
    assert.equal(buildChatChannelName("room-42", { channelKind: "presence" }), "presence-chat.room.room-42");
    assert.equal(parseChatChannelName("private-chat.room.room-42"), "room-42");
    assert.equal(parseChatChannelName("private-orders"), null);
    for (const bad of ["", "a b", "x/y", "#server", "é"]) assert.throws(() => buildChatChannelName(bad), TypeError, bad);
    assert.throws(() => buildChatChannelName("r", { channelKind: "public" }), TypeError);
});

test("call channels carry scope, scope id and session, and parse back", () => {
    const name = buildCallChannelName({ channelKind: "private", scope: "room", scopeId: "chat-room-42", sessionId: "call-9001" });
    assert.equal(name, "private-call.room.chat-room-42.call-9001");
    assert.deepEqual(parseCallChannelName(name), { channelKind: "private", scope: "room", scopeId: "chat-room-42", sessionId: "call-9001" });
    // The seed's server route checks this prefix before signing.
    assert.ok(name.startsWith("private-call.room."));
    assert.throws(() => buildCallChannelName({ scope: "room", scopeId: "a.b", sessionId: "c" }), TypeError);
    assert.throws(() => buildCallChannelName({ scope: "room", scopeId: "a" }), TypeError);
    assert.equal(parseCallChannelName("private-call.room.a"), null);
    assert.deepEqual(CALL_EVENTS.slice(0, 5), ["call.started", "call.ringing", "call.accepted", "call.rejected", "call.ended"]);
});

test("location and delivery channels", () => {
    assert.equal(buildLocationChannelName({ scopeId: "trip-7" }), "private-location.trip.trip-7");
    assert.equal(buildLocationChannelName({ scope: "courier", scopeId: "c9" }), "private-location.courier.c9");
    assert.deepEqual(parseLocationChannelName("private-location.trip.trip-7"), { channelKind: "private", scope: "trip", scopeId: "trip-7" });
    assert.throws(() => buildLocationChannelName({ scopeId: "a.b" }), TypeError);
    assert.equal(buildDeliveryChannelName("884"), "private-delivery.884");
    assert.equal(parseDeliveryChannelName("private-delivery.884"), "884");
    assert.throws(() => buildDeliveryChannelName(""), TypeError);
});

test("the delivery transition table refuses delivered -> in_transit and allows the usual path", () => {
    assert.equal(canTransition("delivered", "in_transit"), false);
    assert.equal(canTransition("delivered", "support_needed"), true);
    assert.equal(canTransition(null, "delivered"), false);
    assert.equal(canTransition(null, "pickup"), true);
    assert.equal(canTransition("pickup", "teleported"), false);
    const path = ["pickup", "in_transit", "nearby", "in_transit", "nearby", "delivered", "support_needed", "pickup"];
    let current = null;
    for (const next of path) {
        assert.ok(canTransition(current, next), `${current} -> ${next}`);
        current = next;
    }
    assert.deepEqual(DELIVERY_STATES, ["pickup", "in_transit", "nearby", "delivered", "failed", "support_needed"]);
    assert.deepEqual(INITIAL_STATES, ["pickup", "in_transit", "failed", "support_needed"]);
});

test("a client resolves a support request only to where the delivery could go before it, as the edge does", () => {
    assert.equal(canTransition("support_needed", "in_transit", { interrupted: "delivered" }), false);
    assert.equal(canTransition("support_needed", "delivered", { interrupted: "delivered" }), true);
    assert.equal(canTransition("support_needed", "support_needed", { interrupted: "delivered" }), true);
    assert.equal(canTransition("support_needed", "pickup", { interrupted: "failed" }), true);
    assert.equal(canTransition("support_needed", "pickup", { interrupted: null }), false);
    // The app's server leaves `interrupted` out: support resolves to any state.
    assert.equal(canTransition("support_needed", "in_transit"), true);
});

test("positions are checked and normalized", () => {
    const p = normalizePosition({ lat: 52.5, lng: 13.4, accuracy: 5, heading: 90, speed: 3, time: 1000 });
    assert.deepEqual(p, { lat: 52.5, lon: 13.4, time: 1000, accuracy: 5, heading: 90, speed: 3 });
    const browser = normalizePosition({ coords: { latitude: 1, longitude: 2, accuracy: 3, heading: null, speed: null }, timestamp: 5 });
    assert.deepEqual(browser, { lat: 1, lon: 2, time: 5, accuracy: 3 });
    assert.throws(() => normalizePosition({ lat: 91, lon: 0 }), RangeError);
    assert.throws(() => normalizePosition({ lat: 0, lon: -181 }), RangeError);
    assert.throws(() => normalizePosition({ lat: 0 }), TypeError);
    assert.throws(() => normalizePosition({ lat: 0, lon: 0, heading: 400 }), RangeError);
});

test("reconnect delays grow exponentially to the cap, with jitter in the upper half", () => {
    const options = { minDelayMs: 500, maxDelayMs: 30_000 };
    assert.equal(backoffDelay(0, options, () => 0), 250);
    assert.equal(backoffDelay(0, options, () => 1), 500);
    assert.equal(backoffDelay(3, options, () => 1), 4000);
    assert.equal(backoffDelay(20, options, () => 1), 30_000);
    assert.equal(backoffDelay(20, options, () => 0), 15_000);
    for (let attempt = 0; attempt < 12; attempt++) {
        const delay = backoffDelay(attempt, options);
        const ceiling = Math.min(30_000, 500 * 2 ** attempt);
        assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${attempt}: ${delay}`);
    }
});
