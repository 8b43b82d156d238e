// Switchboard console, what the list sections (Alerts, Blocked addresses) share: table cells written as text, a row
// for an empty list, a status line, and a refresh that runs while the console is shown. Server text is written with
// textContent, never parsed as HTML.

export const $ = (id) => document.getElementById(id);

/// A table cell holding `text`.
export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/// A button of class `className` saying `text` that runs `onClick`.
export function button(text, className, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = text;
  node.addEventListener("click", onClick);
  return node;
}

/// Replaces `body`'s rows with one row saying `text` across `columns`.
export function emptyRow(body, columns, text) {
  const row = document.createElement("tr");
  const td = cell(text, "muted");
  td.colSpan = columns;
  row.append(td);
  body.replaceChildren(row);
}

/// Writes `text` in the status line `id`, as an error or not.
export function setStatus(id, text, isError = false) {
  const status = $(id);
  status.textContent = text;
  status.className = isError ? "error" : "muted";
}

/// Runs `wire` once the page is parsed, then `refresh` at once, every `ms` and as soon as the console shows itself
/// after sign-in (instead of waiting for the next tick).
export function whenShown(wire, refresh, ms) {
  const start = () => {
    wire();
    refresh();
    setInterval(refresh, ms);
    new MutationObserver(() => refresh()).observe($("console"), { attributes: true, attributeFilter: ["hidden"] });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}

/// Runs an admin change, says in the status line `id` how it went (`done(result)`, or `failed` and the server's
/// reason), then refreshes the section.
export async function change(id, action, done, failed, refresh) {
  try {
    const result = await action();
    if (result !== null) setStatus(id, done(result));
  } catch (error) {
    setStatus(id, `${failed}: ${error.message}`, true);
  }
  await refresh();
}
