"""Helpers for the suites that drive real JavaScript clients: headless Chromium pages and Node scripts.

- `SiteServer`: a tiny HTTP server on a loopback port, the test side's "app": it serves the unmodified client builds from
  `../shared/clients/` (beside the repository; `SWITCHBOARD_CLIENTS_DIR` overrides), blank pages, and the auth and token
  endpoints a real backend would have. The product never serves those client files.
- `run_node`: runs an ES module with Debian's Node, with `@maravilla-labs/platform` resolvable as a package.
- `restart_on_same_port`: stops a server and starts it again on its port and store, so clients reconnect to the same URL.
- Page helpers: `wait_js` polls a JavaScript expression; `js_async` runs an async function and returns its result.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT, Server
from test_browser_chat import chromium  # noqa: F401  (one way to start Chromium in this suite)

CLIENTS = Path(os.environ.get("SWITCHBOARD_CLIENTS_DIR", ROOT.parent / "shared" / "clients"))
SDK = ROOT / "sdk" / "js"
NODE = shutil.which("node") or "/usr/bin/node"

CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".html": "text/html; charset=utf-8",
                 ".json": "application/json", ".css": "text/css"}


class Request:
    """One request to the `SiteServer`: method, path, query (first values), headers, body and its form/JSON reading."""

    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes):
        split = urlsplit(handler.path)
        self.method = handler.command
        self.path = split.path
        self.query = {k: v[0] for k, v in parse_qs(split.query).items()}
        self.headers = handler.headers
        self.body = body

    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self):
        return json.loads(self.body or b"null")

    def fields(self) -> dict:
        """Form or JSON body, whichever the client sent (pusher-js posts a form; fetch callers JSON)."""
        if "json" in (self.headers.get("Content-Type") or ""):
            return self.json() or {}
        return self.form()


class SiteServer:
    """A threaded HTTP server on 127.0.0.1: routes, pages, and `/clients/<file>` from the shared client builds."""

    def __init__(self):
        self.routes = {}
        self.pages = {}
        self.requests = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self, self.rfile.read(length) if length else b"")
                site.requests.append((request.method, request.path))
                status, headers, body = site.answer(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, handler) -> None:
        """`handler(request)` answers with a dict/list (JSON 200), a `(status, body)` pair, or `(status, headers, bytes)`."""
        self.routes[(method, path)] = handler

    def page(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.url + path

    def answer(self, request: Request):
        if request.method == "GET" and request.path in self.pages:
            return 200, {"Content-Type": CONTENT_TYPES[".html"]}, self.pages[request.path].encode()
        if request.method == "GET" and request.path.startswith("/clients/"):
            name = request.path.removeprefix("/clients/")
            file = CLIENTS / name
            if "/" in name or not file.is_file():
                return 404, {}, b"not found"
            return 200, {"Content-Type": CONTENT_TYPES[".js"]}, file.read_bytes()
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        try:
            result = handler(request)
        except Exception as error:  # a test-side bug shows up as a 500 with its message, not a dropped connection
            return 500, {"Content-Type": "text/plain"}, repr(error).encode()
        if isinstance(result, tuple) and len(result) == 3:
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def blank_page(*scripts: str, body: str = "") -> str:
    """A page loading `scripts` (names under `/clients/`) in order, with a `window.log` list for the test to read."""
    tags = "\n".join(f'<script src="/clients/{name}"></script>' for name in scripts)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>client test</title>
<script>window.log = []; window.note = (...parts) => window.log.push(parts.length === 1 ? parts[0] : parts);</script>
{tags}</head><body>{body}</body></html>"""


def wait_js(driver, expression: str, timeout: float = 15, message: str = ""):
    """Polls `return (<expression>)` until it is truthy; returns that value."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(f"return ({expression});"))
    except TimeoutException:
        state = driver.execute_script("return JSON.stringify(window.log ?? null)")
        raise AssertionError(f"timed out after {timeout}s waiting for {message or expression}; window.log = {state}") from None


def js_async(driver, body: str, *args, timeout: float = 20):
    """Runs `body` as an async function (arguments in `args`), returning its value; a thrown error fails the test."""
    driver.set_script_timeout(timeout)
    script = f"""const done = arguments[arguments.length - 1];
const args = Array.prototype.slice.call(arguments, 0, -1);
(async (...args) => {{ {body} }})(...args).then((value) => done({{ ok: true, value }}),
    (error) => done({{ ok: false, error: String(error && (error.stack || error.message) || error) }}));"""
    result = driver.execute_async_script(script, *args)
    assert result["ok"], result["error"]
    return result["value"]


# ---------------------------------------------------------------------------------------------------------------------
# Node
# ---------------------------------------------------------------------------------------------------------------------

def node_project() -> Path:
    """A temporary folder whose `node_modules/@maravilla-labs/platform` is the repository's package (a symlink)."""
    folder = Path(tempfile.mkdtemp(prefix="switchboard-node-"))
    scope = folder / "node_modules" / "@maravilla-labs"
    scope.mkdir(parents=True)
    (scope / "platform").symlink_to(SDK / "@maravilla-labs" / "platform", target_is_directory=True)
    return folder


def run_node(source: str, env: dict | None = None, timeout: float = 20, folder: Path | None = None) -> subprocess.CompletedProcess:
    """Runs `source` as an ES module (`.mjs`) with `--experimental-websocket` (Node 20 has no WebSocket otherwise)."""
    folder = folder or node_project()
    script = folder / f"script-{time.monotonic_ns()}.mjs"
    script.write_text(source)
    result = subprocess.run([NODE, "--experimental-websocket", "--no-warnings", str(script)], cwd=folder, capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"node exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def json_lines(output: str) -> list:
    """The lines of `output` that are JSON values, parsed (a script's results; other log lines are skipped)."""
    values = []
    for line in output.splitlines():
        try:
            values.append(json.loads(line))
        except ValueError:
            pass
    return values


class NodeProcess:
    """A long-running Node script (an app server) on a free port it is given as `PORT`; stopped with `stop()`."""

    def __init__(self, script: Path, env: dict, port: int):
        self.port = port
        self.log_path = Path(tempfile.mkdtemp(prefix="switchboard-node-app-")) / "app.log"
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([NODE, "--experimental-websocket", "--no-warnings", str(script)], cwd=script.parent,
                                        env={**os.environ, **env, "PORT": str(port)}, stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node app exited with {self.process.returncode}:\n{self.log()}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"node app did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log_file.close()


# ---------------------------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------------------------

def restart_on_same_port(server: Server, sig=signal.SIGTERM) -> Server:
    """Stops `server` and starts the same command (port, config, store) again; returns the new `Server`."""
    args = server.process.args
    code = server.stop(sig)
    assert sig != signal.SIGTERM or code == 0, f"server exited with {code} on SIGTERM"
    log = open(server.log_path, "ab")
    deadline = time.monotonic() + 20
    while True:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=server.workdir)
        restarted = Server(process=process, port=server.port, workdir=server.workdir, log_path=server.log_path, extra=server.extra)
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{restarted.http}/api/health", timeout=1).status_code in (200, 503):
                    return restarted
            except httpx.HTTPError:
                time.sleep(0.05)
        # The port may still be held for a moment after the old process exits: try again until the deadline.
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        if time.monotonic() >= deadline:
            raise RuntimeError(f"server did not restart on port {server.port}:\n{server.log()[-3000:]}")
        time.sleep(0.2)


class CuttableProxy:
    """A TCP forwarder on a loopback port in front of `target_port`: `cut()` drops every connection and refuses new
    ones (as a network outage would), `restore()` lets them through again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.pairs = []
        self.lock = threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.accepted += 1
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.up = False
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream in pairs:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.listener.close()


# ---------------------------------------------------------------------------------------------------------------------
# The edge the browser-client suites talk to
# ---------------------------------------------------------------------------------------------------------------------

# Pages come from the test site's origin; the app lists no origins, so it accepts them (as the FACTS note says).
BROWSER_APP = {"id": "3001", "key": "pk_test_browser", "secret": "sk_test_browser_0123456789abcdef0123456"}
ENCRYPTION_MASTER_KEY = "dGhpcyBpcyAzMiBieXRlcyBmb3IgdGhlIHRlc3RzISE="  # base64 of 32 bytes: pusher-js's encrypted channels


def browser_edge_config() -> str:
    return f"""
default_app = "{BROWSER_APP['id']}"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"

[limits]
new_connections_per_ip_per_second = 1000

[[apps]]
id = "{BROWSER_APP['id']}"
key = "{BROWSER_APP['key']}"
secret = "{BROWSER_APP['secret']}"
plan = "enterprise"
client_events = true

[[apps.channels]]
match = "recover:*"
history_size = 100
history_ttl = "1h"

[[apps.channels]]
match = "room:*"
presence = true
join_leave = true
"""


def pusher_api(edge: Server, **options):
    """The official Pusher server library (Python) pointed at `edge`, with the encryption master key set."""
    import pusher

    return pusher.Pusher(app_id=BROWSER_APP["id"], key=BROWSER_APP["key"], secret=BROWSER_APP["secret"], host="127.0.0.1",
                         port=edge.port, ssl=False, encryption_master_key_base64=ENCRYPTION_MASTER_KEY, **options)


def pusher_auth_routes(site: "SiteServer", edge: Server) -> None:
    """What a Laravel or Node backend does for pusher-js: `/pusher/auth` (and Echo's `/broadcasting/auth`) sign channel
    subscriptions for the user the page names (`user` param or `X-User` header); `/pusher/user-auth` signs `signin`, with the
    comma-separated `watchlist` param as the user's watchlist. With `member=signed-in`, a presence signature names no
    member, so the edge takes the signed-in user (pusher-js then waits for `signin()`). A user named `mallory` is refused (403)."""
    api = pusher_api(edge)

    def user_of(request):
        fields = request.fields()
        return fields.get("user") or request.headers.get("X-User") or "anonymous"

    def channel_auth(request):
        fields = request.fields()
        user = user_of(request)
        if user == "mallory":
            return 403, {"error": "forbidden"}
        names_member = fields["channel_name"].startswith("presence-") and fields.get("member") != "signed-in"
        custom = {"user_id": user, "user_info": {"name": user.title()}} if names_member else None
        signed = api.authenticate(channel=fields["channel_name"], socket_id=fields["socket_id"], custom_data=custom)
        # The library returns an encrypted channel's `shared_secret` as base64 bytes.
        return {k: v.decode() if isinstance(v, bytes) else v for k, v in signed.items()}

    def user_auth(request):
        user = user_of(request)
        user_data = {"id": user, "user_info": {"name": user.title()}}
        if watchlist := request.fields().get("watchlist"):
            user_data["watchlist"] = watchlist.split(",")
        return api.authenticate_user(request.fields()["socket_id"], user_data)

    site.route("POST", "/pusher/auth", channel_auth)
    site.route("POST", "/broadcasting/auth", channel_auth)
    site.route("POST", "/pusher/user-auth", user_auth)
