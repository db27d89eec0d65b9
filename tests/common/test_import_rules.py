"""Layers point one way: common imports no service, services never import each other, service.py
stays free of web libraries, and the gateway imports no service."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SERVICE_NAMES = sorted(
    p.name for p in (ROOT / "services").iterdir() if p.is_dir() and p.name != "common" and (p / "__init__.py").exists()
)
WEB_LIBRARIES = ("fastapi", "starlette", "httpx")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _py(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _offenders(files: list[Path], forbidden) -> list[str]:
    return [f"{f.relative_to(ROOT)} imports {name}" for f in files for name in imports_of(f) if forbidden(name)]


def test_common_imports_no_service_or_gateway():
    assert not _offenders(
        _py(ROOT / "services" / "common"),
        lambda n: n.startswith("gateway") or any(n.startswith(f"services.{s}") for s in SERVICE_NAMES),
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_imports_no_other_service_or_gateway(service):
    others = [s for s in SERVICE_NAMES if s != service]
    assert not _offenders(
        _py(ROOT / "services" / service),
        lambda n: n.startswith("gateway") or any(n.startswith(f"services.{o}") for o in others),
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_logic_imports_no_web_library(service):
    files = list((ROOT / "services" / service).glob("service.py")) + list(
        (ROOT / "services" / service).glob("service/*.py")
    )
    assert files
    assert not _offenders(files, lambda n: n.split(".")[0] in WEB_LIBRARIES)


def test_gateway_imports_no_service():
    assert not _offenders(_py(ROOT / "gateway"), lambda n: any(n.startswith(f"services.{s}") for s in SERVICE_NAMES))


def test_the_rule_itself_catches_an_offender(tmp_path):
    bad = tmp_path / "service.py"
    bad.write_text("from fastapi import Depends\nimport services.profile.models\nfrom . import x\n")
    assert imports_of(bad) == {"fastapi", "services.profile.models"}
