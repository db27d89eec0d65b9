"""`python -m services.feedback.tools.cursor [--set FEED=POSITION]`: show or move this service's feed cursors."""

import sys

from services.common.cursor_tool import run
from services.feedback.config import FeedbackSettings
from services.feedback.models import consumer_cursor

if __name__ == "__main__":
    sys.exit(
        run(
            FeedbackSettings().database_url,
            consumer_cursor,
            (
                "profile",
                "segmentation",
            ),
            prog="services.feedback.tools.cursor",
        )
    )
