"""E-mail addresses (sidms.lib.email): email-validator, syntax only, never DNS."""

from __future__ import annotations

import socket
from typing import NoReturn

import email_validator.deliverability
import pytest

from sidms.lib import email
from sidms.lib.email import InvalidEmail


def reason_of(text: str) -> str:
    with pytest.raises(InvalidEmail) as info:
        email.parse(text)
    return info.value.reason


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("e-mail validation must not touch the network")

    # email-validator swallows socket errors inside its DNS check (broad except), so a socket trap
    # alone would not notice a lookup: also trap the entry point of the deliverability check.
    monkeypatch.setattr(email_validator.deliverability, "validate_email_deliverability", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "sendto", refuse)


@pytest.mark.req("R7.2")
def test_the_domain_is_lower_cased_and_the_local_part_kept() -> None:
    assert email.parse("Zhang.San@Example.COM") == "Zhang.San@example.com"


@pytest.mark.req("R7.2")
def test_surrounding_whitespace_is_stripped() -> None:
    assert email.parse("  zhangsan@example.com \n") == "zhangsan@example.com"


@pytest.mark.req("R7.2")
def test_internationalised_addresses_are_accepted() -> None:
    assert email.parse("王五@例子.中国") == "王五@例子.中国"


@pytest.mark.req("R7.2")
def test_a_punycode_domain_normalises_to_its_unicode_form() -> None:
    assert email.parse("a@xn--fiqs8s.xn--fiqs8s") == "a@中国.中国"


@pytest.mark.req("R7.2")
def test_validation_works_offline_and_never_looks_up_the_domain(no_network: None) -> None:
    # A domain that surely does not exist: with deliverability checks on, this would need DNS.
    assert email.parse("clerk@sidms-no-such-domain-4f2a.cn") == "clerk@sidms-no-such-domain-4f2a.cn"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_address_is_refused_as_empty(text: str) -> None:
    assert reason_of(text) == "empty"


@pytest.mark.req("R7.2")
@pytest.mark.parametrize(
    "text",
    [
        "zhangsan",
        "zhangsan@",
        "@example.com",
        "a@b",
        "user@localhost",
        "x@foo.invalid",
        "a..b@example.com",
        "zhang san@example.com",
        "zhangsan＠example.com",  # full-width at sign
        "a@example.com@example.com",
    ],
)
def test_malformed_addresses_are_refused_as_invalid(text: str) -> None:
    assert reason_of(text) == "invalid"


@pytest.mark.req("R7.2")
def test_the_message_is_chinese_and_the_english_twin_carries_the_library_detail() -> None:
    with pytest.raises(InvalidEmail) as info:
        email.parse("a@b")
    assert str(info.value).startswith("电子邮箱地址格式不正确")
    assert "period" in info.value.message_en  # email-validator: "... It should have a period."
