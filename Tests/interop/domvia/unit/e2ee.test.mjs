// @domvia/realtime-e2ee with Node's WebCrypto: envelopes, key agreement, and the room key exchange between members.
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";

import {
    RoomEncryption,
    decryptJSON,
    deriveSharedKey,
    encryptJSON,
    fingerprint,
    generateIdentity,
    generateSenderKey,
    isEnvelope,
    readiness,
} from "@domvia/realtime-e2ee";

test("an envelope opens only with its key and its associated data", async () => {
    const key = await generateSenderKey();
    const envelope = await encryptJSON(key, "dev.k", { body: "the plan is at noon" }, "room|m1");
    assert.ok(isEnvelope(envelope));
    assert.ok(!JSON.stringify(envelope).includes("noon"));
    assert.deepEqual(await decryptJSON(key, envelope, "room|m1"), { body: "the plan is at noon" });
    await assert.rejects(decryptJSON(key, envelope, "room|m2"));
    await assert.rejects(decryptJSON(await generateSenderKey(), envelope, "room|m1"));
    const tampered = { ...envelope, ct: envelope.ct.slice(0, -2) + (envelope.ct.endsWith("AA") ? "BA" : "AA") };
    await assert.rejects(decryptJSON(key, tampered, "room|m1"));
    assert.equal(isEnvelope({ ...envelope, body: undefined, ct: "not base64!" }), false);
    assert.equal(isEnvelope("text"), false);
});

test("two devices derive the same wrapping key without sending it; private keys cannot be exported", async () => {
    const alice = await generateIdentity();
    const bob = await generateIdentity();
    const a = await deriveSharedKey(alice.privateKey, bob.publicKeyRaw, { salt: "room-42" });
    const b = await deriveSharedKey(bob.privateKey, alice.publicKeyRaw, { salt: "room-42" });
    const sealed = await encryptJSON(a, "x", { n: 1 }, "");
    assert.deepEqual(await decryptJSON(b, sealed, ""), { n: 1 });
    const otherRoom = await deriveSharedKey(bob.privateKey, alice.publicKeyRaw, { salt: "room-43" });
    await assert.rejects(decryptJSON(otherRoom, sealed, ""));
    await assert.rejects(webcrypto.subtle.exportKey("pkcs8", alice.privateKey));
    assert.match(await fingerprint(alice.publicKeyRaw), /^[0-9a-f]{4}( [0-9a-f]{4}){4}$/);
});

/** A channel where client events reach every other member (as the edge does: never echoed to the sender). */
function bus() {
    const members = new Set();
    const wire = [];
    return {
        wire,
        join() {
            const bindings = new Map();
            const channel = {
                name: "private-chat.room.t",
                subscribed: true,
                bind(event, callback) {
                    if (!bindings.has(event)) bindings.set(event, new Set());
                    bindings.get(event).add(callback);
                    return () => bindings.get(event).delete(callback);
                },
                emit(event, data) {
                    for (const callback of bindings.get(event) || []) callback(data, {});
                },
                async trigger(event, data) {
                    const copy = JSON.parse(JSON.stringify(data));
                    wire.push({ event, data: copy });
                    for (const other of members) if (other !== channel) setTimeout(() => other.emit(event, copy), 1);
                },
            };
            members.add(channel);
            return channel;
        },
    };
}

test("members exchange sender keys wrapped for each other, also with a late joiner; the wire holds no key or text", async () => {
    const room = bus();
    const ada = new RoomEncryption(room.join(), { roomId: "t", userId: "ada" });
    await ada.start();
    const bob = new RoomEncryption(room.join(), { roomId: "t", userId: "bob" });
    await bob.start();
    const fromAda = await ada.encrypt({ body: "hello bob" }, "m1");
    assert.deepEqual(await bob.decrypt(fromAda, "m1"), { body: "hello bob" });
    const fromBob = await bob.encrypt({ body: "hi ada" }, "m2");
    assert.deepEqual(await ada.decrypt(fromBob, "m2"), { body: "hi ada" });

    const cy = new RoomEncryption(room.join(), { roomId: "t", userId: "cy" });
    await cy.start();
    assert.deepEqual(await cy.decrypt(await ada.encrypt({ body: "welcome" }, "m3"), "m3"), { body: "welcome" });
    assert.deepEqual(await cy.decrypt(fromBob, "m2"), { body: "hi ada" });

    const wire = JSON.stringify(room.wire);
    for (const secret of ["hello bob", "hi ada", "welcome"]) assert.ok(!wire.includes(secret));
    assert.ok(room.wire.some((frame) => frame.event === "client-e2ee.key"));
    for (const e2ee of [ada, bob, cy]) e2ee.close();
});

test("a member cannot take over another member's key id", async () => {
    const room = bus();
    const ada = new RoomEncryption(room.join(), { roomId: "t" });
    await ada.start();
    const bob = new RoomEncryption(room.join(), { roomId: "t", keyWaitMs: 300 });
    await bob.start();
    const genuine = await ada.encrypt({ body: "real" }, "m");
    assert.deepEqual(await bob.decrypt(genuine, "m"), { body: "real" });
    // Mallory announces a key under ada's key id: bob keeps ada's.
    const mallory = new RoomEncryption(room.join(), { roomId: "t" });
    await mallory.start();
    mallory.kid = ada.kid;
    mallory.keys.set(ada.kid, mallory.senderKey);
    await mallory.sendKeyTo(bob.deviceId, bob.identity.publicKeyRaw);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assert.rejects(bob.decrypt(await mallory.encrypt({ body: "forged" }, "m"), "m"));
    assert.deepEqual(await bob.decrypt(genuine, "m"), { body: "real" });
    for (const e2ee of [ada, bob, mallory]) e2ee.close();
});

test("waitUntilReady shares one attempt between callers and tries again after a failure", async () => {
    const attempts = [];
    const channel = {
        whenSubscribed(options) {
            attempts.push(options);
            return attempts.length === 1 ? Promise.reject(new Error("subscription timed out")) : Promise.resolve();
        },
    };
    const owner = { name: "room" };
    const waitUntilReady = readiness(channel, null, owner);
    const first = waitUntilReady({ timeoutMs: 5 });
    assert.equal(waitUntilReady(), first);
    await assert.rejects(first, /timed out/);
    assert.equal(await waitUntilReady(), owner);
    assert.equal(await waitUntilReady(), owner);
    assert.deepEqual(attempts, [{ timeoutMs: 5 }, undefined]);
});
