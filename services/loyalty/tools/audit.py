"""`python -m services.loyalty.tools.audit verify [--expect SEQ:DIGEST] | head`: checks loyalty's audit
chain, the export access log and staff points adjustments, which it mirrors (services.common.audit_cli);
`make audit-verify` runs it for every service."""

import sys

from services.common.audit_cli import main
from services.common.db import Database
from services.common.personal_data import access_mirror
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import ADJUSTMENTS, audit_chain, personal_data_access

if __name__ == "__main__":
    sys.exit(
        main(
            sys.argv[1:],
            "loyalty",
            Database(LoyaltySettings().database_url),
            audit_chain,
            [ADJUSTMENTS, access_mirror(personal_data_access)],
        )
    )
