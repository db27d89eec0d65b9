"""Alembic environment for profile: its own metadata, its own database."""

from services.common.migrations_env import run_migrations
from services.profile.config import ProfileSettings
from services.profile.models import metadata

run_migrations(metadata, ProfileSettings().database_url)
