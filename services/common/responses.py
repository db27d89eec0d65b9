"""A response built from an already-validated model: serialised once, not validated again by
FastAPI's response_model machinery (which stays on the route for the OpenAPI document)."""

from pydantic import BaseModel
from starlette.responses import Response


def model_response(model: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        model.model_dump_json().encode(), status_code=status_code, headers=headers, media_type="application/json"
    )
