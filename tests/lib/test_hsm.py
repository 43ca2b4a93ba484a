"""The key ring wrapped by a non-extractable master key in a real PKCS#11 token (SoftHSM2).

Every test gets its own SoftHSM2 token in a temporary directory (its own softhsm2.conf, pointed to by
SOFTHSM2_CONF), initialised with the real ``softhsm2-util``; nothing on the machine's default token store
is touched.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import AttributeSensitive, KeyUnextractable

from sidms.lib import hsm
from sidms.lib.crypto import KeyRing
from sidms.lib.hsm import HsmError

pytestmark = [pytest.mark.req("R17"), pytest.mark.req("B2")]

MODULE = hsm.DEFAULT_MODULE


@dataclass(frozen=True)
class Token:
    module: str
    label: str
    pin: str
    so_pin: str
    key_label: str
    directory: Path

    def wrap(self, ring: KeyRing, mechanism: str = "AES-GCM") -> bytes:
        return hsm.wrap_keyring(
            ring,
            module_path=self.module,
            token_label=self.label,
            pin=self.pin,
            key_label=self.key_label,
            mechanism=mechanism,
        )


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Token]:
    if not Path(MODULE).exists():
        pytest.skip(f"SoftHSM2 is not installed ({MODULE} is absent): apt-get install -y softhsm2")
    util = shutil.which("softhsm2-util")
    if util is None:
        pytest.skip("softhsm2-util is not on PATH: apt-get install -y softhsm2")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    # Labels unique per test: a module loaded by an earlier test may still list its (deleted) tokens.
    made = Token(
        module=MODULE,
        label=f"sidms-{uuid.uuid4().hex[:8]}",
        pin="4815162342",
        so_pin="so-1123581321",
        key_label="sidms-master",
        directory=tmp_path,
    )
    subprocess.run(
        [util, "--init-token", "--free", "--label", made.label, "--pin", made.pin, "--so-pin", made.so_pin],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    hsm.create_master_key(made.module, made.label, made.pin, made.key_label)
    yield made


def _ring() -> KeyRing:
    ring = KeyRing.generate("sm")
    ring.rotate("intl")  # two versions, two suites: the whole ring must survive, not just the current key
    return ring


def _flip(text: str, index: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


@pytest.mark.parametrize("mechanism", hsm.MECHANISMS)
def test_round_trip_keeps_every_key(token: Token, mechanism: str) -> None:
    ring = _ring()
    data = token.wrap(ring, mechanism)
    document = json.loads(data)
    assert document["format"] == hsm.WRAPPED_FORMAT
    assert document["mechanism"] == mechanism
    # Neither the PIN nor a field for it is stored (not the letters "pin" anywhere: base64 holds them by
    # chance in a few per cent of files, which made this test flaky).
    assert token.pin not in data.decode()
    assert not any("pin" in key.lower() for key in document)

    back = hsm.unwrap_keyring(data, pin=token.pin)

    assert back.to_json() == ring.to_json()
    aad = b"person.id_number:42"
    assert back.decrypt(ring.encrypt("370281199001011234", aad=aad), aad=aad) == "370281199001011234"
    assert ring.decrypt(back.encrypt("威海市环翠区", aad=aad), aad=aad) == "威海市环翠区"
    for version in ring.versions:
        assert back.key(version) == ring.key(version)
    assert back.blind_index("370281199001011234", domain="person.id_number") == ring.blind_index(
        "370281199001011234", domain="person.id_number"
    )
    assert back.mac(b"row") == ring.mac(b"row")


def test_load_keyring_reads_plain_and_wrapped_files(
    token: Token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = _ring()
    plain = tmp_path / "plain.keys"
    ring.save(plain)
    wrapped = tmp_path / "wrapped.keys"
    hsm.write_wrapped_keyring(wrapped, token.wrap(ring))
    assert (wrapped.stat().st_mode & 0o777) == 0o600

    # The embedded default: no PIN needed, none asked for.
    monkeypatch.delenv(hsm.PIN_ENV, raising=False)
    monkeypatch.delenv(hsm.PIN_FILE_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert hsm.load_keyring(plain).to_json() == ring.to_json()

    # Wrapped, with no PIN anywhere: refused with a reason, not a PKCS#11 stack trace.
    with pytest.raises(HsmError) as missing:
        hsm.load_keyring(wrapped)
    assert missing.value.reason == "pin_missing"

    # PIN as an argument, from the environment, from a 0600 file, from a systemd credential.
    assert hsm.load_keyring(wrapped, pin_source=token.pin).to_json() == ring.to_json()
    monkeypatch.setenv("SIDMS_TEST_PIN", token.pin)
    assert (
        hsm.load_keyring(wrapped, pin_source=hsm.pin_from_env("SIDMS_TEST_PIN")).to_json() == ring.to_json()
    )
    pin_file = tmp_path / "hsm-pin"
    pin_file.write_text(token.pin + "\n")
    pin_file.chmod(0o600)
    assert hsm.load_keyring(wrapped, pin_source=hsm.pin_from_file(pin_file)).to_json() == ring.to_json()
    monkeypatch.setenv(hsm.PIN_FILE_ENV, str(pin_file))
    assert hsm.load_keyring(wrapped).to_json() == ring.to_json()
    monkeypatch.delenv(hsm.PIN_FILE_ENV)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    shutil.copy(pin_file, credentials / hsm.PIN_CREDENTIAL)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert hsm.load_keyring(wrapped).to_json() == ring.to_json()

    # A PIN file others can read is refused, like ssh refuses such a private key.
    pin_file.chmod(0o644)
    with pytest.raises(HsmError) as loose:
        hsm.load_keyring(wrapped, pin_source=hsm.pin_from_file(pin_file))
    assert loose.value.reason == "pin_file_mode"

    garbage = tmp_path / "garbage.keys"
    garbage.write_text('{"format": "something-else"}')
    with pytest.raises(HsmError) as unknown:
        hsm.load_keyring(garbage, pin_source=token.pin)
    assert unknown.value.reason == "format"


def test_wrong_pin_is_refused(token: Token) -> None:
    data = token.wrap(_ring())
    with pytest.raises(HsmError) as refused:
        hsm.unwrap_keyring(data, pin="0000000000")
    assert refused.value.reason == "pin_incorrect"
    assert "口令" in refused.value.message and "PIN" in refused.value.message_en
    assert "0000000000" not in refused.value.message_en
    with pytest.raises(HsmError) as on_wrap:
        hsm.wrap_keyring(
            _ring(),
            module_path=token.module,
            token_label=token.label,
            pin="0000000000",
            key_label=token.key_label,
        )
    assert on_wrap.value.reason == "pin_incorrect"


@pytest.mark.parametrize("mechanism", hsm.MECHANISMS)
def test_a_flipped_byte_in_the_wrapped_key_ring_is_detected(token: Token, mechanism: str) -> None:
    data = token.wrap(_ring(), mechanism)
    document = json.loads(data)
    length = len(base64.b64decode(document["wrapped"]))
    # First byte, a middle byte, and the last byte (with AES-GCM: inside the tag).
    for index in (0, length // 2, length - 1):
        tampered = dict(document, wrapped=_flip(document["wrapped"], index))
        with pytest.raises(HsmError) as refused:
            hsm.unwrap_keyring(json.dumps(tampered).encode(), pin=token.pin)
        assert refused.value.reason == "tampered", index
        assert "篡改" in refused.value.message


def test_gcm_binds_iv_and_header(token: Token) -> None:
    document = json.loads(token.wrap(_ring()))
    with pytest.raises(HsmError) as iv:
        hsm.unwrap_keyring(json.dumps(dict(document, iv=_flip(document["iv"], 3))).encode(), pin=token.pin)
    assert iv.value.reason == "tampered"

    # A second key under another label: a file relabelled to it fails, because the label is GCM AAD.
    hsm.create_master_key(token.module, token.label, token.pin, "sidms-master-2")
    relabelled = dict(document, key_label="sidms-master-2")
    with pytest.raises(HsmError) as other_key:
        hsm.unwrap_keyring(json.dumps(relabelled).encode(), pin=token.pin)
    assert other_key.value.reason == "tampered"


def test_every_byte_of_the_file_is_covered(token: Token) -> None:
    data = token.wrap(_ring())
    # The host-local module path is the one field outside the integrity check (each host may keep the
    # library elsewhere, and we pass our own here). Every other byte, flipped, must be refused with a
    # reason (format, token or key not found, unsupported mechanism, tampered): JSON syntax, field names,
    # labels, IV, ciphertext, tag. Every 5th byte keeps the test short.
    start = data.index(token.module.encode())
    module_span = range(start, start + len(token.module))
    for index in range(0, len(data), 5):
        changed = bytearray(data)
        changed[index] ^= 0x01
        if index in module_span:
            hsm.unwrap_keyring(bytes(changed), pin=token.pin, module_path=token.module)
            continue
        with pytest.raises(HsmError) as refused:
            hsm.unwrap_keyring(bytes(changed), pin=token.pin, module_path=token.module)
        assert refused.value.reason in {
            "format",
            "token_not_found",
            "key_not_found",
            "mechanism_unsupported",
            "tampered",
        }


def test_master_key_cannot_leave_the_token(token: Token) -> None:
    library = pkcs11.lib(token.module)
    with library.get_token(token_label=token.label).open(rw=True, user_pin=token.pin) as session:
        key = session.get_key(ObjectClass.SECRET_KEY, label=token.key_label)
        assert key[Attribute.KEY_TYPE] == KeyType.AES
        assert key[Attribute.VALUE_LEN] == 32
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.TOKEN] is True
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]
        # Nor can it be exported wrapped under another key.
        exporter = session.generate_key(KeyType.AES, 256, label="exporter", template={Attribute.WRAP: True})
        with pytest.raises(KeyUnextractable):
            exporter.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)


def test_wrapped_file_holds_no_key_material(token: Token) -> None:
    ring = _ring()
    raw_keys = [ring.key(v).enc_key for v in ring.versions]
    plain = json.loads(ring.to_json())
    raw_keys += [base64.b64decode(plain["index"]["key"]), base64.b64decode(plain["mac"]["key"])]
    for mechanism in hsm.MECHANISMS:
        data = token.wrap(ring, mechanism)
        decoded = base64.b64decode(json.loads(data)["wrapped"])
        assert b"sidms-keyring/1" not in data and b"sidms-keyring/1" not in decoded
        for key in raw_keys:
            for form in (key, base64.b64encode(key), key.hex().encode()):
                assert form not in data, f"{mechanism}: key material in the file"
                assert form not in decoded, f"{mechanism}: key material in the decoded ciphertext"


def test_missing_token_key_and_duplicate_key_are_named(token: Token) -> None:
    data = token.wrap(_ring())
    document = json.loads(data)
    with pytest.raises(HsmError) as no_token:
        hsm.unwrap_keyring(json.dumps(dict(document, token_label="no-such-token")).encode(), pin=token.pin)
    assert no_token.value.reason == "token_not_found"
    assert "no-such-token" in no_token.value.message_en
    with pytest.raises(HsmError) as no_key:
        hsm.wrap_keyring(
            _ring(), module_path=token.module, token_label=token.label, pin=token.pin, key_label="nope"
        )
    assert no_key.value.reason == "key_not_found"
    with pytest.raises(HsmError) as exists:
        hsm.create_master_key(token.module, token.label, token.pin, token.key_label)
    assert exists.value.reason == "key_exists"
    with pytest.raises(HsmError) as module:
        hsm.unwrap_keyring(data, pin=token.pin, module_path=str(token.directory / "missing.so"))
    assert module.value.reason == "module_unavailable"
    with pytest.raises(HsmError) as mechanism:
        hsm.wrap_keyring(
            _ring(),
            module_path=token.module,
            token_label=token.label,
            pin=token.pin,
            key_label=token.key_label,
            mechanism="SM4-GCM",
        )
    assert mechanism.value.reason == "mechanism_unsupported"
