"""Command-line jobs: python -m services.loyalty.tools.<job>."""
