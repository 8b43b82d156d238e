// Switchboard console, Alerts: the alert rules, their state and the last webhook deliveries, over the admin API.
// A plain ES module beside console.js: it reads the same tab-only token and refreshes while the console is shown.
// Everything shown comes from the server and is written with textContent, never parsed as HTML.

import { call, token } from "./admin-api.js";
import { $, button, cell, change, emptyRow, setStatus as status, whenShown } from "./section.js";
import { SECURITY_KINDS } from "./security-kinds.js";

const KINDS = ["security_events", "connections", "engine_unavailable", "usage"];
const REFRESH_MS = 3000;

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
    emptyRow(body, 6, "No alert rules: add [[alerts]] to the config or create one below.");
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
      actions.append(button("Delete", "alert-delete", () => remove(rule.name)));
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
    emptyRow(body, 5, "No notifications sent yet.");
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
  status("alerts-status", text, isError);
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
  const action = () => call("DELETE", `/api/realtime/alerts/${encodeURIComponent(name)}`);
  await change("alerts-status", action, () => `Deleted ${name}.`, "Delete failed", refresh);
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
  const action = async () => {
    const result = await call("POST", "/api/realtime/alerts", body);
    $("alert-secret").value = "";
    $("alert-name").value = "";
    return result;
  };
  await change("alerts-status", action, () => `Created ${body.name}.`, "Not created", refresh);
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
  $("alert-event").replaceChildren(...SECURITY_KINDS.map(option));
  $("alert-kind").addEventListener("change", showFields);
  $("alert-form").addEventListener("submit", create);
  $("alerts-refresh").addEventListener("click", refresh);
  showFields();
}

whenShown(wire, refresh, REFRESH_MS);
