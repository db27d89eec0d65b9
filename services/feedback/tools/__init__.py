"""Command-line jobs: python -m services.feedback.tools.<job>."""
