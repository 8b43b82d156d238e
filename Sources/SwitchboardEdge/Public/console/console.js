// Switchboard operator console: plain browser JavaScript over the admin API, no build step, no dependencies.
// Every request sends `Authorization: Bearer <admin token>`; the token lives in sessionStorage (this tab only).
// Everything shown comes from the server and is written with textContent, never parsed as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "switchboard.console.token";
  const PROTOCOLS = ["pusher", "jsonaction", "jwt", "sse"];

  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    apps: [],
    plans: [], // plan names from /api/plans
    app: null, // the selected app's id
    timers: [],
    debug: null, // {controller, channel} while subscribed
  };

  // ---- HTTP ---------------------------------------------------------------------------------

  class Unauthorized extends Error {}

  /// Calls the admin API; a 401 ends the session, any other error throws with the server's message.
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${state.token}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      signOut("Your session ended: the admin token was not accepted.");
      throw new Unauthorized("unauthorized");
    }
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!response.ok) {
      const message = (json && json.error && (json.error.message || json.error.code)) || `${response.status} ${response.statusText}`;
      throw new Error(message);
    }
    return json;
  }

  const appPath = (suffix = "") => `/api/realtime/apps/${encodeURIComponent(state.app)}${suffix}`;

  // ---- Small DOM helpers --------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function emptyRow(tbody, columns, text) {
    tbody.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns, text })));
  }

  function notify(message, isError = false) {
    const notice = $("notice");
    notice.textContent = message;
    notice.classList.toggle("is-error", isError);
  }

  /// Runs an action, reporting its failure in the notice line instead of throwing.
  async function attempt(action, failurePrefix) {
    try {
      return await action();
    } catch (error) {
      if (!(error instanceof Unauthorized)) notify(`${failurePrefix}: ${error.message}`, true);
      return undefined;
    }
  }

  /// Marks a new load of `name`; the returned check is false once a newer load started, so late answers are dropped.
  const generations = {};
  function newest(name) {
    const generation = (generations[name] = (generations[name] || 0) + 1);
    return () => generations[name] === generation;
  }

  const formatTime = (ms) => (typeof ms === "number" ? new Date(ms).toLocaleString() : "–");
  const pick = (object, ...names) => {
    for (const name of names) if (object && object[name] !== undefined && object[name] !== null) return object[name];
    return undefined;
  };

  function formatDuration(seconds) {
    if (typeof seconds !== "number") return "–";
    const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60);
    return [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s}s`].filter(Boolean).join(" ");
  }

  // ---- Sign in / out ------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const token = $("login-token").value.trim();
    $("login-error").textContent = "";
    if (!token) { $("login-error").textContent = "Enter the admin token."; return; }
    $("login-submit").disabled = true;
    try {
      const response = await fetch("/api/realtime/gateway/status", { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
      if (response.status === 401) {
        $("login-error").textContent = "That admin token was not accepted.";
        return;
      }
      if (response.status === 429) {
        $("login-error").textContent = "Too many wrong tokens from this address: try again in a minute.";
        return;
      }
      if (!response.ok) {
        $("login-error").textContent = `The server answered ${response.status}; try again shortly.`;
        return;
      }
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("login-token").value = "";
      await start();
    } catch (error) {
      $("login-error").textContent = `Cannot reach the server: ${error.message}`;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    stopTimers();
    stopDebug();
    hideSecret();
    $("console").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("login-token").focus();
  }

  function stopTimers() {
    for (const timer of state.timers) clearInterval(timer);
    state.timers = [];
  }

  async function start() {
    $("login").hidden = true;
    $("console").hidden = false;
    $("logout").hidden = false;
    notify("");
    await Promise.all([loadGateway(), loadWorkspace(), loadPlans()]);
    await loadApps();
    if (!state.token) return;
    await loadSecurity();
    stopTimers();
    state.timers.push(setInterval(loadGateway, 5000));
    state.timers.push(setInterval(loadChannels, 2000));
    state.timers.push(setInterval(() => { if ($("security-auto").checked) loadSecurity(); }, 3000));
  }

  // ---- Gateway ------------------------------------------------------------------------------

  async function loadGateway() {
    const status = await attempt(() => api("GET", "/api/realtime/gateway/status"), "Gateway status");
    if (!status) return;
    $("gw-uptime").textContent = formatDuration(status.uptime_s);
    $("gw-version").textContent = status.version || "–";
    const engine = status.engine || {};
    $("gw-engine").textContent = `${engine.kind || "?"} (${engine.status || "?"})`;
    const connections = status.connections || {};
    $("gw-total").textContent = connections.total ?? "–";
    const messagesIn = pick(status, "messages_in_per_s", "messages_in_total");
    const messagesOut = pick(status, "messages_out_per_s", "messages_out_total");
    const perSecond = status.messages_in_per_s !== undefined ? " per second" : " in total";
    $("gw-messages").textContent = messagesIn === undefined ? "–" : `${messagesIn} / ${messagesOut ?? "–"}${perSecond}`;
    $("gw-connections").replaceChildren(...PROTOCOLS.map((name) => el("td", { text: connections[name] ?? 0 })));
  }

  async function loadWorkspace() {
    const workspace = await attempt(() => api("GET", "/api/workspaces/current"), "Workspace");
    const current = workspace && (workspace.workspace || workspace);
    $("workspace-name").textContent = current && current.name ? `Workspace: ${current.name}` : "";
  }

  // ---- Apps ---------------------------------------------------------------------------------

  async function loadPlans() {
    const result = await attempt(() => api("GET", "/api/plans"), "Plans");
    if (result) state.plans = (result.plans || []).map((plan) => plan.name).filter(Boolean);
  }

  async function createApp(event) {
    event.preventDefault();
    const name = $("app-create-name").value.trim();
    if (!name) return;
    const result = await attempt(() => api("POST", "/api/realtime/apps", { name }), "Creating the app");
    if (!result || !result.app) return;
    $("app-create-name").value = "";
    state.app = result.app.id;
    await loadApps();
    showSecret(result.secret, `App ${result.app.id} created with public key ${result.app.key}.`);
  }

  async function changePlan() {
    const plan = $("app-plan").value;
    const done = await attempt(() => api("PATCH", appPath(), { plan }), "Changing the plan");
    if (done !== undefined) notify(`App ${state.app} is now on the ${plan} plan.`);
    await loadAppDetail();
  }

  async function loadApps() {
    const result = await attempt(() => api("GET", "/api/realtime/apps"), "Apps");
    if (!result) return;
    state.apps = Array.isArray(result) ? result : result.apps || [];
    if (!state.app || !state.apps.some((app) => app.id === state.app)) state.app = state.apps.length ? state.apps[0].id : null;
    renderApps();
    await selectApp(state.app);
  }

  function renderApps() {
    const list = $("apps-list");
    if (!state.apps.length) { list.replaceChildren(el("li", { class: "muted", text: "No apps." })); return; }
    list.replaceChildren(...state.apps.map((app) => el("li", {},
      el("button", {
        type: "button",
        class: "app-select",
        "data-app": app.id,
        "aria-current": app.id === state.app ? "true" : "false",
        onclick: () => selectApp(app.id),
      }, `${app.name || app.id} `, el("span", { class: "muted", text: `#${app.id}` }), " ",
        el("span", { class: app.enabled === false ? "badge off" : "badge ok", text: app.enabled === false ? "disabled" : "enabled" })),
    )));
  }

  async function selectApp(id) {
    if (id !== state.app) {
      hideSecret();
      stopDebug();
      $("debug-log").replaceChildren();
    }
    state.app = id;
    for (const button of document.querySelectorAll(".app-select")) {
      button.setAttribute("aria-current", button.dataset.app === id ? "true" : "false");
    }
    if (!id) return;
    await Promise.all([loadAppDetail(), loadKeys(), loadOrigins(), loadChannels()]);
  }

  async function loadAppDetail() {
    const current = newest("loadAppDetail");
    const result = await attempt(() => api("GET", appPath()), "App");
    if (!result || !current()) return;
    const app = result.app || result;
    $("app-title").textContent = `${app.name || "App"} #${app.id}`;
    const plans = state.plans.includes(app.plan) ? state.plans : [...state.plans, app.plan].filter(Boolean);
    $("app-plan").replaceChildren(...plans.map((name) => el("option", { value: name, text: name })));
    $("app-plan").value = app.plan || "";
    $("app-key").textContent = pick(app, "key") ?? "–";
    $("app-environment").textContent = pick(app, "environment") ?? "–";
    $("app-region").textContent = pick(app, "region") ?? "–";
    $("app-enabled").checked = app.enabled !== false;
    renderLimits(app.limits || {}, app.usage || result.usage || {});
  }

  /// Plan limits (`maxConnections`, `publishesPerMinute`, …; null is unlimited) next to what is used of them now.
  function renderLimits(limits, usage) {
    const body = $("app-limits-body");
    const usageKey = (name) => { const rest = name.replace(/^max/, ""); return rest.charAt(0).toLowerCase() + rest.slice(1); };
    const names = Object.keys(limits);
    const unmatched = Object.keys(usage).filter((key) => !names.some((name) => usageKey(name) === key));
    if (!names.length && !unmatched.length) { emptyRow(body, 3, "No limits reported."); return; }
    const show = (value) => (value === null ? "unlimited" : value === undefined ? "–" : typeof value === "object" ? JSON.stringify(value) : String(value));
    const label = (name) => name.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
    body.replaceChildren(
      ...names.map((name) => el("tr", { "data-limit": name },
        el("th", { scope: "row", text: label(name) }),
        el("td", { text: show(limits[name]) }),
        el("td", { text: show(usage[usageKey(name)]) }),
      )),
      ...unmatched.map((name) => el("tr", { "data-limit": name },
        el("th", { scope: "row", text: label(name) }), el("td", { text: "–" }), el("td", { text: show(usage[name]) }),
      )),
    );
  }

  async function toggleEnabled() {
    const checkbox = $("app-enabled");
    const enabled = checkbox.checked;
    const done = await attempt(() => api("PATCH", appPath(), { enabled }), "Updating the app");
    if (done === undefined) { checkbox.checked = !enabled; return; }
    notify(`App ${state.app} ${enabled ? "enabled" : "disabled"}.`);
    const app = state.apps.find((a) => a.id === state.app);
    if (app) app.enabled = enabled;
    renderApps();
  }

  // ---- Keys ---------------------------------------------------------------------------------

  async function loadKeys() {
    const current = newest("loadKeys");
    const result = await attempt(() => api("GET", appPath("/keys")), "Keys");
    if (!result || !current()) return;
    const keys = result.keys || [];
    const body = $("keys-list");
    if (!keys.length) { emptyRow(body, 4, "No keys."); return; }
    body.replaceChildren(...keys.map((key) => {
      const revoked = key.revokedAt !== undefined && key.revokedAt !== null;
      return el("tr", { class: "key-row", "data-key": key.id },
        el("td", {}, el("code", { class: "key-preview", text: key.preview })),
        el("td", { text: formatTime(key.createdAt) }),
        el("td", {}, el("span", { class: revoked ? "badge off" : "badge ok", text: revoked ? `revoked ${formatTime(key.revokedAt)}` : "active" })),
        el("td", {}, revoked ? null : el("span", { class: "row" },
          el("button", { type: "button", class: "key-rotate secondary", "aria-label": `Rotate ${key.preview}`, onclick: () => rotateKey(key.id) }, "Rotate"),
          el("button", { type: "button", class: "key-revoke danger", "aria-label": `Revoke ${key.preview}`, onclick: (event) => revokeKey(key.id, event.currentTarget) }, "Revoke"),
        )),
      );
    }));
  }

  async function rotateKey(id) {
    const result = await attempt(() => api("POST", appPath(`/keys/${encodeURIComponent(id)}/rotate`)), "Rotating the key");
    if (!result) return;
    showSecret(result.secret, `Rotated. The new key is ${result.key ? result.key.preview : "listed below"}; the old one keeps working until you revoke it.`);
    await loadKeys();
  }

  async function createKey() {
    const result = await attempt(() => api("POST", appPath("/keys")), "Creating a key");
    if (!result) return;
    showSecret(result.secret, "Key created.");
    await loadKeys();
  }

  /// Revoking takes two clicks: the first turns the button into "Confirm revoke" for five seconds.
  async function revokeKey(id, button) {
    if (!button.classList.contains("confirming")) {
      button.classList.add("confirming");
      button.textContent = "Confirm revoke";
      setTimeout(() => { button.classList.remove("confirming"); button.textContent = "Revoke"; }, 5000);
      return;
    }
    const result = await attempt(() => api("DELETE", appPath(`/keys/${encodeURIComponent(id)}`)), "Revoking the key");
    if (result === undefined) return;
    notify("Key revoked: it no longer verifies.");
    await loadKeys();
  }

  /// Shows a secret once; dismissing (or leaving the app) wipes it from the page.
  function showSecret(secret, message) {
    if (!secret) return;
    $("secret-value").value = secret;
    $("secret-copy").textContent = "Copy";
    $("secret-copy").disabled = false;
    $("secret-reveal").hidden = false;
    notify(message);
    $("secret-value").focus();
    $("secret-value").select();
  }

  function hideSecret() {
    $("secret-value").value = "";
    $("secret-reveal").hidden = true;
  }

  async function copySecret() {
    const input = $("secret-value");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (_) {
      input.select();
      document.execCommand("copy");
    }
    $("secret-copy").textContent = "Copied";
  }

  // ---- Origins ------------------------------------------------------------------------------

  async function loadOrigins() {
    const current = newest("loadOrigins");
    const result = await attempt(() => api("GET", appPath("/origins")), "Origins");
    if (!result || !current()) return;
    renderOrigins(Array.isArray(result) ? result : result.origins || []);
  }

  function renderOrigins(origins) {
    const list = $("origins-list");
    if (!origins.length) { list.replaceChildren(el("li", { class: "muted", text: "None listed: every origin is accepted." })); return; }
    list.replaceChildren(...origins.map((origin) => el("li", { class: "origin-item", "data-origin": origin },
      el("span", { text: origin }),
      el("button", { type: "button", class: "origin-remove danger", "aria-label": `Remove ${origin}`, onclick: () => removeOrigin(origin) }, "Remove"),
    )));
  }

  async function addOrigin(event) {
    event.preventDefault();
    const origin = $("origin-input").value.trim();
    if (!origin) return;
    const result = await attempt(() => api("POST", appPath("/origins"), { origin }), "Adding the origin");
    if (result === undefined) return;
    $("origin-input").value = "";
    notify(`Origin ${origin} added.`);
    if (result && Array.isArray(result.origins)) renderOrigins(result.origins); else await loadOrigins();
  }

  async function removeOrigin(origin) {
    const result = await attempt(() => api("DELETE", appPath(`/origins?origin=${encodeURIComponent(origin)}`)), "Removing the origin");
    if (result === undefined) return;
    notify(`Origin ${origin} removed.`);
    if (result && Array.isArray(result.origins)) renderOrigins(result.origins); else await loadOrigins();
  }

  // ---- Live channels ------------------------------------------------------------------------

  /// One channel row from whatever shape the list gives: subscribers as a number or per protocol.
  function channelSummary(entry) {
    if (typeof entry === "string") return { name: entry, total: undefined, byProtocol: {} };
    const subscribers = pick(entry, "subscribers", "subscriptionCount", "subscription_count");
    const byProtocol = (typeof subscribers === "object" && subscribers) || entry.protocols || entry.byProtocol || {};
    let total = typeof subscribers === "number" ? subscribers : pick(byProtocol, "total");
    if (total === undefined) total = Object.entries(byProtocol).reduce((sum, [name, count]) => (name === "total" ? sum : sum + (Number(count) || 0)), 0);
    // The list gives a member count; names come from the channel's own view, fetched only when there are some.
    const count = pick(entry, "presenceMembers");
    const members = count === 0 ? [] : pick(entry, "members", "presence");
    return { name: pick(entry, "name", "channel", "id"), total, byProtocol, members };
  }

  async function loadChannels() {
    if (!state.app) return;
    const app = state.app;
    const current = newest("loadChannels");
    const result = await attempt(() => api("GET", appPath("/channels")), "Channels");
    if (!result || app !== state.app || !current()) return;
    let entries = result.channels || [];
    if (!Array.isArray(entries)) entries = Object.entries(entries).map(([name, value]) => ({ name, ...(typeof value === "object" ? value : { subscribers: value }) }));
    const channels = entries.map(channelSummary).filter((c) => c.name);
    channels.sort((a, b) => a.name.localeCompare(b.name));
    // Presence members come from the channel's own view, for channels whose summary does not carry them.
    await Promise.all(channels.slice(0, 25).map(async (channel) => {
      if (channel.members !== undefined) return;
      const detail = await api("GET", appPath(`/channels/${encodeURIComponent(channel.name)}`)).catch(() => null);
      const view = detail && (detail.channel || detail);
      if (view) {
        channel.members = pick(view, "members", "presence");
        if (view.subscribers && typeof view.subscribers === "object") channel.byProtocol = view.subscribers;
      }
    }));
    if (app !== state.app || !current()) return;
    renderChannels(channels);
  }

  function memberNames(members) {
    if (!members) return [];
    const list = Array.isArray(members) ? members : members.members || [];
    return list.map((member) => (typeof member === "string" ? member : pick(member, "userId", "user_id", "id") ?? JSON.stringify(member)));
  }

  function renderChannels(channels) {
    const body = $("channels-list");
    $("debug-channels").replaceChildren(...channels.map((c) => el("option", { value: c.name })));
    if (!channels.length) { emptyRow(body, 5, "No channel of this app has subscribers."); return; }
    body.replaceChildren(...channels.map((channel) => {
      const protocols = Object.entries(channel.byProtocol).filter(([name, count]) => name !== "total" && Number(count) > 0);
      // Subscribers outside the four protocols are this console's own debug streams.
      const named = protocols.reduce((sum, [, count]) => sum + Number(count), 0);
      if (typeof channel.total === "number" && channel.total > named) protocols.push(["console", channel.total - named]);
      const members = memberNames(channel.members);
      return el("tr", { class: "channel-row", "data-channel": channel.name },
        el("td", {}, el("code", { text: channel.name })),
        el("td", { class: "channel-total", text: channel.total ?? "–" }),
        el("td", { class: "channel-protocols", text: protocols.map(([name, count]) => `${name} ${count}`).join(", ") || "–" }),
        el("td", { class: "channel-members", text: members.length ? members.join(", ") : "–" }),
        el("td", {}, el("button", { type: "button", class: "channel-debug secondary", onclick: () => { $("debug-channel").value = channel.name; $("debug-channel").focus(); } }, "Debug")),
      );
    }));
  }

  // ---- Security events ----------------------------------------------------------------------

  async function loadSecurity() {
    const params = new URLSearchParams({ limit: "50" });
    if ($("security-kind").value) params.set("kind", $("security-kind").value);
    if ($("security-app-only").checked && state.app) params.set("app", state.app);
    const current = newest("loadSecurity");
    const result = await attempt(() => api("GET", `/api/realtime/security-events?${params}`), "Security events");
    if (!result || !current()) return;
    const events = result.events || [];
    const body = $("security-list");
    if (!events.length) { emptyRow(body, 6, "No security events."); return; }
    body.replaceChildren(...events.map((event) => el("tr", { class: "security-row", "data-kind": event.kind },
      el("td", { text: formatTime(event.time) }),
      el("td", {}, el("code", { text: event.kind })),
      el("td", { text: event.app ?? "–" }),
      el("td", { text: event.origin ?? "–" }),
      el("td", { text: event.clientIp ?? "–" }),
      el("td", { text: event.detail ?? "" }),
    )));
  }

  // ---- Debug console ------------------------------------------------------------------------

  /** One debug line: its time, then `parts` (strings, or elements such as an event's name set apart from its data). */
  function logLine(kind, ...parts) {
    const log = $("debug-log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
    log.append(el("li", { class: `debug-entry debug-${kind}` }, el("span", { class: "meta", text: new Date().toLocaleTimeString() }), ...parts));
    while (log.children.length > 500) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function setDebugStatus(text) {
    $("debug-status").textContent = text;
    $("debug-subscribe").textContent = state.debug ? "Unsubscribe" : "Subscribe";
  }

  function stopDebug() {
    if (state.debug) {
      state.debug.controller.abort();
      state.debug = null;
    }
    setDebugStatus("Not subscribed");
  }

  async function toggleDebug() {
    if (state.debug) {
      const channel = state.debug.channel;
      stopDebug();
      logLine("info", `unsubscribed from ${channel}`);
      return;
    }
    const channel = $("debug-channel").value.trim();
    if (!channel || !state.app) { setDebugStatus("Name a channel first."); return; }
    const controller = new AbortController();
    const session = { controller, channel };
    state.debug = session;
    setDebugStatus(`Connecting to ${channel}…`);
    try {
      const response = await fetch(appPath(`/channels/${encodeURIComponent(channel)}/stream`), {
        headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 401) { stopDebug(); signOut("Your session ended: the admin token was not accepted."); return; }
      if (!response.ok || !response.body) {
        const text = await response.text();
        let message = `${response.status}`;
        try { message = JSON.parse(text).error.message; } catch (_) { /* keep the status */ }
        throw new Error(message);
      }
      await readEvents(response.body, session);
      if (state.debug === session) { state.debug = null; setDebugStatus("Stream ended"); logLine("info", `stream of ${channel} ended`); }
    } catch (error) {
      if (error.name === "AbortError" || state.debug !== session) return;
      state.debug = null;
      setDebugStatus("Not subscribed");
      logLine("error", `cannot subscribe to ${channel}: ${error.message}`);
    }
  }

  /// Reads a `text/event-stream` body: blocks end with a blank line; `event:` and `data:` fields, `:` comments.
  async function readEvents(body, session) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let opened = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (!opened) {
        opened = true;
        setDebugStatus(`Subscribed to ${session.channel}`);
        logLine("info", `subscribed to ${session.channel}`);
      }
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        showEvent(block);
      }
    }
  }

  function showEvent(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    const text = data.join("\n");
    let payload;
    // The name in its own element: a client chooses it, and must not pass off part of it as the data.
    try { payload = JSON.parse(text); } catch (_) { logLine("event", el("span", { class: "event-name", text: name }), ` ${text}`); return; }
    const label = payload.event || (name === "message" ? "(unnamed)" : name);
    const extra = [payload.userId && `user ${payload.userId}`, payload.seq && `seq ${payload.seq}`].filter(Boolean).join(", ");
    const shown = "data" in payload ? payload.data : payload.metadata;
    logLine("event", el("span", { class: "event-name", text: label }), ` ${JSON.stringify(shown)}${extra ? `  (${extra})` : ""}`);
  }

  async function publishTest() {
    const channel = $("debug-channel").value.trim();
    if (!channel || !state.app) { setDebugStatus("Name a channel first."); return; }
    let data;
    try {
      data = JSON.parse($("debug-data").value || "null");
    } catch (_) {
      logLine("error", "the data is not valid JSON");
      return;
    }
    const event = $("debug-event").value.trim();
    const body = event ? { event, data } : { data };
    try {
      const result = await api("POST", appPath(`/channels/${encodeURIComponent(channel)}/events`), body);
      logLine("sent", `published ${event || "(unnamed)"} to ${channel}${result && result.seq ? ` (seq ${result.seq})` : ""}`);
    } catch (error) {
      if (!(error instanceof Unauthorized)) logLine("error", `publish failed: ${error.message}`);
    }
  }

  // ---- Wiring -------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    // The kinds come from the server (security-kinds.js is written from its list), so a new kind needs no edit here.
    import("./security-kinds.js").then(({ SECURITY_KINDS }) => {
      const kinds = $("security-kind");
      for (const kind of SECURITY_KINDS) kinds.append(el("option", { value: kind, text: kind }));
    });
    $("login-form").addEventListener("submit", signIn);
    $("logout").addEventListener("click", () => signOut("Signed out."));
    $("app-enabled").addEventListener("change", toggleEnabled);
    $("app-plan").addEventListener("change", changePlan);
    $("app-create-form").addEventListener("submit", createApp);
    $("key-create").addEventListener("click", createKey);
    $("secret-copy").addEventListener("click", copySecret);
    $("secret-dismiss").addEventListener("click", hideSecret);
    $("origin-form").addEventListener("submit", addOrigin);
    $("security-kind").addEventListener("change", loadSecurity);
    $("security-app-only").addEventListener("change", loadSecurity);
    $("security-refresh").addEventListener("click", loadSecurity);
    $("debug-subscribe").addEventListener("click", toggleDebug);
    $("debug-publish").addEventListener("click", publishTest);
    $("debug-clear").addEventListener("click", () => $("debug-log").replaceChildren());
    if (state.token) start(); else $("login-token").focus();
  });
})();
