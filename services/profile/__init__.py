"""Profile: the system of record for who a customer is."""
