"""Feedback API models, one module per aggregate (complaints, reports, surveys, responses, follow_ups,
analysis); shared field types in fields."""
