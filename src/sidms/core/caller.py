"""Who is acting, and from where: the plain context every service takes instead of an HttpRequest.

A web view builds one from its request (sidms.web.context.caller_of), the API from its token, a command
from the operator's name. Services accept either a Caller or the bare staff member (``Caller.of``), so
that tests and commands need not build one by hand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Actor(Protocol):
    """What the kernel needs of a staff member (sidms.registry.models.Staff satisfies it)."""

    pk: Any
    username: str

    @property
    def posts(self) -> frozenset[str]: ...

    @property
    def is_city_level(self) -> bool: ...


@dataclass(frozen=True)
class Caller:
    actor: Any  # a staff member (Actor), or a plain name such as "system:demo" for the system itself
    address: str = ""  # the client's IP address as the proxy reported it
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    channel: str = ""  # the channel of the surface the call came through (web window, kiosk, API …)

    @classmethod
    def of(cls, who: Any) -> Caller:
        return who if isinstance(who, Caller) else cls(actor=who, request_id="")

    @property
    def name(self) -> str:
        """The actor's login name as history and audit record it."""
        return actor_name(self.actor)

    @property
    def staff(self) -> Any:
        return self.actor


def actor_name(actor: Any) -> str:
    if isinstance(actor, Caller):
        return actor.name
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    username = getattr(actor, "username", "")
    return str(username) if username else "anonymous"


def caller_from_request(request: Any, actor: Any = None) -> Caller:
    """The Caller of a web request (duck-typed, so the kernel needs nothing of Django's HTTP layer). One
    request id per request, kept on the request, ties together every event it causes."""
    if request is None:
        return Caller.of(actor)
    request_id = getattr(request, "sidms_request_id", None)
    if request_id is None:
        request_id = uuid.uuid4().hex
        request.sidms_request_id = request_id
    # Behind the agency's reverse proxy the proxy sets REMOTE_ADDR (granian --forwarded-allow-ips);
    # X-Forwarded-For is never trusted here because a client can forge it.
    address = str(getattr(request, "META", {}).get("REMOTE_ADDR", ""))
    who = actor if actor is not None else getattr(request, "user", None)
    return Caller(actor=who, address=address, request_id=request_id, channel="window")
