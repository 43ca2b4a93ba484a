"""Hash chain over audit events (sidms.lib.chain)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given
from hypothesis import strategies as st

from sidms.lib import chain
from sidms.lib.chain import GENESIS

ALGORITHMS = ["sm3", "sha256"]
Event = tuple[int, str, bytes, str]


def build(
    payloads: list[bytes], *, algorithm: str, start_prev: str = GENESIS, start_seq: int = 1
) -> list[Event]:
    events: list[Event] = []
    prev = start_prev
    for seq, payload in enumerate(payloads, start=start_seq):
        digest = chain.link(prev, payload, algorithm=algorithm)
        events.append((seq, prev, payload, digest))
        prev = digest
    return events


def audit_payloads(n: int) -> list[bytes]:
    return [
        chain.canonical({"seq": i, "user": "clerk_hc", "action": "view", "object": f"person:{i}"})
        for i in range(n)
    ]


# --- canonical JSON and link ------------------------------------------------------------------------


@pytest.mark.req("R20")
def test_canonical_json_sorts_keys_drops_spaces_and_keeps_chinese_as_utf8() -> None:
    assert chain.canonical({"b": 1, "a": [1, 2], "名": "张三"}) == '{"a":[1,2],"b":1,"名":"张三"}'.encode()


@pytest.mark.req("R20")
def test_canonical_json_does_not_depend_on_insertion_order() -> None:
    assert chain.canonical({"x": {"b": 2, "a": 1}, "y": 0}) == chain.canonical(
        {"y": 0, "x": {"a": 1, "b": 2}}
    )


@pytest.mark.req("R20")
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_canonical_json_refuses_nan_and_infinity(value: float) -> None:
    with pytest.raises(ValueError):
        chain.canonical({"x": value})


@pytest.mark.req("R20")
def test_canonical_json_refuses_non_json_types() -> None:
    with pytest.raises(TypeError):
        chain.canonical({"x": b"bytes"})


@pytest.mark.req("R20")
def test_link_hashes_the_raw_previous_hash_followed_by_the_payload() -> None:
    prev = hashlib.sha256(b"previous").hexdigest()
    assert (
        chain.link(prev, b"payload", algorithm="sha256")
        == hashlib.sha256(bytes.fromhex(prev) + b"payload").hexdigest()
    )
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(bytes(32) + b"payload")
    assert chain.link(GENESIS, b"payload") == sm3.finalize().hex()


@pytest.mark.req("R20")
def test_sm3_of_abc_matches_the_gb_t_32905_example() -> None:
    assert (
        chain._HASHERS["sm3"](b"abc").hex()
        == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert chain._sm3_cryptography(b"abc") == chain._sm3_hashlib(b"abc")


@pytest.mark.req("R20")
def test_the_default_algorithm_is_sm3_and_differs_from_sha256() -> None:
    assert chain.link(GENESIS, b"x") == chain.link(GENESIS, b"x", algorithm="sm3")
    assert chain.link(GENESIS, b"x", algorithm="sm3") != chain.link(GENESIS, b"x", algorithm="sha256")


@pytest.mark.req("R20")
@pytest.mark.parametrize("prev", ["", "0" * 63, "g" * 64, "A" * 64])
def test_link_refuses_a_malformed_previous_hash(prev: str) -> None:
    with pytest.raises(ValueError):
        chain.link(prev, b"x")


@pytest.mark.req("R20")
def test_an_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError):
        chain.link(GENESIS, b"x", algorithm="md5")
    with pytest.raises(ValueError):
        chain.verify([], algorithm="md5")


# --- verify -----------------------------------------------------------------------------------------


@pytest.mark.req("R20")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_intact_chain_verifies_and_reports_its_length_and_last_hash(algorithm: str) -> None:
    events = build(audit_payloads(50), algorithm=algorithm)
    result = chain.verify(events, algorithm=algorithm)
    assert result == chain.VerifyResult(ok=True, count=50, last_hash=events[-1][3])
    assert "50" in result.message


@pytest.mark.req("R20")
def test_an_empty_chain_is_intact() -> None:
    assert chain.verify([], algorithm="sm3") == chain.VerifyResult(ok=True, count=0, last_hash=GENESIS)


@pytest.mark.req("R20")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("k", [1, 7, 20])
def test_flipping_a_byte_in_the_payload_of_event_k_names_k(algorithm: str, k: int) -> None:
    events = build(audit_payloads(20), algorithm=algorithm)
    seq, prev, payload, digest = events[k - 1]
    events[k - 1] = (seq, prev, payload.replace(b"view", b"vieW"), digest)
    result = chain.verify(events, algorithm=algorithm)
    assert (result.ok, result.broken_seq, result.reason, result.count) == (False, k, "hash_mismatch", k - 1)
    assert f"序号 {k}" in result.message


@pytest.mark.req("R20")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_rewriting_event_k_with_a_recomputed_hash_is_caught_at_k_plus_1(algorithm: str) -> None:
    events = build(audit_payloads(10), algorithm=algorithm)
    seq, prev, _, _ = events[4]
    forged = b'{"action":"nothing"}'
    events[4] = (seq, prev, forged, chain.link(prev, forged, algorithm=algorithm))
    result = chain.verify(events, algorithm=algorithm)
    assert (result.broken_seq, result.reason) == (6, "prev_mismatch")


@pytest.mark.req("R20")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("k", [1, 5, 9])
def test_deleting_event_k_names_k_as_a_gap(algorithm: str, k: int) -> None:
    events = build(audit_payloads(10), algorithm=algorithm)
    del events[k - 1]
    result = chain.verify(events, algorithm=algorithm)
    assert (result.ok, result.broken_seq, result.reason) == (False, k, "gap")
    assert "缺失" in result.message


@pytest.mark.req("R20")
def test_deleting_an_event_and_renumbering_is_caught_by_the_linkage() -> None:
    events = build(audit_payloads(10), algorithm="sm3")
    del events[3]
    renumbered = [(i, prev, payload, digest) for i, (_, prev, payload, digest) in enumerate(events, start=1)]
    result = chain.verify(renumbered, algorithm="sm3")
    assert (result.broken_seq, result.reason) == (4, "prev_mismatch")


@pytest.mark.req("R20")
def test_a_repeated_sequence_number_is_reported_as_out_of_order() -> None:
    events = build(audit_payloads(5), algorithm="sm3")
    events.insert(3, events[2])
    result = chain.verify(events, algorithm="sm3")
    assert (result.broken_seq, result.reason) == (4, "out_of_order")


@pytest.mark.req("R20")
def test_a_tampered_stored_hash_is_a_hash_mismatch() -> None:
    events = build(audit_payloads(5), algorithm="sha256")
    seq, prev, payload, _ = events[2]
    events[2] = (seq, prev, payload, "f" * 64)
    result = chain.verify(events, algorithm="sha256")
    assert (result.broken_seq, result.reason) == (3, "hash_mismatch")


@pytest.mark.req("R20")
def test_verifying_with_the_wrong_algorithm_fails_at_the_first_event() -> None:
    events = build(audit_payloads(3), algorithm="sha256")
    assert chain.verify(events, algorithm="sm3").broken_seq == 1


@pytest.mark.req("R20")
def test_verification_can_resume_from_a_checkpoint() -> None:
    events = build(audit_payloads(10), algorithm="sm3")
    checkpoint = chain.verify(events[:6], algorithm="sm3")
    rest = chain.verify(events[6:], algorithm="sm3", start_prev=checkpoint.last_hash, start_seq=7)
    assert (rest.ok, rest.count, rest.last_hash) == (True, 4, events[-1][3])
    assert chain.verify(events[6:], algorithm="sm3").ok is False  # without the checkpoint it does not


@pytest.mark.req("R20")
def test_a_malformed_start_hash_is_refused() -> None:
    with pytest.raises(ValueError):
        chain.verify([], algorithm="sm3", start_prev="x")


@pytest.mark.req("R20")
def test_payloads_may_come_back_from_the_database_as_memoryview() -> None:
    events = build(audit_payloads(3), algorithm="sm3")
    as_memoryview = [(s, p, memoryview(payload), h) for s, p, payload, h in events]
    assert chain.verify(as_memoryview, algorithm="sm3").ok


@pytest.mark.req("R20")
def test_verify_consumes_events_lazily_and_stops_at_the_first_break() -> None:
    events = build(audit_payloads(5), algorithm="sm3")
    events[1] = (2, events[1][1], b"tampered", events[1][3])
    consumed: list[int] = []

    def cursor() -> Iterator[Event]:
        for event in events:
            consumed.append(event[0])
            yield event

    assert chain.verify(cursor(), algorithm="sm3").broken_seq == 2
    assert consumed == [1, 2]


@pytest.mark.req("R20")
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=30), st.data())
def test_any_single_byte_change_anywhere_in_a_chain_is_located(
    payloads: list[bytes], data: st.DataObject
) -> None:
    events = build(payloads, algorithm="sha256")
    k = data.draw(st.integers(1, len(events)))
    seq, prev, payload, digest = events[k - 1]
    changed = bytes([payload[0] ^ 0xFF]) + payload[1:] if payload else b"\x00"
    events[k - 1] = (seq, prev, changed, digest)
    result = chain.verify(events, algorithm="sha256")
    assert (result.broken_seq, result.reason) == (k, "hash_mismatch")


# JSON values as history and audit hold them: strings (any Unicode but lone surrogates), integers, booleans,
# null, lists and objects with string keys.
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(st.characters(blacklist_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",))), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.req("R20")
@given(st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",))), _json, max_size=6))
def test_canonical_bytes_are_exactly_those_of_the_standard_library(obj: dict) -> None:  # type: ignore[type-arg]
    import json

    expected = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert chain.canonical(obj) == expected
