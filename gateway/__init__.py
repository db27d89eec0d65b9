"""The suite's single entry point: routes /api/v1 to the owning service, checks tokens at the edge,
aggregates health. Holds no business data and imports no service."""
