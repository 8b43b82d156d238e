// Xshathra room chat, the backend of steps 1–7 of "Chat application example": it signs users in (a session cookie),
// mints short-lived realtime connection JWTs and per-room subscription JWTs with the server API key, and publishes
// chat messages through the publish API with `Authorization: Bearer <server key>` after validating them, so clients
// cannot spoof senders. Plain Node (18+), no dependencies.
//
//   XSHATHRA_SERVER_API_KEY=sk_… NEXT_PUBLIC_XSHATHRA_REALTIME_URL='ws://127.0.0.1:8080/connection/websocket?key=pk_…' \
//       node examples/xshathra/server.mjs            # then open http://127.0.0.1:3000/
//
// Environment:
//   PORT                                 where this backend listens (default 3000)
//   NEXT_PUBLIC_XSHATHRA_REALTIME_URL    the realtime WebSocket URL the page connects to (public)
//   XSHATHRA_SERVER_API_KEY              the project's server API key (Switchboard: the app secret); backend only
//   XSHATHRA_API_URL                     where the publish API is (default: the realtime URL's origin, http(s))
//   XSHATHRA_PROJECT_ID                  part of every channel name (default proj_demo)
//   CENTRIFUGE_JS                        a local centrifuge-js browser build to serve at /vendor/centrifuge.js
//                                        (default: redirect to the CDN build)

import crypto from "node:crypto";
import http from "node:http";
import { readFile } from "node:fs/promises";

const PORT = Number(process.env.PORT ?? 3000);
const REALTIME_URL = process.env.NEXT_PUBLIC_XSHATHRA_REALTIME_URL ?? "ws://127.0.0.1:8080/connection/websocket";
const SERVER_API_KEY = process.env.XSHATHRA_SERVER_API_KEY;
const PROJECT_ID = process.env.XSHATHRA_PROJECT_ID ?? "proj_demo";
const API_URL = process.env.XSHATHRA_API_URL ?? new URL(REALTIME_URL.replace(/^ws/, "http")).origin;
const CENTRIFUGE_CDN = "https://unpkg.com/centrifuge@5.7.1/dist/centrifuge.js";
const TOKEN_TTL_SECONDS = 15 * 60;

if (!SERVER_API_KEY) {
    console.error("set XSHATHRA_SERVER_API_KEY (the project's server API key)");
    process.exit(2);
}

// Step 1: one channel per room, named chat:{projectId}:{roomId}; room ids are opaque ids issued here, never user text.
// Step 3: who may enter which room. `null` means every signed-in user; a list names the only members.
const ROOMS = new Map([
    ["room_abc123", { title: "Lobby", members: null }],
    ["room_staff", { title: "Staff", members: ["ada"] }],
]);

const channelOf = (roomId) => `chat:${PROJECT_ID}:${roomId}`;

/** The room of a channel name this backend issued, or undefined. */
function roomOfChannel(channel) {
    const prefix = `chat:${PROJECT_ID}:`;
    return channel.startsWith(prefix) ? channel.slice(prefix.length) : undefined;
}

function mayEnter(user, roomId) {
    const room = ROOMS.get(roomId);
    return room !== undefined && (room.members === null || room.members.includes(user));
}

// Step 2: HS256 JWTs signed with the server API key.
const base64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function signJWT(claims) {
    const unsigned = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(claims)}`;
    return `${unsigned}.${crypto.createHmac("sha256", SERVER_API_KEY).update(unsigned).digest("base64url")}`;
}

// A ULID (time-ordered id) for each message, as the envelope's `id`.
function ulid() {
    const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let time = Date.now();
    let out = "";
    for (let i = 0; i < 10; i += 1) {
        out = alphabet[time % 32] + out;
        time = Math.floor(time / 32);
    }
    for (const byte of crypto.randomBytes(16)) out += alphabet[byte % 32];
    return out;
}

// Sessions: a random cookie names the signed-in user. (Use your own authentication in production.)
const sessions = new Map();

function userOf(request) {
    const cookie = request.headers.cookie ?? "";
    const sid = /(?:^|;\s*)sid=([\w-]+)/.exec(cookie)?.[1];
    return sid ? sessions.get(sid) : undefined;
}

async function readJSON(request) {
    const chunks = [];
    let size = 0;
    for await (const chunk of request) {
        size += chunk.length;
        if (size > 16_384) throw Object.assign(new Error("body too large"), { status: 413 });
        chunks.push(chunk);
    }
    try {
        return JSON.parse(Buffer.concat(chunks).toString() || "{}");
    } catch {
        throw Object.assign(new Error("malformed JSON"), { status: 400 });
    }
}

function send(response, status, body, headers = {}) {
    response.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers });
    response.end(JSON.stringify(body));
}

// Step 5: the only way messages reach the room — validated here, then published with the server key.
async function publish(channel, data) {
    const response = await fetch(`${API_URL}/api/realtime/publish`, {
        method: "POST",
        headers: { Authorization: `Bearer ${SERVER_API_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ channel, data }),
    });
    const reply = await response.json().catch(() => ({}));
    if (!response.ok || reply.error) throw new Error(`publish failed: HTTP ${response.status} ${JSON.stringify(reply.error ?? reply)}`);
    return reply.result;
}

const routes = {
    "GET /": async (request, response) => {
        response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
        response.end(await readFile(new URL("./public/index.html", import.meta.url)));
    },
    "GET /vendor/centrifuge.js": async (request, response) => {
        if (!process.env.CENTRIFUGE_JS) return response.writeHead(302, { Location: CENTRIFUGE_CDN }).end();
        response.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
        response.end(await readFile(process.env.CENTRIFUGE_JS));
    },
    "GET /healthz": (request, response) => send(response, 200, { ok: true }),
    // Public settings for the page: the realtime URL (NEXT_PUBLIC_…), the project and the rooms.
    "GET /config": (request, response) =>
        send(response, 200, {
            realtimeUrl: REALTIME_URL,
            projectId: PROJECT_ID,
            rooms: [...ROOMS].map(([id, room]) => ({ id, title: room.title })),
            user: userOf(request) ?? null,
        }),
    "POST /login": async (request, response) => {
        const { name } = await readJSON(request);
        if (typeof name !== "string" || !/^[a-z][a-z0-9_-]{0,31}$/.test(name)) return send(response, 400, { error: "name: a-z, 0-9, _ or -" });
        const sid = crypto.randomBytes(18).toString("base64url");
        sessions.set(sid, name);
        send(response, 200, { user: name }, { "Set-Cookie": `sid=${sid}; HttpOnly; SameSite=Lax; Path=/` });
    },
    // Step 2: POST /api/realtime/token → { token }: a connection JWT for the signed-in user, valid for minutes.
    "POST /api/realtime/token": (request, response) => {
        const user = userOf(request);
        if (!user) return send(response, 401, { error: "sign in first" });
        const now = Math.floor(Date.now() / 1000);
        send(response, 200, { token: signJWT({ sub: user, iat: now, exp: now + TOKEN_TTL_SECONDS }) });
    },
    // Step 3: a subscription JWT, only for rooms the user may enter.
    "POST /api/realtime/subscription-token": async (request, response) => {
        const user = userOf(request);
        if (!user) return send(response, 401, { error: "sign in first" });
        const { channel } = await readJSON(request);
        const roomId = typeof channel === "string" ? roomOfChannel(channel) : undefined;
        if (!roomId || !mayEnter(user, roomId)) return send(response, 403, { error: "not a member of this room" });
        const now = Math.floor(Date.now() / 1000);
        send(response, 200, { token: signJWT({ sub: user, channel, iat: now, exp: now + TOKEN_TTL_SECONDS }) });
    },
};

// Step 5 and 6: POST /api/rooms/{roomId}/messages { text } → the envelope, published to the room.
async function postMessage(request, response, roomId) {
    const user = userOf(request);
    if (!user) return send(response, 401, { error: "sign in first" });
    if (!mayEnter(user, roomId)) return send(response, 403, { error: "not a member of this room" });
    const { text } = await readJSON(request);
    if (typeof text !== "string" || text.trim() === "" || text.length > 2000) return send(response, 400, { error: "text: 1 to 2000 characters" });
    const envelope = {
        type: "chat.message",
        id: ulid(),
        roomId,
        senderId: user,
        text: text.trim(),
        sentAt: new Date().toISOString(),
    };
    await publish(channelOf(roomId), envelope);
    send(response, 200, envelope);
}

http
    .createServer(async (request, response) => {
        try {
            const path = new URL(request.url, "http://backend.local").pathname;
            const route = routes[`${request.method} ${path}`];
            if (route) return await route(request, response);
            const message = /^\/api\/rooms\/([\w-]+)\/messages$/.exec(path);
            if (message && request.method === "POST") return await postMessage(request, response, message[1]);
            send(response, 404, { error: "not found" });
        } catch (error) {
            console.error(error);
            if (!response.headersSent) send(response, error.status ?? 502, { error: String(error.message ?? error) });
            else response.end();
        }
    })
    .listen(PORT, "127.0.0.1", () => console.log(`xshathra chat example on http://127.0.0.1:${PORT}/`));
