"""Profile domain logic, one module per aggregate; no web library is imported here."""
