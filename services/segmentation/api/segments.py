"""Rule segments: preview, create, read, update as a new version, versions, members, contact targets."""

import uuid

from fastapi import APIRouter, Response

from services.common.access import Staff, StaffOrSystemSegmentsRead
from services.common.branch_scope import Reach
from services.common.deps import Cursor, IdemKey, IfMatch, Limit, replay
from services.common.errors import problem_responses
from services.common.etag import etag_for, expected_version
from services.common.idempotency import StoredResponse, idempotency_request
from services.common.personal_data import PurposeQuery
from services.segmentation.api.deps import Ctx, logged_member_page
from services.segmentation.schemas import (
    Channel,
    MemberPage,
    PreviewRead,
    RulePreview,
    SegmentCreate,
    SegmentPage,
    SegmentRead,
    SegmentUpdate,
    SegmentVersionRead,
    SegmentVersions,
)
from services.segmentation.service import segments

router = APIRouter(prefix="/v1/segments", tags=["segments"])


# --- rule segments ------------------------------------------------------------------------------


@router.post(
    "/preview",
    response_model=PreviewRead,
    summary="Count and sample of a rule, nothing saved",
    responses=problem_responses(401, 403, 422),
)
def preview_segment(body: RulePreview, _p: Staff, ctx: Ctx, reach: Reach) -> PreviewRead:
    count, sample = segments.preview_segment(ctx, rule=body.rule, reach=reach)
    return PreviewRead(count=count, sample=sample)


@router.post(
    "",
    response_model=SegmentRead,
    status_code=201,
    summary="Save a rule segment (version 1)",
    description="Accepts `Idempotency-Key`: the same key and body return the first response again "
    "(header `Idempotency-Replayed: true`); the same key with another body is 409 "
    "idempotency_key_reused.",
    responses=problem_responses(401, 403, 409, 422),
)
def create_segment(
    body: SegmentCreate, principal: Staff, ctx: Ctx, response: Response, idempotency_key: IdemKey = None
):
    idem = idempotency_request(
        idempotency_key, caller=principal.sub, operation="create_segment", body=body.model_dump(mode="json")
    )
    result = segments.create_segment(
        ctx,
        name=body.name,
        description=body.description,
        rule=body.rule,
        actor=principal.sub,
        idem=idem,
        present=lambda row: SegmentRead.model_validate(row).model_dump(mode="json"),
    )
    if isinstance(result, StoredResponse):
        return replay(result, location=f"/v1/segments/{result.body['id']}", etag=etag_for(result.body["version"]))
    response.headers["Location"] = f"/v1/segments/{result.id}"
    response.headers["ETag"] = etag_for(result.version)
    return SegmentRead.model_validate(result)


@router.get("", response_model=SegmentPage, summary="Rule segments by name", responses=problem_responses(401, 403, 422))
def list_segments(_p: StaffOrSystemSegmentsRead, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> SegmentPage:
    rows, next_cursor = segments.list_segments(ctx.db, limit=limit, cursor=cursor)
    return SegmentPage(items=[SegmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{segment_id:uuid}",
    response_model=SegmentRead,
    summary="A rule segment (ETag carries its version)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_segment(segment_id: uuid.UUID, _p: StaffOrSystemSegmentsRead, ctx: Ctx, response: Response) -> SegmentRead:
    row = segments.require_segment(ctx.db, segment_id=str(segment_id))
    response.headers["ETag"] = etag_for(row.version)
    return SegmentRead.model_validate(row)


@router.patch(
    "/{segment_id:uuid}",
    response_model=SegmentRead,
    summary="A new version of a rule segment (If-Match)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
def update_segment(
    segment_id: uuid.UUID, body: SegmentUpdate, principal: Staff, ctx: Ctx, response: Response, if_match: IfMatch = None
) -> SegmentRead:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    row = segments.update_segment(
        ctx,
        segment_id=str(segment_id),
        changes=changes,
        expected_version=expected_version(if_match),
        actor=principal.sub,
    )
    response.headers["ETag"] = etag_for(row.version)
    return SegmentRead.model_validate(row)


@router.get(
    "/{segment_id:uuid}/versions",
    response_model=SegmentVersions,
    summary="Every version, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
def segment_versions(segment_id: uuid.UUID, _p: StaffOrSystemSegmentsRead, ctx: Ctx) -> SegmentVersions:
    rows = segments.list_segment_versions(ctx.db, segment_id=str(segment_id))
    return SegmentVersions(items=[SegmentVersionRead.model_validate(r) for r in rows])


@router.get(
    "/{segment_id:uuid}/members",
    response_model=MemberPage,
    summary="Current members, by customer id",
    responses=problem_responses(401, 403, 404, 422),
)
def segment_members(
    segment_id: uuid.UUID,
    principal: StaffOrSystemSegmentsRead,
    ctx: Ctx,
    purpose: PurposeQuery,
    reach: Reach,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    page = segments.list_segment_members(ctx.db, segment_id=str(segment_id), limit=limit, cursor=cursor, reach=reach)
    return logged_member_page(ctx, page, what=f"segment:{segment_id}:members", purpose=purpose, actor=principal)


@router.get(
    "/{segment_id:uuid}/targets",
    response_model=MemberPage,
    summary="Members who may be contacted for marketing now (optionally on one channel)",
    responses=problem_responses(401, 403, 404, 422),
)
def segment_targets(
    segment_id: uuid.UUID,
    principal: Staff,
    ctx: Ctx,
    purpose: PurposeQuery,
    reach: Reach,
    channel: Channel | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MemberPage:
    page = segments.list_targets(
        ctx.db, segment_id=str(segment_id), channel=channel, limit=limit, cursor=cursor, reach=reach
    )
    return logged_member_page(ctx, page, what=f"segment:{segment_id}:targets", purpose=purpose, actor=principal)
