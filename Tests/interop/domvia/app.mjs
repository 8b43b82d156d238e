// The trusted app server the DomVia seed snippets run in during the interop tests: a small Express-like `app`
// (`app.post`, `request.body`, `response.status(…).json(…)`) on node:http, the helpers the snippets call
// (`requireSignedInUser`, `userCanAccessChatRoom`, …), and the test pages. Switchboard proxies to it (app `upstream`),
// so pages, `/realtime/auth` and the edge share one origin, as in production behind the edge.
//
// Who is signed in: the `user` cookie (the test page sets it). Who may join what: env ROOM_MEMBERS, a JSON object
// {roomId: [userId, …]}; rooms not listed admit anyone signed in. No dependencies beyond Node 20.

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".json": "application/json" };

export class HttpError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

function cookies(request) {
    const jar = {};
    for (const part of (request.headers.cookie || "").split(";")) {
        const [name, ...rest] = part.trim().split("=");
        if (name) jar[name] = decodeURIComponent(rest.join("="));
    }
    return jar;
}

const members = JSON.parse(process.env.ROOM_MEMBERS || "{}");
/** Every authorization request the app answered, for the tests (`GET /_test/auth-log`). */
export const authLog = [];

/** The signed-in user (cookie `user`), or 401. */
export async function requireSignedInUser(request) {
    const id = cookies(request).user;
    if (!id) throw new HttpError(401, "sign in first");
    return {
        id,
        canJoin(channelName) {
            const room = /^(?:private|presence)-[a-z]+\.room\.([^.]+)/.exec(channelName)?.[1];
            return channelName.startsWith("private-") && (room === undefined || !(room in members) || members[room].includes(id));
        },
    };
}

export async function userCanAccessChatRoom(userId, roomId) {
    return !(roomId in members) || members[roomId].includes(userId);
}

export async function userCanAccessRoom(userId, roomId) {
    return userCanAccessChatRoom(userId, roomId);
}

/** `private-call.room.{roomId}.{sessionId}` → roomId. */
export function extractRoomIdFromCallChannel(channelName) {
    return channelName.slice("private-call.room.".length).split(".")[0];
}

function parseBody(request, text) {
    const type = request.headers["content-type"] || "";
    if (type.includes("application/json")) return text ? JSON.parse(text) : {};
    return Object.fromEntries(new URLSearchParams(text));
}

/** An Express-shaped app: routes by method and exact path, JSON and form bodies, static pages from `pages`. */
export function createApp({ pages, sdk } = {}) {
    const routes = new Map();
    const app = {
        post(path, handler) {
            routes.set(`POST ${path}`, handler);
        },
        get(path, handler) {
            routes.set(`GET ${path}`, handler);
        },
        listen(port, host = "127.0.0.1") {
            const server = createServer(async (request, response) => {
                const chunks = [];
                for await (const chunk of request) chunks.push(chunk);
                const url = new URL(request.url, "http://app.invalid");
                const res = wrap(response);
                const handler = routes.get(`${request.method} ${url.pathname}`);
                try {
                    if (handler) {
                        request.body = parseBody(request, Buffer.concat(chunks).toString("utf8"));
                        request.query = Object.fromEntries(url.searchParams);
                        await handler(request, res);
                        if (!res.finished) res.status(204).end();
                    } else if (request.method === "GET" && url.pathname === "/_test/auth-log") {
                        res.json(authLog);
                    } else if (!(request.method === "GET" && (await serveFile(res, url.pathname, pages, "/pages/", sdk)))) {
                        res.status(404).json({ message: "not found" });
                    }
                } catch (error) {
                    if (!res.finished) res.status(error.status || 500).json({ message: error.message });
                }
                if (handler && url.pathname.endsWith("/auth")) {
                    authLog.push({ user: cookies(request).user || null, channel: request.body?.channel_name ?? null, status: res.statusCode });
                }
            });
            server.listen(port, host, () => console.log(`app listening on http://${host}:${server.address().port}`));
            return server;
        },
    };
    return app;
}

async function serveFile(res, pathname, pages, prefix, sdk) {
    let root = null;
    let rest = null;
    if (pages && pathname.startsWith(prefix)) {
        root = pages;
        rest = pathname.slice(prefix.length);
    } else if (sdk && pathname.startsWith("/dev-sdk/")) {
        // Only for working on the SDK without rebuilding the edge (DOMVIA_DEV_SDK=1); the tests use the edge's /sdk/.
        root = sdk;
        rest = decodeURIComponent(pathname.slice("/dev-sdk/".length));
    }
    if (!root) return false;
    const path = normalize(join(root, rest));
    if (!path.startsWith(normalize(root))) return false;
    try {
        const body = await readFile(path);
        res.statusCode = 200;
        res.raw.setHeader("Content-Type", TYPES[extname(path)] || "application/octet-stream");
        res.raw.setHeader("Cache-Control", "no-store");
        res.raw.end(body);
        res.finished = true;
        return true;
    } catch {
        return false;
    }
}

function wrap(response) {
    const res = {
        raw: response,
        statusCode: 200,
        finished: false,
        status(code) {
            res.statusCode = code;
            return res;
        },
        json(value) {
            response.writeHead(res.statusCode, { "Content-Type": "application/json" });
            response.end(JSON.stringify(value));
            res.finished = true;
            return res;
        },
        end(text = "") {
            response.writeHead(res.statusCode);
            response.end(text);
            res.finished = true;
            return res;
        },
    };
    return res;
}
