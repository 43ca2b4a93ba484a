"""Error type shared by the standards validators (ID number, credit code, phone, e-mail).

Every refusal carries three things:

* ``reason``: a stable machine code (``"check_digit"``, ``"length"`` …) that callers, importers and
  data-quality reports can count and switch on without parsing prose;
* ``message``: a Chinese sentence a clerk can act on (this is also ``str(exc)``, because that is what
  Django's form machinery and most log lines show);
* ``message_en``: the same in English, for developers and English-language reports.

Messages deliberately never repeat the full submitted value: these errors end up in logs and audit
trails, and an ID number in a log line is personal data leaking out of the encrypted store.
"""

from __future__ import annotations

__all__ = ["StandardError"]


class StandardError(ValueError):
    """A value does not conform to the standard it claims to follow.

    Subclasses ``ValueError`` so that generic code (``int()``-style callers, Django validators that
    wrap ``ValueError``) keeps working.
    """

    reason: str
    message: str
    message_en: str

    def __init__(self, reason: str, message: str, message_en: str) -> None:
        # All three go to ``args`` so that the exception pickles and copies faithfully
        # (``BaseException.__reduce__`` re-creates it as ``cls(*args)``).
        super().__init__(reason, message, message_en)
        self.reason = reason
        self.message = message
        self.message_en = message_en

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message_en={self.message_en!r})"
