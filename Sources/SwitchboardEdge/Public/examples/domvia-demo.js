// Shared by the DomVia examples: the demo sign-in (a session cookie from examples/domvia/server.mjs) and the client.
// The page's import map points "@domvia/…" at the SDK the edge serves under /sdk/.
import { DomViaRealtime } from "@domvia/realtime";

export const params = new URLSearchParams(location.search);
export const $ = (id) => document.getElementById(id);

/** Signs in as `?user=` (or asks for a name): the trusted server sets an HttpOnly session cookie. */
export async function signIn() {
    let name = params.get("user");
    if (!name) {
        const form = document.createElement("form");
        form.id = "signin";
        form.className = "panel";
        form.innerHTML = '<label>Your name <input name="name" required maxlength="40" autofocus></label><button class="primary">Sign in</button>';
        document.querySelector("main").replaceChildren(form);
        name = await new Promise((resolve) => form.addEventListener("submit", (event) => {
            event.preventDefault();
            resolve(new FormData(form).get("name"));
        }));
        params.set("user", name);
        location.search = params.toString();
        await new Promise(() => {});
    }
    const response = await fetch("/demo/sign-in", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
    if (!response.ok) throw new Error(`sign-in failed: ${(await response.json()).message} (is examples/domvia/server.mjs running?)`);
    return name;
}

/** A DomViaRealtime on this page's own host (the edge), and a live connection badge in `#connection`. */
export function connect() {
    const realtime = DomViaRealtime.create({
        key: params.get("key") || "pk_dev_demo",
        host: location.host,
        forceTLS: location.protocol === "https:",
        authEndpoint: "/realtime/auth",
        clientEvents: true,
    });
    const badge = $("connection");
    const show = () => {
        badge.dataset.state = realtime.state;
        badge.textContent = realtime.state === "connected" ? "● connected" : `○ ${realtime.state}`;
    };
    realtime.on("state_change", show);
    show();
    return realtime;
}

export function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fail(error) {
    const box = $("problem");
    if (box) box.textContent = error.message || String(error);
    console.error(error);
}
