"""The `switchboard` command line: `serve` refuses bad configs with one clear line, `token` mints usable tokens.

See PROTOCOLS.md, "Configuration".
"""

import json
import socket
import subprocess
import time

import pytest

from conftest import (
    BINARY,
    MAIN,
    OTHER,
    SSEStream,
    WSClient,
    decode_jwt,
    expect_error,
    free_port,
    publish,
    unique,
)

GOOD = """
default_app = "1001"

[server]
host = "127.0.0.1"
port = 8080

[store]
path = "{store}"

[[apps]]
id = "1001"
key = "pk_cli"
secret = "sk_cli_0123456789abcdef0123456789abcdef"
"""

APP_2 = """
[[apps]]
id = "1002"
key = "pk_cli_2"
secret = "sk_cli_2_0123456789abcdef0123456789abcd"
"""

BAD_CONFIGS = {
    "unknown_top_level_key": (GOOD + '\nbogus = 1\n', "bogus", "unknown key"),
    "unknown_key_in_table": (GOOD.replace('port = 8080', 'port = 8080\nthreads = 4'), "server.threads", "unknown key"),
    "unknown_key_in_app": (GOOD + 'colour = "blue"\n', "apps[0].colour", "unknown key"),
    "wrong_type": (GOOD.replace("port = 8080", 'port = "8080"'), "server.port", "integer"),
    "wrong_type_bool": (GOOD + 'enabled = "yes"\n', "apps[0].enabled", None),
    "port_out_of_range": (GOOD.replace("port = 8080", "port = 70000"), "server.port", "65535"),
    "negative_port": (GOOD.replace("port = 8080", "port = -1"), "server.port", None),
    "missing_secret": (GOOD.replace('secret = "sk_cli_0123456789abcdef0123456789abcdef"\n', ""), "apps[0].secret",
                       "required"),
    "empty_secret": (GOOD.replace('"sk_cli_0123456789abcdef0123456789abcdef"', '""'), "apps[0].secret", "required"),
    "missing_key": (GOOD.replace('key = "pk_cli"\n', ""), "apps[0].key", "required"),
    "unknown_plan": (GOOD + 'plan = "gold"\n', "apps[0].plan", "gold"),
    "duplicate_app_id": (GOOD + APP_2.replace('"1002"', '"1001"'), "apps[1].id", "duplicate"),
    "duplicate_app_key": (GOOD + APP_2.replace('"pk_cli_2"', '"pk_cli"'), "apps[1].key", "duplicate"),
    "bad_history_ttl": (GOOD + '\n[[apps.channels]]\nmatch = "chat:*"\nhistory_ttl = "forever"\n',
                        "apps[0].channels[0].history_ttl", "forever"),
    "zero_history_ttl": (GOOD + '\n[[apps.channels]]\nmatch = "chat:*"\nhistory_ttl = "0s"\n',
                         "apps[0].channels[0].history_ttl", None),
    "rule_without_match": (GOOD + '\n[[apps.channels]]\nhistory_size = 5\n', "apps[0].channels[0].match", "required"),
    "default_app_names_no_app": (GOOD.replace('default_app = "1001"', 'default_app = "9999"'), "default_app", "9999"),
    "unknown_engine": (GOOD + '\n[engine]\nkind = "carrier-pigeon"\n', "engine.kind", "carrier-pigeon"),
    "bad_origin": (GOOD + 'origins = ["https://ok.example", "not an origin"]\n', "apps[0].origins[1]", None),
    "plan_limit_out_of_range": (GOOD + '\n[plans.tiny]\nmax_message_bytes = 0\n', "plans.tiny.max_message_bytes", None),
    "toml_syntax_error": (GOOD.replace('port = 8080', 'port = = 8080'), "TOML", "line"),
    "unterminated_string": (GOOD.replace('key = "pk_cli"', 'key = "pk_cli'), "TOML", None),
}


def write_config(tmp_path, text: str):
    path = tmp_path / "switchboard.toml"
    path.write_text(text.replace("{store}", str(tmp_path / "store.sqlite")))
    return path


def run_cli(*args, timeout=20) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def nothing_listens(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("text,key,detail", list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
def test_serve_with_a_bad_config_exits_2_with_one_line_naming_the_key(tmp_path, text, key, detail):
    config = write_config(tmp_path, text)
    port = free_port()
    result = run_cli("serve", "--config", config, "--port", port)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert key in lines[0], lines[0]
    if detail is not None:
        assert detail in lines[0], lines[0]
    assert "listening" not in result.stdout
    assert nothing_listens(port)
    assert not (tmp_path / "store.sqlite").exists(), "a refused config must not touch the store"


def test_serve_with_a_missing_config_file_exits_2_naming_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    result = run_cli("serve", "--config", missing, "--port", free_port())
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(missing) in lines[0]


def test_serve_port_flag_out_of_range_exits_2(tmp_path):
    config = write_config(tmp_path, GOOD)
    result = run_cli("serve", "--config", config, "--port", 70000)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--port" in lines[0]


def test_serve_with_an_unknown_log_level_exits_2_naming_the_flag(tmp_path):
    result = run_cli("serve", "--config", write_config(tmp_path, GOOD), "--log-level", "bogus")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--log-level" in lines[0] and "warning" in lines[0], lines


def test_serve_with_a_good_config_listens_and_exits_0_on_sigterm(fresh_server):
    server = fresh_server(GOOD)
    assert "listening on" in server.log()
    assert server.stop() == 0
    assert nothing_listens(server.port)


def test_banner_shows_a_development_apps_secret_and_only_a_preview_of_any_other(fresh_server):
    demo = fresh_server(GOOD)
    assert "secret sk_cli_0123456789abcdef0123456789abcdef" in demo.log()
    assert demo.stop() == 0
    production = fresh_server(GOOD + 'environment = "production"\n')
    log = production.log()
    assert "sk_cli_0123456789abcdef0123456789abcdef" not in log, log
    assert "secret sk_live_••••cdef" in log and "Bearer $SECRET" in log
    assert production.stop() == 0


# ---------------------------------------------------------------------------------------------
# switchboard token
# ---------------------------------------------------------------------------------------------


def config_of(server):
    return server.workdir / "switchboard.toml"


def mint(server, *args) -> str:
    result = run_cli("token", "--config", config_of(server), *args)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2, result.stdout
    return token


def test_token_mints_a_connection_token_the_server_accepts_for_sse(server):
    private = unique("private-cli")
    token = mint(server, "--user", "u", "--channels", private)
    header, claims = decode_jwt(token)
    assert header["alg"] == "HS256"
    assert claims["sub"] == "u" and claims["channels"] == [private]
    assert time.time() + 3500 < claims["exp"] <= time.time() + 3601
    with SSEStream(server, [private], token=token) as stream:
        assert stream.status_code == 200
        publish(server, private, {"via": "cli"})
        assert json.loads(stream.next().data) == {"via": "cli"}


def test_token_mints_a_channel_token_the_server_accepts_for_jsonaction(server):
    private = unique("private-clich")
    token = mint(server, "--user", "writer", "--channel", private)
    claims = decode_jwt(token)[1]
    assert claims["channel"] == private and claims["permissions"] == ["subscribe", "publish"]
    with WSClient(server) as writer, WSClient(server) as reader:
        reader.subscribed(private, token=mint(server, "--user", "reader", "--channel", private))
        writer.subscribed(private, token=token)
        writer.send({"action": "publish", "channel": private, "data": {"ok": 1}})
        frame = reader.recv()
        assert frame["data"] == {"ok": 1} and frame["userId"] == "writer"


def test_token_permissions_flag_limits_what_the_token_allows(server):
    private = unique("private-cliro")
    token = mint(server, "--user", "ro", "--channel", private, "--permissions", "subscribe")
    assert decode_jwt(token)[1]["permissions"] == ["subscribe"]
    with WSClient(server) as client:
        client.subscribed(private, token=token)
        client.send({"action": "publish", "channel": private, "data": 1})
        expect_error(client, "forbidden", private)


def test_token_app_flag_signs_with_that_apps_secret(server):
    private = unique("private-cliapp")
    token = mint(server, "--app", OTHER["id"], "--user", "o", "--channel", private)
    with WSClient(server, key=OTHER["key"]) as client:
        client.subscribed(private, token=token)
    with WSClient(server, key=MAIN["key"]) as client:
        client.send({"action": "subscribe", "channel": private, "token": token})
        expect_error(client, "unauthorized", private)


def test_token_ttl_flag_sets_the_expiry(server):
    token = mint(server, "--user", "t", "--channels", "x", "--ttl", 60)
    assert abs(decode_jwt(token)[1]["exp"] - (time.time() + 60)) <= 2


@pytest.mark.parametrize("ttl", [0, -5])
def test_token_with_a_ttl_that_is_not_positive_exits_2_and_mints_nothing(server, ttl):
    result = run_cli("token", "--config", config_of(server), f"--ttl={ttl}")
    assert result.returncode == 2 and "--ttl" in result.stderr and result.stdout == ""


def test_token_for_an_unknown_app_exits_2(server):
    result = run_cli("token", "--config", config_of(server), "--app", "9999")
    assert result.returncode == 2 and "9999" in result.stderr and result.stdout == ""


def test_token_with_a_bad_config_exits_2_naming_the_key(tmp_path):
    config = write_config(tmp_path, GOOD.replace("port = 8080", "port = 70000"))
    result = run_cli("token", "--config", config)
    assert result.returncode == 2 and "server.port" in result.stderr and result.stdout == ""
