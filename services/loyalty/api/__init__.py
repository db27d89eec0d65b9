"""Loyalty routes, one module per aggregate; handlers parse, authorise, call one service function and
return a schema."""
