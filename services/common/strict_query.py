"""Unknown query parameters are refused (422 naming them) rather than silently ignored: a mistyped
filter such as `?branch=` must not return every customer."""

from fastapi import Request
from fastapi.dependencies.models import Dependant

from services.common.errors import InvalidInput


def _declared(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if route is None or dependant is None:
        return
    allowed = getattr(route, "_declared_query", None)
    if allowed is None:
        allowed = _declared(dependant)
        route._declared_query = allowed
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(
            [
                {"loc": ["query", name[:100]], "msg": "unknown query parameter", "type": "extra_forbidden"}
                for name in unknown[:10]
            ]
        )
