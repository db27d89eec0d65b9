"""The body of every service's Alembic env.py: one place for batch mode, type comparison, the URL, and
the one thing autogenerate must not compare: the monthly partitions of a partitioned table on
PostgreSQL, which are made by migrations and the partition job, never by a model."""

from typing import Any

from alembic import context
from sqlalchemy import MetaData

from services.common.db import build_engine
from services.common.partitions import is_partition_of, partitioned_tables


def run_migrations(metadata: MetaData, default_url: str) -> None:
    config = context.config
    connection = config.attributes.get("connection")
    url = config.get_main_option("sqlalchemy.url") or default_url
    partitioned = partitioned_tables(metadata)

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        # Only a table found in the database and absent from the models, named as a partition of a
        # table the models declare partitioned, is passed over.
        if type_ == "table" and reflected and compare_to is None and name:
            return not any(is_partition_of(name, table) for table in partitioned)
        return True

    opts: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": True,
        "render_as_batch": True,
        "include_object": include_object,
    }
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
