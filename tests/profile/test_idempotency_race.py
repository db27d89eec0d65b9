"""Concurrent registrations with real commits: the same Idempotency-Key raced from many threads gives
one customer and the same answer to all; the same identity under different keys gives one customer
and clean 409s."""

import threading

import pytest
from sqlalchemy import func, select

from services.common.auth import Principal
from services.common.db import Database
from services.common.errors import Conflict
from services.common.idempotency import StoredResponse, idempotency_request
from services.profile.app import create_app
from services.profile.models import Customer
from services.profile.schemas.customers import CustomerCreate
from services.profile.service import registration
from tests import dbkit
from tests.profile import factories as f
from tests.profile.conftest import ALEMBIC_INI, profile_settings

THREADS = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def committed_db(request, tmp_path):
    if request.param == "sqlite":
        url = dbkit.sqlite_url(tmp_path / "race.db")
    else:
        dbkit.require_postgres()
        url = dbkit.fresh_pg_database(f"test_profile_race_{dbkit.worker_id()}")
    dbkit.migrate(ALEMBIC_INI, url)
    db = Database(url)
    db.privacy = create_app(profile_settings(url), db=db).state.privacy
    yield db
    db.dispose()


def _race(fn) -> list:
    results, barrier = [], threading.Barrier(THREADS)

    def run():
        barrier.wait()
        try:
            results.append(fn())
        except Exception as err:  # noqa: BLE001 - collected and asserted on
            results.append(err)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _ids(result) -> str:
    return result.body["id"] if isinstance(result, StoredResponse) else str(result.id)


def test_same_key_raced_gives_one_customer_and_one_answer(committed_db):
    body = CustomerCreate(**f.individual())
    actor = Principal(sub="teller-1", role="staff")
    idem = idempotency_request(
        "race-key", caller=actor.sub, operation="register_customer", body=body.model_dump(mode="json")
    )
    privacy = committed_db.privacy
    results = _race(
        lambda: registration.register_customer(committed_db, customer_in=body, actor=actor, privacy=privacy, idem=idem)
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({_ids(r) for r in results}) == 1
    with committed_db.read() as s:
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


def test_same_identity_raced_under_different_keys_gives_one_customer_and_409s(committed_db):
    body = CustomerCreate(**f.individual())
    privacy = committed_db.privacy
    results = _race(
        lambda: registration.register_customer(
            committed_db, customer_in=body, actor=Principal(sub="teller-2", role="staff"), privacy=privacy, idem=None
        )
    )
    created = [r for r in results if not isinstance(r, Exception)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1 and len(conflicts) == THREADS - 1
    assert {c.extra["existing_customer_id"] for c in conflicts} == {str(created[0].id)}
