"""Attack round 9 on the two sign-in factors of a staff account (R17: two factors, one of them cryptographic;
R16): an outsider who has a password, and a security administrator who wants to be someone else.

* The enrolment code. At the first sign-in (or after a lost phone) the password opens the page that asks for
  the eight-digit enrolment code the administrator handed over; a right code lets the person bind an
  authenticator of their own. Nothing limited the tries: with a password alone (phished, or the initial one
  guessed), the 10^8 codes could be walked within the code's three days, and the walker bound his own
  authenticator. Now as many wrong codes as lock a password (``lockout.failures``) void the code; the
  administrator issues a new one.
* Both factors in one hand. A security administrator set a password (or created the account with it) and
  issued the same account's enrolment code: he held both factors and signed in as that person — any clerk,
  reviewer or approver, a city administrator whose confirmation he needed, or the second security
  administrator, and then confirmed his own proposals as them: four eyes became one person's two hands. Now the
  administrator who set the password does not issue the code, and the one who issued a code still open does
  not set the password; a second administrator does the other half.

* A proven code outlived itself. The session remembered only that *a* code had been right: someone who had
  the password and a code that then leaked, and had typed it, still bound an authenticator after the
  administrator replaced the code because it leaked. The session now proves the code it was given, while
  that code is open.

What held, pinned here: wrong TOTP codes are throttled (the right code right after three wrong ones is still
refused), and a password lock-out holds against the login name written another way (full-width letters,
spaces around it)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sidms.audit.models import AuditEvent
from sidms.core.errors import SeparationOfDuties
from sidms.registry.models import Staff
from sidms.security import accounts
from sidms.security.models import SealedTOTPDevice
from tests.conftest import PASSWORD, current_code, enrol

pytestmark = pytest.mark.django_db

OTHER_PASSWORD = "Another-Horse-Battery-77"


def _wrong(code: str, n: int) -> str:
    return f"{(int(code) + n) % 10**8:08d}"


def _at_enrolment(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": password})["Location"] == "/login/otp/"
    assert client.get("/login/otp/")["Location"] == "/login/enrol/"
    return client


@pytest.mark.req("R17")
def test_wrong_enrolment_codes_void_the_code_before_it_can_be_walked(security: Any, make_staff: Any) -> None:
    newcomer = make_staff("newbie", posts=("window_clerk",), district="371002")
    code = accounts.staff_issue_enrolment_code(actor=security, staff=newcomer)
    walker = _at_enrolment("newbie")
    for n in range(1, 5):  # four wrong codes: the fifth try may still be right (lockout.failures is 5)
        page = walker.post("/login/enrol/", {"code": _wrong(code, n)}).content.decode()
        assert "登记码错误或已过期" in page
    page = walker.post("/login/enrol/", {"code": _wrong(code, 5)}).content.decode()
    assert "登记码输错次数过多，该登记码已作废" in page
    # The right code no longer binds anything: the walker would have had to guess it within five tries.
    assert walker.post("/login/enrol/", {"code": code}).status_code == 200
    assert not SealedTOTPDevice.objects.filter(user=newcomer).exists()
    newcomer.refresh_from_db()
    assert newcomer.enrolment_code == "" and newcomer.enrolment_expires is None
    assert AuditEvent.objects.filter(action="auth.enrolment_failed", object_id=str(newcomer.pk)).count() == 6
    void = AuditEvent.objects.get(action="staff.enrolment_void", object_id="newbie")
    assert void.outcome == "ok"
    # A new code from the administrator starts a new count, and the person enrols with it.
    fresh = accounts.staff_issue_enrolment_code(actor=security, staff=newcomer)
    person = _at_enrolment("newbie")
    assert "登记码错误或已过期" in person.post("/login/enrol/", {"code": _wrong(fresh, 1)}).content.decode()
    assert person.post("/login/enrol/", {"code": fresh})["Location"] == "/login/enrol/"
    assert person.get("/login/enrol/").status_code == 200
    device = SealedTOTPDevice.objects.get(user=newcomer, confirmed=False)
    assert person.post("/login/enrol/", {"token": current_code(device)})["Location"] == "/"
    from sidms.changes.verify import verify_store

    assert verify_store().ok  # the void and the new code are revisions of the account like any change


@pytest.mark.req("R17")
def test_an_account_half_way_through_enrolment_is_not_named_as_tampered(
    security: Any, make_staff: Any
) -> None:
    """The authenticator a person scans is not part of the account until their first code confirms it: counted
    before, the account differed from its latest revision from the QR page to that code, verification named it
    as changed behind the system's back, and the sign-in check would have refused the person."""
    from sidms.changes.verify import verify_store

    newcomer = make_staff("newbie", posts=("window_clerk",), district="371002")
    code = accounts.staff_issue_enrolment_code(actor=security, staff=newcomer)
    person = _at_enrolment("newbie")
    person.post("/login/enrol/", {"code": code})
    assert "<svg" in person.get("/login/enrol/").content.decode()
    assert SealedTOTPDevice.objects.filter(user=newcomer, confirmed=False).exists()
    assert verify_store().ok
    assert accounts.account_intact(Staff.objects.get(pk=newcomer.pk))
    # The person closes the browser and comes back to finish: the password step lets them in.
    again = _at_enrolment("newbie")
    again.post("/login/enrol/", {"code": code})
    device = SealedTOTPDevice.objects.get(user=newcomer, confirmed=False)
    assert again.post("/login/enrol/", {"token": current_code(device)})["Location"] == "/"
    assert verify_store().ok


@pytest.mark.req("R16")
@pytest.mark.req("B7")
def test_the_administrator_who_set_the_password_does_not_issue_the_enrolment_code(
    security: Any, security2: Any, make_staff: Any
) -> None:
    victim = make_staff("victim", posts=("reviewer",), district="371002")
    enrol(victim)
    accounts.staff_set_password(actor=security, staff=victim, password=OTHER_PASSWORD)
    with pytest.raises(SeparationOfDuties):
        accounts.staff_issue_enrolment_code(actor=security, staff=victim)
    denied = AuditEvent.objects.filter(action="staff.denied", actor="security_city").get()
    assert denied.object_id == "victim" and "both_factors_set_password" in denied.payload
    # The victim's authenticator is untouched: the administrator knows a password and nothing more.
    assert SealedTOTPDevice.objects.filter(user=victim, confirmed=True).count() == 1
    attempt = Client()
    attempt.post("/login/", {"username": "victim", "password": OTHER_PASSWORD})
    assert attempt.get("/login/enrol/")["Location"] == "/login/otp/"  # bound: no enrolment page
    # A second administrator issues it (the phone was lost): two people, each holding one factor.
    assert len(accounts.staff_issue_enrolment_code(actor=security2, staff=victim)) == 8


@pytest.mark.req("R16")
@pytest.mark.req("B7")
def test_the_administrator_who_issued_an_open_code_does_not_set_the_password(
    security: Any, security2: Any, make_staff: Any
) -> None:
    victim = make_staff("victim", posts=("approver",), district="371000")
    accounts.staff_issue_enrolment_code(actor=security, staff=victim)
    with pytest.raises(SeparationOfDuties):
        accounts.staff_set_password(actor=security, staff=victim, password=OTHER_PASSWORD)
    assert Staff.objects.get(pk=victim.pk).check_password(PASSWORD)
    accounts.staff_set_password(actor=security2, staff=victim, password=OTHER_PASSWORD)
    # Now the second holds the password: he does not issue a code, while the first may replace his own.
    with pytest.raises(SeparationOfDuties):
        accounts.staff_issue_enrolment_code(actor=security2, staff=victim)
    assert len(accounts.staff_issue_enrolment_code(actor=security, staff=victim)) == 8


@pytest.mark.req("R16")
@pytest.mark.req("B7")
def test_the_creator_of_an_account_does_not_issue_its_first_enrolment_code_on_the_page(
    security: Any, security2: Any, signed_in: Any
) -> None:
    first, second = signed_in(security), signed_in(security2)
    created = first.post(
        "/staff/new/",
        {"username": "clerk_wd", "full_name": "文登窗口 李红", "district": "371003", "password": OTHER_PASSWORD,
         "password_again": OTHER_PASSWORD, "agreement_signed_on": "2026-03-01"},
    )  # fmt: skip
    assert created.status_code == 302, created.content.decode()[:2000]
    member = Staff.objects.get(username="clerk_wd")
    page = first.get(f"/staff/{member.pk}/enrolment-code/")
    assert "另一名安全管理员签发" in page.content.decode() and 'name="token"' not in page.content.decode()
    # The form of an earlier visit (a token) posted anyway: refused, and no code issued.
    form = second.get(f"/staff/{member.pk}/enrolment-code/").content.decode()
    assert 'name="token"' in form
    first.get("/staff/")  # the first administrator's session holds no token for this form
    refused = first.post(f"/staff/{member.pk}/enrolment-code/", {"token": "forged"})
    assert refused.status_code == 409
    member.refresh_from_db()
    assert member.enrolment_code == ""
    # Setting a password over a code a colleague issued is fine; over one's own open code it is refused.
    token = form.split('name="token" value="')[1].split('"')[0]
    assert second.post(f"/staff/{member.pk}/enrolment-code/", {"token": token}).status_code == 200
    reset = second.post(
        f"/staff/{member.pk}/password/", {"password": PASSWORD, "password_again": PASSWORD}
    ).content.decode()
    assert "该账号尚未使用的登记码由您签发" in reset
    done = first.post(f"/staff/{member.pk}/password/", {"password": PASSWORD, "password_again": PASSWORD})
    assert done.status_code == 302


@pytest.mark.req("R17")
def test_wrong_totp_codes_are_throttled_and_a_lockout_holds_against_the_name_written_otherwise(
    huancui_clerk: Any,
) -> None:
    device = enrol(huancui_clerk)
    client = Client()
    client.post("/login/", {"username": "clerk_hc", "password": PASSWORD})
    for _ in range(3):
        client.post("/login/otp/", {"token": "000000"})
    throttled = client.post("/login/otp/", {"token": current_code(device)})
    assert throttled.status_code == 200 and client.get("/").status_code == 302

    for _ in range(5):
        Client().post("/login/", {"username": "clerk_hc", "password": "wrong-wrong-wrong"})
    for name in ("clerk_hc", "ｃｌｅｒｋ＿ｈｃ", " clerk_hc", "clerk_hc "):
        assert Client().post("/login/", {"username": name, "password": PASSWORD}).status_code == 429, name


@pytest.mark.req("R17")
def test_a_code_proven_in_a_session_does_not_outlive_its_replacement(security: Any, make_staff: Any) -> None:
    newcomer = make_staff("newbie", posts=("window_clerk",), district="371002")
    leaked = accounts.staff_issue_enrolment_code(actor=security, staff=newcomer)
    intruder = _at_enrolment("newbie")  # he has the password and the leaked code
    assert intruder.post("/login/enrol/", {"code": leaked})["Location"] == "/login/enrol/"
    assert "<svg" in intruder.get("/login/enrol/").content.decode()
    stolen = SealedTOTPDevice.objects.get(user=newcomer, confirmed=False)
    accounts.staff_issue_enrolment_code(actor=security, staff=newcomer)  # the leak is known: a new code
    page = intruder.post("/login/enrol/", {"token": current_code(stolen)})
    assert page.status_code == 200 and "8 位登记码" in page.content.decode()  # asked for the new code again
    again = intruder.get("/login/enrol/").content.decode()  # no new QR code to scan either
    assert "<svg" not in again and "8 位登记码" in again
    assert not SealedTOTPDevice.objects.filter(user=newcomer).exists()
    assert not SealedTOTPDevice.objects.filter(user=newcomer, confirmed=True).exists()
    assert intruder.get("/").status_code == 302
