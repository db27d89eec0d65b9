"""`python -m services.feedback.tools.audit verify [--expect SEQ:DIGEST] | head`: checks feedback's audit
chain, the export access log and complaint steps, which it mirrors (services.common.audit_cli);
`make audit-verify` runs it for every service."""

import sys

from services.common.audit_cli import main
from services.common.db import Database
from services.common.personal_data import access_mirror
from services.feedback.config import FeedbackSettings
from services.feedback.models import COMPLAINT_STEPS, audit_chain, personal_data_access

if __name__ == "__main__":
    sys.exit(
        main(
            sys.argv[1:],
            "feedback",
            Database(FeedbackSettings().database_url),
            audit_chain,
            [COMPLAINT_STEPS, access_mirror(personal_data_access)],
        )
    )
