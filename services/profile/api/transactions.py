"""Routes for transactions (batch ingest from core banking, per-customer lists), asset snapshots and
the customer summary."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.common.access import EveryoneTransactionsRead, SystemOrAdminTransactionsWrite
from services.common.auth import ensure_own_customer
from services.common.deps import Cursor, Db, From, Limit, Now, To
from services.common.errors import problem_responses
from services.common.money import str_to_fen
from services.common.responses import model_response
from services.profile.api.deps import CustomerId
from services.profile.schemas.transactions import (
    AssetSnapshotBatch,
    AssetSnapshotBatchResult,
    AssetSnapshotIn,
    AssetSnapshotPage,
    AssetSnapshotRead,
    BatchResult,
    CustomerSummary,
    TransactionBatch,
    TransactionChannel,
    TransactionKind,
    TransactionPage,
)
from services.profile.service import assets
from services.profile.service import transactions as svc
from services.profile.service.customers import customer_not_found

router = APIRouter(tags=["transactions"])


@router.post(
    "/v1/transactions:batch",
    response_model=BatchResult,
    summary="Ingest up to 1,000 transactions (system); idempotent by external_id, bad records rejected alone",
    responses=problem_responses(401, 403, 422),
)
def ingest_transactions(body: TransactionBatch, _p: SystemOrAdminTransactionsWrite, db: Db, now: Now) -> Response:
    return model_response(svc.ingest_transactions(db, items=body.items, now=now))


@router.get(
    "/v1/transactions",
    response_model=TransactionPage,
    summary="A customer's transactions, newest first; a customer reads only its own",
    responses=problem_responses(401, 403, 404, 422),
)
def list_transactions(
    principal: EveryoneTransactionsRead,
    db: Db,
    customer_id: Annotated[CustomerId, Query()],
    kind: TransactionKind | None = None,
    channel: TransactionChannel | None = None,
    occurred_from: From = None,
    occurred_to: To = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TransactionPage:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    filters = svc.TransactionFilter(customer_id, kind, channel, occurred_from, occurred_to)
    items, next_cursor = svc.list_transactions(db, filters=filters, limit=limit, cursor=cursor)
    return TransactionPage(items=items, next_cursor=next_cursor)


@router.put(
    "/v1/customers/{customer_id}/assets/{as_of_date}",
    response_model=AssetSnapshotRead,
    summary="Record the customer's assets under management as of a date (system); 201 new, 200 replaced",
    responses={201: {"model": AssetSnapshotRead, "description": "Created"}, **problem_responses(401, 403, 404, 422)},
)
def put_asset_snapshot(
    customer_id: CustomerId,
    as_of_date: date,
    body: AssetSnapshotIn,
    _p: SystemOrAdminTransactionsWrite,
    db: Db,
    now: Now,
) -> Response:
    snap, created = svc.put_asset_snapshot(
        db, customer_id=customer_id, as_of_date=as_of_date, aum_fen=str_to_fen(body.aum), now=now
    )
    return model_response(snap, status_code=201 if created else 200)


@router.post(
    "/v1/asset-snapshots:batch",
    response_model=AssetSnapshotBatchResult,
    summary="Record up to 5,000 asset snapshots (system); per item as the PUT, bad items refused alone",
    description="Each item is `{customer_id, as_of_date, aum}`. As `PUT .../assets/{as_of_date}`: a new "
    "snapshot is `created`, another value for a stored date `replaced` (both record `assets.updated`), the "
    "stored value again `unchanged` (so a replay changes nothing); a future date, an unknown customer or "
    "the same customer and date twice in the batch is refused on its own.",
    responses=problem_responses(401, 403, 413, 422),
)
def put_asset_snapshots(body: AssetSnapshotBatch, _p: SystemOrAdminTransactionsWrite, db: Db, now: Now) -> Response:
    return model_response(assets.put_asset_snapshots(db, items=body.items, now=now))


@router.get(
    "/v1/customers/{customer_id}/assets",
    response_model=AssetSnapshotPage,
    summary="Asset snapshots, newest date first",
    responses=problem_responses(401, 403, 404, 422),
)
def list_asset_snapshots(
    customer_id: CustomerId, principal: EveryoneTransactionsRead, db: Db, limit: Limit = 50, cursor: Cursor = None
) -> AssetSnapshotPage:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    items, next_cursor = svc.list_asset_snapshots(db, customer_id=customer_id, limit=limit, cursor=cursor)
    return AssetSnapshotPage(items=items, next_cursor=next_cursor)


@router.get(
    "/v1/customers/{customer_id}/summary",
    response_model=CustomerSummary,
    summary="Current AUM, last transaction, 30/90-day counts and amounts by kind and channel",
    responses=problem_responses(401, 403, 404, 422),
)
def read_summary(customer_id: CustomerId, principal: EveryoneTransactionsRead, db: Db, now: Now) -> Response:
    ensure_own_customer(principal, customer_id, customer_not_found(customer_id))
    return model_response(svc.customer_summary(db, customer_id=customer_id, now=now))
