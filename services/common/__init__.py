"""The kit every service uses: mechanisms only, never business rules. Imports nothing from a service."""
