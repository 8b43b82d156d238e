"""The Maravilla stack for tests: a Switchboard edge whose `[proxy] upstream` is the test-side Maravilla app
(`maravilla/app.mjs`: the seed's server routes, verbatim, on Node), so pages, their API routes, `/sdk/…` and `/_rt/ws`
share one origin as on Maravilla."""

import shutil
from pathlib import Path

from browser_clients_support import NodeProcess, node_project
from conftest import ADMIN_TOKEN, Server, free_port, start_server

APP = {"id": "2001", "key": "pk_test_maravilla", "secret": "sk_test_maravilla_0123456789abcdef012345"}
OTHER_TENANT = {"id": "2002", "key": "pk_test_maravilla_b", "secret": "sk_test_maravilla_b_0123456789abcdef0123"}
APP_SOURCE = Path(__file__).parent / "maravilla"


def edge_config(upstream_port: int | None = None) -> str:
    proxy = f'\n[proxy]\nupstream = "http://127.0.0.1:{upstream_port}"\n' if upstream_port else ""
    return f"""
default_app = "{APP['id']}"

[server]
host = "127.0.0.1"
port = 0

[store]
path = "{{store}}"

[admin]
token = "{ADMIN_TOKEN}"

[limits]
new_connections_per_ip_per_second = 1000
{proxy}
[[apps]]
id = "{APP['id']}"
key = "{APP['key']}"
secret = "{APP['secret']}"
plan = "enterprise"

[[apps]]
id = "{OTHER_TENANT['id']}"
key = "{OTHER_TENANT['key']}"
secret = "{OTHER_TENANT['secret']}"
plan = "enterprise"
"""


def platform_env(edge: Server, app=APP) -> dict:
    """The environment `getPlatform()` reads (see the package README)."""
    return {"MARAVILLA_REALTIME_URL": edge.http, "MARAVILLA_REALTIME_SECRET": app["secret"]}


class Stack:
    """An edge in front of the Maravilla test app."""

    def __init__(self):
        self.app_port = free_port()
        self.edge = start_server(edge_config(self.app_port))
        folder = node_project()
        for item in APP_SOURCE.iterdir():
            if item.is_dir():
                shutil.copytree(item, folder / item.name)
            else:
                shutil.copy(item, folder / item.name)
        self.app = NodeProcess(folder / "app.mjs", platform_env(self.edge), self.app_port)

    def page(self, snippet: str) -> str:
        return f"{self.edge.http}/pages/snippet.html?snippet={snippet}"

    def close(self):
        self.app.stop()
        if self.edge.process.poll() is None:
            self.edge.stop()
