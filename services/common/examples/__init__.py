"""Runnable examples for the systems that integrate with the suite."""
