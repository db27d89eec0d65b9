"""Personal-data rights: the export document and erasure requests."""

import uuid
from datetime import date, datetime
from typing import Literal

from services.common.schema import RequestModel, ResponseModel
from services.profile.schemas.agreements import AgreementRead
from services.profile.schemas.consent import ConsentRecordRead, ContactKind
from services.profile.schemas.customers import AuditEntryRead, CustomerType, IdType, RegionType, Status
from services.profile.schemas.fields import Reason
from services.profile.schemas.interactions import InteractionRead
from services.profile.schemas.managers import ManagerRead
from services.profile.schemas.needs import HoldingRead, NeedsRead
from services.profile.schemas.risk import RiskAssessmentRead
from services.profile.schemas.transactions import AssetSnapshotRead, TransactionRead

RequestedVia = Literal["counter", "mobile", "online", "phone", "letter"]
# How an erasure came about: a person's request by one of those channels, or the retention sweep
ErasureOrigin = Literal["counter", "mobile", "online", "phone", "letter", "retention"]


class ExportedCustomer(ResponseModel):
    """Full values: the export is the customer's own copy."""

    id: uuid.UUID
    customer_no: str
    type: CustomerType
    name: str
    id_type: IdType
    id_number: str
    id_country: str | None
    phone: str
    email: str | None
    contact_name: str | None
    region_type: RegionType
    province: str
    city: str
    branch_code: str
    status: Status
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    erased_at: datetime | None


class ExportedContact(ResponseModel):
    id: uuid.UUID
    kind: ContactKind
    value: str
    is_preferred: bool
    created_at: datetime


class ExportedDoNotContact(ResponseModel):
    do_not_contact: bool
    reason: str
    actor_sub: str
    recorded_at: datetime


class ExportedImport(ResponseModel):
    """The source system's id under which a migration batch registered the customer."""

    external_id: str
    imported_at: datetime


class ExportedCareReminder(ResponseModel):
    """A care occasion already put on the feed (a birthday, an assessment's expiry, a maturity...)."""

    occasion_key: str
    kind: str
    due_on: date
    recorded_at: datetime


class ErasureRequestCreate(RequestModel):
    reason: Reason
    requested_via: RequestedVia


class RetainedRecords(ResponseModel):
    records: str
    legal_reason: str


class ErasureRequestRead(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    requested_by_sub: str
    requested_by_role: str
    requested_via: ErasureOrigin
    reason: str
    erased_fields: list[str]
    retained: list[RetainedRecords]
    requested_at: datetime
    completed_at: datetime


class ErasureRequestList(ResponseModel):
    items: list[ErasureRequestRead]


class CustomerExport(ResponseModel):
    """Everything the profile service holds about one customer."""

    exported_at: datetime
    customer: ExportedCustomer
    contacts: list[ExportedContact]
    consents: list[ConsentRecordRead]
    do_not_contact: list[ExportedDoNotContact]
    risk_assessments: list[RiskAssessmentRead]
    agreements: list[AgreementRead]
    interactions: list[InteractionRead]
    transactions: list[TransactionRead]
    asset_snapshots: list[AssetSnapshotRead]
    needs: NeedsRead | None
    holdings: list[HoldingRead]
    relationship_manager: ManagerRead | None
    care_reminders: list[ExportedCareReminder]
    migration_imports: list[ExportedImport]
    access_log: list[AuditEntryRead]
    erasure_requests: list[ErasureRequestRead]
