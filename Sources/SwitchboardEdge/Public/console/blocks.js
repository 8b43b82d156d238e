// Switchboard console, Blocked addresses: the admin API's runtime blocks (`/api/realtime/blocks`) and the config
// file's `[server] blocked_addresses`, with a form to block an address or range (optionally for a while) and a button
// to lift a block. A plain ES module beside console.js; server text is written with textContent, never parsed as HTML.

import { call, token } from "./admin-api.js";
import { $, button, cell, change, emptyRow, setStatus as status, whenShown } from "./section.js";

const REFRESH_MS = 5000;

function when(ms) {
  return ms === null || ms === undefined ? "never" : new Date(ms).toLocaleString();
}

function setStatus(text, isError = false) {
  status("blocks-status", text, isError);
}

function render(data) {
  const body = $("blocks-list");
  const blocks = data.blocks || [];
  if (!blocks.length) {
    emptyRow(body, 5, "No address is blocked through the admin API.");
  } else {
    body.replaceChildren(...blocks.map((block) => {
      const row = document.createElement("tr");
      row.className = "block-row";
      row.dataset.address = block.address;
      const actions = document.createElement("td");
      actions.append(button("Lift", "block-lift", () => lift(block.address)));
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

function lift(address) {
  const action = () => call("DELETE", `/api/realtime/blocks?address=${encodeURIComponent(address)}`);
  return change("blocks-status", action, () => `Lifted ${address}.`, "Not lifted", refresh);
}

async function create(event) {
  event.preventDefault();
  const body = { address: $("block-address").value.trim() };
  const reason = $("block-reason").value.trim();
  if (reason) body.reason = reason;
  const expiresIn = Number($("block-expiry").value);
  if (expiresIn > 0) body.expiresIn = expiresIn;
  const action = async () => {
    const result = await call("POST", "/api/realtime/blocks", body);
    $("block-address").value = "";
    $("block-reason").value = "";
    return result;
  };
  await change("blocks-status", action, (result) => `Blocked ${result.block.address}; its open connections were ended.`, "Not blocked", refresh);
}

whenShown(() => $("block-form").addEventListener("submit", create), refresh, REFRESH_MS);
