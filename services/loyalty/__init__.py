"""Loyalty: points accounts, the points ledger, earning rules, rewards and redemptions, customer events."""
