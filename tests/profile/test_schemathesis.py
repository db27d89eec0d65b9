"""Property-based API testing with schemathesis over the whole profile OpenAPI: no 5xx for anything a
client can send, and every response matches its documented schema, status and content type.
`positive_data_acceptance` is left out: check characters, birth dates, type-dependent fields,
questionnaire answers and customers that must exist are rules JSON Schema cannot state, so
schema-valid bodies are rightly refused with a 422 (or 404, 409) naming the field.
The batch paths (transactions, customers, asset snapshots) also leave out `negative_data_rejection`: their
contract is that a bad item is refused alone, listed with its index and reason in a 200 answer, while
the rest are stored."""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET
from services.profile.app import create_app
from tests import dbkit
from tests.fuzzing import prepare
from tests.profile.conftest import ALEMBIC_INI, profile_settings

_tmp = Path(tempfile.mkdtemp(prefix="profile-schemathesis-"))
_url = dbkit.sqlite_url(_tmp / "profile.db")
dbkit.migrate(ALEMBIC_INI, _url)
app = create_app(profile_settings(_url))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
TOKEN = mint_token(DEV_JWT_SECRET, sub="fuzz-admin", role="admin", ttl_seconds=3600)
BATCHES = r":batch$"  # /v1/transactions:batch, /v1/customers:batch, /v1/asset-snapshots:batch
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@schema.exclude(path_regex=BATCHES).parametrize()
@EXAMPLES
def test_profile_api_honours_its_openapi(case):
    prepare(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )


@schema.include(path_regex=BATCHES).parametrize()
@EXAMPLES
def test_batch_paths_honour_their_openapi(case):
    prepare(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection],
    )
