"""The environment overlay: a server configured by SWITCHBOARD_* variables alone, with no config file anywhere,
serves its app to a real client; a variable overrides the file's key; a bad variable stops `serve` with one line.
"""

import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import BINARY, CONFIG, MAIN, WAIT, WSClient, Server, free_port, publish, unique

pytestmark = pytest.mark.timeout(60)

ENV_APP = {"id": "3001", "key": "pk_env_only", "secret": "sk_env_only_0123456789abcdef0123456789"}
ENV_TOKEN = "env-admin-token"
APP_VARIABLES = {"SWITCHBOARD_APP_ID": ENV_APP["id"], "SWITCHBOARD_APP_KEY": ENV_APP["key"], "SWITCHBOARD_APP_SECRET": ENV_APP["secret"]}


def start(env: dict, args=(), workdir: Path | None = None) -> Server:
    """Starts `switchboard serve ARGS` in an empty folder with only `env` (and PATH) as its environment."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="switchboard-env-"))
    port = int(env.get("SWITCHBOARD_SERVER_PORT") or free_port())
    log_path = workdir / "server.log"
    process = subprocess.Popen(
        [str(BINARY), "serve", *args],
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "SWITCHBOARD_SERVER_PORT": str(port), **env},
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


def test_a_server_configured_only_by_the_environment_serves_its_app():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-env-"))
    assert list(workdir.iterdir()) == []
    server = start(
        {
            "SWITCHBOARD_APP_ID": ENV_APP["id"],
            "SWITCHBOARD_APP_KEY": ENV_APP["key"],
            "SWITCHBOARD_APP_SECRET": ENV_APP["secret"],
            "SWITCHBOARD_APP_PLAN": "pro",
            "SWITCHBOARD_APP_ORIGINS": "http://allowed.example, https://*.example.org",
            "SWITCHBOARD_ADMIN_TOKEN": ENV_TOKEN,
            "SWITCHBOARD_STORE_PATH": str(workdir / "state" / "switchboard.sqlite"),
            "SWITCHBOARD_LIMITS_NEW_CONNECTIONS_PER_IP_PER_SECOND": "0",
        },
        workdir=workdir,
    )
    try:
        # The store went where the environment said; no conf/ folder was needed or made.
        assert (workdir / "state" / "switchboard.sqlite").exists()
        assert not (workdir / "conf").exists()
        r = httpx.get(f"{server.http}/api/realtime/apps/{ENV_APP['id']}", headers={"Authorization": f"Bearer {ENV_TOKEN}"},
                      timeout=WAIT)
        assert r.status_code == 200, r.text
        app = r.json()["app"]
        assert app["key"] == ENV_APP["key"] and app["plan"] == "pro" and app["environment"] == "production", app
        assert "http://allowed.example" in app["origins"] and "https://*.example.org" in app["origins"]

        channel = unique("env:")
        with WSClient(server, key=ENV_APP["key"], origin="http://allowed.example") as client:
            client.subscribed(channel)
            publish(server, channel, {"text": "from env"}, app=ENV_APP)
            frame = client.recv()
            assert frame["event"] == "realtime.message" and frame["data"] == {"text": "from env"}, frame
        # A browser from an origin the variable did not list is refused.
        with pytest.raises(Exception):
            WSClient(server, key=ENV_APP["key"], origin="http://evil.example")

        # Not a development app: the banner shows the key and only a preview of the secret.
        log = server.log()
        assert f"app {ENV_APP['id']}: key {ENV_APP['key']}" in log, log
        assert ENV_APP["secret"] not in log
    finally:
        assert server.stop() == 0, server.log()


def test_a_section_variable_overrides_the_file(tmp_path):
    config = tmp_path / "switchboard.toml"
    config.write_text(CONFIG.replace("{store}", str(tmp_path / "s.sqlite")))
    # The file's [admin] token is replaced, its apps kept.
    server = start({"SWITCHBOARD_ADMIN_TOKEN": ENV_TOKEN, "SWITCHBOARD_ADMIN_PUBLIC_METRICS": "true"},
                   args=("--config", str(config)), workdir=tmp_path)
    try:
        ok = httpx.get(f"{server.http}/api/realtime/gateway/status", headers={"Authorization": f"Bearer {ENV_TOKEN}"}, timeout=WAIT)
        assert ok.status_code == 200, ok.text
        old = httpx.get(f"{server.http}/api/realtime/gateway/status", headers={"Authorization": "Bearer admin-test-token"},
                        timeout=WAIT)
        assert old.status_code == 401
        assert httpx.get(f"{server.http}/metrics", timeout=WAIT).status_code == 200
        channel = unique("env:")
        with WSClient(server, key=MAIN["key"]) as client:
            client.subscribed(channel)
    finally:
        assert server.stop() == 0, server.log()


@pytest.mark.parametrize(
    "env, line",
    [
        ({**APP_VARIABLES, "SWITCHBOARD_SERVER_PORT": "80a"}, "switchboard: config error: SWITCHBOARD_SERVER_PORT: must be an integer"),
        ({**APP_VARIABLES, "SWITCHBOARD_LIMITS_MAX_FRAMES": "9"},
         "switchboard: config error: SWITCHBOARD_LIMITS_MAX_FRAMES: unknown key"),
        ({"SWITCHBOARD_APP_ID": "3001", "SWITCHBOARD_APP_KEY": "pk"}, "switchboard: config error: SWITCHBOARD_APP_SECRET: is required"),
    ],
)
def test_a_bad_variable_stops_serve_with_one_line_naming_it(tmp_path, env, line):
    result = subprocess.run([str(BINARY), "serve"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **env},
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2, result
    assert result.stderr.strip() == line


def test_without_a_file_or_an_app_serve_says_which_file_it_could_not_read(tmp_path):
    result = subprocess.run([str(BINARY), "serve"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                            timeout=20)
    assert result.returncode == 2
    assert "cannot read config file conf/switchboard.toml" in result.stderr
