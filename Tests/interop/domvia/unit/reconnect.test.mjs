// DomViaRealtime's connection logic against a scripted WebSocket: reconnect with backoff, re-authorization with the
// new socket id, resubscription, client-event pacing, and no reconnect after a refusal for good (4000-4099).
import assert from "node:assert/strict";
import { test } from "node:test";

import { DomViaRealtime } from "@domvia/realtime";

function scripted() {
    const sockets = [];
    class FakeSocket {
        constructor(url) {
            this.url = url;
            this.readyState = 1;
            this.sent = [];
            sockets.push(this);
        }
        send(text) {
            this.sent.push(JSON.parse(text));
        }
        close(code = 1000) {
            this.readyState = 3;
            this.onclose?.({ code, reason: "" });
        }
        serverSends(frame) {
            this.onmessage?.({ data: JSON.stringify(frame) });
        }
        establish(socketId) {
            this.serverSends({ event: "pusher:connection_established", data: JSON.stringify({ socket_id: socketId, activity_timeout: 120 }) });
        }
        drop(code) {
            this.readyState = 3;
            this.onclose?.({ code, reason: "" });
        }
    }
    return { FakeSocket, sockets };
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

test("after a drop it reconnects with backoff, re-authorizes with the new socket id and resubscribes", async () => {
    const { FakeSocket, sockets } = scripted();
    const authorized = [];
    const realtime = DomViaRealtime.create({
        key: "pk_test",
        host: "127.0.0.1:8080",
        WebSocket: FakeSocket,
        reconnect: { minDelayMs: 20, maxDelayMs: 40 },
        authorizer: async ({ socketId, channelName }) => {
            authorized.push(`${socketId} ${channelName}`);
            return { auth: `pk_test:sig-${socketId}` };
        },
    });
    assert.equal(sockets[0].url, "ws://127.0.0.1:8080/app/pk_test?protocol=7&client=domvia-js&version=0.1.0&flash=false");
    const channel = realtime.subscribe("private-chat.room.1");
    const got = [];
    channel.bind("chat.message", (data) => got.push(data.n));
    sockets[0].establish("1.1");
    await tick();
    assert.deepEqual(sockets[0].sent.at(-1), { event: "pusher:subscribe", data: { channel: "private-chat.room.1", auth: "pk_test:sig-1.1" } });
    sockets[0].serverSends({ event: "pusher_internal:subscription_succeeded", channel: "private-chat.room.1", data: "{}" });
    await channel.whenSubscribed();
    sockets[0].serverSends({ event: "chat.message", channel: "private-chat.room.1", data: JSON.stringify({ n: 1 }) });

    const states = [];
    realtime.on("state_change", ({ current }) => states.push(current));
    sockets[0].drop(1006);
    assert.equal(realtime.state, "unavailable");
    assert.equal(sockets.length, 1);
    await tick(60);
    assert.equal(sockets.length, 2, "reconnected after the backoff");
    sockets[1].establish("2.2");
    await tick();
    assert.deepEqual(authorized, ["1.1 private-chat.room.1", "2.2 private-chat.room.1"]);
    assert.deepEqual(sockets[1].sent.at(-1), { event: "pusher:subscribe", data: { channel: "private-chat.room.1", auth: "pk_test:sig-2.2" } });
    sockets[1].serverSends({ event: "pusher_internal:subscription_succeeded", channel: "private-chat.room.1", data: "{}" });
    sockets[1].serverSends({ event: "chat.message", channel: "private-chat.room.1", data: JSON.stringify({ n: 2 }) });
    assert.deepEqual(got, [1, 2], "bindings survive the reconnect");
    assert.deepEqual(states, ["unavailable", "connecting", "connected"]);
    realtime.disconnect();
});

test("4200 reconnects at once; 4001-4099 fail for good", async () => {
    const { FakeSocket, sockets } = scripted();
    const realtime = DomViaRealtime.create({ key: "k", host: "localhost:1", WebSocket: FakeSocket, reconnect: { minDelayMs: 5000 } });
    sockets[0].establish("1.1");
    sockets[0].drop(4200);
    await tick(400);
    assert.equal(sockets.length, 2, "no backoff for 4200");
    sockets[1].establish("1.2");
    sockets[1].drop(4001);
    await tick(50);
    assert.equal(realtime.state, "failed");
    assert.equal(sockets.length, 2);
    realtime.disconnect();
});

test("client events need clientEvents: true, wait for the subscription and are paced to the rate", async () => {
    const { FakeSocket, sockets } = scripted();
    const off = DomViaRealtime.create({ key: "k", host: "localhost:1", WebSocket: FakeSocket });
    await assert.rejects(off.subscribe("private-x").trigger("typing", {}), /clientEvents: true/);
    off.disconnect();

    const realtime = DomViaRealtime.create({
        key: "k",
        host: "localhost:1",
        WebSocket: FakeSocket,
        clientEvents: true,
        clientEventsPerSecond: 5,
        authorizer: async () => ({ auth: "k:s" }),
    });
    const socket = sockets.at(-1);
    socket.establish("3.3");
    const channel = realtime.subscribe("private-x");
    const sends = Array.from({ length: 8 }, (_, n) => channel.trigger("typing", { n }));
    await tick(20);
    assert.equal(socket.sent.filter((f) => f.event === "client-typing").length, 0, "nothing before subscription_succeeded");
    socket.serverSends({ event: "pusher_internal:subscription_succeeded", channel: "private-x", data: "{}" });
    assert.equal(socket.sent.filter((f) => f.event === "client-typing").length, 5, "a burst of the rate");
    await Promise.all(sends);
    const frames = socket.sent.filter((f) => f.event === "client-typing");
    assert.deepEqual(frames.map((f) => f.data.n), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(frames[0].channel, "private-x");
    await assert.rejects(realtime.subscribe("public-feed").trigger("x", {}), /private or presence/);
    realtime.disconnect();
});

test("hosts: loopback is ws://, anything else wss://, explicit schemes win", () => {
    const url = (host, extra = {}) => new DomViaRealtime({ key: "k", host, ...extra }).url.split("/app/")[0];
    assert.equal(url("127.0.0.1:8080"), "ws://127.0.0.1:8080");
    assert.equal(url("localhost"), "ws://localhost");
    assert.equal(url("ws.domvia.net"), "wss://ws.domvia.net");
    assert.equal(url("edge.example.com:8443"), "wss://edge.example.com:8443");
    assert.equal(url("127.0.0.1:8443", { forceTLS: true }), "wss://127.0.0.1:8443");
    assert.equal(url("ws://10.0.0.5:8080"), "ws://10.0.0.5:8080");
    assert.equal(url("https://edge.example.com/"), "wss://edge.example.com");
});
