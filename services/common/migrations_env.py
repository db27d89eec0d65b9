"""The body of every service's Alembic env.py: one place for batch mode, type comparison and the URL."""

from typing import Any

from alembic import context
from sqlalchemy import MetaData

from services.common.db import build_engine


def run_migrations(metadata: MetaData, default_url: str) -> None:
    config = context.config
    connection = config.attributes.get("connection")
    url = config.get_main_option("sqlalchemy.url") or default_url
    opts: dict[str, Any] = {"target_metadata": metadata, "compare_type": True, "render_as_batch": True}
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is not None:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = build_engine(url)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **opts)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
