"""Starts a real Switchboard server for the interop suite and hands tests its addresses.

The server is the debug binary built by scripts/test (or $SWITCHBOARD_BIN), on a free loopback
port, with a config written for the tests: apps with known keys, plans and origins.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import httpx_sse
import pytest
import requests
import sseclient
import websockets
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("SWITCHBOARD_BIN", ROOT / ".build" / "debug" / "switchboard"))

# Apps every test can rely on. Secrets are at least 32 bytes, as HS256 libraries prefer.
MAIN = {"id": "1001", "key": "pk_test_main", "secret": "sk_test_main_0123456789abcdef0123456789"}
SMALL = {"id": "1002", "key": "pk_test_small", "secret": "sk_test_small_0123456789abcdef012345678"}
DISABLED = {"id": "1003", "key": "pk_test_disabled", "secret": "sk_test_disabled_0123456789abcdef0123"}
OTHER = {"id": "1004", "key": "pk_test_other", "secret": "sk_test_other_0123456789abcdef01234567"}
# Pusher apps: subscription counts and a 3-member presence limit; a 1-second activity timeout.
PUSHER = {"id": "1005", "key": "pk_test_pusher", "secret": "sk_test_pusher_0123456789abcdef0123456"}
PUSHER_IDLE = {"id": "1006", "key": "pk_test_pusher_idle", "secret": "sk_test_pusher_idle_0123456789abcdef01"}
ADMIN_TOKEN = "admin-test-token"
ALLOWED_ORIGIN = "http://allowed.example"

CONFIG = f"""
default_app = "{MAIN['id']}"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"

[admin]
token = "{ADMIN_TOKEN}"
# Suites run from one address and test many 401s; test_admin.py checks the default lockout (10) on its own server.
auth_failures_per_minute = 1000

[limits]
sse_keepalive_seconds = 1
presence_timeout_seconds = 3
new_connections_per_ip_per_second = 1000

[plans.tiny]
max_connections = 5
max_channels = 3
max_message_bytes = 1024
publishes_per_minute = 20
history_size = 10

[[apps]]
id = "{MAIN['id']}"
key = "{MAIN['key']}"
secret = "{MAIN['secret']}"
plan = "enterprise"
origins = ["{ALLOWED_ORIGIN}", "https://*.example.com"]
client_events = true

[[apps.channels]]
match = "nohistory:*"
history_size = 0

[[apps.channels]]
match = "readonly:*"
client_publish = false

[[apps.channels]]
match = "locked:*"
require_token = true

[[apps.channels]]
match = "nopresence:*"
presence = false

[[apps]]
id = "{SMALL['id']}"
key = "{SMALL['key']}"
secret = "{SMALL['secret']}"
plan = "tiny"

[[apps]]
id = "{DISABLED['id']}"
key = "{DISABLED['key']}"
secret = "{DISABLED['secret']}"
enabled = false

[[apps]]
id = "{OTHER['id']}"
key = "{OTHER['key']}"
secret = "{OTHER['secret']}"
plan = "pro"

[[apps]]
id = "{PUSHER['id']}"
key = "{PUSHER['key']}"
secret = "{PUSHER['secret']}"
plan = "enterprise"
subscription_count = true
max_presence_members = 3

[[apps]]
id = "{PUSHER_IDLE['id']}"
key = "{PUSHER_IDLE['key']}"
secret = "{PUSHER_IDLE['secret']}"
plan = "enterprise"
activity_timeout = 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running Switchboard process."""

    process: subprocess.Popen
    port: int
    workdir: Path
    log_path: Path
    extra: dict = field(default_factory=dict)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def listeners(self, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Base URLs of the `[[listeners]]` the server printed (`listening on https://127.0.0.1:PORT (h2, http/1.1)`)."""
        deadline = time.monotonic() + timeout
        while True:
            urls = re.findall(r"^listening on (\S+) \(", self.log(), re.MULTILINE)
            if len(urls) >= count or time.monotonic() > deadline:
                assert len(urls) >= count, f"expected {count} listeners in the banner:\n{self.log()}"
                return urls
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_server(config_text: str | None = None, workdir: Path | None = None, extra_args=(), binary: Path | None = None) -> Server:
    """Starts a server on a free port with the test config (or `config_text`, where `{store}` is the store path).

    `binary` runs another build (the release one, for the load test) instead of `$SWITCHBOARD_BIN`."""
    binary = binary or BINARY
    assert binary.exists(), f"build the server first: {binary} is missing"
    workdir = workdir or Path(tempfile.mkdtemp(prefix="switchboard-interop-"))
    store = workdir / "switchboard.sqlite"
    config = workdir / "switchboard.toml"
    config.write_text((config_text or CONFIG).replace("{store}", str(store)))
    port = free_port()
    log_path = workdir / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(binary), "serve", "--config", str(config), "--port", str(port), "--log-level", "info", *extra_args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    server = Server(process=process, port=port, workdir=workdir, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            # 503 is a serving node whose engine is not connected yet (degraded); tests of Redis wait for it themselves.
            if httpx.get(f"{server.http}/api/health", timeout=1).status_code in (200, 503):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


@pytest.fixture(scope="session")
def server():
    """One server shared by the suite; it must exit 0 on SIGTERM at the end."""
    s = start_server()
    yield s
    code = s.stop()
    assert code == 0, f"server exited with {code} on SIGTERM:\n{s.log()[-4000:]}"


@pytest.fixture
def fresh_server():
    """A server of its own, for tests that restart or stop it."""
    servers = []

    def make(config_text: str | None = None, extra_args=()):
        s = start_server(config_text, extra_args=extra_args)
        servers.append(s)
        return s

    yield make
    for s in servers:
        if s.process.poll() is None:
            s.stop(signal.SIGKILL)


def unique(prefix: str) -> str:
    """A channel name no other test uses."""
    return f"{prefix}{time.monotonic_ns()}"


def admin_headers() -> dict:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def api_headers(app=MAIN) -> dict:
    return {"Authorization": f"Bearer {app['secret']}"}


def rss_kb(server: Server) -> int:
    """The server process's resident memory, in KB (for bounds on what clients can make it hold)."""
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def security_events(server: Server, **params) -> list:
    """Security events the server recorded (written to its store in batches; poll until `predicate`)."""
    r = httpx.get(f"{server.http}/api/realtime/security-events", params=params, headers=admin_headers(), timeout=5)
    r.raise_for_status()
    return r.json()["events"]


def wait_for_security_event(server: Server, kind: str, timeout=5.0, **params) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = security_events(server, kind=kind, **params)
        if events:
            return events[0]
        time.sleep(0.1)
    raise AssertionError(f"no security event of kind {kind} with {params}")


# ---------------------------------------------------------------------------------------------
# Helpers shared by the interop tests. They only wrap the real client libraries (websockets,
# httpx, httpx-sse, sseclient-py + requests); every wait is bounded.
# ---------------------------------------------------------------------------------------------

WAIT = 5.0  # seconds any single expected frame or event may take


def now_ms() -> int:
    """Wall-clock milliseconds, the unit of security events' `time` and `since`."""
    return int(time.time() * 1000)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(claims: dict, secret: str, header: dict | None = None) -> str:
    """An HS256 JWT (or HS384/HS512, as the header's `alg` says) made with the standard library only, so the server is
    checked against an independent signer."""
    header = header or {"alg": "HS256", "typ": "JWT"}
    digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(header.get("alg"), hashlib.sha256)
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(signature)


def unsigned_jwt(claims: dict) -> str:
    """An `alg: none` token, which must never be accepted."""
    return b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(claims).encode()) + "."


def decode_jwt(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload)))


def channel_token(channel: str, app=MAIN, sub="u1", permissions=("subscribe", "publish"), ttl=600, **extra) -> str:
    claims = {"channel": channel, "sub": sub, "permissions": list(permissions), "exp": int(time.time()) + ttl, **extra}
    return sign_jwt(claims, app["secret"])


def connection_token(channels, app=MAIN, sub="u1", ttl=600) -> str:
    return sign_jwt({"sub": sub, "channels": list(channels), "exp": int(time.time()) + ttl}, app["secret"])


def rest(server: Server, method: str, path: str, app=MAIN, **kwargs) -> httpx.Response:
    """A call to the JSON-action server REST API, `/_rt/api/<path>`, with the app's secret."""
    headers = {**api_headers(app), **kwargs.pop("headers", {})}
    return httpx.request(method, f"{server.http}/_rt/api/{path}", headers=headers, timeout=WAIT, **kwargs)


def publish(server: Server, channel: str, data, app=MAIN, **fields) -> dict:
    """Publishes through `POST /_rt/api/publish`; returns the JSON reply (`{ok, seq?}`)."""
    r = rest(server, "POST", "publish", app=app, json={"channel": channel, "data": data, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def socket_from(url: str, local_address: str | None) -> socket.socket | None:
    """A TCP connection to `url`'s host and port from `local_address` (another loopback address), for `ws_connect`'s
    `sock`; None without one."""
    if local_address is None:
        return None
    host, _, port = url.split("://", 1)[1].split("/", 1)[0].rpartition(":")
    return socket.create_connection((host, int(port)), timeout=WAIT, source_address=(local_address, 0))


class JSONWebSocket:
    """JSON frames over the real `websockets` sync client, with bounded waits; subclasses open the connection."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._connection.__exit__(None, None, None)

    def send(self, frame) -> None:
        self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    def recv(self, timeout: float = WAIT) -> dict:
        """The next frame, parsed; raises TimeoutError when none comes in time."""
        return json.loads(self.ws.recv(timeout=timeout))

    def recv_until(self, predicate, timeout: float = WAIT) -> tuple[dict, list]:
        """Frames until one matches; returns it and the frames skipped before it."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; got {skipped}")
            frame = self.recv(timeout=remaining)
            if predicate(frame):
                return frame, skipped
            skipped.append(frame)


class WSClient(JSONWebSocket):
    """A JSON-action client on the real `websockets` sync client: JSON in, JSON out, bounded waits."""

    def __init__(self, server: Server, key: str | None = MAIN["key"], cid: str | None = None, origin: str | None = None,
                 expect_connected: bool = True, base: str | None = None, ssl=None, local_address: str | None = None):
        """`base` (e.g. `wss://127.0.0.1:PORT`) and `ssl` (an `ssl.SSLContext`) reach another listener of `server`;
        `local_address` connects from another loopback address."""
        params = []
        if key is not None:
            params.append(f"key={key}")
        if cid is not None:
            params.append(f"cid={cid}")
        url = f"{base or server.ws}/_rt/ws" + ("?" + "&".join(params) if params else "")
        # websockets 17 wants connect() used as a context manager; enter it here, exit it in close().
        self._connection = ws_connect(url, origin=origin, proxy=None, open_timeout=WAIT, close_timeout=2, max_size=None,
                                      ssl=ssl, sock=socket_from(url, local_address))
        self.ws = self._connection.__enter__()
        self.connected = self.recv() if expect_connected else None
        if expect_connected:
            assert self.connected["event"] == "connected", self.connected


    def subscribe(self, channel: str, **fields) -> dict:
        """Sends `subscribe` and returns the reply (`subscribed` or `error`)."""
        self.send({"action": "subscribe", "channel": channel, **fields})
        return self.recv()

    def subscribed(self, channel: str, **fields) -> dict:
        reply = self.subscribe(channel, **fields)
        assert reply["event"] == "subscribed" and reply["channel"] == channel, reply
        return reply

    def assert_alive(self) -> None:
        """A ping gets a pong next: the connection is open and nothing else was queued for it."""
        self.send({"action": "ping"})
        frame = self.recv()
        assert frame["event"] == "pong", f"expected pong, got {frame}"


def history_bytes_metric(server: Server) -> float | None:
    """`switchboard_history_bytes` from /metrics; None while the node has not counted yet (Redis: before a sweep)."""
    r = httpx.get(f"{server.http}/metrics", headers=admin_headers(), timeout=WAIT)
    r.raise_for_status()
    lines = [line for line in r.text.splitlines() if line.startswith("switchboard_history_bytes ")]
    return float(lines[0].split()[1]) if lines else None


def flood_kept_history(server: Server, quiet: str, flood: str) -> None:
    """What a client holding only the public key can keep: ten small messages published to `quiet` first, then 40 of
    120 KB (4.8 MB) to eight public channels `flood`0..7, all delivered. Forty is the client publish rate's burst
    (twice 20 a second): more would depend on how fast the server reads, and a fast read refuses the rest."""
    for n in range(10):
        assert rest(server, "POST", "publish", json={"channel": quiet, "data": {"n": n}}).status_code == 200
    blob = "x" * 120_000
    with WSClient(server) as attacker, WSClient(server) as watcher:
        watcher.subscribed(f"{flood}7")
        for n in range(40):
            attacker.send({"action": "publish", "channel": f"{flood}{n % 8}", "data": {"n": n, "blob": blob}})
        seen = [watcher.recv()["data"]["n"] for _ in range(5)]
        assert seen == list(range(7, 40, 8)), seen
        attacker.assert_alive()


def close_code_of(ws, timeout: float = WAIT) -> int | None:
    """Reads a `websockets` sync connection until the server closes it; returns the server's close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except websockets.exceptions.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise TimeoutError("the server did not close the connection")


def expect_error(client: WSClient, code: str, channel: str | None = None) -> dict:
    frame = client.recv()
    assert frame["event"] == "error", frame
    assert frame["data"]["code"] == code, frame
    assert isinstance(frame["data"].get("message"), str) and frame["data"]["message"], frame
    assert isinstance(frame["ts"], int), frame
    if channel is not None:
        assert frame.get("channel") == channel, frame
    return frame


def assert_next_message_is_marker(server: Server, clients, channel: str, app=MAIN) -> None:
    """Publishes a marker and checks it is the very next frame each client gets: nothing else reached them before."""
    marker = {"marker": unique("m")}
    publish(server, channel, marker, app=app)
    for client in clients if isinstance(clients, (list, tuple)) else [clients]:
        frame = client.recv()
        assert frame["event"] == "realtime.message" and frame["data"] == marker, f"expected only the marker, got {frame}"


def wait_for_event(server: Server, kind: str, since: int, contains: str | None = None, timeout: float = WAIT, **params) -> dict:
    """The newest security event of `kind` recorded at or after `since` (ms) whose detail contains `contains`."""
    deadline = time.monotonic() + timeout
    while True:
        for event in security_events(server, kind=kind, since=since, **params):
            if contains is None or contains in event.get("detail", ""):
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"no security event {kind} since {since} containing {contains!r}: "
                                 f"{security_events(server, since=since)}")
        time.sleep(0.1)


class SSEStream:
    """One SSE stream read on a background thread by a real client library; events land in a queue.

    `lib="httpx"` uses httpx-sse, `lib="sseclient"` uses sseclient-py over a streamed `requests` response.
    Events with empty data (the stream's opening `retry:`/`id:` block, which httpx-sse reports) are kept
    apart in `opening` and not queued.
    """

    END = object()

    def __init__(self, server: Server, channels, key: str | None = MAIN["key"], lib: str = "httpx",
                 headers: dict | None = None, token: str | None = None, last_event_id: str | None = None,
                 base: str | None = None, client_options: dict | None = None):
        params = [("channel", c) for c in channels]
        if key is not None:
            params.append(("key", key))
        if token is not None:
            params.append(("token", token))
        headers = dict(headers or {})
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.lib = lib
        self.events: queue.Queue = queue.Queue()
        self.opening = []
        self.error = None
        url = f"{base or server.http}/sse"
        if lib == "httpx":
            # client_options, e.g. {"http2": True, "verify": ssl_context}, reach an HTTPS listener over HTTP/2.
            self.client = httpx.Client(timeout=httpx.Timeout(WAIT), **(client_options or {}))
            self._cm = httpx_sse.connect_sse(self.client, "GET", url, params=params, headers=headers)
            self.source = self._cm.__enter__()
            self.response = self.source.response
            self.status_code = self.response.status_code
            self.headers = self.response.headers
            if self.status_code == 200:
                self.source.response.raise_for_status()
                iterator = self.source.iter_sse()
            else:
                self.response.read()
                self.body = self.response.json()
                iterator = None
        else:
            self.response = requests.get(url, params=params, headers=headers, stream=True, timeout=(WAIT, WAIT))
            self.status_code = self.response.status_code
            self.headers = self.response.headers
            if self.status_code == 200:
                iterator = sseclient.SSEClient(self.response).events()
            else:
                self.body = self.response.json()
                iterator = None
        self.thread = None
        if iterator is not None:
            self.thread = threading.Thread(target=self._pump, args=(iterator,), daemon=True)
            self.thread.start()

    def _pump(self, iterator):
        try:
            for event in iterator:
                if not event.data:
                    self.opening.append(event)
                    continue
                self.events.put(event)
        except Exception as error:  # the stream was closed under us, or broke
            self.error = error
        finally:
            self.events.put(self.END)

    def next(self, timeout: float = WAIT):
        """The next event with data; raises TimeoutError, or EOFError when the stream ended."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no SSE event within {timeout}s") from None
        if event is self.END:
            self.events.put(self.END)
            raise EOFError(f"the SSE stream ended ({self.error!r})")
        return event

    def take(self, n: int, timeout: float = WAIT) -> list:
        return [self.next(timeout) for _ in range(n)]

    def wait_closed(self, timeout: float = WAIT) -> None:
        """Waits until the server ends the stream."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError("the SSE stream did not end") from None
            if event is self.END:
                return

    def close(self):
        if self.lib == "sseclient":
            # urllib3's documented way to unblock the reader thread; without it close() waits for the next keepalive.
            self.response.raw.shutdown()
        elif self.thread is not None:
            # The reader thread ends before the socket closes: OpenSSL reads by descriptor number, so a reader still
            # blocked on a closed TLS stream would read from the next connection given that number.
            stream = self.response.extensions.get("network_stream")
            raw = stream.get_extra_info("socket") if stream is not None else None
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_RDWR)
                self.thread.join(WAIT)
        try:
            self.response.close()
        finally:
            if self.lib == "httpx":
                self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------
# Pusher helpers: the official `pusher` server library, the real `pysher` client, and a raw
# Pusher-protocol client on `websockets` for what pysher does not expose (close codes, errors).
# ---------------------------------------------------------------------------------------------

import logging

import pusher as pusher_server
import pysher


def pusher_api(server: Server, app=MAIN, **options) -> "pusher_server.Pusher":
    """The official server library pointed at the test server."""
    return pusher_server.Pusher(app_id=app["id"], key=app["key"], secret=app["secret"], host="127.0.0.1", port=server.port,
                                ssl=False, **options)


def wait_until(predicate, timeout: float = WAIT, interval: float = 0.05, message: str = "condition"):
    """Polls `predicate` until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


def wait_subscribers(server: Server, channel: str, count: int, app=MAIN, timeout: float = WAIT) -> None:
    """Waits until the HTTP API reports `count` subscribers of `channel`."""
    api = pusher_api(server, app)
    wait_until(lambda: api.channel_info(channel, ["subscription_count"]).get("subscription_count", 0) >= count, timeout,
               message=f"{count} subscribers of {channel}")


class PysherClient:
    """A real pysher client; channel events land in per-channel queues as (event, data)."""

    WATCHED = ("pusher_internal:subscription_succeeded", "pusher:error", "pusher:subscription_error",
               "pusher_internal:member_added", "pusher_internal:member_removed", "pusher:cache_miss",
               "pusher_internal:subscription_count")

    def __init__(self, server: Server, app=PUSHER, user_data=None, secret: bool = True):
        # pysher's transport (websocket-client) sends `Origin: http://<host>:<port>`, which MAIN's origin list
        # refuses; PUSHER lists no origins.
        self.errors: queue.Queue = queue.Queue()
        self.pusher = pysher.Pusher(app["key"], custom_host="127.0.0.1", port=server.port, secure=False,
                                    secret=app["secret"] if secret else "", user_data=user_data or {},
                                    log_level=logging.WARNING, reconnect_interval=1)
        established = threading.Event()
        self.pusher.connection.bind("pusher:connection_established", lambda data: established.set())
        self.pusher.connection.bind("pusher:error", lambda data: self.errors.put(data))
        self.pusher.connect()
        assert established.wait(WAIT), "pysher did not connect"
        self.socket_id = self.pusher.connection.socket_id

    def subscribe(self, channel: str, events=(), auth=None) -> queue.Queue:
        """Subscribes and binds `events` (and the protocol's own) to a queue of (event, data).

        pysher sends `pusher:subscribe` before it creates the channel object that bindings live on, so a reply
        that comes back faster than that is dropped by pysher. When no reply (nor a connection error) arrives
        within a second, the subscription is made again through pysher's own unsubscribe/subscribe.
        """
        received: queue.Queue = queue.Queue()
        replied = threading.Event()
        for _ in range(3):
            errors_before = self.errors.qsize()
            handle = self.pusher.subscribe(channel, auth=auth)
            for name in (*self.WATCHED, *events):
                handle.bind(name, lambda data, name=name: received.put((name, data)))
            for name in ("pusher_internal:subscription_succeeded", "pusher:subscription_error"):
                handle.bind(name, lambda data: replied.set())
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not replied.is_set() and self.errors.qsize() == errors_before:
                time.sleep(0.01)
            if replied.is_set() or self.errors.qsize() != errors_before:
                break
            self.pusher.unsubscribe(channel)
        return received

    def trigger(self, channel: str, event: str, data) -> None:
        self.pusher.channel(channel).trigger(event, data)

    def close(self):
        self.pusher.connection.needs_reconnect = False
        self.pusher.connection.disconnect_called = True
        if self.pusher.connection.socket:
            self.pusher.connection.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def next_event(events: queue.Queue, name: str | None = None, timeout: float = WAIT):
    """The next (event, data) from a pysher queue, skipping others when `name` is given."""
    deadline = time.monotonic() + timeout
    skipped = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {name or 'event'} within {timeout}s; got {skipped}")
        try:
            item = events.get(timeout=remaining)
        except queue.Empty:
            continue
        if name is None or item[0] == name:
            return item
        skipped.append(item)


class PusherWS(JSONWebSocket):
    """A raw Pusher-protocol client on the `websockets` sync client: frames as dicts, bounded waits."""

    def __init__(self, server: Server, key: str = MAIN["key"], protocol: str | None = "7", origin: str | None = None,
                 expect_established: bool = True, local_address: str | None = None):
        query = "?client=interop&version=1.0" + (f"&protocol={protocol}" if protocol is not None else "")
        # max_queue=None: a client that leaves frames unread (presence announcements) still sees the close frame.
        self._connection = ws_connect(f"{server.ws}/app/{key}{query}", origin=origin, proxy=None, open_timeout=WAIT,
                                      close_timeout=2, max_size=None, max_queue=None,
                                      sock=socket_from(server.ws, local_address))
        self.ws = self._connection.__enter__()
        self.socket_id = None
        if expect_established:
            frame = self.recv()
            assert frame["event"] == "pusher:connection_established", frame
            self.established = json.loads(frame["data"])
            self.socket_id = self.established["socket_id"]


    def subscribe(self, channel: str, app=MAIN, channel_data=None, auth: str | None = None, sign: bool = True) -> dict:
        """Sends `pusher:subscribe` (signed with the app secret for private/presence) and returns the first reply."""
        data = {"channel": channel}
        if channel_data is not None:
            data["channel_data"] = channel_data if isinstance(channel_data, str) else json.dumps(channel_data)
        if auth is not None:
            data["auth"] = auth
        elif sign and (channel.startswith("private-") or channel.startswith("presence-")):
            data["auth"] = pusher_api_auth(app, self.socket_id, channel, data.get("channel_data"))
        self.send({"event": "pusher:subscribe", "data": data})
        return self.recv()

    def subscribed(self, channel: str, app=MAIN, channel_data=None) -> dict:
        reply = self.subscribe(channel, app=app, channel_data=channel_data)
        assert reply["event"] == "pusher_internal:subscription_succeeded" and reply["channel"] == channel, reply
        return reply

    def assert_alive(self) -> None:
        """A ping gets a pong next: the connection is open and nothing else was queued for it."""
        self.send({"event": "pusher:ping", "data": {}})
        frame = self.recv()
        assert frame["event"] == "pusher:pong", f"expected pong, got {frame}"

    def close_code(self, timeout: float = WAIT) -> int | None:
        """Reads until the server closes; returns its close code."""
        return close_code_of(self.ws, timeout)


def pusher_api_auth(app, socket_id: str, channel: str, channel_data: str | None = None) -> str:
    """An auth string made independently of the server (standard library HMAC), as a server library would."""
    signed = f"{socket_id}:{channel}" + (f":{channel_data}" if channel_data is not None else "")
    return app["key"] + ":" + hmac.new(app["secret"].encode(), signed.encode(), hashlib.sha256).hexdigest()


def expect_pusher_closed(client: PusherWS, code: int) -> None:
    """The next frame is a `pusher:error` with `code`, and the server then closes the socket with that code."""
    frame = client.recv()
    assert frame["event"] == "pusher:error" and frame["data"]["code"] == code, frame
    assert client.close_code() == code


def expect_pusher_error(client: PusherWS, code: int, channel: str | None = None) -> dict:
    """The next `pusher:error` (skipping a `pusher:subscription_error` before it) must carry `code`."""
    frame = client.recv()
    if frame["event"] == "pusher:subscription_error":
        frame = client.recv()
    assert frame["event"] == "pusher:error", frame
    assert frame["data"]["code"] == code, frame
    assert isinstance(frame["data"].get("message"), str) and frame["data"]["message"], frame
    if channel is not None:
        assert frame.get("channel") == channel, frame
    return frame
