// The test side's Maravilla app: SvelteKit-style server routes (the seed's snippets, verbatim) behind a tiny Node HTTP
// server, plus the pages and client snippets the browser loads. The edge proxies every path it does not serve itself
// (`[proxy] upstream`) here, so pages, their API routes and `/_rt/ws` share one origin, as on Maravilla.
//
// PORT: where to listen. The platform SDK reads MARAVILLA_REALTIME_URL and MARAVILLA_REALTIME_SECRET.

import http from "node:http";
import { readFile } from "node:fs/promises";
import { getPlatform } from "@maravilla-labs/platform";

// `platform.DB` is Maravilla's database, not part of Realtime Channels: the live-chat route stores its messages through
// this in-memory stand-in, so the route file runs unchanged.
const stored = [];
getPlatform().DB = {
    messages: {
        async insertOne(document) {
            stored.push(document);
            return { insertedId: String(stored.length) };
        },
        async find(filter, { limit = 50, sort = {} } = {}) {
            const matching = stored.filter((d) => Object.entries(filter).every(([k, v]) => d[k] === v));
            const [[field, order] = []] = Object.entries(sort);
            if (field) matching.sort((a, b) => (a[field] - b[field]) * (order < 0 ? -1 : 1));
            return matching.slice(0, limit);
        },
    },
};

const ROUTES = [
    [/^\/api\/quickstart$/, "./routes/quickstart.mjs"],
    [/^\/api\/chat\/vip\/token$/, "./routes/chat-vip-token.mjs"],
    [/^\/api\/chat\/(?<room>[^/]+)\/join$/, "./routes/chat-room-join.mjs"],
    [/^\/api\/chat\/(?<room>[^/]+)$/, "./routes/chat-room.mjs"],
];

const STATIC = [
    [/^\/pages\/([\w-]+\.html)$/, "./pages/", "text/html; charset=utf-8"],
    [/^\/client\/([\w-]+\.js)$/, "./client/", "text/javascript; charset=utf-8"],
    [/^\/shim\/([\w-]+\.js)$/, "./shim/", "text/javascript; charset=utf-8"],
];

async function body(request) {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    return Buffer.concat(chunks);
}

async function handle(incoming, outgoing) {
    const url = new URL(incoming.url, "http://app.local");
    if (url.pathname === "/healthz") return outgoing.writeHead(200).end("ok");
    for (const [pattern, folder, type] of STATIC) {
        const match = url.pathname.match(pattern);
        if (!match) continue;
        try {
            const file = await readFile(new URL(folder + match[1], import.meta.url));
            return outgoing.writeHead(200, { "Content-Type": type, "Cache-Control": "no-store" }).end(file);
        } catch {
            return outgoing.writeHead(404).end("not found");
        }
    }
    for (const [pattern, module] of ROUTES) {
        const match = url.pathname.match(pattern);
        if (!match) continue;
        const route = await import(module);
        const handler = route[incoming.method];
        if (!handler) return outgoing.writeHead(405).end("method not allowed");
        const raw = ["GET", "HEAD"].includes(incoming.method) ? undefined : await body(incoming);
        const request = new Request(url, { method: incoming.method, headers: incoming.headers, body: raw });
        const response = await handler({ params: { ...(match.groups ?? {}) }, request, url });
        outgoing.writeHead(response.status, Object.fromEntries(response.headers));
        return outgoing.end(Buffer.from(await response.arrayBuffer()));
    }
    outgoing.writeHead(404).end("not found");
}

http
    .createServer((incoming, outgoing) => {
        handle(incoming, outgoing).catch((error) => {
            console.error(error);
            if (!outgoing.headersSent) outgoing.writeHead(500, { "Content-Type": "text/plain" });
            outgoing.end(String(error?.stack ?? error));
        });
    })
    .listen(Number(process.env.PORT), "127.0.0.1", () => console.log(`app listening on ${process.env.PORT}`));
