"""The organisation tree's API models: a branch, a new one, a change (rename, move, close), a page,
and one branch with its ancestors and children."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from services.common.pagination import Page
from services.common.schema import RequestModel, ResponseModel
from services.profile.schemas.customers import BranchCode
from services.profile.schemas.fields import ShortText

Level = Literal["head_office", "province", "city", "outlet"]
BranchStatus = Literal["open", "closed"]


class BranchCreate(RequestModel):
    code: BranchCode
    name: ShortText
    level: Level
    parent_code: BranchCode | None = Field(default=None, description="required except for the head office")


class BranchUpdate(RequestModel):
    name: ShortText | None = None
    parent_code: Annotated[BranchCode | None, Field(description="moves the branch (and its subtree)")] = None
    status: Annotated[Literal["closed"] | None, Field(description="closes the branch; closing is final")] = None


class BranchRead(ResponseModel):
    code: str
    name: str
    level: Level
    parent_code: str | None
    status: BranchStatus
    version: int
    updated_at: datetime


class BranchDetail(BranchRead):
    ancestors: list[BranchRead] = Field(description="from the parent up to the head office")
    children: list[BranchRead]


class BranchPage(Page[BranchRead]):
    pass
