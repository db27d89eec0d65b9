"""Feedback routes, one module per aggregate; handlers parse, authorise, call one service function and
return a schema. `routers` is what create_app includes."""

from services.feedback.api import analysis, complaints, follow_ups, improvements, personal_data, responses, surveys

routers = [
    complaints.approvals,  # before /v1/complaints/{complaint_id}
    complaints.router,
    surveys.router,
    responses.router,
    analysis.router,
    follow_ups.router,
    improvements.router,
    personal_data.router,
]
