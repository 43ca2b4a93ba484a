"""Attack on the masked search text an export approver sees (exchange.exports.shown_search).

A word was masked as a name only when it held a character of the basic CJK blocks (U+3400–U+9FFF). Names
written with rarer characters — CJK extension B and later (生僻字 such as 𠮷, common enough in names that
the ID card system supports them) or the compatibility ideographs — were shown to the approver in full."""

from __future__ import annotations

import pytest

from sidms.exchange.exports import shown_search
from sidms.exchange.models import ExportRequest


@pytest.mark.req("R10")
@pytest.mark.req("R10.3")
@pytest.mark.parametrize("name", ["𠮷𠮷", "𡈼𠀋", "\uf92c\uf92d"])
def test_a_name_of_rare_characters_is_masked(name: str) -> None:
    shown = shown_search(ExportRequest(query=name, filters={}))
    assert shown == name[0] + "*" * (len(name) - 1)


@pytest.mark.req("R10")
def test_common_names_and_numbers_stay_masked() -> None:
    assert shown_search(ExportRequest(query="欧阳娜娜", filters={})) == "欧***"
    assert shown_search(ExportRequest(query="110101199003070035", filters={})) == "110101********0035"
