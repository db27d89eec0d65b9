"""Layers point one way: common imports no service, services never import each other, every module
under a service's service/ package stays free of web libraries, the gateway imports no service, and
no module imports relatively. Every service has the one layout (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SERVICE_NAMES = sorted(
    p.name for p in (ROOT / "services").iterdir() if p.is_dir() and p.name != "common" and (p / "__init__.py").exists()
)
WEB_LIBRARIES = ("fastapi", "starlette", "httpx")


def relative_imports(path: Path) -> list[int]:
    """Line numbers of `from . import x` / `from ..pkg import y` in a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]


def imports_of(path: Path) -> set[str]:
    """Every absolute module a file imports; `from services import profile` counts as services.profile."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    return names


def within(name: str, *packages: str) -> bool:
    """True when module `name` is one of `packages` or inside one (services.profile, not services.profiles)."""
    return any(name == p or name.startswith(f"{p}.") for p in packages)


def _py(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _offenders(files: list[Path], forbidden) -> list[str]:
    return [f"{f.relative_to(ROOT)} imports {name}" for f in files for name in imports_of(f) if forbidden(name)]


def test_common_imports_no_service_or_gateway():
    assert not _offenders(
        _py(ROOT / "services" / "common"),
        lambda n: within(n, "gateway", *(f"services.{s}" for s in SERVICE_NAMES)),
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_imports_no_other_service_or_gateway(service):
    others = [s for s in SERVICE_NAMES if s != service]
    assert not _offenders(
        _py(ROOT / "services" / service),
        lambda n: within(n, "gateway", *(f"services.{o}" for o in others)),
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_logic_imports_no_web_library(service):
    files = _py(ROOT / "services" / service / "service")
    assert len(files) > 1
    assert not _offenders(files, lambda n: within(n, *WEB_LIBRARIES))


def test_no_module_imports_relatively():
    files = _py(ROOT / "services") + _py(ROOT / "gateway")
    found = [f"{f.relative_to(ROOT)}:{line}" for f in files for line in relative_imports(f)]
    assert found == []


TOP_LEVEL = {"__init__.py", "app.py", "config.py", "models.py", "metrics.py", "consumers.py", "alembic.ini"}
PACKAGES = {"api", "schemas", "service", "tools", "migrations", "data", "__pycache__"}


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_has_the_one_layout(service):
    root = ROOT / "services" / service
    files = {p.name for p in root.iterdir() if p.is_file()}
    folders = {p.name for p in root.iterdir() if p.is_dir()}
    assert {"__init__.py", "app.py", "config.py", "models.py", "metrics.py", "alembic.ini"} <= files
    assert files <= TOP_LEVEL | {"schemas.py"}, f"not in the one layout: {sorted(files - TOP_LEVEL)}"
    assert folders <= PACKAGES, f"not in the one layout: {sorted(folders - PACKAGES)}"
    assert {"api", "service", "migrations"} <= folders
    assert (root / "api" / "__init__.py").exists() and (root / "api" / "deps.py").exists()
    assert (root / "schemas.py").exists() != (root / "schemas").is_dir()
    assert "routers" in (root / "api" / "__init__.py").read_text()


def test_gateway_imports_no_service():
    assert not _offenders(_py(ROOT / "gateway"), lambda n: within(n, *(f"services.{s}" for s in SERVICE_NAMES)))


def test_the_rule_itself_catches_an_offender(tmp_path):
    bad = tmp_path / "service.py"
    bad.write_text("from fastapi import Depends\nfrom services import loyalty\nfrom . import x\n")
    assert imports_of(bad) == {"fastapi", "fastapi.Depends", "services", "services.loyalty"}
    assert relative_imports(bad) == [3]
    assert within("services.loyalty", "services.loyalty") and within("fastapi.Depends", *WEB_LIBRARIES)
    assert not within("services.loyalty_tools", "services.loyalty")
