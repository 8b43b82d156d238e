"""TLS listeners (`[[listeners]]` with `tls`): ALPN h2 + http/1.1 on one port, WSS, SSE over HTTP/2, SIGHUP reload.

Real clients only: Python's `ssl` for the handshake and ALPN, httpx (h2) for HTTP/2, httpx-sse for SSE over
HTTP/2, the `websockets` sync client for WSS, and curl. Certificates come from `switchboard dev-cert`.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import BINARY, CONFIG, MAIN, WAIT, SSEStream, WSClient, publish, start_server, unique, wait_until


def dev_cert(directory: Path) -> str:
    """Runs `switchboard dev-cert --out directory`; returns its output."""
    result = subprocess.run([str(BINARY), "dev-cert", "--out", str(directory)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def tls_config(certs: Path, plain: bool = False) -> str:
    """The test config plus a TLS listener on port 0 (and a plain one with `plain`)."""
    text = CONFIG + f"""
[[listeners]]
address = "127.0.0.1"
port = 0
tls = {{ cert = "{certs / 'dev-cert.pem'}", key = "{certs / 'dev-key.pem'}" }}
"""
    if plain:
        text += "\n[[listeners]]\nport = 0\n"
    return text


def trusting(cert: Path, alpn=None) -> ssl.SSLContext:
    """A client context that trusts only `cert` (and checks the host name)."""
    context = ssl.create_default_context(cafile=str(cert))
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def handshake(url: str, context: ssl.SSLContext, server_hostname: str = "127.0.0.1") -> tuple[str | None, str]:
    """One TLS handshake: the ALPN protocol selected and the SHA-256 fingerprint of the server certificate."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=WAIT) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.selected_alpn_protocol(), hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def served_fingerprint(url: str) -> str:
    """The fingerprint a new connection sees, whatever the certificate (no verification)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return handshake(url, context)[1]


def file_fingerprint(cert: Path) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.read_text())).hexdigest()


@pytest.fixture(scope="module")
def tls():
    """A server with `[server]`, a TLS listener and a plain listener; it must exit 0 on SIGTERM with TLS clients open."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-tls-"))
    certs = workdir / "certs"
    output = dev_cert(certs)
    server = start_server(tls_config(certs, plain=True), workdir)
    secure, plain = server.listeners(2)
    if secure.startswith("http://"):
        secure, plain = plain, secure
    yield {"server": server, "https": secure, "http": plain, "cert": certs / "dev-cert.pem", "output": output}
    code = server.stop()
    assert code == 0, f"server exited with {code} on SIGTERM:\n{server.log()[-4000:]}"


def test_dev_cert_writes_an_owner_only_key_and_prints_the_listener_snippet(tls):
    key = tls["cert"].parent / "dev-key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert "[[listeners]]" in tls["output"]
    assert f'cert = "{tls["cert"]}"' in tls["output"] and f'key = "{key}"' in tls["output"]
    assert file_fingerprint(tls["cert"]) in tls["output"]


def test_banner_prints_every_listener_with_its_bound_port_and_protocols(tls):
    log = tls["server"].log()
    assert f"listening on {tls['https']} (h2, http/1.1)" in log
    assert f"listening on {tls['http']} (http/1.1)" in log
    assert tls["https"].startswith("https://127.0.0.1:") and port_of(tls["https"]) > 0


def test_alpn_selects_h2_when_the_client_offers_it(tls):
    protocol, fingerprint = handshake(tls["https"], trusting(tls["cert"], ["h2", "http/1.1"]))
    assert protocol == "h2"
    assert fingerprint == file_fingerprint(tls["cert"])


def test_alpn_selects_http11_when_the_client_offers_only_that(tls):
    assert handshake(tls["https"], trusting(tls["cert"], ["http/1.1"]))[0] == "http/1.1"


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1"])
def test_dev_certificate_verifies_for_every_local_name(tls, name):
    # The connection goes to 127.0.0.1 in each case; only the name checked against the SubjectAltNames differs.
    assert handshake(tls["https"], trusting(tls["cert"], ["h2"]), server_hostname=name)[0] == "h2"


def test_a_name_not_in_the_certificate_is_refused_by_the_client(tls):
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls["https"], trusting(tls["cert"]), server_hostname="example.com")


def test_httpx_gets_health_over_http2(tls):
    with httpx.Client(http2=True, verify=trusting(tls["cert"]), timeout=WAIT) as client:
        response = client.get(f"{tls['https']}/api/health")
    assert response.status_code == 200
    assert response.http_version == "HTTP/2"


def test_rest_publish_over_http2_reaches_a_subscriber_on_the_plain_port(tls):
    channel = unique("h2pub:")
    with WSClient(tls["server"]) as client:
        client.subscribed(channel)
        with httpx.Client(http2=True, verify=trusting(tls["cert"]), timeout=WAIT) as h2:
            response = h2.post(f"{tls['https']}/_rt/api/publish", json={"channel": channel, "data": {"over": "h2"}},
                               headers={"Authorization": f"Bearer {MAIN['secret']}"})
        assert response.http_version == "HTTP/2" and response.status_code == 200, response.text
        frame, _ = client.recv_until(lambda f: f["event"] == "realtime.message")
        assert frame["data"] == {"over": "h2"}


def test_sse_over_http2_receives_a_rest_publish(tls):
    channel = unique("h2sse:")
    options = {"http2": True, "verify": trusting(tls["cert"])}
    with SSEStream(tls["server"], [channel], base=tls["https"], client_options=options) as stream:
        assert stream.status_code == 200
        assert stream.response.http_version == "HTTP/2"
        publish(tls["server"], channel, {"n": 1}, name="chat.message")
        event = stream.next()
        assert event.event == "chat.message" and json.loads(event.data) == {"n": 1}


def test_wss_json_action_client_subscribes_and_receives_a_publish(tls):
    channel = unique("wss:")
    base = tls["https"].replace("https://", "wss://")
    with WSClient(tls["server"], base=base, ssl=trusting(tls["cert"])) as client:
        client.subscribed(channel)
        publish(tls["server"], channel, {"secure": True})
        frame, _ = client.recv_until(lambda f: f["event"] == "realtime.message")
        assert frame["data"] == {"secure": True} and frame["channel"] == channel


def test_plain_listener_serves_http_and_websocket(tls):
    assert httpx.get(f"{tls['http']}/api/health", timeout=WAIT).status_code == 200
    channel = unique("plain2:")
    with WSClient(tls["server"], base=tls["http"].replace("http://", "ws://")) as client:
        client.subscribed(channel)
        publish(tls["server"], channel, {"n": 2})
        frame, _ = client.recv_until(lambda f: f["event"] == "realtime.message")
        assert frame["data"] == {"n": 2}


def test_curl_gets_health_over_http2(tls):
    curl = shutil.which("curl")
    assert curl, "curl is missing (scripts/test installs it)"
    result = subprocess.run([curl, "-sS", "-i", "--http2", "--cacert", str(tls["cert"]), f"{tls['https']}/api/health"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HTTP/2 200"), result.stdout[:200]


def test_unreadable_certificate_stops_startup_naming_the_key(tmp_path):
    config = tmp_path / "switchboard.toml"
    config.write_text(tls_config(tmp_path / "missing").replace("{store}", str(tmp_path / "s.sqlite")))
    result = subprocess.run([str(BINARY), "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "config error: listeners[0].tls.cert:" in result.stderr, result.stderr


def test_sighup_serves_a_new_certificate_and_open_connections_keep_working(tmp_path):
    certs = tmp_path / "certs"
    dev_cert(certs)
    cert = certs / "dev-cert.pem"
    old_fingerprint = file_fingerprint(cert)
    old_pem = tmp_path / "old-cert.pem"
    old_pem.write_text(cert.read_text())
    server = start_server(tls_config(certs), tmp_path)
    try:
        url = server.listeners(1)[0]
        assert served_fingerprint(url) == old_fingerprint
        channel = unique("reload:")
        with WSClient(server, base=url.replace("https://", "wss://"), ssl=trusting(old_pem)) as old:
            old.subscribed(channel)
            dev_cert(certs)
            new_fingerprint = file_fingerprint(cert)
            assert new_fingerprint != old_fingerprint
            new_pem = tmp_path / "new-cert.pem"
            new_pem.write_text(cert.read_text())
            server.process.send_signal(signal.SIGHUP)
            wait_until(lambda: served_fingerprint(url) == new_fingerprint, message="the new certificate being served")
            # The new certificate verifies against the new file; the connection opened before the reload still delivers.
            assert handshake(url, trusting(cert, ["h2"]))[0] == "h2"
            publish(server, channel, {"after": "reload"})
            frame, _ = old.recv_until(lambda f: f["event"] == "realtime.message")
            assert frame["data"] == {"after": "reload"}
            old.assert_alive()

            # A bad PEM on the next SIGHUP keeps the certificate being served, and says so in the log.
            cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
            server.process.send_signal(signal.SIGHUP)
            wait_until(lambda: "TLS certificate reload failed" in server.log(), message="the reload failure in the log")
            assert served_fingerprint(url) == new_fingerprint
            with httpx.Client(http2=True, verify=trusting(new_pem), timeout=WAIT) as client:
                response = client.get(f"{url}/api/health")
            assert response.status_code == 200 and response.http_version == "HTTP/2"
            publish(server, channel, {"still": "open"})
            frame, _ = old.recv_until(lambda f: f["event"] == "realtime.message")
            assert frame["data"] == {"still": "open"}
        assert server.stop() == 0
    finally:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)


def test_sigterm_exits_0_promptly_with_http2_clients_that_stopped_reading(tmp_path):
    # Neither client reads after its last response, so neither answers the server's GOAWAY ping or close_notify.
    certs = tmp_path / "certs"
    dev_cert(certs)
    server = start_server(tls_config(certs), tmp_path)
    try:
        url = server.listeners(1)[0]
        idle = httpx.Client(http2=True, verify=trusting(certs / "dev-cert.pem"), timeout=WAIT)
        assert idle.get(f"{url}/api/health").http_version == "HTTP/2"
        options = {"http2": True, "verify": trusting(certs / "dev-cert.pem")}
        stream = SSEStream(server, [unique("bye:")], base=url, client_options=options)
        assert stream.response.http_version == "HTTP/2"
        started = time.monotonic()
        assert server.stop(timeout=15) == 0, server.log()[-3000:]
        assert time.monotonic() - started < 10
        stream.wait_closed()
        stream.close()
        idle.close()
    finally:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)
