"""Transactions from core banking, asset snapshots and the per-customer summary."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.profile.schemas.batches import BatchRejection, item_schema
from services.profile.schemas.fields import Amount, NonNegativeAmount

TransactionKind = Literal[
    "deposit", "withdrawal", "transfer", "bill_payment", "wealth_purchase", "loan_repayment", "reversal"
]
TransactionChannel = Literal["counter", "mobile", "atm", "online"]
ExternalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="core banking's id, unique")]
MAX_BATCH = 1000


class TransactionIn(RequestModel):
    """One record; a `reversal` names the original in `reverses_external_id`, no other kind may."""

    external_id: ExternalId
    customer_id: uuid.UUID
    kind: TransactionKind
    amount: Amount = Field(description='always positive, e.g. "123.45"')
    channel: TransactionChannel
    occurred_at: AwareDatetime
    customer_initiated: bool = True
    reverses_external_id: ExternalId | None = None


BatchItem = Annotated[Any, item_schema(TransactionIn)]


class TransactionBatch(RequestModel):
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} records")


class BatchItemResult(ResponseModel):
    index: int
    external_id: str
    transaction_id: uuid.UUID


class BatchResult(ResponseModel):
    """`recorded` were stored now; `duplicates` were already stored with the same content (a replay
    changes nothing); `rejected` were not stored, each with its index and reason."""

    recorded_count: int
    duplicate_count: int
    rejected_count: int
    recorded: list[BatchItemResult]
    duplicates: list[BatchItemResult]
    rejected: list[BatchRejection]


class TransactionRead(ResponseModel):
    id: uuid.UUID
    external_id: str
    customer_id: uuid.UUID
    kind: TransactionKind
    amount: str
    amount_fen: int
    channel: TransactionChannel
    occurred_at: datetime
    customer_initiated: bool
    reverses_external_id: str | None
    recorded_at: datetime


class TransactionPage(Page[TransactionRead]):
    pass


class AssetSnapshotIn(RequestModel):
    aum: NonNegativeAmount = Field(description="total assets under management on that date")


class AssetSnapshotRead(ResponseModel):
    customer_id: uuid.UUID
    as_of_date: date
    aum: str
    aum_fen: int
    recorded_at: datetime


class AssetSnapshotPage(Page[AssetSnapshotRead]):
    pass


MAX_SNAPSHOT_BATCH = 5000  # ~90 bytes an item: 5,000 stay well inside the 1 MiB body limit


class AssetSnapshotItem(RequestModel):
    """One customer's assets under management as of a date, as `PUT .../assets/{as_of_date}` takes it."""

    customer_id: uuid.UUID
    as_of_date: date = Field(description="not in the future")
    aum: NonNegativeAmount = Field(description="total assets under management on that date")


class AssetSnapshotBatch(RequestModel):
    items: list[Annotated[Any, item_schema(AssetSnapshotItem)]] = Field(
        min_length=1, max_length=MAX_SNAPSHOT_BATCH, description=f"1 to {MAX_SNAPSHOT_BATCH} snapshots"
    )


class SnapshotItemResult(ResponseModel):
    index: int
    customer_id: uuid.UUID
    as_of_date: date


class AssetSnapshotBatchResult(ResponseModel):
    """As the single `PUT`: `created` are new, `replaced` corrected an earlier value for the date (both
    record assets.updated), `unchanged` carried the stored value again (nothing changes, so a replay
    is harmless); `rejected` were not stored, each with its index and reason."""

    created_count: int
    replaced_count: int
    unchanged_count: int
    rejected_count: int
    created: list[SnapshotItemResult]
    replaced: list[SnapshotItemResult]
    unchanged: list[SnapshotItemResult]
    rejected: list[BatchRejection]


class Breakdown(ResponseModel):
    key: str
    count: int
    amount: str
    amount_fen: int


class SummaryWindow(ResponseModel):
    days: int
    count: int
    amount: str
    amount_fen: int
    by_kind: list[Breakdown]
    by_channel: list[Breakdown]


class CustomerSummary(ResponseModel):
    customer_id: uuid.UUID
    as_of: datetime
    aum: str | None
    aum_fen: int | None
    aum_as_of_date: date | None
    last_transaction_at: datetime | None
    windows: list[SummaryWindow]
