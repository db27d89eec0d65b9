"""Property-based API testing with schemathesis over the segmentation OpenAPI: no 5xx for anything a
client can send, and every response matches its documented schema, status and content type.
`positive_data_acceptance` is left out: a rule tree's grammar and a wealth product's risk level are
rules JSON Schema does not state, so schema-valid bodies are rightly refused with a 422 naming the node."""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET
from services.segmentation.app import create_app
from tests import dbkit
from tests.fuzzing import prepare
from tests.segmentation.conftest import ALEMBIC_INI, segmentation_settings

_tmp = Path(tempfile.mkdtemp(prefix="segmentation-schemathesis-"))
_url = dbkit.sqlite_url(_tmp / "segmentation.db")
dbkit.migrate(ALEMBIC_INI, _url)
app = create_app(segmentation_settings(_url))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
TOKEN = mint_token(DEV_JWT_SECRET, sub="fuzz-admin", role="admin", ttl_seconds=3600)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_segmentation_api_honours_its_openapi(case):
    prepare(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )
