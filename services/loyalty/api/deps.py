"""Dependencies and presenters the loyalty routers share."""

from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.common.auth import Principal, require_role
from services.common.db import Database
from services.common.idempotency import StoredResponse
from services.common.money import fen_to_str
from services.loyalty.models import EarningRule, EarningRuleVersion, LedgerEntry, PointsAccount
from services.loyalty.schemas import AccountRead, EntryRead, MultiplierRead, RuleRead, RuleVersionRead, factor_str
from services.loyalty.service.policy import Policy


async def _db(request: Request) -> Database:
    return request.app.state.db


async def _policy(request: Request) -> Policy:
    return request.app.state.policy


Db = Annotated[Database, Depends(_db)]
Pol = Annotated[Policy, Depends(_policy)]
Anyone = Annotated[Principal, Depends(require_role("customer", "staff", "supervisor", "admin", "system"))]
Staff = Annotated[Principal, Depends(require_role("staff", "supervisor", "admin"))]
StaffOrSystem = Annotated[Principal, Depends(require_role("staff", "supervisor", "admin", "system"))]
Supervisor = Annotated[Principal, Depends(require_role("supervisor", "admin"))]
SupervisorOrSystem = Annotated[Principal, Depends(require_role("supervisor", "admin", "system"))]
CustomerOrStaff = Annotated[Principal, Depends(require_role("customer", "staff", "supervisor", "admin"))]
Limit = Annotated[int, Query(ge=1, le=200, description="page size, at most 200")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag from your last read")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", description="makes a retry safe")]


def replay(stored: StoredResponse) -> JSONResponse:
    return JSONResponse(stored.body, status_code=stored.status_code, headers={"Idempotency-Replayed": "true"})


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


def present_entry(entry: LedgerEntry) -> EntryRead:
    return EntryRead.model_validate(entry)


def entry_body(entry: LedgerEntry) -> dict:
    return present_entry(entry).model_dump(mode="json")


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
