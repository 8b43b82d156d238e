// Switchboard console, Blocked addresses: the admin API's runtime blocks (`/api/realtime/blocks`) and the config
// file's `[server] blocked_addresses`, with a form to block an address or range (optionally for a while) and a button
// to lift a block. A plain ES module beside console.js; server text is written with textContent, never parsed as HTML.

import { call, token } from "./admin-api.js";

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function when(ms) {
  return ms === null || ms === undefined ? "never" : new Date(ms).toLocaleString();
}

function setStatus(text, isError = false) {
  const status = $("blocks-status");
  status.textContent = text;
  status.className = isError ? "error" : "muted";
}

function render(data) {
  const body = $("blocks-list");
  const blocks = data.blocks || [];
  if (!blocks.length) {
    const row = document.createElement("tr");
    const td = cell("No address is blocked through the admin API.", "muted");
    td.colSpan = 5;
    row.append(td);
    body.replaceChildren(row);
  } else {
    body.replaceChildren(...blocks.map((block) => {
      const row = document.createElement("tr");
      row.className = "block-row";
      row.dataset.address = block.address;
      const actions = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "block-lift";
      button.textContent = "Lift";
      button.addEventListener("click", () => lift(block.address));
      actions.append(button);
      row.append(cell(block.address), cell(block.reason || "–"), cell(when(block.createdAt)), cell(when(block.expiresAt)), actions);
      return row;
    }));
  }
  const configured = data.configured || [];
  $("blocks-configured").textContent = configured.length
    ? `Also blocked by the config file ([server] blocked_addresses): ${configured.join(", ")}`
    : "The config file blocks no address ([server] blocked_addresses).";
}

async function refresh() {
  if ($("console").hidden || !token()) return;
  try {
    const data = await call("GET", "/api/realtime/blocks");
    if (data) render(data);
  } catch (error) {
    setStatus(`Blocked addresses: ${error.message}`, true);
  }
}

async function lift(address) {
  try {
    await call("DELETE", `/api/realtime/blocks?address=${encodeURIComponent(address)}`);
    setStatus(`Lifted ${address}.`);
  } catch (error) {
    setStatus(`Not lifted: ${error.message}`, true);
  }
  await refresh();
}

async function create(event) {
  event.preventDefault();
  const body = { address: $("block-address").value.trim() };
  const reason = $("block-reason").value.trim();
  if (reason) body.reason = reason;
  const expiresIn = Number($("block-expiry").value);
  if (expiresIn > 0) body.expiresIn = expiresIn;
  try {
    const result = await call("POST", "/api/realtime/blocks", body);
    if (result) setStatus(`Blocked ${result.block.address}; its open connections were ended.`);
    $("block-address").value = "";
    $("block-reason").value = "";
  } catch (error) {
    setStatus(`Not blocked: ${error.message}`, true);
  }
  await refresh();
}

function wire() {
  $("block-form").addEventListener("submit", create);
  refresh();
  setInterval(refresh, REFRESH_MS);
  // The console shows itself after sign-in: refresh at once instead of waiting for the next tick.
  new MutationObserver(() => refresh()).observe($("console"), { attributes: true, attributeFilter: ["hidden"] });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
else wire();
