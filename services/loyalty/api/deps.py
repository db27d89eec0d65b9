"""Loyalty's own dependencies (the points policy, segmentation's class catalogue) and the presenters its
routers share; the kit's aliases (services.common.access, services.common.deps) cover the rest."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from services.common.money import fen_to_str
from services.common.pii import open_text
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import (
    CustomerEvent,
    EarningRule,
    EarningRuleVersion,
    EventRegistration,
    LedgerEntry,
    PointsAccount,
)
from services.loyalty.schemas.accounts import AccountRead, EntryRead
from services.loyalty.schemas.events import CustomerEventRead, CustomerRegistration, RegistrationRead
from services.loyalty.schemas.rules import MultiplierRead, RuleRead, RuleVersionRead, factor_str
from services.loyalty.service.classes import ClassCatalogue
from services.loyalty.service.ledger import REASON_FIELD
from services.loyalty.service.policy import Policy


async def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


Pol = Annotated[Policy, Depends(_policy)]


async def _classes(request: Request) -> ClassCatalogue:
    classes: ClassCatalogue = request.app.state.classes
    return classes


Classes = Annotated[ClassCatalogue, Depends(_classes)]


def segments_checked(what: str) -> str:
    """The OpenAPI description of a write whose `what` names classes of segmentation's catalogue."""
    return (
        f"Each of {what} must be a class of segmentation's catalogue (`GET /v1/segments/classes`): "
        '"asset_size:major", or "rule:<segment id>:member" for a rule segment; one that is not is a 422 whose '
        "`errors` item names its index. Naming a rule segment asks segmentation: 503 (`service`: segmentation) "
        "when it cannot answer, and nothing is written."
    )


def present_account(account: PointsAccount, policy: Policy) -> AccountRead:
    return AccountRead(
        customer_id=account.customer_id,
        status=account.status,
        balance=account.balance,
        lifetime_earned=account.lifetime_earned,
        tier=policy.tier_for(account.lifetime_earned),
        enrolled_via=account.enrolled_via,
        enrolled_at=account.enrolled_at,
        frozen_at=account.frozen_at,
        frozen_reason=account.frozen_reason,
        updated_at=account.updated_at,
    )


def present_entry(entry: LedgerEntry, policy: Policy, *, full: bool = False) -> EntryRead:
    """The entry as a response shows it: its typed reason unsealed, masked unless `full` (the person's
    own export)."""
    read = EntryRead.model_validate(entry)
    return read.model_copy(update={"reason": open_text(policy.vault, entry.reason, REASON_FIELD, full=full)})


def present_registration(registration: EventRegistration, event: CustomerEvent) -> CustomerRegistration:
    return CustomerRegistration(
        **RegistrationRead.model_validate(registration).model_dump(), event=CustomerEventRead.model_validate(event)
    )


def entry_body(policy: Policy) -> Callable[[LedgerEntry], dict]:
    """What an Idempotency-Key replay answers for an entry (as the first answer showed it)."""
    return lambda entry: present_entry(entry, policy).model_dump(mode="json")


def _present_version(v: EarningRuleVersion) -> RuleVersionRead:
    return RuleVersionRead(
        version=v.version,
        kind=v.kind,
        channel=v.channel,
        points_per_100_cny=v.points_per_100_cny,
        min_amount=fen_to_str(v.min_amount_fen),
        daily_cap=v.daily_cap,
        monthly_cap=v.monthly_cap,
        multipliers=[
            MultiplierRead(channel=m.get("channel"), segment=m.get("segment"), factor=factor_str(m["factor_pct"]))
            for m in v.multipliers
        ],
        valid_from=v.valid_from,
        valid_until=v.valid_until,
        actor_sub=v.actor_sub,
        created_at=v.created_at,
    )


def present_rule(rule: EarningRule, versions: list[EarningRuleVersion]) -> RuleRead:
    return RuleRead(
        id=rule.id,
        code=rule.code,
        name=rule.name,
        version=rule.version,
        retired_at=rule.retired_at,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
        versions=[_present_version(v) for v in versions],
    )


def campaign_settings(request: Request) -> LoyaltySettings:
    settings: LoyaltySettings = request.app.state.settings
    return settings


Settings = Annotated[LoyaltySettings, Depends(campaign_settings)]
