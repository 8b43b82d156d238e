"""What the DomVia tests share: the seed snippets, a trusted app server in Node running a seed's auth route verbatim,
a Switchboard in front of it (the app's `upstream`), and test pages that run a seed's client snippet verbatim in
headless Chromium. Only the host, key and secret of a snippet change (`client_snippet`).

Layout of one stack (everything on loopback, one origin for the browser):

    Chromium ──▶ Switchboard :S  ── /app/{key} (WebSocket), /sdk/… (the SDK, embedded in the binary)
                        └─ proxy ─▶ Node app :N  ── POST /realtime/auth (the seed's route), GET /pages/… (test pages)
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ADMIN_TOKEN, BINARY, ROOT, Server, free_port, start_server

HERE = Path(__file__).parent
SNIPPETS = HERE / "domvia" / "snippets"
APP_MODULE = HERE / "domvia" / "app.mjs"
SDK = ROOT / "sdk" / "js"
ARTIFACTS = HERE / "artifacts"
IMAGES = ROOT / "docs" / "images"
NODE = shutil.which("node") or shutil.which("nodejs") or "/usr/bin/node"

DOMVIA = {"id": "2001", "key": "pk_test_domvia", "secret": "sk_test_domvia_0123456789abcdef0123456789"}
PACKAGES = ["realtime", "realtime-chat", "realtime-calls", "realtime-location", "realtime-delivery", "realtime-e2ee"]
# For working on the SDK without rebuilding the edge: DOMVIA_DEV_SDK=1 loads it from the tree through the Node app.
SDK_BASE = "/dev-sdk/" if os.environ.get("DOMVIA_DEV_SDK") else "/sdk/"

# The kit presets exactly as shipped (conf/kits/*.toml): the tests run the rules users paste.
KIT_RULES = "\n".join((ROOT / "conf" / "kits" / f"{kit}.toml").read_text() for kit in ("chat", "calls", "location", "delivery"))

CONFIG = f"""
default_app = "{DOMVIA['id']}"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"

[admin]
token = "{ADMIN_TOKEN}"
auth_failures_per_minute = 1000

[limits]
new_connections_per_ip_per_second = 1000

[[apps]]
id = "{DOMVIA['id']}"
key = "{DOMVIA['key']}"
secret = "{DOMVIA['secret']}"
plan = "enterprise"
client_events = true
client_event_rate = 20
upstream = "{{upstream}}"
{{rules}}
"""


def read_snippet(name: str) -> str:
    """A seed snippet exactly as the seed prints it (Tests/interop/domvia/snippets/, copied byte for byte)."""
    return (SNIPPETS / name).read_text()


def client_snippet(name: str, server: Server, key: str = DOMVIA["key"]) -> str:
    """A client snippet with only its key and host changed (what a user changes to move to Switchboard)."""
    text = read_snippet(name)
    assert '"pk_live_your_public_key"' in text and '"ws.domvia.net"' in text
    return text.replace('"pk_live_your_public_key"', json.dumps(key)).replace('"ws.domvia.net"', json.dumps(f"127.0.0.1:{server.port}"))


@dataclass
class Stack:
    """A Node app (one seed server snippet) behind a Switchboard."""

    edge: Server
    app: subprocess.Popen
    app_port: int
    workdir: Path
    pages: Path
    config: str = ""
    drivers: list = field(default_factory=list)

    @property
    def http(self) -> str:
        return self.edge.http

    def app_log(self) -> str:
        return (self.workdir / "app.log").read_text(errors="replace")

    def restart_edge(self) -> None:
        """Stops the edge (SIGTERM: clients are told to reconnect) and starts a new one on the same port and config."""
        code = self.edge.stop()
        assert code == 0, f"server exited with {code}:\n{self.edge.log()[-3000:]}"
        self.edge = start_server_on(self.config, self.edge.port)

    def auth_log(self) -> list:
        return httpx.get(f"http://127.0.0.1:{self.app_port}/_test/auth-log", timeout=5).json()

    def page(self, name: str, body: str, module: str, user: str | None = None, prelude: str = "") -> str:
        """Writes a test page: the import map for the SDK, a console capture, then `module` as a module script."""
        imports = {f"@domvia/{p}": f"{SDK_BASE}@domvia/{p}/index.js" for p in PACKAGES}
        cookie = f'document.cookie = "user={user}; path=/";' if user else ""
        html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}</title>
<script type="importmap">{json.dumps({"imports": imports})}</script>
<script>
{cookie}
window.__logs = []; window.__errors = [];
const __log = console.log.bind(console);
console.log = (...args) => {{ window.__logs.push(args.map(String).join(" ")); __log(...args); }};
addEventListener("error", (e) => window.__errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason && e.reason.message || e.reason)));
{prelude}
</script>
</head><body>{body}
<script type="module">
{module}
</script>
</body></html>
"""
        (self.pages / name).write_text(html)
        return f"{self.http}/pages/{name}"

    def browser(self, fake_media: bool = False) -> webdriver.Chrome:
        driver = chromium(fake_media=fake_media)
        self.drivers.append(driver)
        return driver

    def stop(self) -> None:
        for driver in self.drivers:
            try:
                driver.quit()
            except Exception:
                pass
        if self.app.poll() is None:
            self.app.send_signal(signal.SIGTERM)
            try:
                self.app.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.app.kill()
        code = self.edge.stop()
        assert code == 0, f"server exited with {code}:\n{self.edge.log()[-3000:]}"


def start_stack(server_snippet: str, rules: str = KIT_RULES, room_members: dict | None = None, env: dict | None = None) -> Stack:
    """Starts the Node app running `server_snippet` verbatim, then a Switchboard whose app proxies to it."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-domvia-"))
    pages = workdir / "pages"
    pages.mkdir()
    modules = workdir / "node_modules"
    modules.mkdir()
    # What `npm install @domvia/realtime-server` would give: the package under node_modules/@domvia.
    (modules / "@domvia").symlink_to(SDK / "@domvia", target_is_directory=True)
    server_module = workdir / "server.mjs"
    server_module.write_text(
        f"import {{ createApp, requireSignedInUser, userCanAccessChatRoom, userCanAccessRoom, extractRoomIdFromCallChannel }}"
        f" from {json.dumps(str(APP_MODULE))};\n"
        f"const app = createApp({{ pages: {json.dumps(str(pages))}, sdk: {json.dumps(str(SDK))} }});\n"
        f"// ---- the seed's server snippet, verbatim ----\n{read_snippet(server_snippet)}"
        f"// ---- end of the snippet ----\napp.listen(Number(process.env.PORT));\n"
    )
    port = free_port()
    log = open(workdir / "app.log", "wb")
    app_env = {
        **os.environ,
        "PORT": str(port),
        "DOMVIA_REALTIME_KEY": DOMVIA["key"],
        "DOMVIA_REALTIME_SECRET": DOMVIA["secret"],
        "ROOM_MEMBERS": json.dumps(room_members or {}),
        **(env or {}),
    }
    app = subprocess.Popen([NODE, str(server_module)], cwd=workdir, env=app_env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_test/auth-log", timeout=1)
            break
        except httpx.HTTPError:
            if app.poll() is not None or time.monotonic() > deadline:
                app.kill()
                raise RuntimeError(f"the Node app did not start:\n{(workdir / 'app.log').read_text()}")
            time.sleep(0.05)
    config = CONFIG.replace("{upstream}", f"http://127.0.0.1:{port}").replace("{rules}", rules)
    try:
        edge = start_server(config)
    except Exception:
        app.kill()
        raise
    return Stack(edge=edge, app=app, app_port=port, workdir=workdir, pages=pages, config=config)


def chromium(fake_media: bool = False, size: str = "1000,720") -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    flags = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={size}"]
    if fake_media:
        flags += ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    for flag in flags:
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(30)
    return driver


def logs(driver) -> list:
    return driver.execute_script("return window.__logs || []")


def errors(driver) -> list:
    return driver.execute_script("return window.__errors || []")


def wait_js(driver, expression: str, timeout: float = 15, message: str = ""):
    """Waits until `expression` (JavaScript) is truthy and returns its value; shows the page's logs and errors otherwise."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(f"return ({expression})"))
    except Exception as error:
        raise AssertionError(f"{message or expression} (logs: {logs(driver)}, errors: {errors(driver)})") from error


def wait_log(driver, text: str, timeout: float = 15) -> str:
    """Waits for a console.log line containing `text`."""
    found = wait_js(driver, f"(window.__logs || []).find((line) => line.includes({json.dumps(text)}))", timeout, f"log line {text!r}")
    return found


def save_screenshot(driver, name: str, readme: bool = False) -> None:
    """Saves a screenshot in Tests/interop/artifacts/; the README's pictures also go to docs/images/ (committed) when
    DOMVIA_UPDATE_IMAGES=1, so an ordinary test run leaves the tree unchanged."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))
    if readme and os.environ.get("DOMVIA_UPDATE_IMAGES") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(IMAGES / name))


def start_server_on(config_text: str, port: int) -> Server:
    """Like conftest.start_server, on a port chosen beforehand (the example's origins and upstream must name it)."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-domvia-edge-"))
    config = workdir / "switchboard.toml"
    config.write_text(config_text.replace("{store}", str(workdir / "switchboard.sqlite")))
    log_path = workdir / "server.log"
    process = subprocess.Popen(
        [str(BINARY), "serve", "--config", str(config), "--port", str(port), "--log-level", "info"],
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    server = Server(process=process, port=port, workdir=workdir, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.http}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


@dataclass
class Demo:
    """The examples as the README runs them: examples/domvia/server.mjs behind an edge on examples/domvia/switchboard.toml."""

    edge: Server
    app: subprocess.Popen
    workdir: Path
    drivers: list = field(default_factory=list)

    @property
    def http(self) -> str:
        return self.edge.http

    def app_log(self) -> str:
        return (self.workdir / "example-server.log").read_text(errors="replace")

    def browser(self, fake_media: bool = False, size: str = "1000,720") -> webdriver.Chrome:
        driver = chromium(fake_media=fake_media, size=size)
        self.drivers.append(driver)
        return driver

    def stop(self) -> None:
        for driver in self.drivers:
            try:
                driver.quit()
            except Exception:
                pass
        self.app.send_signal(signal.SIGTERM)
        try:
            self.app.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.app.kill()
        code = self.edge.stop()
        assert code == 0, f"server exited with {code}:\n{self.edge.log()[-3000:]}"


def start_demo() -> Demo:
    """Starts the example trusted server and an edge on the example config, with only ports and the store changed."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-domvia-demo-"))
    app_port, edge_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(app_port), "DOMVIA_REALTIME_HOST": f"127.0.0.1:{edge_port}"}
    app = subprocess.Popen([NODE, str(ROOT / "examples" / "domvia" / "server.mjs")], env=env, cwd=workdir,
                           stdout=open(workdir / "example-server.log", "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while "DomVia example server on" not in (workdir / "example-server.log").read_text():
        if app.poll() is not None or time.monotonic() > deadline:
            app.kill()
            raise RuntimeError((workdir / "example-server.log").read_text())
        time.sleep(0.05)
    text = (ROOT / "examples" / "domvia" / "switchboard.toml").read_text()
    replacements = {
        'path = "data/switchboard.sqlite"': 'path = "{store}"',
        'upstream = "http://127.0.0.1:3001"': f'upstream = "http://127.0.0.1:{app_port}"',
        '"http://127.0.0.1:8080"': f'"http://127.0.0.1:{edge_port}"',
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    try:
        edge = start_server_on(text, edge_port)
    except Exception:
        app.kill()
        raise
    return Demo(edge=edge, app=app, workdir=workdir)
