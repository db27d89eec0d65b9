"""`python -m services.segmentation.tools.audit verify [--expect SEQ:DIGEST] | head`: checks segmentation's audit
chain and the export access log, which it mirrors (services.common.audit_cli);
`make audit-verify` runs it for every service."""

import sys

from services.common.audit_cli import main
from services.common.db import Database
from services.common.personal_data import access_mirror
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import audit_chain, personal_data_access

if __name__ == "__main__":
    sys.exit(
        main(
            sys.argv[1:],
            "segmentation",
            Database(SegmentationSettings().database_url),
            audit_chain,
            [access_mirror(personal_data_access)],
        )
    )
