// Where the realtime edge is, for the browser client and for server code.
//
// Browser: the page's own origin (`ws:` on http pages, `wss:` on https), except a Vite dev server on port 5173, whose
// realtime endpoint is the dev server on port 3001 of the same host. Server code and Node: the environment.

/** The environment variables read by this package (server side and Node). */
export const ENV = Object.freeze({
    /** Base URL of the edge, e.g. `http://127.0.0.1:8080` (default `http://localhost:3001`, the dev server). */
    url: "MARAVILLA_REALTIME_URL",
    /** The app's secret (its server API key); needed by `getPlatform().realtime`. */
    secret: "MARAVILLA_REALTIME_SECRET",
    /** Optional: the app's public key. The server API checks that the secret is this app's; the client sends `?key=`. */
    key: "MARAVILLA_REALTIME_KEY",
    /** Optional: a tenant (app key or id) sent as `?tenant=` by `RealtimeClient` when no key is set. */
    tenant: "MARAVILLA_TENANT",
});

/** The default edge in development, as `maravilla dev` serves it. */
export const DEV_URL = "http://localhost:3001";

/** The value of environment variable `name`, or undefined (always undefined in browsers). */
export function env(name) {
    const value = globalThis.process?.env?.[name];
    return value === undefined || value === "" ? undefined : value;
}

/** `url` with `http`→`ws` and `https`→`wss` (or the reverse with `toHTTP`), and `path` when it has none. */
function withScheme(url, path, toHTTP = false) {
    const parsed = new URL(url);
    const map = toHTTP ? { "ws:": "http:", "wss:": "https:" } : { "http:": "ws:", "https:": "wss:" };
    if (map[parsed.protocol]) parsed.protocol = map[parsed.protocol];
    if (parsed.pathname === "" || parsed.pathname === "/") parsed.pathname = path;
    return parsed;
}

/**
 * The WebSocket URL of `/_rt/ws` for a client with `options` (`url`, `key`, `tenant`, `cid`).
 *
 * `url` may be a base (`https://edge.example`) or the full endpoint (`wss://edge.example/_rt/ws`).
 */
export function socketURL(options = {}) {
    let url;
    if (options.url) {
        url = withScheme(options.url, "/_rt/ws");
    } else if (typeof globalThis.location?.protocol === "string" && /^https?:$/.test(globalThis.location.protocol)) {
        const page = globalThis.location;
        const scheme = page.protocol === "https:" ? "wss:" : "ws:";
        // A Vite dev server (5173) serves the page; the realtime endpoint is the platform's dev server beside it.
        const host = page.port === "5173" ? `${page.hostname.includes(":") ? `[${page.hostname}]` : page.hostname}:3001` : page.host;
        url = new URL(`${scheme}//${host}/_rt/ws`);
    } else {
        url = withScheme(env(ENV.url) ?? DEV_URL, "/_rt/ws");
    }
    const key = options.key ?? env(ENV.key);
    const tenant = options.tenant ?? env(ENV.tenant);
    if (key && !url.searchParams.has("key")) url.searchParams.set("key", key);
    if (tenant && !key && !url.searchParams.has("tenant")) url.searchParams.set("tenant", tenant);
    if (options.cid && !url.searchParams.has("cid")) url.searchParams.set("cid", options.cid);
    return url.toString();
}

/** The HTTP base URL of the edge for server code: `options.url`, else `MARAVILLA_REALTIME_URL`, else the dev server. */
export function serverBaseURL(options = {}) {
    const parsed = withScheme(options.url ?? env(ENV.url) ?? DEV_URL, "/", true);
    parsed.pathname = parsed.pathname.replace(/\/_rt\/ws$/, "/").replace(/\/+$/, "");
    parsed.search = "";
    parsed.hash = "";
    return parsed.toString().replace(/\/+$/, "");
}
