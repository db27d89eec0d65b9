"""For `make run DB=postgres` / `make migrate DB=postgres`: creates one PostgreSQL database per service
(each service with services/<name>/alembic.ini, or those named in SUITE_SERVICES) on the server at
SUITE_POSTGRES_URL when missing, and prints the shell `export` lines that point each service and the
gateway at it. A <SERVICE>_DATABASE_URL already set is kept as it is (and its database not created)."""

import os
import shlex
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"


def services() -> list[str]:
    named = [s.strip() for s in os.environ.get("SUITE_SERVICES", "").split(",") if s.strip()]
    found = sorted(ini.parent.name for ini in ROOT.glob("services/*/alembic.ini"))
    unknown = sorted(set(named) - set(found))
    if unknown:
        sys.exit(f"SUITE_SERVICES names services without services/<name>/alembic.ini: {', '.join(unknown)}")
    return named or found


def server_url() -> str:
    url = os.environ.get("SUITE_POSTGRES_URL", DEFAULT_SERVER).rstrip("/")
    if not url.startswith("postgresql://"):
        sys.exit("SUITE_POSTGRES_URL must start with postgresql://")
    return url


def ensure_databases(server: str, names: list[str]) -> None:
    admin_url = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1)).set(database="postgres")
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            existing = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
            for name in names:
                if name not in existing:
                    # The name is built from [a-z_] service names and the prefix checked below: safe to quote.
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                    print(f"created database {name}", file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - one clear line for a person at a terminal
        rendered = make_url(server).render_as_string(hide_password=True)
        sys.exit(f"cannot create the databases on {rendered}: {type(err).__name__}: {err}".splitlines()[0])
    finally:
        engine.dispose()


def main() -> None:
    server = server_url()
    prefix = os.environ.get("SUITE_POSTGRES_DB_PREFIX", "")
    if prefix and not prefix.replace("_", "").isalnum():
        sys.exit("SUITE_POSTGRES_DB_PREFIX may hold only letters, digits and underscores")
    names = services()
    wanted = {s: f"{prefix}{s}" for s in names if not os.environ.get(f"{s.upper()}_DATABASE_URL")}
    ensure_databases(server, list(wanted.values()))
    exports = {
        f"{s.upper()}_DATABASE_URL": make_url(server).set(database=db).render_as_string(hide_password=False)
        for s, db in wanted.items()
    }
    for key, value in exports.items():
        print(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
