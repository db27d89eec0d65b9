"""Profile API models. Identity numbers, phones and emails leave the service masked unless a
permitted caller asks for them with a reason (PersonalDataRead)."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.common.text import name as clean_name
from services.common.text import single_line
from services.profile.schemas.batches import BatchRejection, item_schema
from services.profile.service.documents import normalise_country, validate_document_number
from services.profile.service.identity import (
    normalise_credit_code,
    normalise_email,
    validate_resident_id,
)
from services.profile.service.phones import normalise_phone

CustomerType = Literal["individual", "enterprise", "interbank"]
DocumentType = Literal[
    "resident_id", "passport", "residence_permit", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id"
]
IdType = Literal[
    "resident_id",
    "credit_code",
    "passport",
    "residence_permit",
    "hk_macao_permit",
    "taiwan_permit",
    "foreign_permanent_id",
]
CountryCode = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3, e.g. GBR")]
RegionType = Literal["urban", "rural", "peri_urban"]
Status = Literal["active", "closed"]

Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(clean_name)]  # stored NFKC (common/text.py)
Place = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(single_line)]
City = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(single_line)]
BranchCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,16}$", description="4-16 upper-case letters or digits")]
Phone = Annotated[
    str,
    Field(min_length=7, max_length=20, description="mainland mobile or landline, or +<country code><number> (E.164)"),
    AfterValidator(normalise_phone),
]
Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(normalise_email)]


class IdDocument(RequestModel):
    """An individual's identity document. `country` is a passport's issuing state and only that."""

    type: DocumentType = Field(
        description="resident_id (居民身份证), passport, residence_permit (港澳台居民居住证), hk_macao_permit "
        "(港澳居民来往内地通行证), taiwan_permit (台湾居民来往大陆通行证), foreign_permanent_id (外国人永久居留身份证)"
    )
    number: str = Field(min_length=5, max_length=20, description="validated by type: format, dates, check character")
    country: CountryCode | None = Field(default=None, description="passports: the issuing state, ISO 3166-1 alpha-3")

    @field_validator("number")
    @classmethod
    def _number(cls, v: str, info: ValidationInfo) -> str:
        doc_type = info.data.get("type")
        return v if doc_type is None else validate_document_number(doc_type, v)

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return None if v is None else normalise_country(v)


class CustomerCreate(RequestModel):
    """An individual carries `resident_id` or `id_document` (one of them); an enterprise or
    interbank customer carries `credit_code` and `contact_name` (its `phone` is the contact person's)."""

    type: CustomerType
    name: Name = Field(description="the person's name, or the organisation's legal name")
    resident_id: (
        Annotated[
            str,
            Field(
                min_length=18,
                max_length=18,
                pattern=r"^[0-9]{17}[0-9Xx]$",
                description="GB 11643: area code (GB/T 2260), birth date and check character validated; "
                "the same as id_document {type: resident_id}",
            ),
        ]
        | None
    ) = None
    credit_code: (
        Annotated[
            str,
            Field(
                min_length=18,
                max_length=18,
                pattern=r"^[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{18}$",
                description="GB 32100: the division code at 3-8 (GB/T 2260) and the check character validated",
            ),
        ]
        | None
    ) = None
    id_document: IdDocument | None = None
    id_check_override_reason: (
        Annotated[str, Field(min_length=10, max_length=500), AfterValidator(single_line)] | None
    ) = Field(default=None, description="supervisor only: registers an early credit code that fails its check")
    phone: Phone
    email: Email | None = None
    contact_name: Name | None = None
    region_type: RegionType
    province: Place
    city: City
    branch_code: BranchCode

    @field_validator("resident_id")
    @classmethod
    def _resident_id(cls, v: str | None) -> str | None:
        return None if v is None else validate_resident_id(v)

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, v: str | None) -> str | None:
        return None if v is None else normalise_credit_code(v)


class CustomerUpdate(RequestModel):
    """Only the fields sent change; identity numbers and type never change. `email: null` removes it."""

    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    contact_name: Name | None = None
    region_type: RegionType | None = None
    province: Place | None = None
    city: City | None = None
    branch_code: BranchCode | None = None


class IdentityCorrection(RequestModel):
    """Staff correct an individual's identity document (a number mistyped at registration, a new
    passport): the document as it should be, and why (on the access log)."""

    id_document: IdDocument = Field(description="the corrected document; a resident ID is {type: resident_id}")
    reason: Annotated[str, Field(min_length=5, max_length=500), AfterValidator(single_line)]


class CustomerClose(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(single_line)] | None = None


class CustomerRead(ResponseModel):
    id: uuid.UUID
    customer_no: str
    type: CustomerType
    name: str
    id_type: IdType
    id_number: str = Field(description="masked")
    id_country: str | None = Field(description="a passport's issuing state (ISO 3166-1 alpha-3)")
    phone: str = Field(description="masked")
    email: str | None = Field(description="masked")
    contact_name: str | None
    region_type: RegionType
    province: str
    city: str
    branch_code: str
    status: Status
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class CustomerPage(Page[CustomerRead]):
    pass


class PersonalDataRead(ResponseModel):
    """Full values; every read of this is written to the customer's access log."""

    customer_id: uuid.UUID
    id_type: IdType
    id_number: str
    id_country: str | None
    phone: str
    email: str | None


class AuditEntryRead(ResponseModel):
    id: int
    customer_id: uuid.UUID
    action: str
    actor_sub: str
    actor_role: str
    reason: str
    fields: str
    request_id: str | None
    at: datetime


class AuditPage(Page[AuditEntryRead]):
    pass


MAX_CUSTOMER_BATCH = 1000


class CustomerImport(CustomerCreate):
    """One customer of a migration batch: a registration as `POST /v1/customers` takes it, plus the
    migrating system's own id for the customer, which makes the item idempotent."""

    external_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="the source system's id for the customer, unique"
    )


class CustomerBatch(RequestModel):
    items: list[Annotated[Any, item_schema(CustomerImport)]] = Field(
        min_length=1, max_length=MAX_CUSTOMER_BATCH, description=f"1 to {MAX_CUSTOMER_BATCH} customers"
    )


class CustomerBatchItemResult(ResponseModel):
    index: int
    external_id: str
    customer_id: uuid.UUID
    customer_no: str


class CustomerBatchResult(ResponseModel):
    """`registered` were registered now; `duplicates` were registered earlier from the same item
    (a replay changes nothing); `rejected` were not registered, each with its index and reason."""

    registered_count: int
    duplicate_count: int
    rejected_count: int
    registered: list[CustomerBatchItemResult]
    duplicates: list[CustomerBatchItemResult]
    rejected: list[BatchRejection]
