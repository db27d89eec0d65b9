"""External tools the deploy tests need (promtool and prometheus from Debian's `prometheus` package,
kubectl's built-in kustomize): found on PATH, installed with apt-get when running as root, and
otherwise a failure in CI (CI=true) and a skip with the reason elsewhere."""

import fcntl
import importlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_LOCK = Path(tempfile.gettempdir()) / "postal-savings-deploy-tools.lock"  # xdist workers must not run apt-get at once


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " (CI must run the deploy checks)")
    pytest.skip(reason)


def _apt_install(package: str) -> str | None:
    """None when installed, else why not."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root or no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for attempt in ("install", "update-then-install"):
            if attempt == "update-then-install":
                subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300, check=False)
            done = subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                env=env,
                capture_output=True,
                timeout=600,
                check=False,
            )
            if done.returncode == 0:
                return None
        return f"apt-get install {package} failed: {done.stderr.decode(errors='replace')[-300:]}"


def require_binary(name: str, apt_package: str | None) -> str:
    """The path of `name`, installing `apt_package` for it when allowed."""
    found = shutil.which(name)
    if found is None and apt_package is not None:
        reason = _apt_install(apt_package)
        found = shutil.which(name)
        if found is None:
            missing(f"{name} not found and could not be installed ({reason})")
    if found is None:
        missing(f"{name} not found on PATH")
    return found


def require_module(name: str, requirement: str):
    """Imports `name`, or fails in CI and skips elsewhere, naming the pip requirement."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} not importable: pip install '{requirement}'")
