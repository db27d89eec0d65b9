"""Relationship-manager API models: who cares for a customer, and from which branch."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from services.common.schema import RequestModel, ResponseModel

StaffId = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$", description="a token's sub")
]
BranchCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,16}$")]


class ManagerAssign(RequestModel):
    manager_id: StaffId = Field(description="the staff member's id: the `sub` of their token")
    manager_branch_code: BranchCode = Field(
        description="the branch the manager works at: the customer's branch or one above it"
    )


class ManagerRead(ResponseModel):
    customer_id: uuid.UUID
    manager_id: str
    manager_branch_code: str
    assigned_by: str
    assigned_at: datetime
    version: int
