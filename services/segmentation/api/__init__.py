"""Segmentation routes, one module per aggregate; handlers parse, authorise, call one service function
and return a schema. `routers` is what create_app includes, in order: the analysis routes before the
rule-segment routes whose /{segment_id} would shadow them."""

from services.segmentation.api import (
    analysis,
    memberships,
    personal_data,
    products,
    recommendations,
    recomputes,
    segments,
)

routers = [
    recomputes.router,
    analysis.router,
    segments.router,
    memberships.router,
    products.approvals,
    products.router,
    recommendations.router,
    personal_data.router,
]
