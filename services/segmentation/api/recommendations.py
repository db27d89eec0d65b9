"""Suitable product recommendations for a customer."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.common.access import CustomerOrStaff
from services.common.auth import ensure_own_customer
from services.common.errors import problem_responses
from services.segmentation.api.deps import Ctx, CustomerId, present_recommendations
from services.segmentation.schemas import RecommendationList
from services.segmentation.service import catalogue, context, memberships
from services.segmentation.service.reasons import language

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


@router.get(
    "",
    response_model=RecommendationList,
    summary="Products that fit the customer's classes, needs and goal, pass suitability and are not held",
    responses=problem_responses(401, 403, 404, 422),
)
def recommend(
    customer_id: CustomerId,
    principal: CustomerOrStaff,
    ctx: Ctx,
    response: Response,
    accept_language: Annotated[str | None, Header(description="zh for reasons in Chinese; en by default")] = None,
) -> RecommendationList:
    ensure_own_customer(principal, str(customer_id), context.customer_not_found(customer_id))
    f = memberships.require_features(ctx.db, customer_id=str(customer_id))
    lang = language(accept_language)
    recs = catalogue.recommend(ctx.db, customer_id=str(customer_id), now=ctx.clock(), features=f, lang=lang)
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    response.headers["Vary"] = "Accept-Language"
    return RecommendationList(
        customer_id=str(customer_id), classes=catalogue.customer_classes(f), items=present_recommendations(recs)
    )
