"""Alembic environment for segmentation: its own metadata, its own database."""

from services.common.migrations_env import run_migrations
from services.segmentation.config import SegmentationSettings
from services.segmentation.models import metadata

run_migrations(metadata, SegmentationSettings().database_url)
