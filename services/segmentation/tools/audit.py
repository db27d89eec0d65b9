"""`python -m services.segmentation.tools.audit verify [--expect SEQ:DIGEST] | head`: checks segmentation's audit
chain (services.common.audit_cli);
`make audit-verify` runs it for every service."""

import sys

from services.common.audit_cli import main
from services.common.db import Database
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import audit_chain

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], "segmentation", Database(SegmentationSettings().database_url), audit_chain, []))
