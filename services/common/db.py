"""Database engine and units of work for SQLite (WAL, foreign keys, one writer) and PostgreSQL."""

import logging
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio.to_thread
from sqlalchemy import (
    BigInteger,
    Connection,
    CursorResult,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Result,
    Row,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    exc,
    func,
    insert,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, registry
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator

from services.common.storage import WriteHealth, is_storage_error

log = logging.getLogger(__name__)

T = TypeVar("T")
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A 64-bit key on PostgreSQL, the rowid alias on SQLite (which only auto-increments INTEGER PRIMARY KEY).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def service_registry() -> registry:
    """A registry with its own metadata for a service's SQLModel base, so each service keeps its own
    Alembic history: `class Base(SQLModel, registry=service_registry()): ...` in its models.py (a
    class statement, so type checkers see the models as classes)."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin event below emits BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        # What a delete or an update frees is overwritten with zeros, so an erased customer's old
        # values do not linger in free pages and cells of the file (Database.scrub_files).
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("sqlite_single_statement"):
            return  # one SELECT needs no transaction around it
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("sqlite_immediate") else "BEGIN")


def build_engine(url: str, **kwargs: Any) -> Engine:
    # A failing statement's error (and so its logged traceback) never carries its parameters: they
    # are customers' names, phones and free text.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # How long a write waits for another process's lock: 10 s, or the URL's `?timeout=<seconds>`.
        timeout = float(make_url(url).query.get("timeout", 10))  # type: ignore[arg-type]
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout}, **kwargs)
        _install_sqlite_pragmas(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


class Database:
    """Hands out sessions. `write()` is a unit of work: on SQLite it holds the process's single
    writer slot and BEGIN IMMEDIATE, so writers queue in-process instead of backing off on the
    file lock. Bound to a connection (tests), sessions join its transaction through savepoints."""

    def __init__(self, url: str | None = None, *, connection: Connection | None = None):
        self._bind: Connection | Engine
        if connection is not None:
            self.url = connection.engine.url.render_as_string(hide_password=False)
            self.engine = connection.engine
            self._bind = connection
        else:
            assert url, "a database URL or a connection is required"
            self.url = url
            self.engine = build_engine(url)
            self._bind = self.engine
        self.dialect = self.engine.dialect.name
        self.write_health = WriteHealth()  # storage failures, for readiness (services/common/storage.py)
        self._on_dispose: list[Callable[[], None]] = []
        self._writer = threading.Lock() if self.dialect == "sqlite" and connection is None else None
        # A lone SELECT outside any transaction: no BEGIN/ROLLBACK round trips around it.
        self._single = self.engine.execution_options(
            **({"sqlite_single_statement": True} if self.dialect == "sqlite" else {"isolation_level": "AUTOCOMMIT"})
        )

    def _session(self, bind: Connection | Engine) -> Session:
        if isinstance(self._bind, Connection):
            return Session(bind=self._bind, expire_on_commit=False, join_transaction_mode="create_savepoint")
        return Session(bind=bind, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._session(self._bind) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """The caller commits explicitly; anything left uncommitted is rolled back on exit."""
        bind: Connection | Engine = self._bind
        if self._writer is not None:
            bind = self.engine.execution_options(sqlite_immediate=True)
            self._writer.acquire()
        try:
            with self._session(bind) as session:
                yield session
            self.write_health.succeeded()
        except Exception as err:
            if is_storage_error(err):
                self.write_health.failed(err)
            raise
        finally:
            if self._writer is not None:
                self._writer.release()

    def first_row(self, stmt: Executable, params: dict[str, Any] | None = None) -> Row[Any] | None:
        """The first row of one SELECT, on a bare connection: the hot-read path skips the Session and
        the transaction (docs/architecture.md: the ORM, not the database, sets the read ceiling)."""
        if isinstance(self._bind, Connection):
            return self._bind.execute(stmt, params).first()
        with self._single.connect() as conn:
            return conn.execute(stmt, params).first()

    async def run_read(self, fn: Callable[[], T]) -> T:
        """Runs a short read from an async handler. On SQLite it runs inline: a WAL read never waits
        on a lock and costs microseconds of CPU, less than a thread-pool hop. On PostgreSQL it is a
        network round trip, so it goes to the thread pool and never blocks the event loop."""
        if self.dialect == "sqlite":
            return fn()
        return await anyio.to_thread.run_sync(fn)

    def prepared_row(self, table: Table, key: str) -> "PreparedRow":
        """A read of one `table` row by its `key` column, compiled once (see PreparedRow)."""
        return PreparedRow(self, table, key)

    def scrub_files(self, attempts: int = 5) -> bool:
        """After an erasure has committed: on SQLite, checkpoint the WAL into the database and truncate
        it, so the old page images that still hold the erased values leave the files (secure_delete,
        set on every connection, zeroes what the erasure freed in the database file itself). A reader
        still on an older snapshot keeps the WAL from being emptied: tried `attempts` times, then left
        to SQLite's automatic checkpoints and logged. True when the WAL is empty. On PostgreSQL there is
        nothing to do here: dead row versions are not readable through SQL, and VACUUM reclaims them."""
        if self.dialect != "sqlite" or isinstance(self._bind, Connection):
            return True
        for attempt in range(attempts):
            if self._writer is not None:
                self._writer.acquire()
            try:
                with self._single.connect() as conn:
                    row = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            finally:
                if self._writer is not None:
                    self._writer.release()
            if row is not None and row[0] == 0:
                return True
            time.sleep(0.05 * (attempt + 1))
        log.warning("the WAL could not be emptied after an erasure; SQLite's next checkpoint will")
        return False

    def dispose(self) -> None:
        for close in self._on_dispose:
            close()
        if not isinstance(self._bind, Connection):
            self.engine.dispose()


def _pg_arrays(
    s: Session, table: Table, names: list[str], rows: list[dict[str, Any]]
) -> tuple[list[str], dict[str, Any]]:
    """Each column's values as one array parameter, through the column type's own bind processing, and
    the SQL that casts it to an array of the column's type."""
    dialect = s.get_bind().dialect
    casts, params = [], {}
    for i, name in enumerate(names):
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[name] for row in rows]
        params[f"a{i}"] = [process(v) for v in values] if process else values
        casts.append(f"CAST(:a{i} AS {column_type.compile(dialect=dialect)}[])")
    return casts, params


def next_ids_on_sqlite(s: Session, column: Any, count: int) -> list[int]:
    """The `count` ids after the highest in `column`: those SQLite would hand out itself, for a table
    whose id is not its row number (a key of two columns, or ids given to other rows too). Safe only in
    a write transaction (BEGIN IMMEDIATE, Database.write): SQLite has one writer at a time."""
    first = int(s.execute(select(func.coalesce(func.max(column), 0))).scalar_one()) + 1
    return list(range(first, first + count))


def insert_rows(s: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Inserts `rows` (dicts with the same keys), in their order. On PostgreSQL with COPY, in the
    session's transaction: one statement for any count, where executemany costs a statement (and the
    client a round of work) per row; values go through each column type's own bind processing.
    Elsewhere executemany (SQLite's loops in C). Not for values that must stay out of logs: unlike a
    statement's parameters (hidden, build_engine), a COPY error's context quotes the row it failed on."""
    if not rows:
        return
    if s.get_bind().dialect.name != "postgresql":
        s.execute(insert(table), rows)
        return
    dialect = s.get_bind().dialect
    names = list(rows[0])
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    with copy_into(s, table, names) as copy:
        for row in rows:
            copy.write_row([p(row[n]) if p else row[n] for n, p in zip(names, processors, strict=True)])


@contextmanager
def copy_into(s: Session, table: Table, columns: list[str]) -> Iterator[Any]:
    """PostgreSQL only: psycopg's COPY ... FROM STDIN into `table`'s `columns`, on the session's
    connection and in its transaction. The statement goes past SQLAlchemy, so the driver's errors are
    raised as SQLAlchemy's: a unique violation as IntegrityError (a batch's retry), a lost connection
    or a lock timeout as OperationalError (a storage failure: 503, services/common/storage.py)."""
    import psycopg  # here, not at the top: a process on SQLite never loads the driver (a few MB)

    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    raw = s.connection().connection.driver_connection
    assert raw is not None
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            yield copy
    except psycopg.IntegrityError as err:
        raise exc.IntegrityError(statement, None, err) from err
    except psycopg.OperationalError as err:
        raise exc.OperationalError(statement, None, err) from err


def update_rows(s: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """For each of `rows` (dicts with the same keys), sets the other keys' columns of the row whose
    `key` column has the row's `key` value. On PostgreSQL one UPDATE ... FROM unnest(); elsewhere
    executemany."""
    if not rows:
        return
    names = list(rows[0])
    others = [n for n in names if n != key]
    if s.get_bind().dialect.name != "postgresql":
        stmt = (
            update(table).where(table.c[key] == bindparam(f"k_{key}")).values({n: bindparam(f"k_{n}") for n in others})
        )
        s.execute(stmt, [{f"k_{n}": row[n] for n in names} for row in rows])
        return
    casts, params = _pg_arrays(s, table, names, rows)
    columns = ", ".join(f'"{n}"' for n in names)
    sets = ", ".join(f'"{n}" = u."{n}"' for n in others)
    s.execute(
        text(
            f'UPDATE "{table.name}" AS t SET {sets} FROM unnest({", ".join(casts)}) AS u({columns}) '  # noqa: S608 - names from the table
            f'WHERE t."{key}" = u."{key}"'
        ),
        params,
    )


def chunk_size(s: Session) -> int:
    """Values to pass to one in_values(): many on PostgreSQL (one array parameter), 500 elsewhere."""
    return 10_000 if s.get_bind().dialect.name == "postgresql" else 500


def in_values(s: Session, column: Any, values: list[Any]) -> Any:
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter whatever the count, so
    the statement's text (and its parse and plan) is the same for every count."""
    if s.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


class PreparedRow:
    """The hottest read there is: one row by key. On a SQLite file it runs on a connection kept per
    thread, straight through the DB-API with the statement compiled once, skipping the pool checkout
    and SQLAlchemy's execution machinery (about 85% of a pooled Core read's CPU). Values still go
    through each column type's own bind and result processors, so a row reads exactly as through
    SQLAlchemy. WAL lets a reader on its own connection see every committed write. Elsewhere (PostgreSQL,
    or a Database bound to a test's connection) it is `first_row` through `run_read`."""

    def __init__(self, db: Database, table: Table, key: str):
        self.db = db
        self.stmt = select(table).where(table.c[key] == bindparam("key"))
        self.direct = db.dialect == "sqlite" and not isinstance(db._bind, Connection)
        dialect = db.engine.dialect
        self.sql = str(self.stmt.compile(dialect=dialect))
        self.bind = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        self.columns = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in table.columns]
        self.row_type: Any = namedtuple(f"{table.name}_row", [c.key for c in table.columns])  # type: ignore[misc]  # noqa: PYI024 - fields known only at run time
        self._local = threading.local()
        self._opened: list[Any] = []
        db._on_dispose.append(self.close)

    async def __call__(self, key: Any) -> Any:
        """The row as a named tuple (attribute access like a Row), or None."""
        if not self.direct:
            return await self.db.run_read(lambda: self.db.first_row(self.stmt, {"key": key}))
        found = self._connection().execute(self.sql, (self.bind(key) if self.bind else key,)).fetchone()
        if found is None:
            return None
        return self.row_type._make([p(v) if p else v for p, v in zip(self.columns, found, strict=True)])

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.db.engine.raw_connection()  # runs the connect pragmas; autocommit, so no stale snapshot
            self._local.conn = conn
            self._opened.append(conn)
        return conn.driver_connection

    def close(self) -> None:
        for conn in self._opened:
            conn.close()
        self._opened.clear()
        self._local = threading.local()


def upsert_insert(bind: Session | Connection | Engine | str) -> Callable[..., Any]:
    """The dialect's own `insert`, whose statements take `on_conflict_do_nothing` and
    `on_conflict_do_update` with the same arguments on PostgreSQL and SQLite. `bind` may also be a
    dialect name."""
    engine = bind if isinstance(bind, str) else bind.get_bind() if isinstance(bind, Session) else bind
    name = engine if isinstance(engine, str) else engine.dialect.name
    return pg_insert if name == "postgresql" else sqlite_insert


def table_of(model: type[Any]) -> Table:
    """A SQLModel table class's Core Table (`Model.__table__`, which SQLModel's types do not declare)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (Session.execute types its result as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def is_unique_violation(err: exc.IntegrityError) -> bool:
    text = str(err.orig).lower()
    return "unique" in text or "duplicate key" in text
