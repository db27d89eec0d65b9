"""What every batch path of profile shares: items validated one by one (so a bad one is refused
alone), and the per-item refusal with its index, code and field errors."""

from pydantic import BaseModel, WithJsonSchema

from services.common.schema import ResponseModel


def item_schema(model: type[BaseModel]) -> WithJsonSchema:
    """For `Annotated[Any, item_schema(M)]`: a batch item is any JSON value to the request parser, so
    one bad item cannot fail the whole batch (each is validated alone), while the OpenAPI document
    still shows M's schema so a client can be generated. Nested models are referenced where the
    document keeps them (its components), not inlined."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return WithJsonSchema(schema)


class RecordError(ResponseModel):
    loc: list[str | int]
    msg: str
    type: str


class BatchRejection(ResponseModel):
    index: int
    external_id: str | None
    code: str
    detail: str
    errors: list[RecordError] = []
