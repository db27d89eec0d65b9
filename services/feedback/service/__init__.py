"""Feedback domain logic, one module per aggregate: complaints, surveys, analysis, customers."""
