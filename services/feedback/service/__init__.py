"""Feedback domain logic, one module per aggregate: complaints (with their steps, deadlines, escalations
and reports), surveys, responses, follow-ups and analysis; and the in-process overdue sweep."""
