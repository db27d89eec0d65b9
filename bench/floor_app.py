"""The floor: the cheapest FastAPI JSON endpoint (`async def`, a small dict through a response model),
the ceiling every service's figure is divided by."""

from fastapi import FastAPI
from pydantic import BaseModel


class Pong(BaseModel):
    status: str
    service: str


def create_app() -> FastAPI:
    app = FastAPI(title="bench floor", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health/live", response_model=Pong)
    async def live() -> dict:
        return {"status": "ok", "service": "floor"}

    @app.get("/v1/floor", response_model=Pong)
    async def floor() -> dict:
        return {"status": "ok", "service": "floor"}

    return app
