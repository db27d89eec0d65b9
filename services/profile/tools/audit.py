"""`python -m services.profile.tools.audit verify [--expect SEQ:DIGEST] | head`: checks profile's audit
chain and the access log, which it mirrors (services.common.audit_cli);
`make audit-verify` runs it for every service."""

import sys

from services.common.audit_cli import main
from services.common.db import Database
from services.profile.config import ProfileSettings
from services.profile.models import ACCESS_LOG, audit_chain

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], "profile", Database(ProfileSettings().database_url), audit_chain, [ACCESS_LOG]))
