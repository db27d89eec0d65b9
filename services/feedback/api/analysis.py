"""Survey analysis: scores with sample sizes, breakdowns, drivers and frequent terms of free text."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.common.access import Staff
from services.common.branch_scope import Reach
from services.common.deps import Db
from services.common.errors import problem_responses
from services.feedback.api.deps import From, SurveyCtx, To, analysis_period
from services.feedback.schemas.analysis import Breakdown, Drivers, SurveyAnalysis, Terms
from services.feedback.service import analysis

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


@router.get(
    "/{survey_id}/analysis",
    response_model=SurveyAnalysis,
    summary="Responses, response rate, NPS, CSAT, CES (each with n), distributions",
    responses=problem_responses(401, 403, 404, 422),
)
def analyse(
    survey_id: uuid.UUID, _p: Staff, db: Db, ctx: SurveyCtx, reach: Reach, start: From = None, end: To = None
) -> SurveyAnalysis:
    start, end = analysis_period(start, end)
    return analysis.analyse_survey(
        db, survey_id=survey_id, start=start, end=end, small_sample=ctx.small_sample, reach=reach
    )


@router.get(
    "/{survey_id}/analysis/breakdown",
    response_model=Breakdown,
    summary="Scores by branch, region type, customer type, segment class, channel, month, or all of them",
    responses=problem_responses(401, 403, 404, 422),
)
def breakdown(
    survey_id: uuid.UUID,
    _p: Staff,
    db: Db,
    ctx: SurveyCtx,
    reach: Reach,
    by: Literal["branch", "region_type", "customer_type", "segment_class", "channel", "month", "all"],
    scheme: Annotated[
        str | None,
        Query(min_length=1, max_length=80, description="the segmentation scheme, for by=segment_class (and all)"),
    ] = None,
    start: From = None,
    end: To = None,
) -> Breakdown:
    start, end = analysis_period(start, end)
    return analysis.breakdown(
        db,
        survey_id=survey_id,
        by=by,
        scheme=scheme,
        start=start,
        end=end,
        small_sample=ctx.small_sample,
        reach=reach,
    )


@router.get(
    "/{survey_id}/analysis/drivers",
    response_model=Drivers,
    summary="Mean NPS and detractor share per answer of each closed question",
    responses=problem_responses(401, 403, 404, 422),
)
def read_drivers(survey_id: uuid.UUID, _p: Staff, db: Db, reach: Reach, start: From = None, end: To = None) -> Drivers:
    start, end = analysis_period(start, end)
    return analysis.drivers(db, survey_id=survey_id, start=start, end=end, reach=reach)


@router.get(
    "/{survey_id}/analysis/terms",
    response_model=Terms,
    summary="Most frequent terms in free-text answers (Chinese segmented with jieba)",
    description="Counted in a short-lived helper process, so that jieba's dictionary never stays in the "
    "service's memory: about a second per call. 503 `terms_unavailable` (with Retry-After) if it cannot run.",
    responses=problem_responses(401, 403, 404, 422, 503),
)
def read_terms(
    survey_id: uuid.UUID,
    _p: Staff,
    db: Db,
    ctx: SurveyCtx,
    reach: Reach,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Terms:
    start, end = analysis_period(start, end)
    return analysis.top_terms(db, survey_id=survey_id, start=start, end=end, limit=limit, vault=ctx.vault, reach=reach)
