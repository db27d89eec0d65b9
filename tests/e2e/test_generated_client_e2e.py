"""One client contract: the gateway's merged OpenAPI, from the whole suite running, generates a Python
client with openapi-python-client and TypeScript types with openapi-typescript, both without a warning,
and the generated Python client does real work through the gateway: it registers a customer, reads it,
files a complaint with the customer's own token and reads the overview with every part typed, and it
parses a 409 and a 422 as Problems. The client is generated into the test's folder, never committed."""

import importlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.dbkit import IN_CI
from tests.e2e.conftest import BIN, ROOT
from tests.e2e.test_feedback_e2e import REGISTRATION
from tests.e2e.whole_suite import whole_suite  # noqa: F401 (the fixture)

pytestmark = pytest.mark.e2e
TS_TOOLS = ROOT / "tests" / "client" / "node_modules" / ".bin"
COMPLAINT = {
    "channel": "mobile_app",
    "business_type": "savings",
    "cause": "systems",
    "description": "手机银行转账失败但已扣款",
    "amount": "500.00",
    "branch_code": "HB0007",
}
WARNINGS = ("warning", "unable", "skipping", "error", "cannot")
SETTLE_SECONDS = 30.0


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # the generator runs ruff
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.fixture
def spec_file(whole_suite, tmp_path) -> Path:  # noqa: F811 (the fixture)
    answer = httpx.get(f"{whole_suite.procs['gateway'].url}/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    assert set(answer.json()["info"]["x-services"].values()) == {"merged"}
    path = tmp_path / "openapi.json"
    path.write_bytes(answer.content)
    return path


@pytest.mark.parametrize("whole_suite", ["sqlite"], indirect=True)
def test_typescript_types_generate_without_warnings_and_type_the_overview(spec_file, tmp_path):
    if not (TS_TOOLS / "openapi-typescript").exists():
        message = "openapi-typescript is not installed (make test installs it with npm)"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    output = _run([str(TS_TOOLS / "openapi-typescript"), str(spec_file), "-o", str(tmp_path / "api.d.ts")], tmp_path)
    assert not [line for line in output.splitlines() if any(w in line.lower() for w in WARNINGS)], output
    # the overview's parts are typed: this compiles only if `open_complaints` items have `state` and
    # `points` has `balance`, and fails if either were `{[key: string]: unknown}`
    (tmp_path / "use.ts").write_text(
        'import type { components } from "./api";\n'
        'type Overview = components["schemas"]["CustomerOverview"];\n'
        "export function states(o: Overview): string[] {\n"
        "  return (o.open_complaints ?? []).map((c) => c.state);\n"
        "}\n"
        "export function balance(o: Overview): number | undefined {\n"
        "  return o.points?.balance;\n"
        "}\n"
        "export const bad = (o: Overview): number => o.points?.no_such_field ?? 0;\n"
    )
    compiled = subprocess.run(
        [str(TS_TOOLS / "tsc"), "--noEmit", "--strict", "use.ts"], cwd=tmp_path, capture_output=True, text=True
    )
    assert compiled.returncode != 0 and "no_such_field" in compiled.stdout, compiled.stdout
    assert compiled.stdout.count("error TS") == 1, compiled.stdout  # only the deliberate one


@pytest.mark.parametrize("whole_suite", ["sqlite"], indirect=True)
def test_the_generated_python_client_works_through_the_gateway(whole_suite, spec_file, tmp_path, token):  # noqa: F811
    package = f"suite_client_{uuid.uuid4().hex[:8]}"
    output = _run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(spec_file), "--output-path", package]
        + ["--meta", "none"],
        tmp_path,
    )
    assert not [line for line in output.splitlines()[1:] if any(w in line.lower() for w in WARNINGS)], output
    sys.path.insert(0, str(tmp_path))
    try:
        _use_the_client(package, whole_suite.procs["gateway"].url, token)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


def _use_the_client(package: str, url: str, token) -> None:
    def load(name: str):
        return importlib.import_module(f"{package}.{name}")

    client_mod, models = load("client"), load("models")
    register, read = load("api.customers.register_customer"), load("api.customers.read_customer")
    file_complaint, overview = load("api.complaints.file_complaint"), load("api.overview.customer_overview")
    staff = client_mod.AuthenticatedClient(base_url=url, token=token("staff"))

    created = register.sync_detailed(client=staff, body=models.CustomerCreate.from_dict(REGISTRATION))
    assert created.status_code == 201 and isinstance(created.parsed, models.CustomerRead), created.content
    customer_id = created.parsed.id
    got = read.sync(customer_id, client=staff)
    assert isinstance(got, models.CustomerRead) and got.id == customer_id and got.city == "保定"

    again = register.sync_detailed(client=staff, body=models.CustomerCreate.from_dict(REGISTRATION))
    assert again.status_code == 409 and isinstance(again.parsed, models.Problem), again.content
    assert again.parsed.status == 409 and again.parsed.code
    bad = register.sync_detailed(client=staff, body=models.CustomerCreate.from_dict({**REGISTRATION, "phone": "12"}))
    assert bad.status_code == 422 and isinstance(bad.parsed, models.Problem), bad.content
    assert ["body", "phone"] in [error.loc for error in bad.parsed.errors]

    me = client_mod.AuthenticatedClient(base_url=url, token=token("customer", sub=str(customer_id)))
    body = models.ComplaintCreate.from_dict({**COMPLAINT, "customer_id": str(customer_id)})
    filed = file_complaint.sync_detailed(client=me, body=body)
    assert filed.status_code == 201 and isinstance(filed.parsed, models.ComplaintRead), filed.content

    deadline = time.monotonic() + SETTLE_SECONDS  # segmentation classifies the customer from profile's feed
    while True:
        seen = overview.sync(customer_id, client=staff)
        assert isinstance(seen, models.CustomerOverview), seen
        if seen.segments or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen.partial == [] and isinstance(seen.profile, models.CustomerRead) and seen.profile.id == customer_id
    assert [(c.id, c.state) for c in seen.open_complaints] == [(filed.parsed.id, "received")]
    assert all(isinstance(c, models.ComplaintSummary) for c in seen.open_complaints)
    assert {s.scheme: s.class_ for s in seen.segments}["customer_type"] == "individual"
    assert seen.points is None and seen.latest_satisfaction is None  # not enrolled, no survey answered
