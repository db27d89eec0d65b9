"""Earning rules (supervisor): create, change as a new version in force from a time, retire; read by staff."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from services.common.access import StaffOrSystemLoyaltyRead, Supervisor
from services.common.deps import Cursor, Db, IfMatch, Limit
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.common.money import str_to_fen
from services.common.pagination import decode_cursor, page_of
from services.loyalty.api.deps import Classes, Pol, present_rule, segments_checked
from services.loyalty.schemas.rules import (
    RuleChange,
    RuleCreate,
    RulePage,
    RuleParamsIn,
    RuleRead,
    RuleRetire,
    factor_pct,
)
from services.loyalty.service import rules
from services.loyalty.service.rules import RuleParams

router = APIRouter(prefix="/v1/loyalty/rules", tags=["earning rules"])
RuleId = Annotated[uuid.UUID, "rule id"]
SEGMENTS_CHECKED = segments_checked("the multipliers' `segment`")


def _params(body: RuleParamsIn) -> RuleParams:
    return RuleParams(
        kind=body.kind,
        channel=body.channel,
        points_per_100_cny=body.points_per_100_cny,
        min_amount_fen=str_to_fen(body.min_amount),
        daily_cap=body.daily_cap,
        monthly_cap=body.monthly_cap,
        multipliers=[
            {"channel": m.channel, "segment": m.segment, "factor_pct": factor_pct(m.factor)} for m in body.multipliers
        ],
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )


@router.post(
    "",
    status_code=201,
    response_model=RuleRead,
    summary="Create an earning rule (supervisor)",
    description=SEGMENTS_CHECKED,
    responses=problem_responses(401, 403, 409, 422, 503),
)
def create_rule(
    body: RuleCreate, principal: Supervisor, db: Db, policy: Pol, classes: Classes, response: Response
) -> RuleRead:
    rule, versions = rules.create_rule(
        db, code=body.code, name=body.name, params=_params(body), actor=principal, policy=policy, classes=classes
    )
    response.headers["ETag"] = etag_for(rule.version)
    response.headers["Location"] = f"/v1/loyalty/rules/{rule.id}"
    return present_rule(rule, versions)


@router.get(
    "",
    response_model=RulePage,
    summary="Earning rules by code, with every version",
    responses=problem_responses(401, 403, 422),
)
def list_rules(
    _p: StaffOrSystemLoyaltyRead, db: Db, include_retired: bool = False, limit: Limit = 50, cursor: Cursor = None
) -> RulePage:
    after = decode_cursor(cursor)
    rows = [r for r in rules.list_rules(db, include_retired=include_retired) if after is None or r[0].code > after[0]]
    page, next_cursor = page_of(rows[: limit + 1], limit, key=lambda r: [r[0].code])
    return RulePage(items=[present_rule(r, v) for r, v in page], next_cursor=next_cursor)


@router.get(
    "/{rule_id}",
    response_model=RuleRead,
    summary="An earning rule with every version",
    responses=problem_responses(401, 403, 404, 422),
)
def read_rule(rule_id: RuleId, _p: StaffOrSystemLoyaltyRead, db: Db, response: Response) -> RuleRead:
    rule, versions = rules.read_rule(db, rule_id=rule_id)
    response.headers["ETag"] = etag_for(rule.version)
    return present_rule(rule, versions)


@router.put(
    "/{rule_id}",
    response_model=RuleRead,
    summary="Change a rule: a new version from valid_from (If-Match required; supervisor)",
    description=SEGMENTS_CHECKED,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, 503),
)
def change_rule(
    rule_id: RuleId,
    body: RuleChange,
    principal: Supervisor,
    db: Db,
    policy: Pol,
    classes: Classes,
    response: Response,
    if_match: IfMatch = None,
) -> RuleRead:
    rule, versions = rules.change_rule(
        db,
        rule_id=rule_id,
        name=body.name,
        params=_params(body),
        expected_version=expected_version(if_match),
        actor=principal,
        policy=policy,
        classes=classes,
    )
    response.headers["ETag"] = etag_for(rule.version)
    return present_rule(rule, versions)


@router.post(
    "/{rule_id}/retire",
    response_model=RuleRead,
    summary="Retire a rule from a time (default now; If-Match optional; supervisor)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def retire_rule(
    rule_id: RuleId,
    _p: Supervisor,
    db: Db,
    policy: Pol,
    response: Response,
    body: RuleRetire | None = None,
    if_match: IfMatch = None,
) -> RuleRead:
    rule, versions = rules.retire_rule(
        db,
        rule_id=rule_id,
        at=body.at if body else None,
        expected_version=expected_version(if_match, required=False),
        policy=policy,
    )
    response.headers["ETag"] = etag_for(rule.version)
    return present_rule(rule, versions)
