"""Command-line jobs: python -m services.profile.tools.<job>."""
