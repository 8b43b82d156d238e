"""Unit tests of the DomVia JavaScript packages (node:test, Debian's Node 20; no npm), and the delivery transition
table checked to be the same in the SDK and in the edge."""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from domvia_support import HERE, NODE, PACKAGES, ROOT, SDK

pytestmark = pytest.mark.timeout(60)


def test_the_javascript_unit_tests_pass():
    workdir = Path(tempfile.mkdtemp(prefix="domvia-unit-"))
    try:
        # What `npm install` of the packages would give: node_modules/@domvia/<package>.
        (workdir / "node_modules").mkdir()
        (workdir / "node_modules" / "@domvia").symlink_to(SDK / "@domvia", target_is_directory=True)
        files = sorted((HERE / "domvia" / "unit").glob("*.test.mjs"))
        assert len(files) >= 3
        for file in files:
            shutil.copy(file, workdir / file.name)
        run = subprocess.run([NODE, "--test", *[f.name for f in files]], cwd=workdir, capture_output=True, text=True, timeout=50)
        summary = "\n".join(line for line in run.stdout.splitlines() if line.startswith(("# ", "not ok")))
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert "# fail 0" in summary and "# pass" in summary, summary
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_every_package_has_a_manifest_with_esm_exports():
    for name in [*PACKAGES, "realtime-server"]:
        folder = SDK / "@domvia" / name
        manifest = json.loads((folder / "package.json").read_text())
        assert manifest["name"] == f"@domvia/{name}"
        assert manifest["type"] == "module"
        assert (folder / manifest["exports"]["."]).is_file()


def swift_transitions() -> dict:
    source = (ROOT / "Sources" / "SwitchboardCore" / "Kits" / "DeliveryStatus.swift").read_text()
    names = {case: (wire or case) for case, wire in re.findall(r"^    case (\w+)(?: = \"(\w+)\")?$", source, re.MULTILINE)}
    table = {}
    for case, targets in re.findall(r"case \.(\w+): \[([^\]]*)\]", source):
        table[names[case]] = sorted(names[t] for t in re.findall(r"\.(\w+)", targets))
    initial = re.search(r"static let initial: Set<DeliveryStatus> = \[([^\]]*)\]", source).group(1)
    return {"table": table, "initial": sorted(names[t] for t in re.findall(r"\.(\w+)", initial))}


def test_the_sdk_and_the_edge_share_one_delivery_transition_table():
    script = (
        "const m = await import(process.argv[1]);"
        "console.log(JSON.stringify({table: Object.fromEntries(Object.entries(m.DELIVERY_TRANSITIONS).map(([k, v]) => [k, [...v].sort()])),"
        " initial: [...m.INITIAL_STATES].sort()}));"
    )
    module = (SDK / "@domvia" / "realtime-delivery" / "index.js").as_uri()
    run = subprocess.run([NODE, "--input-type=module", "-e", script, module], capture_output=True, text=True, timeout=20)
    assert run.returncode == 0, run.stderr
    js = json.loads(run.stdout)
    swift = swift_transitions()
    assert js["table"] == swift["table"]
    assert js["initial"] == swift["initial"]
    assert js["table"]["delivered"] == ["support_needed"]
