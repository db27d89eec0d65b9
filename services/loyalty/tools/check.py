"""`python -m services.loyalty.tools.check`: verifies every account's stored balance against its ledger and
its lots; prints each mismatch and exits 1 if there is any."""

import sys

from services.common.db import Database
from services.loyalty.config import LoyaltySettings
from services.loyalty.service.accounts import check_balances


def main(database_url: str | None = None) -> int:
    db = Database(database_url or LoyaltySettings().database_url)
    try:
        checked, mismatches = check_balances(db)
    finally:
        db.dispose()
    for m in mismatches:
        print(f"MISMATCH {m.customer_id}: stored {m.stored}, ledger {m.ledger}, lots {m.lots}")
    print(f"{checked} accounts checked, {len(mismatches)} mismatched")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
