"""Branch scope by construction: a generated matrix calls every route that names a customer
(`customer_id` in its path or query) of every app that scopes its customers (profile, segmentation,
feedback, loyalty), and the gateway's overview, with a staff token of a branch outside the
customer's, and expects 404 customer_not_found; the same call from the customer's own branch is not
refused for scope, so the 404 is the scope's. A per-customer route that no branch-bound role may
call is bank-wide by role. A route added later is in the matrix without a line here. A route that
names a customer in its request body (`customer_id` in the body model) needs a body to be called:
each one is listed below with its body (or with why it is scoped otherwise), and a test fails for
one that is not. Lists are filtered, totals with them (tests/*/test_branch_scope.py)."""

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from gateway.app import create_app as gateway_app
from services.common.branch_scope import BRANCH_ROLES, PARAMETER, names_customer
from services.common.db import Database
from services.feedback.app import create_app as feedback_app
from services.loyalty.app import create_app as loyalty_app
from services.profile.app import create_app as profile_app
from services.profile.config import ProfileSettings
from services.segmentation.app import create_app as segmentation_app
from tests import dbkit
from tests.feedback.conftest import feedback_settings
from tests.gateway.conftest import ServedApp, gateway_settings
from tests.loyalty.conftest import loyalty_settings
from tests.organisation import place_customer
from tests.profile import factories as f
from tests.segmentation.conftest import segmentation_settings

ROOT = Path(__file__).parents[2]
PLACEHOLDER_ID = "3f1c2a9e-5b7d-4c1e-9a2b-6d8e0f4a7c31"
IN_BRANCH, OUT_OF_BRANCH = "BR0001", "CT0002"  # the tests' organisation (tests/organisation.py)
CUSTOMER_BRANCH = "BJ0002"  # an outlet below IN_BRANCH


def _profile_settings(url: str) -> ProfileSettings:
    return ProfileSettings(environment="test", log_level="WARNING", database_url=url, jobs_in_process=False)


# The apps whose customers are scoped to branches (app.state.branch_scope): how each is made.
SCOPED_APPS: dict[str, tuple[Callable[..., FastAPI], Callable[[str], object]]] = {
    "profile": (profile_app, _profile_settings),
    "segmentation": (segmentation_app, segmentation_settings),
    "feedback": (feedback_app, feedback_settings),
    "loyalty": (loyalty_app, loyalty_settings),
}


def _app(service: str, tmp: Path) -> FastAPI:
    url = dbkit.sqlite_url(tmp / f"{service}.db")
    dbkit.migrate(ROOT / "services" / service / "alembic.ini", url)
    make, settings = SCOPED_APPS[service]
    return make(settings(url), db=Database(url))


def _branch_role(route: APIRoute) -> str | None:
    """The branch-bound role the route's rule admits (staff, else supervisor), if any."""
    from services.common.access import route_rules

    rules = route_rules(route)
    if len(rules) != 1:
        return None
    return next((r for r in ("staff", "supervisor") if r in rules[0].roles), None)


def _names_customer_in_body(route: APIRoute) -> bool:
    body = route.body_field
    return body is not None and PARAMETER in getattr(body.field_info.annotation, "model_fields", {})


def _customer_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path template, role) for every route naming a customer, with the branch-bound role its
    rule admits (staff, else supervisor); a route no branch-bound role may call is bank-wide by role."""
    return _routes(app, names_customer)


def _routes(app: FastAPI, naming: Callable[[APIRoute], bool]) -> list[tuple[str, str, str]]:
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute) or not naming(route):
            continue
        role = _branch_role(route)
        if role is None:
            continue
        found.extend((method, ctx.path or route.path, role) for method in sorted(route.methods - {"HEAD"}))
    return found


_TEMPLATE_APPS = {service: make(settings("sqlite://")) for service, (make, settings) in SCOPED_APPS.items()}
_TEMPLATE_ROUTES = [(service, *route) for service, app in _TEMPLATE_APPS.items() for route in _customer_routes(app)]
_BODY_ROUTES = [
    (service, *route) for service, app in _TEMPLATE_APPS.items() for route in _routes(app, _names_customer_in_body)
]

# The body that names the customer, for every route naming one in its request body (another id in the
# path or the body is a placeholder: the customer's reach is checked before anything is looked up).
BODIES: dict[tuple[str, str, str], Callable[[str], dict]] = {
    ("feedback", "POST", "/v1/surveys/{survey_id}/responses"): lambda c: {"customer_id": c, "answers": {"nps": 9}},
    ("loyalty", "POST", "/v1/loyalty/accounts"): lambda c: {"customer_id": c},
    ("loyalty", "POST", "/v1/loyalty/redemptions"): lambda c: {"customer_id": c, "reward_id": PLACEHOLDER_ID},
    ("loyalty", "POST", "/v1/loyalty/customer-events/{event_id}/registrations"): lambda c: {"customer_id": c},
    ("loyalty", "POST", "/v1/loyalty/activity-awards"): lambda c: {
        "customer_id": c,
        "activity_code": "login",
        "instance": "scope-matrix",
    },
}
# Routes naming a customer in their body that are scoped by something else, and by what.
SCOPED_OTHERWISE = {
    # Filed where the customer complains, whichever branch the customer belongs to: out of the
    # subtree is 422 out_of_reach on branch_code (tests/feedback/test_branch_scope.py).
    ("feedback", "POST", "/v1/complaints"): "the branch it is filed at",
}


@pytest.fixture(scope="module")
def apps(tmp_path_factory) -> Iterator[dict[str, tuple[TestClient, FastAPI]]]:
    """One client per scoped app, each on its own migrated database with the tests' organisation."""
    tmp = tmp_path_factory.mktemp("scope")
    built = {service: _app(service, tmp) for service in SCOPED_APPS}
    clients = {service: TestClient(app, raise_server_exceptions=False) for service, app in built.items()}
    for client in clients.values():
        client.__enter__()
    try:
        yield {service: (clients[service], built[service]) for service in SCOPED_APPS}
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


@pytest.fixture
def profile(apps) -> tuple[TestClient, FastAPI]:
    return apps["profile"]


def _customer_in(service: str, client: TestClient, auth, branch_code: str = CUSTOMER_BRANCH) -> str:
    """A customer of `branch_code` as `service` knows it: registered in profile, placed in another
    service's copy as profile's feed would place it."""
    if service == "profile":
        return str(f.register(client, auth("admin"), f.individual(branch_code=branch_code))["id"])
    customer_id = str(uuid.uuid4())
    place_customer(service, client.app.state.db, customer_id, branch_code)
    if service == "loyalty":  # with an account, so that a call in reach finds one
        enrolled = client.post("/v1/loyalty/accounts", json={"customer_id": customer_id}, headers=auth("admin"))
        assert enrolled.status_code == 201, enrolled.text
    return customer_id


def _call(client: TestClient, method: str, template: str, customer_id: str, headers: dict) -> object:
    names_it = re.search(r"\{customer_id(:[^}]*)?\}", template) is not None  # a convertor may follow the name
    path = re.sub(r"\{customer_id(:[^}]*)?\}", customer_id, template)
    path = re.sub(r"\{[^}]+\}", PLACEHOLDER_ID, path)
    params = {} if names_it else {PARAMETER: customer_id}
    return client.request(method, path, params=params, headers=headers, json={} if method != "GET" else None)


def test_the_matrix_covers_the_per_customer_routes_of_every_service():
    paths = {(s, p) for s, _, p, _ in _TEMPLATE_ROUTES}
    assert ("profile", "/v1/customers/{customer_id}") in paths and ("profile", "/v1/transactions") in paths
    assert ("segmentation", "/v1/memberships") in paths and ("segmentation", "/v1/recommendations") in paths
    assert ("feedback", "/v1/complaints") in paths and ("feedback", "/v1/surveys/responses") in paths
    assert ("loyalty", "/v1/loyalty/accounts/{customer_id}/adjustments") in paths
    assert {s for s, *_ in _TEMPLATE_ROUTES} == set(SCOPED_APPS)
    assert len(_TEMPLATE_ROUTES) > 40


def test_every_route_naming_a_customer_in_its_body_is_in_the_matrix():
    named = {(s, m, p) for s, m, p, _ in _BODY_ROUTES}
    assert named == set(BODIES) | set(SCOPED_OTHERWISE)
    assert not set(BODIES) & set(SCOPED_OTHERWISE)


def test_every_app_that_names_customers_scopes_them_by_branch(apps):
    for service, (_client, app) in apps.items():
        assert app.state.branch_scope is not None, service


@pytest.mark.parametrize(
    ("service", "method", "template", "role"),
    _TEMPLATE_ROUTES,
    ids=[f"{s} {m} {p}" for s, m, p, _ in _TEMPLATE_ROUTES],
)
def test_out_of_branch_staff_get_404_on_every_per_customer_route(apps, auth, service, method, template, role):
    client, app = apps[service]
    customer_id = _customer_in(service, client, auth)
    absent = app.state.branch_scope.not_found(customer_id).code
    outside = _call(client, method, template, customer_id, auth(role, branch=OUT_OF_BRANCH))
    assert outside.status_code == 404, outside.text
    assert outside.json()["code"] == absent
    inside = _call(client, method, template, customer_id, auth(role, branch=IN_BRANCH))
    assert inside.status_code != 404 or inside.json()["code"] != absent, inside.text


_BODY_CALLS = [r for r in _BODY_ROUTES if tuple(r[:3]) in BODIES]


@pytest.mark.parametrize(
    ("service", "method", "template", "role"), _BODY_CALLS, ids=[f"{s} {m} {p}" for s, m, p, _ in _BODY_CALLS]
)
def test_out_of_branch_staff_get_404_for_a_customer_named_in_the_body(apps, auth, service, method, template, role):
    client, app = apps[service]
    customer_id = _customer_in(service, client, auth)
    absent = app.state.branch_scope.not_found(customer_id).code
    path = re.sub(r"\{[^}]+\}", PLACEHOLDER_ID, template)
    body = BODIES[(service, method, template)](customer_id)
    outside = client.request(method, path, json=body, headers=auth(role, branch=OUT_OF_BRANCH))
    assert outside.status_code == 404, outside.text
    assert outside.json()["code"] == absent
    inside = client.request(method, path, json=body, headers=auth(role, branch=IN_BRANCH))
    assert inside.status_code != 404 or inside.json()["code"] != absent, inside.text


@pytest.mark.parametrize("role", sorted(BRANCH_ROLES))
def test_a_staff_token_without_a_branch_reaches_no_customer(profile, auth, role):
    client, _app = profile
    customer = f.register(client, auth("admin"), f.individual(branch_code="BJ0002"))
    assert client.get(f"/v1/customers/{customer['id']}", headers=auth(role, branch=None)).status_code == 404
    assert client.get("/v1/customers", headers=auth(role, branch=None)).json()["items"] == []


def test_lists_are_filtered_to_the_branch_subtree(profile, auth):
    client, _app = profile
    inside = f.register(client, auth("admin"), f.individual(branch_code="GZ0001"))
    outside = f.register(client, auth("admin"), f.individual(branch_code="OT0001"))

    def seen(headers) -> set[str]:
        items = client.get("/v1/customers", params={"limit": 200}, headers=headers).json()["items"]
        return {c["id"] for c in items} & {inside["id"], outside["id"]}

    assert seen(auth("staff", branch=IN_BRANCH)) == {inside["id"]}
    assert seen(auth("supervisor", branch="GZ0001")) == {inside["id"]}
    assert seen(auth("staff", branch="TP0002")) == {outside["id"]}
    assert seen(auth("admin")) == {inside["id"], outside["id"]}
    by_branch = client.get("/v1/customers", params={"branch_code": "OT0001"}, headers=auth("staff", branch=IN_BRANCH))
    assert by_branch.json()["items"] == []


def test_staff_register_and_move_customers_only_within_their_subtree(profile, auth):
    client, _app = profile
    refused = client.post("/v1/customers", json=f.individual(branch_code="OT0001"), headers=auth("staff"))
    assert refused.status_code == 422
    assert [(e["loc"], e["type"]) for e in refused.json()["errors"]] == [(["body", "branch_code"], "out_of_reach")]
    c = f.register(client, auth("staff"), f.individual(branch_code="BJ0001"))
    moved = client.patch(
        f"/v1/customers/{c['id']}", json={"branch_code": "OT0001"}, headers={**auth("staff"), "If-Match": '"1"'}
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["type"] == "out_of_reach"
    by_admin = client.patch(
        f"/v1/customers/{c['id']}", json={"branch_code": "OT0001"}, headers={**auth("admin"), "If-Match": '"1"'}
    )
    assert by_admin.status_code == 200
    assert client.get(f"/v1/customers/{c['id']}", headers=auth("staff")).status_code == 404


def test_the_gateway_overview_is_404_out_of_branch(profile, auth):
    client, app = profile
    customer = f.register(client, auth("staff"), f.individual(branch_code="BJ0002"))
    with ServedApp(app) as served, TestClient(gateway_app(gateway_settings(profile_url=served.url))) as gw:
        path = f"/api/v1/customers/{customer['id']}/overview"
        outside = gw.get(path, headers=auth("staff", branch=OUT_OF_BRANCH))
        assert (outside.status_code, outside.json()["code"]) == (404, "customer_not_found")
        inside = gw.get(path, headers=auth("staff", branch=IN_BRANCH))
        assert inside.status_code == 200 and inside.json()["profile"]["id"] == customer["id"]
