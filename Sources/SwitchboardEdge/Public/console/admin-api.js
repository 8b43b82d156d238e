// Switchboard console, the admin API as the console's modules call it: with the tab-only token console.js keeps after
// sign-in, JSON in and out, and the server's error message (or the HTTP status) thrown when a call is refused.

export const TOKEN_KEY = "switchboard.console.token";

/// The signed-in token, or null before sign-in.
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/// Calls the admin API; null when nobody is signed in.
export async function call(method, path, body) {
  const bearer = token();
  if (!bearer) return null;
  const headers = { Authorization: `Bearer ${bearer}` };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!response.ok) throw new Error((json && json.error && (json.error.message || json.error.code)) || `${response.status}`);
  return json;
}
