"""Profile API models, one module per aggregate; shared field types in fields."""
