// Switchboard console, Channel rules and webhooks of the selected app, over the admin API
// (`/api/realtime/apps/{app}/channel-rules` and `…/webhooks`). A plain ES module beside console.js: it reads the same
// tab-only token, follows the app selected in the Apps list, and loads again only on a change of app or after a save,
// so an edit in progress is never overwritten. Server text is written with textContent, never parsed as HTML.

import { call, token } from "./admin-api.js";

const $ = (id) => document.getElementById(id);

let app = null;
let rules = []; // the rules as the server sent them; edits are read back from the rows on save
let events = [];

function status(id, text, failed) {
  $(id).textContent = text;
  $(id).classList.toggle("error", Boolean(failed));
}

function selectedApp() {
  const button = document.querySelector('.app-select[aria-current="true"]');
  return button ? button.dataset.app : null;
}

function source(id, value) {
  $(id).textContent = value === "admin" ? "Source: the admin API (wins over the config file)." : "Source: the config file.";
}

function input(type, className, label) {
  const node = document.createElement("input");
  node.type = type;
  node.className = className;
  node.setAttribute("aria-label", label);
  return node;
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

// One editable row; `rule.match` empty for a new one. Unset flags show their defaults (publish and presence on).
function row(rule) {
  const tr = document.createElement("tr");
  tr.className = "rule-row";
  tr.original = rule;
  const match = input("text", "rule-match", "Match");
  match.value = rule.match || "";
  match.placeholder = "chat:*";
  match.spellcheck = false;
  const flags = [["rule-publish", "Client publish", rule.client_publish !== false],
    ["rule-token", "Require token", rule.require_token === true],
    ["rule-presence", "Presence", rule.presence !== false]].map(([className, label, checked]) => {
    const box = input("checkbox", className, label);
    box.checked = checked;
    return box;
  });
  const history = input("number", "rule-history", "History size");
  history.min = "0";
  history.max = "100000";
  history.placeholder = "plan";
  if (rule.history_size !== undefined) history.value = String(rule.history_size);
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "rule-delete";
  remove.textContent = "Delete";
  remove.onclick = () => tr.remove();
  tr.append(cell(match), ...flags.map((box) => cell(box)), cell(history), cell(remove));
  return tr;
}

function render() {
  $("rules-list").replaceChildren(...rules.map(row));
}

// The rules as the rows now say; keys the editor does not show (history_ttl, force_recovery, join_leave) are kept.
function edited() {
  return Array.from(document.querySelectorAll("#rules-list .rule-row"), (tr) => {
    const rule = { ...tr.original, match: tr.querySelector(".rule-match").value.trim() };
    rule.client_publish = tr.querySelector(".rule-publish").checked;
    rule.require_token = tr.querySelector(".rule-token").checked;
    rule.presence = tr.querySelector(".rule-presence").checked;
    const history = tr.querySelector(".rule-history").value.trim();
    if (history === "") delete rule.history_size; else rule.history_size = Number(history);
    return rule;
  });
}

function showRules(result) {
  rules = result.rules || [];
  source("rules-source", result.source);
  render();
}

function showWebhooks(result) {
  events = result.events || events;
  const hooks = result.webhooks;
  source("webhook-source", result.source);
  $("webhook-url").value = hooks ? hooks.url : "";
  $("webhook-events").replaceChildren(...events.map((name) => {
    const label = document.createElement("label");
    const box = input("checkbox", "webhook-event", name);
    box.value = name;
    box.checked = hooks ? hooks.events.includes(name) : false;
    label.append(box, ` ${name}`);
    return label;
  }));
}

async function load() {
  app = selectedApp();
  if (!app || $("console").hidden || !token()) return;
  const base = `/api/realtime/apps/${encodeURIComponent(app)}`;
  try {
    const [found, hooks] = await Promise.all([call("GET", `${base}/channel-rules`), call("GET", `${base}/webhooks`)]);
    if (found) showRules(found);
    if (hooks) showWebhooks(hooks);
    status("rules-status", "");
    status("webhook-status", "");
  } catch (error) {
    status("rules-status", `Channel rules: ${error.message}`, true);
  }
}

async function save(kind, method, body) {
  const path = `/api/realtime/apps/${encodeURIComponent(app)}/${kind}`;
  const statusID = kind === "channel-rules" ? "rules-status" : "webhook-status";
  try {
    const result = await call(method, path, body);
    if (!result) return;
    if (kind === "channel-rules") showRules(result); else showWebhooks(result);
    status(statusID, method === "DELETE" ? "Back to the config file's settings." : "Saved: open connections apply it from their next action.");
  } catch (error) {
    status(statusID, `Not saved: ${error.message}`, true);
  }
}

function start() {
  $("rule-add").onclick = () => $("rules-list").append(row({}));
  $("rules-save").onclick = () => save("channel-rules", "PUT", { rules: edited() });
  $("rules-reset").onclick = () => save("channel-rules", "DELETE");
  $("webhook-form").onsubmit = (event) => {
    event.preventDefault();
    const url = $("webhook-url").value.trim();
    const chosen = Array.from(document.querySelectorAll("#webhook-events .webhook-event:checked"), (box) => box.value);
    save("webhooks", "PUT", url ? { url, events: chosen } : { url: null });
  };
  $("webhook-reset").onclick = () => save("webhooks", "DELETE");
  // Another app selected (console.js marks it with aria-current), or the console shown after sign-in.
  new MutationObserver(() => { if (selectedApp() !== app) load(); })
    .observe($("apps-list"), { subtree: true, attributes: true, attributeFilter: ["aria-current"], childList: true });
  new MutationObserver(() => load()).observe($("console"), { attributes: true, attributeFilter: ["hidden"] });
  load();
}

start();
