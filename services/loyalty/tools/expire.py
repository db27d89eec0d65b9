"""`python -m services.loyalty.tools.expire`: the expiry job (run daily; safe to run twice)."""

import sys

from services.common.db import Database
from services.loyalty.app import build_policy
from services.loyalty.config import LoyaltySettings
from services.loyalty.service.expiry import run_expiry


def main() -> int:
    settings = LoyaltySettings()
    db = Database(settings.database_url)
    try:
        result = run_expiry(db, policy=build_policy(settings))
    finally:
        db.dispose()
    print(f"{result.points} points expired in {result.accounts} accounts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
