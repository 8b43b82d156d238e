#!/usr/bin/env python3
"""A sample backend to put behind Switchboard: the edge forwards every request no realtime route claims to it.

It is the part of a real app that Switchboard does not do: the web page, and the endpoint that decides who may
join a private or presence channel. Behind the edge both live on the edge's own host, so the page needs no CORS and
its WebSocket goes to the same origin.

    SWITCHBOARD_KEY=pk_dev_demo SWITCHBOARD_SECRET=sk_dev_demo python3 examples/upstream/app.py --port 3000

Routes:
  GET  /                 a page that subscribes to `private-orders` over the Pusher protocol and shows its events
  POST /realtime/auth    Pusher channel authorization (form fields socket_id, channel_name), as pusher-js calls it
  GET  /realtime/token   a connection JWT (HS256) for the Centrifugo-style protocol and SSE
  GET  /whoami           the request as the app saw it: method, path and the X-Forwarded-* headers the edge added

Standard library only. The user is `?user=NAME` on the page (a demo: a real app takes it from its session).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

KEY = os.environ.get("SWITCHBOARD_KEY", "pk_dev_demo")
SECRET = os.environ.get("SWITCHBOARD_SECRET", "sk_dev_demo")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Orders (sample app behind Switchboard)</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem;max-width:40rem}li{margin:.2rem 0}code{background:#eee;padding:0 .2rem}</style>
</head>
<body>
<h1>Orders</h1>
<p>Served by the sample upstream through the edge. Live events on <code>private-orders</code>:</p>
<p id="status">connecting…</p>
<ul id="events"></ul>
<script>
const key = %(key)s;
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${scheme}//${location.host}/app/${key}?protocol=7&client=sample&version=1`);
const status = document.getElementById("status");
const events = document.getElementById("events");
const show = text => { const li = document.createElement("li"); li.textContent = text; events.append(li); };
socket.onmessage = async message => {
  const frame = JSON.parse(message.data);
  if (frame.event === "pusher:connection_established") {
    const socketId = JSON.parse(frame.data).socket_id;
    const body = new URLSearchParams({socket_id: socketId, channel_name: "private-orders"});
    const auth = await (await fetch("/realtime/auth", {method: "POST", body})).json();
    socket.send(JSON.stringify({event: "pusher:subscribe", data: {channel: "private-orders", auth: auth.auth}}));
  } else if (frame.event === "pusher_internal:subscription_succeeded") {
    status.textContent = "subscribed";
  } else if (frame.event === "pusher:ping") {
    socket.send(JSON.stringify({event: "pusher:pong", data: {}}));
  } else if (frame.channel === "private-orders") {
    show(`${frame.event}: ${frame.data}`);
  }
};
socket.onclose = event => { status.textContent = `closed (${event.code})`; };
</script>
</body>
</html>
"""


def sign(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def connection_token(user: str, ttl: int = 3600) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": user, "exp": int(time.time()) + ttl}).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64url(signature)}"


class App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/":
            self.reply(200, (PAGE % {"key": json.dumps(KEY)}).encode(), "text/html; charset=utf-8")
        elif url.path == "/realtime/token":
            user = parse_qs(url.query).get("user", ["guest"])[0]
            self.reply(200, json.dumps({"token": connection_token(user)}).encode())
        elif url.path == "/whoami":
            forwarded = {name.lower(): value for name, value in self.headers.items() if name.lower().startswith("x-forwarded-")}
            self.reply(200, json.dumps({"method": "GET", "path": self.path, "forwarded": forwarded}).encode())
        else:
            self.reply(404, b'{"error": "not found"}')

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if url.path != "/realtime/auth":
            self.reply(404, b'{"error": "not found"}')
            return
        socket_id = form.get("socket_id", [""])[0]
        channel = form.get("channel_name", [""])[0]
        if not socket_id or not channel.startswith(("private-", "presence-")):
            self.reply(403, b'{"error": "forbidden"}')
            return
        if channel.startswith("presence-"):
            user = json.dumps({"user_id": form.get("user", ["guest"])[0]})
            body = {"auth": f"{KEY}:{sign(f'{socket_id}:{channel}:{user}')}", "channel_data": user}
        else:
            body = {"auth": f"{KEY}:{sign(f'{socket_id}:{channel}')}"}
        self.reply(200, json.dumps(body).encode())

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    options = parser.parse_args()
    server = ThreadingHTTPServer((options.host, options.port), App)
    print(f"sample upstream on http://{options.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
