"""E-mail addresses: syntax validation and normalisation with ``email-validator``.

Deliverability checking is always off: the library's default performs DNS lookups, which fail or hang
on the offline government network (offline it reports "The domain name example.com does not exist"),
and a validator must not depend on the network. Internationalised addresses (王五@例子.中国) are
accepted because they are legal (RFC 6531) and staff may enter them.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from sidms.lib.errors import StandardError

__all__ = ["InvalidEmail", "parse"]


class InvalidEmail(StandardError):
    """The text is not a syntactically valid e-mail address."""


def parse(text: str) -> str:
    """Return the normalised address (domain lower-cased and in Unicode form, local part kept).

    Surrounding whitespace is stripped. Raises :class:`InvalidEmail` with ``reason`` ``empty`` or
    ``invalid``; ``message_en`` carries email-validator's detailed explanation.
    """
    address = text.strip()
    if not address:
        raise InvalidEmail("empty", "未填写电子邮箱地址", "the e-mail address is empty")
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(
            "invalid",
            "电子邮箱地址格式不正确，应形如 zhangsan@example.com（请使用半角字符，@ 后须为完整域名）",
            f"the e-mail address is not valid: {exc}",
        ) from None
    return result.normalized
