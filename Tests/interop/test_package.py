"""The Debian package `scripts/package` builds from the release binary: unpacked with `dpkg-deb -x`, its binary copied
alone into an empty folder serves the console and the example pages (embedded, no resource folder beside it), reports
its version, and the package carries the systemd unit, the default config as a conffile and the user's creation.

The release binary is $SWITCHBOARD_RELEASE_BIN (scripts/test builds it once with
`swift build -c release --static-swift-stdlib --scratch-path .build-release --product switchboard`).
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, WAIT, free_port

pytestmark = pytest.mark.timeout(180)

RELEASE = Path(os.environ.get("SWITCHBOARD_RELEASE_BIN", ROOT / ".build-release" / "release" / "switchboard"))
PUBLIC = ROOT / "Sources" / "SwitchboardEdge" / "Public"
VERSION = re.search(r'static let version = "([^"]+)"', (ROOT / "Sources/SwitchboardEdge/Server/Edge.swift").read_text()).group(1)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The .deb built from the release binary, unpacked: (deb path, unpacked root, control folder)."""
    assert RELEASE.exists(), f"build the release binary first (see this file's docstring): {RELEASE} is missing"
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([str(ROOT / "scripts" / "package"), "--binary", str(RELEASE), "--out", str(out)],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr
    deb = Path(result.stdout.strip().splitlines()[-1])
    assert deb.exists() and deb.name.startswith(f"switchboard_{VERSION}_"), deb
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    control = tmp_path_factory.mktemp("control")
    subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
    return deb, root, control


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def test_the_binary_copied_alone_into_an_empty_folder_serves_the_console_and_examples(package, tmp_path):
    _, root, _ = package
    alone = tmp_path / "alone"
    alone.mkdir()
    binary = alone / "switchboard"
    shutil.copy2(root / "usr" / "bin" / "switchboard", binary)
    assert [p.name for p in alone.iterdir()] == ["switchboard"]
    # No Swift toolchain libraries: the runtime is linked in, as on a machine without Swift.
    linked = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    assert "libswiftCore" not in linked and "/opt/swift" not in linked, linked

    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "SWITCHBOARD_SERVER_PORT": str(port),
        "SWITCHBOARD_APP_ID": "4001",
        "SWITCHBOARD_APP_KEY": "pk_packaged",
        "SWITCHBOARD_APP_SECRET": "sk_packaged_0123456789abcdef0123456789",
        "SWITCHBOARD_STORE_PATH": str(alone / "switchboard.sqlite"),
    }
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen([str(binary), "serve"], cwd=alone, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the packaged binary did not become healthy"
            time.sleep(0.1)
        console = httpx.get(f"{base}/console", timeout=WAIT)
        assert console.status_code == 200 and console.headers["content-type"].startswith("text/html")
        assert console.content == (PUBLIC / "console" / "index.html").read_bytes()
        for path, source in (("/console/console.js", "console/console.js"), ("/examples/chat.html", "examples/chat.html")):
            r = httpx.get(f"{base}{path}", timeout=WAIT)
            assert r.status_code == 200, path
            assert r.content == (PUBLIC / source).read_bytes(), path
        assert httpx.get(f"{base}/health", timeout=WAIT).json()["version"] == VERSION
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_version_comes_from_the_one_constant(package):
    deb, root, _ = package
    result = subprocess.run([str(root / "usr" / "bin" / "switchboard"), "--version"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and result.stdout.strip() == VERSION
    assert field(deb, "Version") == VERSION


def test_the_package_runs_serve_as_its_own_user_with_a_conffile(package):
    deb, root, control = package
    assert field(deb, "Package") == "switchboard"
    depends = field(deb, "Depends")
    assert "adduser" in depends and "libsqlite3-0" in depends and "swift" not in depends, depends

    unit = (root / "lib" / "systemd" / "system" / "switchboard.service").read_text()
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["ExecStart"] == "/usr/bin/switchboard serve --config /etc/switchboard/switchboard.toml"
    assert settings["User"] == "switchboard" and settings["Group"] == "switchboard"
    assert settings["WorkingDirectory"] == "/var/lib/switchboard" and settings["StateDirectory"] == "switchboard"
    assert settings["EnvironmentFile"] == "-/etc/switchboard/switchboard.env"
    assert settings["WantedBy"] == "multi-user.target"

    assert (control / "conffiles").read_text().split() == ["/etc/switchboard/switchboard.toml"]
    config = root / "etc" / "switchboard" / "switchboard.toml"
    assert 'path = "/var/lib/switchboard/switchboard.sqlite"' in config.read_text()
    postinst = (control / "postinst").read_text()
    assert re.search(r"adduser --system --group --home /var/lib/switchboard .*switchboard", postinst), postinst
    assert "install -d -o switchboard -g switchboard" in postinst
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(control / script, os.X_OK), script
        subprocess.run(["sh", "-n", str(control / script)], check=True)


def test_the_shipped_config_starts_the_packaged_binary(package, tmp_path):
    _, root, _ = package
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "SWITCHBOARD_SERVER_PORT": str(port), "SWITCHBOARD_STORE_PATH": str(tmp_path / "s.sqlite")}
    process = subprocess.Popen([str(root / "usr/bin/switchboard"), "serve", "--config", str(root / "etc/switchboard/switchboard.toml")],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
