"""Survey responses and their answers partitioned by month on PostgreSQL: the migrations convert stored
responses (each in its month, answers and follow-ups still referring to them through survey_response_key)
and stored answers, and back, on both databases; one response per survey and customer holds across
partitions, with the same 409; a later month's update finds the response and its answers in their own
partitions; deleting a key deletes the response and its answers; a month-bounded analysis reads only
that month's partitions of responses and answers (their EXPLAIN plans); feedback's month_partitions job
creates the months ahead of both. SQLite keeps one table each and the job does nothing there."""

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import delete, exc, func, inspect, select, text

from services.common.db import Database, table_of
from services.common.partitions import add_months, ensure_partitions_ahead, month_start, partition_name
from services.feedback.app import build_complaints, create_app
from services.feedback.models import FollowUp, SurveyAnswer, SurveyResponse, SurveyResponseKey, metadata
from services.feedback.service import analysis
from services.feedback.service.jobs import build_jobs
from tests import dbkit
from tests.clock import ManualClock
from tests.feedback import factories as f
from tests.feedback.conftest import ALEMBIC_INI, feedback_settings
from tests.organisation import HOME_OUTLET

BEFORE = "19036e433dfa"  # the revision before survey responses were partitioned
BEFORE_ANSWERS = "78654ebfd073"  # the revision before their answers were
T, TA = "survey_response", "survey_answer"
NOW = datetime.now(UTC)
THIS_MONTH = month_start(NOW)
RESPONSE, ANSWER, FOLLOW_UP, KEY = (table_of(m) for m in (SurveyResponse, SurveyAnswer, FollowUp, SurveyResponseKey))
STORED_MONTHS = [add_months(THIS_MONTH, -k).replace(day=3) for k in (0, 2, 14)]  # the migration tests' rows


pg_url, pg = dbkit.partition_fixtures("feedback", ALEMBIC_INI)


def _month(offset: int, table: str = T) -> str:
    return partition_name(table, add_months(THIS_MONTH, offset))


def _count(conn, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - test constants


def _stored_response(
    conn, survey_id: uuid.UUID, customer_id: str, at: datetime, nps: int, keyed: bool = False
) -> uuid.UUID:
    """A response as the revision before partitioning stored it (`keyed`: the revision before its
    answers were, with the response's key first), with two answers and, for a detractor, a follow-up."""
    rid = uuid.uuid4()
    if keyed:
        conn.execute(KEY.insert().values(id=rid, survey_id=survey_id, customer_id=customer_id, responded_at=at))
    conn.execute(
        RESPONSE.insert().values(
            id=rid,
            survey_id=survey_id,
            survey_version=1,
            customer_id=customer_id,
            channel="app",
            nps=nps,
            entered_by=customer_id,
            responded_at=at,
            updated_at=at,
        )
    )
    common = {"response_id": rid, "survey_id": survey_id, "responded_at": at}
    answers = [
        {"question_id": "nps", "value_int": nps, "choice": None},
        {"question_id": "wait", "value_int": None, "choice": "<10min"},
    ]
    conn.execute(ANSWER.insert(), [{**common, **a} for a in answers])
    if nps <= 6:
        conn.execute(
            FOLLOW_UP.insert().values(
                id=uuid.uuid4(),
                response_id=rid,
                survey_id=survey_id,
                customer_id=customer_id,
                reason=f"nps_{nps}",
                status="open",
                created_at=at,
                due_at=at + timedelta(hours=48),
            )
        )
    return rid


def _migrated_to(revision: str, backend: str, tmp_path) -> tuple[Config, Database]:
    """A fresh database of `backend` migrated to `revision`, its Alembic config and the database."""
    if backend == "sqlite":
        url = dbkit.sqlite_url(tmp_path / "feedback.db")
    else:
        dbkit.require_postgres()
        url = dbkit.fresh_pg_database(f"test_feedback_partitions_{dbkit.worker_id()}")
    cfg = dbkit.alembic_config(ALEMBIC_INI, url)
    command.upgrade(cfg, revision)
    return cfg, Database(url)


@pytest.mark.parametrize("backend", dbkit.BACKENDS)
def test_migration_keeps_stored_responses_and_downgrade_restores_them(backend, tmp_path):
    cfg, db = _migrated_to(BEFORE, backend, tmp_path)
    survey_id = uuid.uuid4()
    months = STORED_MONTHS
    with db.engine.begin() as conn:
        rids = [
            _stored_response(conn, survey_id, str(uuid.uuid4()), at, nps)
            for at, nps in zip(months, (9, 3, 6), strict=True)
        ]
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        parts = dbkit.partition_rows(conn, T) if backend == "postgres" else {}
        keys = set(conn.execute(select(KEY.c.id, KEY.c.responded_at)).all())
        counts = [_count(conn, t) for t in ("survey_response", "survey_answer", "follow_up")]
        inspected = inspect(conn)
        primary_key = inspected.get_pk_constraint(T)["constrained_columns"]
        refers_to = {
            t: {fk["referred_table"] for fk in inspected.get_foreign_keys(t)} for t in ("survey_answer", "follow_up")
        }
    assert {k for k, _ in keys} == set(rids) and {at for _, at in keys} == set(months)
    assert counts == [3, 6, 2]
    assert primary_key == ["id", "responded_at"]
    assert refers_to == {"survey_answer": {"survey_response_key"}, "follow_up": {"survey_response_key"}}
    if backend == "postgres":  # a partition a month from the oldest response to three months ahead, a default
        assert len(parts) == 14 + 3 + 1 + 1 and parts[f"{T}_default"] == 0
        assert {n: c for n, c in parts.items() if c} == {_month(0): 1, _month(-2): 1, _month(-14): 1}
    with db.engine.connect() as conn:  # a second response of a customer to the survey, in another month
        customer = conn.execute(select(KEY.c.customer_id).where(KEY.c.id == rids[2])).scalar_one()
        with pytest.raises(exc.IntegrityError):
            conn.execute(
                KEY.insert().values(id=uuid.uuid4(), survey_id=survey_id, customer_id=customer, responded_at=NOW)
            )
        conn.rollback()

    command.downgrade(cfg, BEFORE)
    with db.engine.begin() as conn:
        assert [_count(conn, t) for t in ("survey_response", "survey_answer", "follow_up")] == [3, 6, 2]
        assert backend == "sqlite" or dbkit.partition_rows(conn, T) == {}
        assert inspect(conn).get_pk_constraint(T)["constrained_columns"] == ["id"]
        conn.execute(delete(RESPONSE).where(RESPONSE.c.id == rids[0]))  # answers refer to responses again:
        assert _count(conn, "survey_answer") == 4  # the response's two went with it
    with db.engine.connect() as conn, pytest.raises(exc.IntegrityError):
        _stored_response(conn, survey_id, customer, NOW, 9)  # unique per survey and customer again
    db.dispose()


def _answers(conn) -> set:
    return set(conn.execute(select(ANSWER.c.id, ANSWER.c.response_id, ANSWER.c.responded_at, ANSWER.c.question_id)))


@pytest.mark.parametrize("backend", dbkit.BACKENDS)
def test_migration_keeps_stored_answers_and_downgrade_restores_them(backend, tmp_path):
    cfg, db = _migrated_to(BEFORE_ANSWERS, backend, tmp_path)
    survey_id = uuid.uuid4()
    with db.engine.begin() as conn:
        rids = [_stored_response(conn, survey_id, str(uuid.uuid4()), at, 9, keyed=True) for at in STORED_MONTHS]
        stored = _answers(conn)
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        parts = dbkit.partition_rows(conn, TA) if backend == "postgres" else {}
        kept = _answers(conn)
        inspected = inspect(conn)
        primary_key = inspected.get_pk_constraint(TA)["constrained_columns"]
        refers_to = {fk["referred_table"] for fk in inspected.get_foreign_keys(TA)}
        indexes = {i["name"] for i in inspected.get_indexes(TA)}
    assert kept == stored and len(kept) == 6
    assert primary_key == ["id", "responded_at"] and refers_to == {"survey_response_key"}
    assert indexes == {"ix_survey_answer_response_id", "ix_survey_answer_survey_id_question_id"}
    if backend == "postgres":  # a partition a month from the oldest answer to three months ahead, a default
        assert len(parts) == 14 + 3 + 1 + 1 and parts[f"{TA}_default"] == 0
        assert {n: c for n, c in parts.items() if c} == {_month(k, TA): 2 for k in (0, -2, -14)}
        with db.engine.begin() as conn:  # the sequence still numbers an answer written without an id
            later = {
                "response_id": rids[0],
                "survey_id": survey_id,
                "responded_at": STORED_MONTHS[0],
                "question_id": "x",
            }
            new_id = conn.execute(ANSWER.insert().values(**later).returning(ANSWER.c.id)).scalar_one()
            assert new_id > max(i for i, *_ in stored)
            conn.execute(delete(ANSWER).where(ANSWER.c.id == new_id))
    with db.engine.begin() as conn:  # deleting a key deletes its answers, in their month
        conn.execute(delete(KEY).where(KEY.c.id == rids[1]))
        assert _count(conn, TA) == 4
        stored = _answers(conn)

    command.downgrade(cfg, BEFORE_ANSWERS)
    with db.engine.begin() as conn:
        assert _answers(conn) == stored
        assert backend == "sqlite" or dbkit.partition_rows(conn, TA) == {}
        inspected = inspect(conn)
        assert inspected.get_pk_constraint(TA)["constrained_columns"] == ["id"]
        assert {fk["referred_table"] for fk in inspected.get_foreign_keys(TA)} == {"survey_response_key"}
        assert len(inspected.get_indexes(TA)) == 2
        later = {"response_id": rids[0], "survey_id": survey_id, "responded_at": STORED_MONTHS[0], "question_id": "x"}
        conn.execute(ANSWER.insert().values(**later))  # numbered by the table again (rowid, sequence)
        assert conn.execute(select(func.max(ANSWER.c.id))).scalar_one() > max(i for i, *_ in stored)
    db.dispose()


def test_one_response_per_customer_across_months_with_the_same_409(client, auth, clock, feedback_db):
    # On PostgreSQL each month the test's clock passes gets its own partition (in the test's transaction).
    created = ensure_partitions_ahead(feedback_db, metadata, clock.now)
    assert len(created) == (0 if feedback_db.url.startswith("sqlite") else 8)  # responses' and answers
    s = f.published_survey(client, auth("staff"))
    cid = str(uuid.uuid4())
    me = auth("customer", sub=cid)
    first = f.answer(client, me, s["id"], nps=9)
    clock.advance(days=40)  # the next month: another partition
    again = client.post(f"/v1/surveys/{s['id']}/responses", json={"answers": {"nps": 3}}, headers=me)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert (again.json()["code"], again.json()["response_id"]) == ("survey_already_answered", first["id"])

    u = f.published_survey(client, auth("staff"), allow_update=True)
    kept = f.answer(client, me, u["id"], nps=9, used=["app"])
    clock.advance(days=40)  # the update, a month later, finds the response in its own month
    updated = f.answer(client, me, u["id"], expect=200, nps=2)
    assert (updated["id"], updated["responded_at"], updated["nps"]) == (kept["id"], kept["responded_at"], 2)
    with feedback_db.read() as session:
        scores = session.execute(select(RESPONSE.c.nps).where(RESPONSE.c.customer_id == cid)).scalars().all()
        answered = session.execute(
            select(ANSWER.c.question_id, ANSWER.c.responded_at).where(ANSWER.c.response_id == uuid.UUID(kept["id"]))
        ).all()
        ids = session.execute(select(ANSWER.c.id)).scalars().all()
    assert sorted(scores) == [2, 9] and [q for q, _ in answered] == ["nps"]
    assert [at for _, at in answered] == [datetime.fromisoformat(kept["responded_at"])]  # the response's month
    assert len(ids) == len(set(ids))  # numbered once each on both databases


@pytest.mark.postgres
def test_a_concurrent_first_response_waits_for_the_others_key_and_is_the_same_409(pg, auth):
    client, _ = _app_at(pg, NOW)
    window = {"opens_at": add_months(THIS_MONTH, -3).isoformat(), "closes_at": add_months(THIS_MONTH, 3).isoformat()}
    survey = f.published_survey(client, auth("staff"), **window)
    cid = str(uuid.uuid4())
    answered: dict = {}
    with pg.engine.connect() as other:
        other.begin()  # the other first answer, a month earlier, not committed yet
        sid, earlier = uuid.UUID(survey["id"]), NOW - timedelta(days=40)
        other.execute(KEY.insert().values(id=uuid.uuid4(), survey_id=sid, customer_id=cid, responded_at=earlier))
        body = {"answers": {"nps": 9}}
        post = threading.Thread(
            target=lambda: answered.update(
                r=client.post(f"/v1/surveys/{survey['id']}/responses", json=body, headers=auth("customer", sub=cid))
            )
        )
        post.start()
        post.join(1.0)
        assert post.is_alive()  # waiting on the key's unique index
        other.commit()
    post.join(10)
    client.close()
    assert answered["r"].status_code == 409, answered["r"].text
    assert answered["r"].json()["code"] == "survey_already_answered"
    with pg.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RESPONSE)).scalar_one() == 0  # nothing half-written


def test_deleting_a_key_deletes_the_response_and_its_answers(client, auth, feedback_db):
    s = f.published_survey(client, auth("staff"))
    gone = f.answer(client, auth("customer"), s["id"], nps=9, used=["app", "atm"])
    kept = f.answer(client, auth("customer"), s["id"], nps=10)
    with feedback_db.write() as session:
        session.execute(delete(KEY).where(KEY.c.id == uuid.UUID(gone["id"])))
        session.commit()
    with feedback_db.read() as session:
        responses = session.execute(select(RESPONSE.c.id)).scalars().all()
        answers = session.execute(select(ANSWER.c.response_id).distinct()).scalars().all()
    assert responses == answers == [uuid.UUID(kept["id"])]


def _app_at(db: Database, now: datetime) -> tuple[TestClient, ManualClock]:
    clock = ManualClock(now)
    return TestClient(create_app(feedback_settings(db.url), db=db, clock=clock)), clock


@pytest.mark.postgres
def test_month_bounded_analysis_reads_only_that_months_partition(pg, auth):
    client, clock = _app_at(pg, add_months(THIS_MONTH, -2).replace(day=5))
    survey = f.published_survey(
        client,
        auth("staff"),
        opens_at=add_months(THIS_MONTH, -3).isoformat(),
        closes_at=add_months(THIS_MONTH, 3).isoformat(),
    )
    for k in (2, 1, 0):
        clock.now = add_months(THIS_MONTH, -k).replace(day=5)
        f.answer(client, auth("customer", sub=f.known_customer(client)), survey["id"], nps=10 - k, wait="<10min")
    client.close()
    history = [_month(-2), _month(-1), _month(-2, TA), _month(-1, TA)]
    assert ensure_partitions_ahead(pg, metadata, NOW) == history  # out of the default partitions
    sid, start, end = uuid.UUID(survey["id"]), add_months(THIS_MONTH, -1), THIS_MONTH
    result = analysis.analyse_survey(pg, survey_id=sid, start=start, end=end, small_sample=30, reach={HOME_OUTLET})
    assert (result.responses, result.nps.value) == (1, 100.0)
    assert [(d.question_id, d.n) for d in result.distributions if d.n] == [("nps", 1), ("wait", 1)]
    with pg.engine.connect() as conn:
        scores, plan = dbkit.scanned_relations(conn, analysis.scores_query(sid, start, end, None))
        answers, answers_plan = dbkit.scanned_relations(
            conn, analysis.distribution_query(sid, start, end, {HOME_OUTLET})
        )
        wide, _ = dbkit.scanned_relations(conn, analysis.scores_query(sid, None, None, None))
    assert scores == {_month(-1)}, json.dumps(plan, indent=1)
    assert answers == {_month(-1, TA), _month(-1)}, json.dumps(answers_plan, indent=1)
    assert {_month(0), _month(-1), _month(-2), f"{T}_default"} <= wide


@pytest.mark.postgres
def test_a_one_month_distribution_reads_one_answer_partition(pg, auth):
    client, clock = _app_at(pg, add_months(THIS_MONTH, -2).replace(day=5))
    window = {"opens_at": add_months(THIS_MONTH, -3).isoformat(), "closes_at": add_months(THIS_MONTH, 3).isoformat()}
    survey = f.published_survey(client, auth("staff"), **window)
    for k in (2, 1, 0):
        clock.now = add_months(THIS_MONTH, -k).replace(day=5)
        f.answer(client, auth("customer"), survey["id"], nps=10 - k, wait="<10min")
    client.close()
    ensure_partitions_ahead(pg, metadata, NOW)
    sid, start, end = uuid.UUID(survey["id"]), add_months(THIS_MONTH, -1), THIS_MONTH
    with pg.engine.connect() as conn:
        month, plan = dbkit.scanned_relations(conn, analysis.distribution_query(sid, start, end, None))
        counts = conn.execute(analysis.distribution_query(sid, start, end, None)).all()
        # The same query without the bound on the answers' time reads every answer partition.
        unbounded, _ = dbkit.scanned_relations(conn, analysis.distribution_query(sid, None, None, None))
        drivers, drivers_plan = dbkit.scanned_relations(conn, analysis.drivers_query(sid, start, end, None, ["wait"]))
    assert month == {_month(-1, TA)}, json.dumps(plan, indent=1)
    assert sorted((q, v, c, n) for q, v, c, n in counts) == [("nps", 9, None, 1), ("wait", None, "<10min", 1)]
    assert {_month(k, TA) for k in (0, -1, -2)} | {f"{TA}_default"} <= unbounded
    assert drivers == {_month(-1, TA), _month(-1)}, json.dumps(drivers_plan, indent=1)


@pytest.mark.postgres
def test_feedbacks_month_partitions_job_creates_the_responses_and_answers_months_ahead(pg):
    clock = ManualClock(add_months(THIS_MONTH, 2))
    settings = feedback_settings(pg.url)
    ctx, book = build_complaints(settings, clock)
    runner = build_jobs(settings, pg, ctx, clock, book)
    assert "month_partitions" in [job.name for job in runner.jobs]
    assert runner.run_now("month_partitions", force=True)
    with pg.engine.connect() as conn:
        parts = {table: dbkit.partition_rows(conn, table) for table in (T, TA)}
    for table in (T, TA):
        assert _month(5, table) in parts[table] and _month(6, table) not in parts[table]
    assert ensure_partitions_ahead(pg, metadata, NOW) == []  # nothing missing now


def test_job_does_nothing_on_sqlite(tmp_path):
    url = dbkit.sqlite_url(tmp_path / "feedback.db")
    dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    assert ensure_partitions_ahead(db, metadata, NOW) == []
    db.dispose()
