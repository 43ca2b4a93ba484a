"""The key ring, wrapped by a master key that never leaves a hardware security module (R17, B2).

``sidms.lib.crypto`` keeps the key ring (field-encryption key versions, blind-index key, row-MAC key) in a
JSON file with mode 0600. That is the embedded default. In production the same JSON is stored *wrapped*:
encrypted inside an HSM (a cipher machine, 密码机) by a master key that is generated there, is marked
non-extractable (``CKA_EXTRACTABLE`` false, ``CKA_SENSITIVE`` true) and is only ever used through PKCS#11.
Anyone who copies the wrapped file, a backup of it, or the whole disk, holds nothing without the HSM and
its user PIN.

Wrapped file (JSON, ``format`` ``sidms-keyring-wrapped/1``)::

    {"format": "sidms-keyring-wrapped/1",
     "module": "/usr/lib/softhsm/libsofthsm2.so",   # PKCS#11 library that reaches the HSM
     "token_label": "sidms", "key_label": "sidms-master-2026",
     "mechanism": "AES-GCM",                        # or "AES-KEY-WRAP-PAD"
     "iv": "<base64, AES-GCM only>",
     "wrapped": "<base64 ciphertext of KeyRing.to_json()>"}

With AES-GCM the header fields ``format``, ``token_label``, ``key_label`` and ``mechanism`` are the GCM
additional data, so they cannot be edited without the tag failing; ``module`` is not (it is a host's
library path and may differ between hosts). The PIN is never in the file: it is an argument, or comes
from ``SIDMS_HSM_PIN``, ``SIDMS_HSM_PIN_FILE`` or a systemd credential (see ``default_pin_source``).

Algorithms. SoftHSM2 (the software token used by the tests and for development) has no SM4, so its
master key is AES-256. An agency cipher machine certified under GB/T 37092 offers SM4 through the same
PKCS#11 interface, as vendor mechanisms (``CKM_VENDOR_DEFINED + n``, ``CKK_VENDOR_DEFINED + n``; the
numbers differ between vendors). That is why the mechanism is a parameter recorded in the file:
supporting such a machine means adding one entry to ``_MECHANISMS`` with the vendor's codes, not
changing the format. The key ring inside stays whatever suite it is (``"sm"`` by default).

Mechanisms offered here:

* ``"AES-GCM"`` (default): ``C_Encrypt``/``C_Decrypt`` with ``CKM_AES_GCM``, 96-bit IV from the token's
  RNG, 128-bit tag; the tag check happens inside the HSM.
* ``"AES-KEY-WRAP-PAD"``: for HSM policies that allow a key-encryption key to wrap/unwrap but not to
  encrypt data. The key ring JSON is imported as a short-lived generic-secret session object and wrapped
  with ``CKM_AES_KEY_WRAP_PAD`` (RFC 5649 in SoftHSM; note SoftHSMv2 issue #726: vendors disagree whether
  that code means RFC 5649 or PKCS#7+RFC 3394, so check the cipher machine's manual). Its integrity
  check covers the payload but not the file header.

Limits: the unwrapped key ring lives in this process's memory (Python cannot wipe a ``str``); the HSM
protects the key ring at rest and in backups, not a compromised running server.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    DataInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    GeneralError,
    MechanismInvalid,
    MechanismParamInvalid,
    MultipleObjectsReturned,
    MultipleTokensReturned,
    NoSuchKey,
    NoSuchToken,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PKCS11Error,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
)

from sidms.lib.crypto import KeyRing, KeyRingError
from sidms.lib.errors import StandardError

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library

__all__ = [
    "DEFAULT_MODULE",
    "MECHANISMS",
    "WRAPPED_FORMAT",
    "HsmError",
    "PinSource",
    "create_master_key",
    "default_pin_source",
    "is_wrapped",
    "load_keyring",
    "pin_from_env",
    "pin_from_file",
    "unwrap_keyring",
    "wrap_keyring",
    "write_wrapped_keyring",
]

WRAPPED_FORMAT = "sidms-keyring-wrapped/1"
_PLAIN_FORMAT = "sidms-keyring/1"
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN_ENV = "SIDMS_HSM_PIN"
PIN_FILE_ENV = "SIDMS_HSM_PIN_FILE"
PIN_CREDENTIAL = "sidms-hsm-pin"  # systemd LoadCredential= name, read from $CREDENTIALS_DIRECTORY
_GCM_IV_BITS = 96
_GCM_TAG_BITS = 128
_MASTER_KEY_BITS = 256

# A PIN is either given as text or fetched when needed (from the environment, a file, a prompt).
PinSource = str | Callable[[], str]


class HsmError(StandardError):
    """A key-ring operation through PKCS#11 failed.

    ``reason`` is one of: ``module_unavailable``, ``token_not_found``, ``token_ambiguous``,
    ``pin_missing``, ``pin_incorrect``, ``pin_locked``, ``pin_file_mode``, ``key_not_found``,
    ``key_ambiguous``, ``key_exists``, ``mechanism_unsupported``, ``format``, ``tampered``, ``hsm``.
    Messages never contain a PIN or key material.
    """


# --- PIN sources -------------------------------------------------------------------------------------


def pin_from_env(variable: str = PIN_ENV) -> Callable[[], str]:
    """A PIN source that reads an environment variable when the PIN is needed."""

    def read() -> str:
        value = os.environ.get(variable)
        if not value:
            raise HsmError(
                "pin_missing",
                f"未提供密码机用户口令（环境变量 {variable} 为空）",
                f"no HSM user PIN: the environment variable {variable} is not set",
            )
        return value

    return read


def pin_from_file(path: str | os.PathLike[str]) -> Callable[[], str]:
    """A PIN source that reads the first line of a file readable by its owner only (like ssh's keys)."""

    def read() -> str:
        target = Path(path)
        try:
            mode = target.stat().st_mode
            text = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise HsmError(
                "pin_missing",
                f"无法读取口令文件 {target}",
                f"cannot read the PIN file {target}: {exc.strerror}",
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise HsmError(
                "pin_file_mode",
                f"口令文件 {target} 可被其他用户读取，请设为 0600 或 0400",
                f"the PIN file {target} is accessible to group/others (mode {stat.S_IMODE(mode):o}); use 0600 or 0400",
            )
        pin = text.splitlines()[0] if text else ""
        if not pin:
            raise HsmError("pin_missing", f"口令文件 {target} 为空", f"the PIN file {target} is empty")
        return pin

    return read


def default_pin_source() -> Callable[[], str]:
    """``SIDMS_HSM_PIN``, else the file named by ``SIDMS_HSM_PIN_FILE``, else the systemd credential
    ``sidms-hsm-pin`` (``LoadCredential=sidms-hsm-pin:/etc/sidms/hsm-pin``), looked up when needed."""

    def read() -> str:
        if os.environ.get(PIN_ENV):
            return pin_from_env(PIN_ENV)()
        if os.environ.get(PIN_FILE_ENV):
            return pin_from_file(os.environ[PIN_FILE_ENV])()
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials and (Path(credentials) / PIN_CREDENTIAL).exists():
            return pin_from_file(Path(credentials) / PIN_CREDENTIAL)()
        raise HsmError(
            "pin_missing",
            f"未提供密码机用户口令：请设置 {PIN_ENV}、{PIN_FILE_ENV} 或 systemd 凭据 {PIN_CREDENTIAL}",
            f"no HSM user PIN: set {PIN_ENV}, {PIN_FILE_ENV} or the systemd credential {PIN_CREDENTIAL}",
        )

    return read


def _resolve_pin(source: PinSource) -> str:
    pin = source if isinstance(source, str) else source()
    if not pin:
        raise HsmError("pin_missing", "密码机用户口令为空", "the HSM user PIN is empty")
    return pin


# --- PKCS#11 plumbing --------------------------------------------------------------------------------


def _library(module_path: str) -> Pkcs11Library:
    try:
        return pkcs11.lib(module_path)
    except PKCS11Error as exc:
        raise HsmError(
            "module_unavailable",
            f"无法加载 PKCS#11 模块 {module_path}",
            f"cannot load the PKCS#11 module {module_path}: {exc}",
        ) from None


def _token(library: Pkcs11Library, token_label: str) -> pkcs11.Token:
    not_found = HsmError(
        "token_not_found",
        f"找不到标签为 {token_label!r} 的密码令牌",
        f"no PKCS#11 token labelled {token_label!r}",
    )
    for attempt in range(2):
        try:
            return library.get_token(token_label=token_label)
        except NoSuchToken:
            if attempt:
                raise not_found from None
            # Most modules (SoftHSM2 among them) build their slot list at C_Initialize, so a token
            # initialised after this process loaded the module is invisible until it is re-initialised.
            # Key-ring loading happens once at start-up, so re-initialising (which closes this
            # process's other sessions on the module) is acceptable here.
            library.reinitialize()
        except MultipleTokensReturned:
            raise HsmError(
                "token_ambiguous",
                f"有多个标签为 {token_label!r} 的密码令牌",
                f"more than one PKCS#11 token is labelled {token_label!r}",
            ) from None
    raise not_found  # pragma: no cover - the loop always returns or raises


@contextmanager
def _session(module_path: str, token_label: str, pin: str, *, rw: bool = False) -> Iterator[pkcs11.Session]:
    token = _token(_library(module_path), token_label)
    try:
        session = token.open(rw=rw, user_pin=pin)
    except (PinIncorrect, PinInvalid, PinLenRange):
        raise HsmError(
            "pin_incorrect",
            f"密码令牌 {token_label!r} 的用户口令错误",
            f"wrong user PIN for the PKCS#11 token {token_label!r}",
        ) from None
    except PinLocked:
        raise HsmError(
            "pin_locked",
            f"密码令牌 {token_label!r} 的用户口令已被锁定，请由安全管理员解锁",
            f"the user PIN of the PKCS#11 token {token_label!r} is locked; the security officer must unlock it",
        ) from None
    with session:
        yield session


# python-pkcs11 composes key classes from capability mixins at run time (a SecretKey that may encrypt is
# also an EncryptMixin), so the static type ``Key`` lacks encrypt/wrap_key; the key is typed ``Any``.
def _master_key(session: pkcs11.Session, key_label: str) -> Any:
    try:
        return session.get_key(ObjectClass.SECRET_KEY, label=key_label)
    except NoSuchKey:
        raise HsmError(
            "key_not_found",
            f"密码令牌中没有标签为 {key_label!r} 的主密钥",
            f"the token holds no secret key labelled {key_label!r}",
        ) from None
    except MultipleObjectsReturned:
        raise HsmError(
            "key_ambiguous",
            f"密码令牌中有多个标签为 {key_label!r} 的密钥",
            f"the token holds more than one secret key labelled {key_label!r}",
        ) from None


def create_master_key(module_path: str, token_label: str, pin: str, key_label: str) -> None:
    """Generate the non-extractable AES-256 master key inside the token, stored under ``key_label``.

    Refuses when a key with that label exists: two keys with one label would make unwrapping ambiguous,
    and silently replacing a master key would make every wrapped file unreadable.
    """
    with _session(module_path, token_label, pin, rw=True) as session:
        if list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: key_label})):
            raise HsmError(
                "key_exists",
                f"密码令牌中已有标签为 {key_label!r} 的密钥，不会覆盖",
                f"the token already holds a key labelled {key_label!r}; refusing to create another",
            )
        # SoftHSM2 has no SM4: the master key is AES-256. A cipher machine would generate an SM4 key here
        # with its vendor key type (CKK_VENDOR_DEFINED + n) through the same call.
        try:
            session.generate_key(
                KeyType.AES,
                _MASTER_KEY_BITS,
                label=key_label,
                store=True,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    Attribute.WRAP: True,
                    Attribute.UNWRAP: True,
                },
            )
        except PKCS11Error as exc:
            raise _hsm_failure("generate", exc) from None


def _hsm_failure(operation: str, exc: PKCS11Error) -> HsmError:
    return HsmError(
        "hsm", f"密码令牌操作失败（{operation}）", f"PKCS#11 {operation} failed: {type(exc).__name__}"
    )


# --- mechanisms --------------------------------------------------------------------------------------

# Errors a token reports when the ciphertext or its tag does not verify. SoftHSM2 answers a GCM tag
# failure with CKR_GENERAL_ERROR; the standard code is CKR_ENCRYPTED_DATA_INVALID.
_INTEGRITY_FAILURES = (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    DataInvalid,
    DataLenRange,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    GeneralError,
)


@dataclass(frozen=True)
class _Sealed:
    wrapped: bytes
    iv: bytes | None


def _seal_gcm(session: pkcs11.Session, key: Any, plaintext: bytes, aad: bytes) -> _Sealed:
    iv = session.generate_random(_GCM_IV_BITS)
    params = pkcs11.GCMParams(iv, aad, _GCM_TAG_BITS)
    return _Sealed(key.encrypt(plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=params), iv)


def _open_gcm(session: pkcs11.Session, key: Any, sealed: _Sealed, aad: bytes) -> bytes:
    if sealed.iv is None or len(sealed.iv) * 8 != _GCM_IV_BITS:
        raise _format_error("the AES-GCM IV is missing or not 96 bits")
    params = pkcs11.GCMParams(sealed.iv, aad, _GCM_TAG_BITS)
    return cast(bytes, key.decrypt(sealed.wrapped, mechanism=Mechanism.AES_GCM, mechanism_param=params))


def _seal_kwp(session: pkcs11.Session, key: Any, plaintext: bytes, aad: bytes) -> _Sealed:
    # The key ring is imported as a session object (gone when the session closes, never on the token),
    # wrapped, and destroyed at once.
    secret = session.create_object(
        {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
            Attribute.TOKEN: False,
            Attribute.SENSITIVE: False,
            Attribute.EXTRACTABLE: True,
            Attribute.VALUE: plaintext,
        }
    )
    try:
        return _Sealed(key.wrap_key(secret, mechanism=Mechanism.AES_KEY_WRAP_PAD), None)
    finally:
        secret.destroy()


def _open_kwp(session: pkcs11.Session, key: Any, sealed: _Sealed, aad: bytes) -> bytes:
    secret = key.unwrap_key(
        ObjectClass.SECRET_KEY,
        KeyType.GENERIC_SECRET,
        sealed.wrapped,
        mechanism=Mechanism.AES_KEY_WRAP_PAD,
        store=False,
        template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
    )
    try:
        value = cast(bytes, secret[Attribute.VALUE])
    finally:
        secret.destroy()
    # SoftHSM2 2.6 returns the RFC 5649-padded length (zeros up to a multiple of 8) from C_UnwrapKey. The
    # payload is JSON, which never ends in NUL, and the wrap's own integrity check already covered it.
    return value.rstrip(b"\x00")


_Sealer = Callable[[pkcs11.Session, Any, bytes, bytes], _Sealed]
_Opener = Callable[[pkcs11.Session, Any, _Sealed, bytes], bytes]
_MECHANISMS: dict[str, tuple[_Sealer, _Opener]] = {
    "AES-GCM": (_seal_gcm, _open_gcm),
    "AES-KEY-WRAP-PAD": (_seal_kwp, _open_kwp),
    # A cipher machine's SM4 would go here, e.g. "SM4-GCM" with its vendor mechanism code.
}
MECHANISMS: tuple[str, ...] = tuple(_MECHANISMS)


def _mechanism(name: str) -> tuple[_Sealer, _Opener]:
    try:
        return _MECHANISMS[name]
    except KeyError:
        raise HsmError(
            "mechanism_unsupported",
            f"不支持的封装机制 {name!r}",
            f"unsupported wrapping mechanism {name!r} (expected one of {list(_MECHANISMS)})",
        ) from None


def _aad(token_label: str, key_label: str, mechanism: str) -> bytes:
    header = {
        "format": WRAPPED_FORMAT,
        "key_label": key_label,
        "mechanism": mechanism,
        "token_label": token_label,
    }
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _format_error(detail: str) -> HsmError:
    return HsmError(
        "format", "封装密钥环文件格式错误或已损坏", f"the wrapped key-ring file is malformed: {detail}"
    )


def _tampered() -> HsmError:
    return HsmError(
        "tampered",
        "封装密钥环完整性校验未通过（文件被篡改、损坏，或主密钥不符）",
        "the wrapped key ring failed its integrity check (tampered or corrupt file, or a different master key)",
    )


# --- wrap / unwrap -----------------------------------------------------------------------------------


def wrap_keyring(
    ring: KeyRing,
    *,
    module_path: str = DEFAULT_MODULE,
    token_label: str,
    pin: str,
    key_label: str,
    mechanism: str = "AES-GCM",
) -> bytes:
    """The wrapped-file bytes for ``ring``: its JSON encrypted in the HSM under the master key."""
    seal, _ = _mechanism(mechanism)
    with _session(module_path, token_label, pin) as session:
        key = _master_key(session, key_label)
        try:
            sealed = seal(
                session, key, ring.to_json().encode("utf-8"), _aad(token_label, key_label, mechanism)
            )
        except (MechanismInvalid, MechanismParamInvalid):
            raise HsmError(
                "mechanism_unsupported",
                f"密码令牌不支持封装机制 {mechanism}",
                f"the token does not support the mechanism {mechanism}",
            ) from None
        except PKCS11Error as exc:
            raise _hsm_failure("wrap", exc) from None
    document: dict[str, str] = {
        "format": WRAPPED_FORMAT,
        "module": module_path,
        "token_label": token_label,
        "key_label": key_label,
        "mechanism": mechanism,
    }
    if sealed.iv is not None:
        document["iv"] = base64.b64encode(sealed.iv).decode("ascii")
    document["wrapped"] = base64.b64encode(sealed.wrapped).decode("ascii")
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _parse_wrapped(data: bytes) -> dict[str, str]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _format_error("not UTF-8 JSON") from None
    if not isinstance(document, dict) or document.get("format") != WRAPPED_FORMAT:
        raise _format_error(f"the format field is not {WRAPPED_FORMAT!r}")
    for name in ("module", "token_label", "key_label", "mechanism", "wrapped"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise _format_error(f"the field {name!r} is missing or not a string")
    if "iv" in document and not isinstance(document["iv"], str):
        raise _format_error("the field 'iv' is not a string")
    return cast(dict[str, str], document)


def _b64decode(text: str, name: str) -> bytes:
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _format_error(f"the field {name!r} is not valid base64") from None
    # Only the canonical encoding: otherwise a changed character in the unused low bits of the last
    # group would decode to the same bytes and an edited file would pass as untouched.
    if base64.b64encode(value).decode("ascii") != text:
        raise _format_error(f"the field {name!r} is not canonical base64")
    return value


def unwrap_keyring(data: bytes, *, pin: str, module_path: str | None = None) -> KeyRing:
    """The key ring inside a wrapped file. ``module_path`` overrides the file's (another host's path)."""
    document = _parse_wrapped(data)
    mechanism = document["mechanism"]
    _, open_ = _mechanism(mechanism)
    sealed = _Sealed(
        _b64decode(document["wrapped"], "wrapped"),
        _b64decode(document["iv"], "iv") if "iv" in document else None,
    )
    token_label, key_label = document["token_label"], document["key_label"]
    with _session(module_path or document["module"], token_label, pin) as session:
        key = _master_key(session, key_label)
        try:
            plaintext = open_(session, key, sealed, _aad(token_label, key_label, mechanism))
        except _INTEGRITY_FAILURES:
            raise _tampered() from None
        except (MechanismInvalid, MechanismParamInvalid):
            raise HsmError(
                "mechanism_unsupported",
                f"密码令牌不支持封装机制 {mechanism}",
                f"the token does not support the mechanism {mechanism}",
            ) from None
        except PKCS11Error as exc:
            raise _hsm_failure("unwrap", exc) from None
    try:
        return KeyRing.from_json(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, KeyRingError):
        # Only reachable if the mechanism has no integrity check of its own (or a vendor bug).
        raise _tampered() from None


def is_wrapped(data: bytes) -> bool:
    """True for a wrapped key-ring file, False for anything else (a plain key file, garbage)."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and document.get("format") == WRAPPED_FORMAT


def load_keyring(
    path: str | os.PathLike[str],
    *,
    pin_source: PinSource | None = None,
    module_path: str | None = None,
) -> KeyRing:
    """Load a plain key file (the embedded default) or a wrapped one, told apart by its ``format`` field.

    The PIN is only looked up for a wrapped file; ``pin_source`` defaults to ``default_pin_source()``.
    """
    data = Path(path).read_bytes()
    if is_wrapped(data):
        pin = _resolve_pin(pin_source if pin_source is not None else default_pin_source())
        return unwrap_keyring(data, pin=pin, module_path=module_path)
    try:
        return KeyRing.from_json(data.decode("utf-8"))
    except (UnicodeDecodeError, KeyRingError) as exc:
        raise HsmError(
            "format",
            f"{path} 既不是密钥环文件，也不是封装密钥环文件",
            f"{path} is neither a key ring ({_PLAIN_FORMAT!r}) nor a wrapped key ring ({WRAPPED_FORMAT!r}): {exc}",
        ) from None


def write_wrapped_keyring(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a wrapped file atomically with mode 0600 (same discipline as ``KeyRing.save``)."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
