"""Segmentation API models. Money is a two-place decimal string (CNY); rules are JSON rule trees
(see rules.py for the grammar)."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from services.common.approvals_api import ApprovalReadBase
from services.common.pagination import Page
from services.common.personal_data import AccessRecord
from services.common.schema import RequestModel, ResponseModel
from services.common.text import name as clean_name
from services.common.text import single_line
from services.segmentation.service.catalogue import ALL_CLASSES, NEEDS_TAGS

Scheme = Literal["customer_type", "region", "asset_size", "behaviour"]
Channel = Literal["sms", "phone_call", "email", "app_push"]
Category = Literal["deposit", "wealth", "loan", "card", "insurance"]
ProductRisk = Literal["R1", "R2", "R3", "R4", "R5"]
NeedsTag = Literal[NEEDS_TAGS]  # type: ignore[valid-type]
TargetClass = Literal[ALL_CLASSES]  # type: ignore[valid-type]
RULE_DOC = (
    'A rule tree: {"all": [...]}, {"any": [...]}, {"not": {...}} or a condition '
    '{"field": "aum", "op": "gte", "value": "500000.00"}; ops eq, ne, in, gt, gte, lt, lte, between, is_null.'
)


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(clean_name)]
Description = Annotated[str, Field(max_length=500), AfterValidator(single_line)]
Rule = Annotated[dict[str, Any], Field(description=RULE_DOC)]


class RulePreview(RequestModel):
    rule: Rule


class PreviewRead(ResponseModel):
    count: int
    sample: list[str] = Field(description="up to 20 customer ids, in id order")


class SegmentCreate(RequestModel):
    name: Name
    description: Description = ""
    rule: Rule


class SegmentUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None
    rule: Rule | None = None


class SegmentRead(ResponseModel):
    id: uuid.UUID
    name: str
    description: str
    rule: dict[str, Any]
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class SegmentVersionRead(ResponseModel):
    version: int
    name: str
    rule: dict[str, Any]
    created_by: str
    created_at: datetime


class SegmentVersions(ResponseModel):
    items: list[SegmentVersionRead]


SegmentPage = Page[SegmentRead]


class MemberRead(ResponseModel):
    customer_id: str
    customer_no: str | None
    branch_code: str | None
    customer_type: str | None
    region: str | None
    asset_size: str | None
    behaviour: str | None
    aum: str


MemberPage = Page[MemberRead]


Windows = Literal["moved", "all"]
WINDOWS_DOC = (
    'Whose 30/90/365-day windows the job re-derives from the daily activity: "moved" (the default, the '
    "daily job) those of the customers with a day that left a window since the previous successful "
    'recompute (nobody else\'s can have moved), or "all" (the repair pass: everyone). Classes and rule '
    "segments are recomputed for every customer either way."
)


class RecomputeRequest(RequestModel):
    windows: Windows = Field("moved", description=WINDOWS_DOC)


class JobRead(ResponseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed"]
    phase: str
    steps_done: int
    steps_total: int
    changed: int = Field(description="customer class and segment changes written so far")
    error: str | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    windows: Windows = Field(
        description='as asked, until the job runs: a "moved" job with no successful '
        'recompute in the 31 days before runs as "all"'
    )
    windows_since: date | None = Field(description='for "moved": the day of the previous successful recompute')


JobPage = Page[JobRead]


class FeaturesRead(ResponseModel):
    customer_no: str | None
    type: str | None
    region_type: str | None
    province: str | None
    city: str | None
    branch_code: str | None
    status: str
    aum: str
    last_txn_at: datetime | None
    txn_count_30: int
    txn_count_90: int
    txn_count_365: int
    txn_amount_30: str
    txn_amount_90: str
    txn_amount_365: str
    digital_share_pct: int | None
    risk_level: str | None
    risk_expires_at: datetime | None
    tenure_days: int | None
    points_balance: int
    nps_latest: int | None
    is_marketing_contactable: bool


class SegmentMembership(ResponseModel):
    segment_id: str
    name: str
    since: datetime


class MembershipRead(ResponseModel):
    customer_id: str
    classes: dict[str, str | None] = Field(description="scheme -> class")
    segments: list[SegmentMembership]
    features: FeaturesRead


class ChangeRead(ResponseModel):
    scheme: str
    from_class: str | None
    to_class: str | None
    changed_at: datetime


ChangePage = Page[ChangeRead]


class ProductCreate(RequestModel):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$")]
    name: Name
    category: Category
    risk_level: ProductRisk | None = None
    target_classes: list[TargetClass] = Field(
        default_factory=list,
        max_length=20,  # type: ignore[valid-type]
        description="scheme:class; empty means every customer",
    )
    needs_tag: NeedsTag  # type: ignore[valid-type]
    description: Description = ""


class ProductUpdate(RequestModel):
    """Only the fields sent change; `risk_level` may be null (not for a wealth product), the others not."""

    name: Name | None = None
    category: Category | None = None
    risk_level: ProductRisk | None = None
    target_classes: list[TargetClass] | None = Field(default=None, max_length=20)  # type: ignore[valid-type]
    needs_tag: NeedsTag | None = None  # type: ignore[valid-type]
    description: Description | None = None

    @model_validator(mode="after")
    def _no_null_but_risk(self) -> "ProductUpdate":
        nulls = [k for k in self.model_fields_set if k != "risk_level" and getattr(self, k) is None]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))} cannot be null")
        return self


class ProductRead(ResponseModel):
    id: uuid.UUID
    code: str
    name: str
    category: str
    risk_level: str | None
    target_classes: list[str]
    needs_tag: str
    description: str
    is_active: bool = Field(description="false once retired: never recommended again, still readable")
    version: int
    created_at: datetime
    updated_at: datetime | None
    retired_at: datetime | None


ProductPage = Page[ProductRead]


class RecommendationRead(ResponseModel):
    rank: int
    product: ProductRead
    reason: str = Field(description="in words a customer manager can read to the customer")


class RecommendationList(ResponseModel):
    customer_id: str
    classes: list[str]
    items: list[RecommendationRead]


class CatalogueClass(ResponseModel):
    id: str = Field(
        description='"scheme:class", as segment.changed names a membership and other services name a class: '
        '"asset_size:major", or "rule:<segment id>:member" for a rule segment'
    )
    scheme: str = Field(description='a built-in scheme, or "rule:<segment id>"')
    class_: str = Field(alias="class", serialization_alias="class", description='a rule segment\'s is "member"')
    label: str = Field(description="the class in words; a rule segment's own name")


class ClassCatalogue(ResponseModel):
    items: list[CatalogueClass] = Field(
        description="every class: the built-in schemes' in order, then each rule segment's by name; not paginated"
    )


class ClassCount(ResponseModel):
    scheme: str
    class_: str = Field(alias="class", serialization_alias="class")
    customers: int
    total_aum: str


class ClassSummary(ResponseModel):
    items: list[ClassCount]


class CrossTabCell(ResponseModel):
    region: str
    asset_size: str
    customers: int
    total_aum: str


class CrossTab(ResponseModel):
    items: list[CrossTabCell]


class MigrationCell(ResponseModel):
    from_class: str | None
    to_class: str | None
    customers: int


class MigrationMatrix(ResponseModel):
    scheme: str
    from_date: date
    to_date: date
    items: list[MigrationCell]


class BranchDormant(ResponseModel):
    branch_code: str | None
    customers: int
    total_aum: str


class DormantByBranch(ResponseModel):
    items: list[BranchDormant]


class DailyActivityRead(ResponseModel):
    day: date
    txn_count: int
    amount: str
    digital_count: int


class StatedNeeds(ResponseModel):
    purpose: str
    horizon: str
    liquidity_need: str


class HeldProduct(ResponseModel):
    holding_id: str
    product_code: str
    status: str


class SegmentationPersonalData(ResponseModel):
    """Null `membership` and empty lists when segmentation has no features for the person."""

    membership: MembershipRead | None = Field(description="features, classes and rule segments now")
    membership_history: list[ChangeRead] = Field(description="every class change, oldest first")
    daily_activity: list[DailyActivityRead] = Field(description="the daily sums the windowed features come from")
    stated_needs: StatedNeeds | None = Field(description="the copy of the needs the person stated (profile's)")
    products_held: list[HeldProduct] = Field(description="the copy of the person's holdings (profile's)")
    recommendations: list[RecommendationRead] = Field(
        description="the products recommended to the person now (segmentation keeps no record of past ones)"
    )
    access_log: list[AccessRecord]


# --- approvals (dual control: retiring a product) ---------------------------------------------------


class ProductRetirementPayload(ResponseModel):
    product_id: uuid.UUID
    version: int = Field(description="the product's version when asked; a later change makes approval 412")


class ApprovalRead(ApprovalReadBase):
    action: Literal["product.retire"]
    object_id: str = Field(description="the product to retire")
    payload: ProductRetirementPayload = Field(description="exactly what approval does")
    why: Literal["retirement"] = Field(description="retiring a product is under dual control")


ApprovalPage = Page[ApprovalRead]
