"""Profile domain logic, one module per aggregate; the customer registry's names are re-exported here
so `from services.profile import service` keeps working for the registry routes."""

from services.profile.service.customers import (
    EMAIL_FIELD,
    EVENT_FIELDS,
    ID_FIELD,
    OVERRIDE_ROLES,
    PHONE_FIELD,
    CustomerFilter,
    Privacy,
    close_customer,
    customer_not_found,
    list_audit_entries,
    next_customer_no,
    present_customer,
    register_customer,
    reveal_personal_data,
    search_customers,
    update_customer,
)

__all__ = [
    "EMAIL_FIELD",
    "EVENT_FIELDS",
    "ID_FIELD",
    "OVERRIDE_ROLES",
    "PHONE_FIELD",
    "CustomerFilter",
    "Privacy",
    "close_customer",
    "customer_not_found",
    "list_audit_entries",
    "next_customer_no",
    "present_customer",
    "register_customer",
    "reveal_personal_data",
    "search_customers",
    "update_customer",
]
