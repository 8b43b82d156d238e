// Switchboard console, Alerts: the alert rules, their state and the last webhook deliveries, over the admin API.
// A plain ES module beside console.js: it reads the same tab-only token and refreshes while the console is shown.
// Everything shown comes from the server and is written with textContent, never parsed as HTML.

import { call, token } from "./admin-api.js";

const KINDS = ["security_events", "connections", "engine_unavailable", "usage"];
const EVENTS = [
  "forbidden", "rate_limited", "bad_request", "over_quota", "origin_blocked", "unknown_key", "app_disabled",
  "bad_signature", "token_invalid", "token_expired", "message_too_large", "address_blocked",
];
const REFRESH_MS = 3000;

const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function option(value) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = value;
  return node;
}

/// What a rule watches, in words.
function condition(rule) {
  switch (rule.kind) {
    case "security_events":
      return `> ${rule.threshold} ${rule.event} in ${rule.windowSeconds} s${rule.app ? ` (app ${rule.app})` : ""}`;
    case "connections": return `> ${rule.threshold} connections on this node`;
    case "engine_unavailable": return "engine unreachable";
    case "usage": return `${rule.threshold}% and 100% of monthly messages${rule.app ? ` (app ${rule.app})` : ""}`;
    default: return rule.kind;
  }
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "–";
}

function renderRules(rules) {
  const body = $("alerts-rules");
  if (!rules.length) {
    const row = document.createElement("tr");
    const td = cell("No alert rules: add [[alerts]] to the config or create one below.", "muted");
    td.colSpan = 6;
    row.append(td);
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(...rules.map((rule) => {
    const row = document.createElement("tr");
    row.className = `alert-row alert-${rule.state}`;
    row.dataset.rule = rule.name;
    const firing = rule.firing.map((f) => `${f.subject ? `${f.subject}: ` : ""}${f.value} since ${time(f.since)}`).join("; ");
    const state = cell(rule.state === "firing" ? `firing${firing ? ` (${firing})` : ""}` : "ok", "alert-state");
    const actions = document.createElement("td");
    if (rule.source === "api") {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "alert-delete";
      button.textContent = "Delete";
      button.addEventListener("click", () => remove(rule.name));
      actions.append(button);
    } else {
      actions.textContent = "config file";
      actions.className = "muted";
    }
    row.append(cell(rule.name), cell(rule.kind), cell(condition(rule)), cell(rule.url), state, actions);
    return row;
  }));
}

function renderDeliveries(deliveries) {
  const body = $("alerts-deliveries");
  if (!deliveries.length) {
    const row = document.createElement("tr");
    const td = cell("No notifications sent yet.", "muted");
    td.colSpan = 5;
    row.append(td);
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(...deliveries.map((d) => {
    const row = document.createElement("tr");
    row.className = "delivery-row";
    const result = `${d.delivered ? "delivered" : "failed"} after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}${d.status ? ` (HTTP ${d.status})` : ""}`;
    row.append(cell(time(d.time)), cell(d.rule), cell(d.subject || "–"), cell(d.state), cell(result, d.delivered ? "ok" : "error"));
    return row;
  }));
}

function setStatus(text, isError = false) {
  const status = $("alerts-status");
  status.textContent = text;
  status.className = isError ? "error" : "muted";
}

async function refresh() {
  if ($("console").hidden || !token()) return;
  try {
    const data = await call("GET", "/api/realtime/alerts");
    if (!data) return;
    renderRules(data.rules || []);
    renderDeliveries(data.deliveries || []);
  } catch (error) {
    setStatus(`Alerts: ${error.message}`, true);
  }
}

async function remove(name) {
  if (!window.confirm(`Delete the alert rule ${name}? Its open episode ends without a resolved notification.`)) return;
  try {
    await call("DELETE", `/api/realtime/alerts/${encodeURIComponent(name)}`);
    setStatus(`Deleted ${name}.`);
  } catch (error) {
    setStatus(`Delete failed: ${error.message}`, true);
  }
  await refresh();
}

async function create(event) {
  event.preventDefault();
  const kind = $("alert-kind").value;
  const body = { name: $("alert-name").value.trim(), kind, url: $("alert-url").value.trim(), secret: $("alert-secret").value };
  const threshold = $("alert-threshold").value.trim();
  if (threshold && kind !== "engine_unavailable") body.threshold = Number(threshold);
  if (kind === "security_events") {
    body.event = $("alert-event").value;
    const windowSeconds = $("alert-window").value.trim();
    if (windowSeconds) body.window_seconds = Number(windowSeconds);
  }
  const app = $("alert-app").value.trim();
  if (app && (kind === "security_events" || kind === "usage")) body.app = app;
  try {
    await call("POST", "/api/realtime/alerts", body);
    setStatus(`Created ${body.name}.`);
    $("alert-secret").value = "";
    $("alert-name").value = "";
  } catch (error) {
    setStatus(`Not created: ${error.message}`, true);
  }
  await refresh();
}

/// Shows only the fields the chosen kind takes.
function showFields() {
  const kind = $("alert-kind").value;
  for (const node of document.querySelectorAll("[data-alert-kinds]")) {
    node.hidden = !node.dataset.alertKinds.split(" ").includes(kind);
  }
}

function wire() {
  $("alert-kind").replaceChildren(...KINDS.map(option));
  $("alert-event").replaceChildren(...EVENTS.map(option));
  $("alert-kind").addEventListener("change", showFields);
  $("alert-form").addEventListener("submit", create);
  $("alerts-refresh").addEventListener("click", refresh);
  showFields();
  refresh();
  setInterval(refresh, REFRESH_MS);
  // The console shows itself after sign-in: refresh at once instead of waiting for the next tick.
  new MutationObserver(() => refresh()).observe($("console"), { attributes: true, attributeFilter: ["hidden"] });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
else wire();
