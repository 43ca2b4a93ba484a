"""The collection rules the 2017 migration shipped (R5, R7).

Databases created since the kernel seeds each entity's rules from its declaration, with a revision and an
audit event; rules that the first migration inserted without either are adopted (sidms.changes.rules.
seed_declared_rules) only when they are exactly these.
"""

from datetime import UTC, datetime

EFFECTIVE = datetime(2017, 12, 31, 16, 0, tzinfo=UTC)  # 2018-01-01 00:00 Beijing time

# (entity, field, required, validator, review level, cross-checks)
LEGACY_2017 = [
    ("person", "person_no", True, "text", "system", []),
    ("person", "id_number", True, "idcard", "manual", ["public_security", "civil_affairs"]),
    ("person", "name", True, "person_name", "manual", ["public_security"]),
    ("person", "sex", True, "sex", "system", []),
    ("person", "birth_date", True, "date", "system", []),
    ("person", "category", True, "code:person_category", "system", []),
    ("person", "district_id", True, "district", "system", []),
    ("person", "phone", False, "phone", "system", []),
    ("person", "email", False, "email", "system", []),
    ("person", "address", False, "text", "none", []),
    ("person", "postcode", False, "postcode", "system", []),
    ("person", "bank_account", False, "bank_account", "system", []),
    ("person", "status", True, "status", "system", []),
    ("unit", "unit_no", True, "text", "system", []),
    ("unit", "name", True, "text", "manual", ["market_regulation", "tax"]),
    ("unit", "credit_code", True, "uscc", "manual", ["market_regulation", "tax"]),
    ("unit", "org_code", False, "text", "system", []),
    ("unit", "unit_type", True, "code:unit_type", "system", []),
    ("unit", "district_id", True, "district", "system", []),
    ("unit", "address", False, "text", "none", []),
    ("unit", "postcode", False, "postcode", "system", []),
    ("unit", "contact_person", False, "text", "none", []),
    ("unit", "phone", False, "phone", "system", []),
    ("unit", "email", False, "email", "system", []),
    ("unit", "industry_risk_class", False, "risk_class", "system", []),
    ("unit", "status", True, "status", "system", []),
    ("employment", "person_id", True, "text", "system", []),
    ("employment", "unit_id", True, "text", "system", []),
    ("employment", "start_date", True, "date", "system", []),
    ("employment", "end_date", False, "date", "system", []),
    ("service_institution", "code", True, "text", "system", []),
    ("service_institution", "name", True, "text", "system", []),
    ("service_institution", "kind", True, "code:service_kind", "system", []),
    ("service_institution", "district_id", True, "district", "system", []),
    ("service_institution", "credit_code", False, "uscc", "manual", ["market_regulation"]),
    ("service_institution", "address", False, "text", "none", []),
    ("service_institution", "phone", False, "phone", "system", []),
    ("service_institution", "status", True, "status", "system", []),
    ("agency", "code", True, "text", "system", []),
    ("agency", "name", True, "text", "system", []),
    ("agency", "level", True, "agency_level", "system", []),
    ("agency", "district_id", True, "district", "system", []),
]
