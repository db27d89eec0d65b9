"""What a serving process keeps in memory (the suite's aim is 150 MB per process, measured by
`make bench`'s memory step): an app on SQLite loads no Alembic, no swagger-ui-py package, no
PostgreSQL driver and no jieba, and uvicorn's processes limit glibc's malloc arenas."""

import subprocess
import sys

import pytest

from services.common.serve import limit_malloc_arenas

FACTORIES = {
    "profile": "services.profile.app",
    "segmentation": "services.segmentation.app",
    "feedback": "services.feedback.app",
    "loyalty": "services.loyalty.app",
    "gateway": "gateway.app",
}
KEPT_OUT = ("alembic", "swagger_ui", "psycopg", "psycopg2", "jieba", "mako")


@pytest.mark.parametrize("process", sorted(FACTORIES))
def test_a_serving_process_on_sqlite_loads_none_of_what_it_does_not_use(process, tmp_path):
    code = (
        "import sys\n"
        f"from {FACTORIES[process]} import create_app\n"
        "app = create_app()\n"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {KEPT_OUT!r})))\n"
    )
    env = {f"{process.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_malloc_arenas_are_limited_on_glibc():
    assert limit_malloc_arenas() is True
