"""Field encryption, blind indexes and row MACs with a versioned key ring (sidms.lib.crypto)."""

from __future__ import annotations

import base64
import hmac
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sidms.lib import crypto
from sidms.lib.crypto import DecryptionError, KeyRing, KeyRingError

SUITES = ["sm", "intl"]
HEADER, NONCE, TAG = 4, 12, 16


@dataclass(frozen=True)
class RawKeys:
    enc: dict[int, bytes]
    index: bytes
    mac: bytes


def raw_keys(ring: KeyRing) -> RawKeys:
    """The key material as stored in the key file (the only public way to see it)."""
    data = json.loads(ring.to_json())
    return RawKeys(
        enc={int(v): base64.b64decode(k["key"]) for v, k in data["keys"].items()},
        index=base64.b64decode(data["index"]["key"]),
        mac=base64.b64decode(data["mac"]["key"]),
    )


def decrypt_reason(ring: KeyRing, token: bytes, aad: bytes = b"") -> str:
    with pytest.raises(DecryptionError) as info:
        ring.decrypt(token, aad=aad)
    return info.value.reason


# --- round trips and the token format ---------------------------------------------------------------


@pytest.mark.req("R19")
@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("plaintext", ["371002196001010011", "张三", "", "a" * 10_000])
def test_encrypted_values_decrypt_to_the_original_in_both_suites(suite: str, plaintext: str) -> None:
    ring = KeyRing.generate(suite)
    token = ring.encrypt(plaintext, aad=b"person.id_number:1")
    assert plaintext.encode() not in token or plaintext == ""
    assert ring.decrypt(token, aad=b"person.id_number:1") == plaintext


@pytest.mark.req("B2")
def test_the_default_suite_is_national_cryptography() -> None:
    ring = KeyRing.generate()
    assert (ring.suite, ring.index_suite) == ("sm", "sm")
    assert crypto.token_suite(ring.encrypt("x")) == "sm"


@pytest.mark.req("B2")
@pytest.mark.parametrize(("suite", "suite_id"), [("sm", 0x01), ("intl", 0x02)])
def test_the_token_header_names_format_suite_and_key_version(suite: str, suite_id: int) -> None:
    ring = KeyRing.generate(suite)
    token = ring.encrypt("张三")
    assert token[0] == 0x01
    assert token[1] == suite_id
    assert token[2:4] == (1).to_bytes(2, "big")
    assert len(token) == HEADER + NONCE + len("张三".encode()) + TAG
    assert (crypto.token_suite(token), crypto.token_version(token)) == (suite, 1)


@pytest.mark.req("R19")
def test_the_same_value_encrypts_differently_each_time() -> None:
    ring = KeyRing.generate()
    first, second = ring.encrypt("371002196001010011"), ring.encrypt("371002196001010011")
    assert first != second
    assert first[HEADER : HEADER + NONCE] != second[HEADER : HEADER + NONCE]


@pytest.mark.req("R19")
def test_decrypt_accepts_memoryview_and_bytearray_from_database_drivers() -> None:
    ring = KeyRing.generate()
    token = ring.encrypt("张三")
    assert ring.decrypt(memoryview(token)) == ring.decrypt(bytearray(token)) == "张三"


# --- known answers: the suites really are SM4-GCM and AES-256-GCM ------------------------------------


@pytest.mark.req("B2")
def test_cryptography_sm4_matches_the_gb_t_32907_example() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - one-block known answer
    assert encryptor.update(key).hex() == "681edf34d206965e86b3e94f536e4246"


@pytest.mark.req("B2")
def test_our_sm4_gcm_matches_the_rfc_8998_test_vector() -> None:
    sealed = crypto._sm4_gcm_encrypt(
        bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
        bytes.fromhex("00001234567800000000ABCD"),
        bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"),
        bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                      "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"),
    )  # fmt: skip
    assert sealed[:-TAG].hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    assert sealed[-TAG:].hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"


@pytest.mark.req("B2")
def test_an_sm_token_is_sm4_gcm_under_the_key_of_its_version() -> None:
    # GCM encrypts with CTR mode starting at counter block nonce || 00000002.
    ring = KeyRing.generate("sm")
    token = ring.encrypt("371002196001010011")
    key = raw_keys(ring).enc[1]
    nonce = token[HEADER : HEADER + NONCE]
    keystream = Cipher(algorithms.SM4(key), modes.CTR(nonce + b"\x00\x00\x00\x02")).encryptor()
    assert token[HEADER + NONCE : -TAG] == keystream.update(b"371002196001010011")


@pytest.mark.req("R19")
def test_an_intl_token_opens_with_plain_aes_gcm_and_the_header_as_associated_data() -> None:
    ring = KeyRing.generate("intl")
    token = ring.encrypt("张三", aad=b"row:7")
    key = raw_keys(ring).enc[1]
    plaintext = AESGCM(key).decrypt(
        token[HEADER : HEADER + NONCE], token[HEADER + NONCE :], token[:HEADER] + b"row:7"
    )
    assert plaintext.decode() == "张三"


# --- rotation ---------------------------------------------------------------------------------------


@pytest.mark.req("R17")
def test_after_rotation_old_tokens_still_decrypt_and_new_ones_use_the_new_version() -> None:
    ring = KeyRing.generate("sm")
    old = ring.encrypt("张三")
    assert ring.rotate() == 2
    new = ring.encrypt("张三")
    assert (ring.current, ring.versions) == (2, (1, 2))
    assert (crypto.token_version(old), crypto.token_version(new)) == (1, 2)
    assert ring.decrypt(old) == ring.decrypt(new) == "张三"


@pytest.mark.req("B2")
def test_rotation_can_switch_the_suite_and_both_generations_stay_readable() -> None:
    ring = KeyRing.generate("sm")
    old = ring.encrypt("李四")
    ring.rotate("intl")
    new = ring.encrypt("李四")
    assert (crypto.token_suite(old), crypto.token_suite(new)) == ("sm", "intl")
    assert ring.decrypt(old) == ring.decrypt(new) == "李四"


@pytest.mark.req("R17")
def test_a_retired_version_can_no_longer_decrypt() -> None:
    ring = KeyRing.generate()
    old = ring.encrypt("张三")
    ring.rotate()
    ring.retire(1)
    assert ring.versions == (2,)
    assert decrypt_reason(ring, old) == "unknown_version"


@pytest.mark.req("R17")
def test_the_current_version_cannot_be_retired() -> None:
    ring = KeyRing.generate()
    with pytest.raises(KeyRingError):
        ring.retire(1)
    with pytest.raises(KeyRingError):
        ring.retire(7)


@pytest.mark.req("R17")
def test_unknown_suites_are_refused() -> None:
    with pytest.raises(KeyRingError):
        KeyRing.generate("des")
    with pytest.raises(KeyRingError):
        KeyRing.generate().rotate("des")


# --- tampering --------------------------------------------------------------------------------------


@pytest.mark.req("R19")
@pytest.mark.parametrize("suite", SUITES)
def test_flipping_any_bit_of_a_token_is_detected(suite: str) -> None:
    ring = KeyRing.generate(suite)
    ring.rotate()
    token = ring.encrypt("371002196001010011")
    for position in range(len(token)):
        for bit in (0x01, 0x80):
            tampered = bytearray(token)
            tampered[position] ^= bit
            with pytest.raises(DecryptionError):
                ring.decrypt(bytes(tampered))


@pytest.mark.req("R19")
def test_tampering_with_the_ciphertext_is_reported_as_an_authentication_failure() -> None:
    ring = KeyRing.generate()
    tampered = bytearray(ring.encrypt("张三"))
    tampered[HEADER + NONCE] ^= 0x01
    with pytest.raises(DecryptionError) as info:
        ring.decrypt(bytes(tampered))
    assert info.value.reason == "authentication"
    assert "完整性校验未通过" in str(info.value)
    assert "authentication failed" in info.value.message_en


@pytest.mark.req("R19")
def test_changing_the_version_in_the_header_cannot_redirect_a_token_to_another_key() -> None:
    ring = KeyRing.generate()
    ring.rotate()
    token = bytearray(ring.encrypt("张三"))  # version 2
    token[2:4] = (1).to_bytes(2, "big")
    assert decrypt_reason(ring, bytes(token)) == "authentication"


@pytest.mark.req("R19")
def test_claiming_another_suite_in_the_header_is_refused() -> None:
    ring = KeyRing.generate("sm")
    token = bytearray(ring.encrypt("张三"))
    token[1] = crypto.SUITES["intl"]
    assert decrypt_reason(ring, bytes(token)) == "suite_mismatch"


@pytest.mark.req("R19")
@pytest.mark.parametrize(
    ("token", "reason"),
    [(b"", "format"), (b"\x01\x01\x00\x01" + b"\x00" * 27, "format"), (b"\x02" + b"\x00" * 40, "format")],
)
def test_short_or_foreign_tokens_are_refused(token: bytes, reason: str) -> None:
    assert decrypt_reason(KeyRing.generate(), token) == reason


@pytest.mark.req("R19")
def test_an_unknown_suite_id_is_refused() -> None:
    ring = KeyRing.generate()
    token = bytearray(ring.encrypt("张三"))
    token[1] = 0x7F
    assert decrypt_reason(ring, bytes(token)) == "format"


@pytest.mark.req("R19")
@pytest.mark.parametrize("suite", SUITES)
def test_a_token_moved_to_another_row_fails_because_of_its_aad(suite: str) -> None:
    ring = KeyRing.generate(suite)
    token = ring.encrypt("张三", aad=b"person.name:1")
    assert decrypt_reason(ring, token, aad=b"person.name:2") == "authentication"
    assert decrypt_reason(ring, token) == "authentication"


@pytest.mark.req("R19")
def test_a_token_from_another_key_ring_does_not_decrypt() -> None:
    token = KeyRing.generate().encrypt("张三")
    assert decrypt_reason(KeyRing.generate(), token) == "authentication"


# --- blind index and row MAC ------------------------------------------------------------------------


@pytest.mark.req("R19")
def test_the_blind_index_is_deterministic_and_hex() -> None:
    ring = KeyRing.generate()
    first = ring.blind_index("371002196001010011", domain="person.id_number")
    assert first == ring.blind_index("371002196001010011", domain="person.id_number")
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")
    assert first != ring.blind_index("371002196001010012", domain="person.id_number")


@pytest.mark.req("R19")
def test_the_same_value_in_different_domains_gets_different_indexes() -> None:
    ring = KeyRing.generate()
    assert ring.blind_index("13812345678", domain="person.phone") != ring.blind_index(
        "13812345678", domain="unit.phone"
    )


@pytest.mark.req("R19")
def test_domain_and_value_cannot_be_shifted_into_each_other() -> None:
    ring = KeyRing.generate()
    assert ring.blind_index("b", domain="a.x") != ring.blind_index("x\x00b", domain="a")
    assert ring.blind_index("ab", domain="x") != ring.blind_index("b", domain="xa")


@pytest.mark.req("R19")
def test_different_key_rings_give_different_indexes() -> None:
    value = "371002196001010011"
    assert KeyRing.generate().blind_index(value, domain="d") != KeyRing.generate().blind_index(
        value, domain="d"
    )


@pytest.mark.req("R17")
def test_the_blind_index_survives_rotation_of_the_encryption_key() -> None:
    ring = KeyRing.generate()
    before = ring.blind_index("371002196001010011", domain="person.id_number")
    ring.rotate("intl")
    assert ring.blind_index("371002196001010011", domain="person.id_number") == before


@pytest.mark.req("B2")
@pytest.mark.parametrize(("suite", "digest"), [("sm", "sm3"), ("intl", "sha256")])
def test_the_blind_index_is_hmac_over_domain_nul_value(suite: str, digest: str) -> None:
    ring = KeyRing.generate(suite)
    expected = hmac.new(raw_keys(ring).index, "person.id_number\x00张三".encode(), digest)
    assert ring.blind_index("张三", domain="person.id_number") == expected.hexdigest()


@pytest.mark.req("R19")
@pytest.mark.parametrize("domain", ["", "a\x00b"])
def test_an_empty_or_nul_domain_is_refused(domain: str) -> None:
    with pytest.raises(ValueError):
        KeyRing.generate().blind_index("x", domain=domain)


@pytest.mark.req("R20")
@pytest.mark.parametrize(("suite", "digest"), [("sm", "sm3"), ("intl", "sha256")])
def test_the_row_mac_is_hmac_under_its_own_key(suite: str, digest: str) -> None:
    ring = KeyRing.generate(suite)
    keys = raw_keys(ring)
    assert keys.mac != keys.index
    expected = hmac.new(keys.mac, b"row-bytes", digest).hexdigest()
    assert ring.mac(b"row-bytes") == expected


@pytest.mark.req("R20")
def test_verify_mac_accepts_the_right_digest_and_refuses_others() -> None:
    ring = KeyRing.generate()
    digest = ring.mac(b"row")
    assert ring.verify_mac(b"row", digest)
    assert ring.verify_mac(b"row", digest.upper())
    assert not ring.verify_mac(b"rox", digest)
    assert not ring.verify_mac(b"row", "0" * 64)
    assert not ring.verify_mac(b"row", "摘要")


# --- persistence ------------------------------------------------------------------------------------


@pytest.mark.req("R17")
@pytest.mark.parametrize("suite", SUITES)
def test_a_key_ring_survives_json_round_trip(suite: str) -> None:
    ring = KeyRing.generate(suite)
    old = ring.encrypt("张三")
    ring.rotate()
    restored = KeyRing.from_json(ring.to_json())
    assert (restored.current, restored.versions, restored.suite) == (2, (1, 2), suite)
    assert restored.decrypt(old) == "张三"
    assert restored.blind_index("v", domain="d") == ring.blind_index("v", domain="d")
    assert restored.mac(b"m") == ring.mac(b"m")


@pytest.mark.req("R17")
def test_saved_key_file_is_private_and_loads_back(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # a permissive umask must not leak into the file mode
    try:
        ring = KeyRing.generate()
        path = tmp_path / "sidms.keys"
        ring.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = ring.encrypt("张三")
    assert KeyRing.load(path).decrypt(token) == "张三"


@pytest.mark.req("R17")
def test_saving_again_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "sidms.keys"
    path.write_text("old contents")
    path.chmod(0o644)
    ring = KeyRing.generate()
    ring.save(path)
    ring.rotate()
    ring.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["sidms.keys"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyRing.load(path).current == 2


@pytest.mark.req("R17")
@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: "not json",
        lambda d: json.dumps({**d, "format": "other"}),
        lambda d: json.dumps({**d, "current": 9}),
        lambda d: json.dumps({**d, "current": "1"}),
        lambda d: json.dumps({**d, "keys": {}}),
        lambda d: json.dumps({**d, "keys": []}),
        lambda d: json.dumps(
            {**d, "keys": {"1": {"suite": "sm", "key": base64.b64encode(b"short").decode()}}}
        ),
        lambda d: json.dumps({**d, "keys": {"1": {"suite": "sm", "key": "***"}}}),
        lambda d: json.dumps({**d, "keys": {"x": d["keys"]["1"]}}),
        lambda d: json.dumps({**d, "keys": {"70000": d["keys"]["1"]}, "current": 70000}),
        lambda d: json.dumps({**d, "index": {"suite": "sm", "key": base64.b64encode(b"short").decode()}}),
        lambda d: json.dumps({**d, "index": {"suite": "md5", "key": d["index"]["key"]}}),
        lambda d: json.dumps({k: v for k, v in d.items() if k != "mac"}),
    ],
)
def test_malformed_key_files_are_refused_with_a_key_ring_error(
    mutate: Callable[[dict[str, Any]], str],
) -> None:
    data = json.loads(KeyRing.generate().to_json())
    with pytest.raises(KeyRingError):
        KeyRing.from_json(mutate(data))


@pytest.mark.req("R19")
def test_key_material_never_appears_in_repr() -> None:
    ring = KeyRing.generate()
    keys = raw_keys(ring)
    text = repr(ring) + repr(ring.key(1))
    for secret in (keys.enc[1], keys.index, keys.mac):
        assert base64.b64encode(secret).decode() not in text
        assert secret.hex() not in text
        assert repr(secret) not in text
    assert "versions=[1]" in repr(ring)
