#!/usr/bin/env node
// The trusted server of the DomVia examples: what your own backend does next to Switchboard, in one Node file with
// no dependencies (Node 18+). Switchboard serves the pages (/examples/domvia-*.html) and the SDK (/sdk/…) and forwards
// everything else here (its reverse proxy, `upstream` in examples/domvia/switchboard.toml), so pages, this server and
// the WebSocket share one origin.
//
//   node examples/domvia/server.mjs                     # http://127.0.0.1:3001
//   swift run -c release switchboard serve --config examples/domvia/switchboard.toml
//
// Environment: DOMVIA_REALTIME_KEY (pk_dev_demo), DOMVIA_REALTIME_SECRET (sk_dev_demo), DOMVIA_REALTIME_APP_ID (1001),
// DOMVIA_REALTIME_HOST (127.0.0.1:8080, for publishing), PORT (3001).
//
// Routes:
//   POST /demo/sign-in                 {name}: a demo session (an HttpOnly cookie); a real app has its own sign-in
//   POST /realtime/auth                socket_id, channel_name: signs the rooms, calls, trips and deliveries of the demo
//   POST /demo/deliveries/{id}/status  {status, note}: the operator's update, published by this server
//   GET  /demo/deliveries/{id}/timeline  the kept timeline, read from Switchboard's history

import { randomUUID } from "node:crypto";
import { createServer } from "node:http";

import {
    authorizePresenceChannel,
    authorizePrivateChannel,
    createRealtimeServer,
} from "../../sdk/js/@domvia/realtime-server/index.js";

const KEY = process.env.DOMVIA_REALTIME_KEY || "pk_dev_demo";
const SECRET = process.env.DOMVIA_REALTIME_SECRET || "sk_dev_demo";
const APP_ID = process.env.DOMVIA_REALTIME_APP_ID || "1001";
const HOST = process.env.DOMVIA_REALTIME_HOST || "127.0.0.1:8080";
const PORT = Number(process.env.PORT || 3001);

const realtime = createRealtimeServer({ appId: APP_ID, key: KEY, secret: SECRET, host: HOST });

/** The channels a signed-in demo user may join; a real app checks room membership, trip and order ownership here. */
const ALLOWED = [/^private-chat\.room\.[\w-]+$/, /^presence-chat\.room\.[\w-]+$/, /^private-call\.room\.[\w-]+\.[\w-]+$/, /^private-location\.trip\.[\w-]+$/, /^private-delivery\.[\w-]+$/];
const NAME = /^[\w .-]{1,40}$/;

function cookie(request, name) {
    for (const part of (request.headers.cookie || "").split(";")) {
        const [key, ...value] = part.trim().split("=");
        if (key === name) return decodeURIComponent(value.join("="));
    }
    return null;
}

function send(response, status, body, headers = {}) {
    response.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers });
    response.end(JSON.stringify(body));
}

async function readBody(request) {
    let text = "";
    for await (const chunk of request) {
        text += chunk;
        if (text.length > 64 * 1024) throw Object.assign(new Error("body too large"), { status: 413 });
    }
    if ((request.headers["content-type"] || "").includes("application/json")) return text ? JSON.parse(text) : {};
    return Object.fromEntries(new URLSearchParams(text));
}

const routes = {
    "POST /demo/sign-in": async (request, response, body) => {
        const name = String(body.name || "").trim();
        if (!NAME.test(name)) return send(response, 400, { message: "a name of 1 to 40 letters, digits, spaces, dots or dashes" });
        send(response, 200, { user: name }, { "Set-Cookie": `domvia_user=${encodeURIComponent(name)}; HttpOnly; SameSite=Lax; Path=/` });
    },

    // The seeds' trusted-server route, for the demo's channels: who is signed in, may they join, then sign.
    "POST /realtime/auth": async (request, response, body) => {
        const user = cookie(request, "domvia_user");
        if (!user) return send(response, 401, { message: "Sign in first" });
        const channelName = String(body.channel_name || "");
        const socketId = String(body.socket_id || "");
        if (!ALLOWED.some((pattern) => pattern.test(channelName))) return send(response, 403, { message: "Forbidden" });
        if (channelName.startsWith("presence-")) {
            return send(response, 200, await authorizePresenceChannel({ key: KEY, secret: SECRET, socketId, channelName, user: { id: user, info: { name: user } } }));
        }
        return send(response, 200, await authorizePrivateChannel({ key: KEY, secret: SECRET, socketId, channelName }));
    },
};

async function deliveryRoute(request, response, path) {
    const match = /^\/demo\/deliveries\/([\w-]{1,60})\/(status|timeline)$/.exec(path);
    if (!match) return false;
    if (!cookie(request, "domvia_user")) {
        send(response, 401, { message: "Sign in first" });
        return true;
    }
    const channel = `private-delivery.${match[1]}`;
    if (match[2] === "timeline" && request.method === "GET") {
        const history = await realtime.history(channel);
        send(response, 200, { timeline: history.messages.map((message) => ({ ...message.data, seq: message.seq })) });
        return true;
    }
    if (match[2] === "status" && request.method === "POST") {
        const body = await readBody(request);
        const entry = { status: body.status, note: body.note || null, actor: "operator", at: Date.now(), event_id: randomUUID() };
        try {
            await realtime.trigger(channel, "delivery.status", entry);
            send(response, 200, entry);
        } catch (error) {
            // The edge's delivery kit refused it (an invalid transition): pass its answer on.
            send(response, error.status || 502, { message: error.body?.error?.message || error.message, code: error.code ?? null });
        }
        return true;
    }
    return false;
}

const server = createServer(async (request, response) => {
    const path = new URL(request.url, "http://example.invalid").pathname;
    try {
        const route = routes[`${request.method} ${path}`];
        if (route) return await route(request, response, await readBody(request));
        if (await deliveryRoute(request, response, path)) return;
        send(response, 404, { message: "not found" });
    } catch (error) {
        send(response, error.status || 500, { message: error.message });
    }
});

server.listen(PORT, "127.0.0.1", () => {
    console.log(`DomVia example server on http://127.0.0.1:${server.address().port} (app ${APP_ID}, key ${KEY}, edge ${HOST})`);
});
