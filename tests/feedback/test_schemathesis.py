"""Property-based API testing with schemathesis over the feedback OpenAPI: no 5xx for anything a client
can send, and every response matches its documented schema, status and content type.
`positive_data_acceptance` is left out: code lists, answer types per question and the state machine are
rules JSON Schema cannot state, so schema-valid bodies are rightly refused with a 422 or 409."""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET
from services.feedback.app import create_app
from tests import dbkit
from tests.feedback.conftest import ALEMBIC_INI, feedback_settings
from tests.fuzzing import prepare

_tmp = Path(tempfile.mkdtemp(prefix="feedback-schemathesis-"))
_url = dbkit.sqlite_url(_tmp / "feedback.db")
dbkit.migrate(ALEMBIC_INI, _url)
app = create_app(feedback_settings(_url))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
TOKEN = mint_token(DEV_JWT_SECRET, sub="fuzz-admin", role="admin", ttl_seconds=3600)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_feedback_api_honours_its_openapi(case):
    # A valid token replaces a generated one; a case generated without the header stays without it
    # (a negative case that must be refused with 401).
    has_auth = any(k.lower() == "authorization" for k in (case.headers or {}))
    prepare(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"} if has_auth else None,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
