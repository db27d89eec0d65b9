"""Command-line jobs: python -m services.segmentation.tools.<job>."""
