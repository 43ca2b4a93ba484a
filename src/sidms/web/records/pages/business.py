"""Enrolments, bases and entitlements are entered from their person's or unit's page (issue 8)."""

from sidms.web.records.pages import PageModule, register

for entity in ("person_enrolment", "unit_enrolment", "base_declaration", "entitlement", "death"):
    register(PageModule(entity, creatable=False))
