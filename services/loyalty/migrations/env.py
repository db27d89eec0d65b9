"""Alembic environment for loyalty: its own metadata, its own database."""

from services.common.migrations_env import run_migrations
from services.loyalty.config import LoyaltySettings
from services.loyalty.models import metadata

run_migrations(metadata, LoyaltySettings().database_url)
