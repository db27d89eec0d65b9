"""`python -m services.segmentation.tools.cursor [--set FEED=POSITION]`: show or move this service's feed cursors."""

import sys

from services.common.cursor_tool import run
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import consumer_cursor

if __name__ == "__main__":
    sys.exit(
        run(
            SegmentationSettings().database_url,
            consumer_cursor,
            (
                "profile",
                "loyalty",
                "feedback",
            ),
            prog="services.segmentation.tools.cursor",
        )
    )
