from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.req("R8")
@pytest.mark.django_db
def test_the_models_and_the_migrations_agree() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
