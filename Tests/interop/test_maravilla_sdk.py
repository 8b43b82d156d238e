"""`@maravilla-labs/platform` itself: served by the edge at `/sdk/…`, the endpoint it picks, `?tenant=`, and its
reconnects (a network outage through a cuttable proxy): each channel resumes from the last `seq` the client saw, so
nothing is missed and nothing arrives twice."""

import http.client
import json
import os
import queue
import subprocess
import threading
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from browser_clients_support import (NODE, SDK, CuttableProxy, SiteServer, blank_page, chromium, json_lines, node_project, run_node,
                                     wait_js)
from conftest import WAIT, publish, start_server, unique
from maravilla_support import APP, OTHER_TENANT, edge_config


@pytest.fixture(scope="module")
def edge():
    server = start_server(edge_config())
    yield server
    server.stop()


def raw_get(server, path: str) -> tuple[int, dict, bytes]:
    """A GET with the path sent exactly as given (no client-side normalisation of `..` or escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# ---------------------------------------------------------------------------------------------------------------------
# /sdk/…
# ---------------------------------------------------------------------------------------------------------------------

def test_sdk_route_serves_the_packages_as_modules_with_cors(edge):
    package = SDK / "@maravilla-labs" / "platform"
    status, headers, body = raw_get(edge, "/sdk/@maravilla-labs/platform/index.js")
    assert status == 200 and body == (package / "index.js").read_bytes()
    assert headers["content-type"].startswith("text/javascript") and headers["access-control-allow-origin"] == "*"
    status, headers, body = raw_get(edge, "/sdk/@maravilla-labs/platform/package.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["name"] == "@maravilla-labs/platform"
    # The DomVia packages live beside it and come from the same route.
    status, _, _ = raw_get(edge, "/sdk/@domvia/realtime/package.json")
    assert status == 200
    assert raw_get(edge, "/sdk/@maravilla-labs/platform/missing.js")[0] == 404


@pytest.mark.parametrize("path", [
    "/sdk/@maravilla-labs/platform/../../../../README.md",
    "/sdk/%2e%2e/%2e%2e/README.md",
    "/sdk/@maravilla-labs%5c..%5c..%5c..%5cREADME.md",
    "/sdk/..%2f..%2fREADME.md",
    "/sdk//etc/passwd",
    "/sdk/@maravilla-labs/platform/",
    "/sdk/.hidden",
])
def test_sdk_route_refuses_paths_that_leave_its_folder(edge, path):
    status, _, body = raw_get(edge, path)
    assert status in (400, 404), (path, status)
    assert b"Switchboard" not in body and b"root:" not in body


def test_sdk_dir_setting_and_symlinks_that_escape_it(tmp_path):
    root = tmp_path / "sdk"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.js").write_text("export const a = 1;\n")
    (root / "pkg" / "inside.js").symlink_to(root / "pkg" / "a.js")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "pkg" / "escape.js").symlink_to(outside)
    (root / "out").symlink_to(tmp_path, target_is_directory=True)
    server = start_server(edge_config().replace("port = 0\n", f'port = 0\nsdk_dir = "{root}"\n', 1))
    try:
        assert raw_get(server, "/sdk/pkg/a.js")[2] == b"export const a = 1;\n"
        assert raw_get(server, "/sdk/pkg/inside.js")[0] == 200
        assert raw_get(server, "/sdk/pkg/escape.js")[0] == 404
        assert raw_get(server, "/sdk/out/secret.txt")[0] == 404
        # The configured folder replaces the repository's.
        assert raw_get(server, "/sdk/@maravilla-labs/platform/index.js")[0] == 404
    finally:
        server.stop()


def test_a_page_on_another_origin_imports_the_client_from_the_edge(edge):
    site = SiteServer()
    driver = chromium()
    try:
        url = site.page("/import.html", blank_page(body=f"""<script type="module">
import {{ RealtimeClient }} from "{edge.http}/sdk/@maravilla-labs/platform/index.js";
const client = new RealtimeClient({{ url: "{edge.http}", key: "{APP['key']}" }});
client.subscribe("sdk:cross-origin", (event) => note(event.data));
client.connect().then(() => {{ window.connected = true; }});
</script>"""))
        driver.get(url)
        wait_js(driver, "window.connected === true")
        deadline = time.monotonic() + 10
        while not driver.execute_script("return window.log.length"):
            assert time.monotonic() < deadline, "no message reached the page"
            publish(edge, "sdk:cross-origin", {"hello": "page"}, app=APP)
            time.sleep(0.2)
        assert driver.execute_script("return window.log[0]") == {"hello": "page"}
    finally:
        driver.quit()
        site.close()


# ---------------------------------------------------------------------------------------------------------------------
# Endpoint and tenant
# ---------------------------------------------------------------------------------------------------------------------

def test_endpoint_is_detected_from_the_page_or_the_environment():
    source = """import { socketURL } from '@maravilla-labs/platform';
const urls = [];
globalThis.location = { protocol: 'https:', host: 'app.example', hostname: 'app.example', port: '' };
urls.push(socketURL());
globalThis.location = { protocol: 'http:', host: 'localhost:5173', hostname: 'localhost', port: '5173' };
urls.push(socketURL());
globalThis.location = { protocol: 'http:', host: '127.0.0.1:8080', hostname: '127.0.0.1', port: '8080' };
urls.push(socketURL({ tenant: 'pk_t', cid: 'tab-1' }));
delete globalThis.location;
urls.push(socketURL());
urls.push(socketURL({ url: 'https://edge.example/' }));
console.log(JSON.stringify(urls));"""
    env = {"MARAVILLA_REALTIME_URL": "http://10.0.0.5:9000", "MARAVILLA_REALTIME_KEY": ""}
    assert json_lines(run_node(source, env).stdout)[-1] == [
        "wss://app.example/_rt/ws",
        "ws://localhost:3001/_rt/ws",  # a Vite dev server's page talks to the platform's dev server
        "ws://127.0.0.1:8080/_rt/ws?tenant=pk_t&cid=tab-1",
        "ws://10.0.0.5:9000/_rt/ws",
        "wss://edge.example/_rt/ws",
    ]


@pytest.mark.parametrize("tenant", [OTHER_TENANT["key"], OTHER_TENANT["id"]], ids=["by-key", "by-id"])
def test_tenant_query_selects_the_app(edge, tenant):
    channel = unique("tenant:")
    with ws_connect(f"{edge.ws}/_rt/ws?tenant={tenant}", proxy=None, open_timeout=WAIT) as ws:
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "connected"
        ws.send(json.dumps({"action": "subscribe", "channel": channel}))
        assert json.loads(ws.recv(timeout=WAIT))["event"] == "subscribed"
        publish(edge, channel, {"app": "default"}, app=APP)
        publish(edge, channel, {"app": "tenant"}, app=OTHER_TENANT)
        frame = json.loads(ws.recv(timeout=WAIT))
        assert frame["data"] == {"app": "tenant"}, frame


def test_unknown_tenant_is_refused_like_an_unknown_key(edge):
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"{edge.ws}/_rt/ws?tenant=pk_nobody", proxy=None, open_timeout=WAIT)
    assert refused.value.response.status_code == 404


# ---------------------------------------------------------------------------------------------------------------------
# Reconnects
# ---------------------------------------------------------------------------------------------------------------------

RESUMING_CLIENT = """import { RealtimeClient } from '@maravilla-labs/platform';
const client = new RealtimeClient({ url: process.env.URL, key: process.env.KEY, minBackoffMs: 100, maxBackoffMs: 1000 });
client.onAny((event) => {
  if (event.event !== 'realtime.message') console.log(JSON.stringify({ event: event.event, seq: event.seq ?? null }));
});
client.subscribe(process.env.CHANNEL, (event) => console.log(JSON.stringify({ n: event.data.n, seq: event.seq })));
client.connect();
setTimeout(() => { client.disconnect(); process.exit(0); }, 25000);
"""


class NodeLines:
    """A Node script whose stdout JSON lines arrive in a queue as it prints them."""

    def __init__(self, source: str, env: dict):
        folder = node_project()
        script = folder / "client.mjs"
        script.write_text(source)
        self.process = subprocess.Popen([NODE, "--experimental-websocket", "--no-warnings", str(script)], cwd=folder, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **env})
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            for value in json_lines(line):
                self.lines.put(value)

    def take(self, predicate, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the Node client printed nothing matching in time"
            try:
                value = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(value):
                return value

    def messages(self, count: int, timeout: float = 15) -> list:
        return [self.take(lambda v: "n" in v, timeout)["n"] for _ in range(count)]

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def outage(edge):
    proxy = CuttableProxy(edge.port)
    clients = []

    def client(channel: str) -> NodeLines:
        c = NodeLines(RESUMING_CLIENT, {"URL": f"http://127.0.0.1:{proxy.port}", "KEY": APP["key"], "CHANNEL": channel})
        clients.append(c)
        return c

    client.proxy = proxy
    yield client
    for c in clients:
        c.close()
    proxy.close()


def test_reconnect_resumes_each_channel_after_the_last_seq_it_saw(edge, outage):
    channel = unique("resume:")
    client = outage(channel)
    client.take(lambda v: v.get("event") == "subscribed")
    for n in (1, 2):
        publish(edge, channel, {"n": n}, app=APP)
    assert client.messages(2) == [1, 2]
    outage.proxy.cut()
    for n in (3, 4, 5):
        publish(edge, channel, {"n": n}, app=APP)
    outage.proxy.restore()
    client.take(lambda v: v.get("event") == "subscribed", timeout=15)
    publish(edge, channel, {"n": 6}, app=APP)
    assert client.messages(4) == [3, 4, 5, 6]
    time.sleep(0.3)
    assert client.lines.empty() or all("n" not in v for v in list(client.lines.queue)), list(client.lines.queue)


def test_reconnect_before_any_message_resumes_from_where_the_channel_stood_at_subscribe(edge, outage):
    channel = unique("resume:")
    for n in (1, 2, 3):
        publish(edge, channel, {"n": n}, app=APP)
    client = outage(channel)
    subscribed = client.take(lambda v: v.get("event") == "subscribed")
    # No replay was asked for: the client starts live, and `subscribed` says where the channel stands.
    assert subscribed["seq"] == 3
    outage.proxy.cut()
    publish(edge, channel, {"n": 4}, app=APP)
    outage.proxy.restore()
    client.take(lambda v: v.get("event") == "subscribed", timeout=15)
    publish(edge, channel, {"n": 5}, app=APP)
    assert client.messages(2) == [4, 5]


def test_platform_db_and_storage_are_refused_by_name_until_the_app_provides_them():
    """The package is Maravilla's realtime part: a route reaching `platform.DB` or `platform.storage` is told so, by name,
    rather than failing on `undefined` deep in its code; a store the app assigns is then used as it is."""
    source = """import { getPlatform } from '@maravilla-labs/platform';
const platform = getPlatform();
const results = [];
for (const name of ['DB', 'storage']) {
    try { platform[name]; results.push('no error'); } catch (error) { results.push(error.message); }
}
const mine = { messages: { insertOne: async () => ({ insertedId: '1' }) } };
platform.DB = mine;
results.push(getPlatform().DB === mine);
console.log(JSON.stringify(results));"""
    db, storage, assigned = json_lines(run_node(source).stdout)[-1]
    assert db.startswith("platform.DB is Maravilla's database") and "getPlatform().DB =" in db, db
    assert storage.startswith("platform.storage is Maravilla's file storage") and "getPlatform().storage =" in storage, storage
    assert assigned is True
