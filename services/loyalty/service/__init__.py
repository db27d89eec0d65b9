"""Loyalty domain logic as plain functions, one module per aggregate; no web libraries here."""
