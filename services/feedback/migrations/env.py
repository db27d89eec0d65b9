"""Alembic environment for feedback: its own metadata, its own database."""

from services.common.migrations_env import run_migrations
from services.feedback.config import FeedbackSettings
from services.feedback.models import metadata

run_migrations(metadata, FeedbackSettings().database_url)
