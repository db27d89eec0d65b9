"""/api/openapi.json merges every live service's document under /api/v1: services' paths rewritten,
components merged without collisions, operationIds unique, refs resolving, cached briefly."""

from collections import Counter

from gateway.openapi import merge

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def refs(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def assert_valid(spec: dict) -> None:
    """Structurally sound for a client generator: every $ref resolves, operationIds are unique."""
    assert spec["openapi"].startswith("3.")
    for ref in refs(spec):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in spec["components"][section], ref
    ids = Counter(op["operationId"] for item in spec["paths"].values() for m, op in item.items() if m in METHODS)
    assert not [i for i, n in ids.items() if n > 1]
    for path in spec["paths"]:
        assert path.startswith(("/api/v1/", "/health")), path


def test_merged_document_all_services(suite_gateway, standins):
    spec = suite_gateway().get("/api/openapi.json").json()
    assert_valid(spec)
    paths = set(spec["paths"])
    assert {
        "/api/v1/customers/{customer_id}",
        "/api/v1/customers/{customer_id}/risk-assessments/current",
        "/api/v1/memberships",
        "/api/v1/loyalty/accounts/{customer_id}/expiring",
        "/api/v1/complaints",
        "/api/v1/surveys/responses",
        "/api/v1/customers/{customer_id}/overview",
        "/health",
    } <= paths
    assert "/api/v1/events" not in paths and "/api/v1/{path}" not in paths  # feeds are for services
    assert spec["info"]["x-services"] == dict.fromkeys(standins, "merged")
    # Two different schemas named Summary: the later one is prefixed and its refs follow.
    schemas = spec["components"]["schemas"]
    assert schemas["Summary"]["properties"].keys() == {"total"}
    assert schemas["FeedbackSummary"]["properties"].keys() == {"opened", "overdue"}
    ok = spec["paths"]["/api/v1/complaints/summary"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"] == "#/components/schemas/FeedbackSummary"
    assert "Problem" in schemas  # the gateway's own problem schema, shared rather than duplicated
    assert spec["paths"]["/api/v1/memberships"]["get"]["tags"] == ["memberships"]


def test_merged_document_service_down_left_out_and_named(suite_gateway, dead_url):
    spec = suite_gateway(loyalty_url=dead_url, feedback_url="").get("/api/openapi.json").json()
    assert_valid(spec)
    assert spec["info"]["x-services"] == {"profile": "merged", "segmentation": "merged", "loyalty": "unavailable"}
    assert not [p for p in spec["paths"] if p.startswith(("/api/v1/loyalty", "/api/v1/complaints"))]
    assert "/api/v1/memberships" in spec["paths"]


def test_merged_document_cached_then_refreshed(suite_gateway, standins):
    cached = suite_gateway(openapi_cache_seconds=60)
    for _ in range(3):
        cached.get("/api/openapi.json")
    assert standins["loyalty"].openapi_calls == 1
    fresh = suite_gateway(openapi_cache_seconds=0.001)
    for _ in range(2):
        fresh.get("/api/openapi.json")
    assert standins["loyalty"].openapi_calls == 3


def test_merge_gateway_paths_win_and_operation_ids_made_unique():
    own = {
        "openapi": "3.1.0",
        "info": {"title": "g"},
        "paths": {
            "/api/v1/customers/{id}/overview": {"get": {"operationId": "overview", "responses": {}}},
            "/api/v1/{path}": {"get": {"operationId": "proxy", "responses": {}}},
        },
        "components": {},
    }
    service = {
        "paths": {
            "/v1/customers/{id}/overview": {"get": {"operationId": "clash", "responses": {}}},
            "/v1/customers/{id}": {"get": {"operationId": "overview", "responses": {}}},
            "/health/ready": {"get": {"operationId": "ready", "responses": {}}},
        },
        "components": {"schemas": {"A": {"type": "string"}}},
    }
    doc = merge(own, {"profile": service}, lambda p: "profile" if p.startswith("/v1/customers") else None)
    assert doc["paths"]["/api/v1/customers/{id}/overview"]["get"]["operationId"] == "overview"
    assert doc["paths"]["/api/v1/customers/{id}"]["get"]["operationId"] == "profile_overview"
    assert set(doc["paths"]) == {"/api/v1/customers/{id}/overview", "/api/v1/customers/{id}"}
    assert doc["components"]["schemas"] == {"A": {"type": "string"}}
    assert "/api/v1/{path}" in own["paths"]  # the gateway's own document is left as it was


def test_merge_same_name_collision_twice_numbered():
    own = {
        "openapi": "3.1.0",
        "info": {},
        "paths": {},
        "components": {"schemas": {"X": {"type": "string"}, "ProfileX": {"type": "boolean"}}},
    }
    service = {
        "paths": {
            "/v1/a": {
                "get": {
                    "operationId": "a",
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}
                    },
                }
            }
        },
        "components": {"schemas": {"X": {"type": "integer"}}},
    }
    doc = merge(own, {"profile": service}, lambda _p: "profile")
    assert doc["components"]["schemas"]["ProfileX2"] == {"type": "integer"}
    assert refs(doc["paths"]["/api/v1/a"]["get"]["responses"]["200"]) == ["#/components/schemas/ProfileX2"]


def _op(**extra) -> dict:
    return {"operationId": "op", "responses": {"200": {"description": "OK"}}, **extra}


def test_merge_renamed_component_gets_a_renamed_title():
    """Generators name models by title: two components titled `Question` would clash in the client."""
    own = {"openapi": "3.1.0", "info": {}, "paths": {}, "components": {"schemas": {"Question": {"title": "Question"}}}}
    service = {
        "paths": {},
        "components": {"schemas": {"Question": {"title": "Question", "type": "object"}, "Other": {"title": "Else"}}},
    }
    schemas = merge(own, {"feedback": service}, lambda _p: "feedback")["components"]["schemas"]
    assert schemas["Question"] == {"title": "Question"}
    assert schemas["FeedbackQuestion"] == {"title": "FeedbackQuestion", "type": "object"}
    assert schemas["Other"] == {"title": "Else"}  # not renamed, title kept


def test_merge_documents_the_gateways_own_errors_on_every_proxied_route():
    own = {"openapi": "3.1.0", "info": {}, "paths": {}, "components": {"schemas": {"Problem": {}}}}
    service = {"paths": {"/v1/a": {"get": _op(), "post": _op(operationId="post", requestBody={"content": {}})}}}
    paths = merge(own, {"profile": service}, lambda _p: "profile")["paths"]["/api/v1/a"]
    assert sorted(paths["get"]["responses"]) == ["200", "429", "503", "504"]
    assert sorted(paths["post"]["responses"]) == ["200", "413", "429", "503", "504"]
    for status in ("413", "429", "503", "504"):
        assert paths["post"]["responses"][status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }


def test_merge_types_each_overview_part_with_its_owners_schema():
    own = {
        "openapi": "3.1.0",
        "info": {},
        "paths": {},
        "components": {
            "schemas": {
                "CustomerOverview": {
                    "properties": {
                        name: {"anyOf": [{"type": "object"}, {"type": "null"}], "title": name.title()}
                        for name in ("profile", "points", "open_complaints", "latest_satisfaction")
                    }
                },
                "Page": {"title": "Page"},
            }
        },
    }

    def ok(ref: str) -> dict:
        return {"get": _op(responses={"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}})}

    page = {"properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}
    services = {
        "profile": {
            "paths": {"/v1/customers/{customer_id}": ok("#/components/schemas/CustomerRead")},
            "components": {"schemas": {"CustomerRead": {"type": "object"}}},
        },
        "feedback": {
            "paths": {
                "/v1/complaints": ok("#/components/schemas/Page"),
                "/v1/surveys/responses": ok("#/components/schemas/Page"),
            },
            "components": {"schemas": {"Page": page, "Item": {"type": "object"}}},
        },
    }
    doc = merge(own, services, lambda path: "profile" if path.startswith("/v1/customers") else "feedback")
    parts = doc["components"]["schemas"]["CustomerOverview"]["properties"]
    customer_read = {"$ref": "#/components/schemas/CustomerRead"}
    assert parts["profile"] == {"anyOf": [customer_read, {"type": "null"}], "title": "Profile"}
    # feedback's Page clashed with the gateway's: the part follows the rename to FeedbackPage's items
    assert parts["open_complaints"]["anyOf"][0] == {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
    assert parts["latest_satisfaction"]["anyOf"][0] == {"$ref": "#/components/schemas/Item"}
    assert parts["points"] == {"anyOf": [{"type": "object"}, {"type": "null"}], "title": "Points"}  # loyalty not merged
