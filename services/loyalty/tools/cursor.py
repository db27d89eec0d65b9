"""`python -m services.loyalty.tools.cursor [--set FEED=POSITION]`: show or move this service's feed cursors."""

import sys

from services.common.cursor_tool import run
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import consumer_cursor

if __name__ == "__main__":
    sys.exit(
        run(
            LoyaltySettings().database_url,
            consumer_cursor,
            (
                "profile",
                "segmentation",
                "feedback",
            ),
            prog="services.loyalty.tools.cursor",
        )
    )
