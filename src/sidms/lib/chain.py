"""Hash chain over audit events (tamper evidence for the audit log, R20; GB/T 22239 §8.1.4.3c).

Each event stores its sequence number, the previous event's hash, the exact canonical payload bytes
that were hashed, and its own hash::

    hash_n = H(bytes.fromhex(hash_{n-1}) || payload_n)        hash_0 = GENESIS (32 zero bytes)

The previous hash enters as its raw 32 bytes (both SM3 and SHA-256 give 32), so the input is
unambiguous without a separator. Store the canonical bytes rather than re-serialising at verification
time: re-serialising is ~4× slower and any change in JSON formatting would break old hashes.

The chain proves that nothing was altered, inserted or removed *between* the genesis (or a checkpoint)
and the last event; truncation at the end and a wholesale rewrite are only caught by comparing with a
signed checkpoint kept elsewhere (``VerifyResult.last_hash`` is what to publish).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes

__all__ = ["ALGORITHMS", "GENESIS", "VerifyResult", "canonical", "link", "linker", "verify"]

GENESIS = "0" * 64
ALGORITHMS = ("sm3", "sha256")
_HEX = frozenset("0123456789abcdef")

# Database drivers return binary columns as bytes, bytearray or memoryview depending on the backend.
BytesLike = bytes | bytearray | memoryview


def _sm3_cryptography(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _sm3_hashlib(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# hashlib offers SM3 only when the OpenSSL Python was built against has it (it was ~25% cheaper per
# 200-byte event than cryptography's Hash object here); cryptography bundles its own OpenSSL with SM3,
# so it is the fallback that always works.
_HASHERS: dict[str, Callable[[bytes], bytes]] = {
    "sm3": _sm3_hashlib if "sm3" in hashlib.algorithms_available else _sm3_cryptography,
    "sha256": _sha256,
}


# Dates and dataclasses are refused as the standard library refuses them: the caller chooses their form.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


# ``canonical(obj, parsed=True)`` with no Python call around orjson, for loops over parsed data (verification
# writes two a revision). It raises orjson.JSONEncodeError, a TypeError, where canonical raises a TypeError.
canonical_parsed: Callable[[Any], bytes] = functools.partial(orjson.dumps, option=_OPTIONS)


def canonical(obj: Mapping[str, Any], *, parsed: bool = False) -> bytes:
    """Canonical JSON bytes: sorted keys, no whitespace, UTF-8 (not \\u escapes), no NaN/Infinity.

    Only JSON types are accepted; convert dates, decimals and UUIDs to strings first, so that the
    representation is chosen explicitly rather than by a default= hook that could change.

    Written by orjson, whose output for these types is byte for byte what ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` gives (tests/lib/test_chain.py checks it on generated data)
    at a fifth of the cost: canonical bytes are made for every event, revision and row digest. A float that
    is not finite is refused here as it was by ``allow_nan=False`` (orjson would write null); PARSED data,
    read back from JSON, cannot hold one, and verification skips that scan.
    """
    try:
        data = orjson.dumps(obj, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"not canonical JSON: {exc}") from exc
    if not parsed and b"null" in data:  # a NaN or an infinity would have become null
        _refuse_non_finite(obj)
    return data


def _refuse_non_finite(obj: Any) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError("NaN and infinities have no canonical JSON form")
    if isinstance(obj, dict):
        for value in obj.values():
            _refuse_non_finite(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _refuse_non_finite(value)


_HASH = re.compile(r"[0-9a-f]{64}")


def _is_hash(value: str) -> bool:
    # One compiled match per link: verification links millions of events, and a generator over the 64
    # characters cost as much as the SM3 itself.
    return _HASH.fullmatch(value) is not None


def _hasher(algorithm: str) -> Callable[[bytes], bytes]:
    try:
        return _HASHERS[algorithm]
    except KeyError:
        raise ValueError(f"unknown chain algorithm {algorithm!r} (expected one of {ALGORITHMS})") from None


def hasher(algorithm: str = "sm3") -> Callable[[bytes], bytes]:
    """The chain's hash function on bytes (for trees built over many nodes, e.g. a ledger run's Merkle root)."""
    return _hasher(algorithm)


def link(prev_hash: str, payload: BytesLike, *, algorithm: str = "sm3") -> str:
    """The hash of the event that follows ``prev_hash`` and carries ``payload`` (lower-case hex)."""
    if not _is_hash(prev_hash):
        raise ValueError("prev_hash must be 64 lower-case hex characters")
    return _hasher(algorithm)(bytes.fromhex(prev_hash) + bytes(payload)).hex()


def linker(algorithm: str = "sm3") -> Callable[[bytes, bytes], bytes]:
    """``link`` for a verifier walking the chain: (previous hash as its 32 raw bytes, payload) -> the raw hash.

    The same hash as ``link`` without its per-call costs: no check of the previous hash's form (a verifier
    compares each stored ``prev_hash`` with the hash it computed itself, which implies it), no hex round
    trip of the hash it carries to the next event, and the hash state copied from an empty one rather than
    looked up by name. Verification links every event, and these costs were larger than the SM3 itself."""
    hasher = _hasher(algorithm)
    if hasher is _sm3_cryptography:
        return lambda prev, payload: _sm3_cryptography(prev + payload)
    empty = hashlib.sha256() if algorithm == "sha256" else hashlib.new("sm3")

    def step(prev: bytes, payload: bytes) -> bytes:
        state = empty.copy()
        state.update(prev)
        state.update(payload)
        return state.digest()

    return step


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`.

    ``count`` is the number of events verified intact (before the break, if any). ``broken_seq`` is
    the first bad sequence number: for a ``gap`` it is the first *missing* number (the deleted event).
    ``last_hash`` is the hash of the last intact event (the value to checkpoint).
    """

    ok: bool
    count: int
    last_hash: str
    broken_seq: int | None = None
    reason: str | None = None  # "gap" | "out_of_order" | "prev_mismatch" | "hash_mismatch"

    @property
    def message(self) -> str:
        """A Chinese sentence for the auditor's report."""
        if self.ok:
            return f"审计链完整：共校验 {self.count} 条记录"
        return {
            "gap": f"审计链在序号 {self.broken_seq} 处缺失记录（可能被删除）",
            "out_of_order": f"审计链在序号 {self.broken_seq} 处序号重复或倒序（可能被插入或重放）",
            "prev_mismatch": (
                f"审计链在序号 {self.broken_seq} 处与前一条记录衔接不上（可能被插入、删除或替换）"
            ),
            "hash_mismatch": f"审计链在序号 {self.broken_seq} 处哈希不符（记录内容被篡改）",
        }.get(self.reason or "", f"审计链在序号 {self.broken_seq} 处校验失败")


def verify(
    events: Iterable[tuple[int, str, BytesLike, str]],
    *,
    algorithm: str = "sm3",
    start_prev: str = GENESIS,
    start_seq: int = 1,
) -> VerifyResult:
    """Walk ``(seq, prev_hash, payload, hash)`` tuples in order and report the first break.

    ``start_prev``/``start_seq`` let verification resume from a checkpoint (the checkpoint's hash and
    the sequence number after it). Checks per event, in this order: the sequence number continues
    without gaps (``gap``; a repeated or smaller number is ``out_of_order``), ``prev_hash`` equals the
    previous event's hash (``prev_mismatch``), and the stored hash equals the recomputed one
    (``hash_mismatch``). Consumes ``events`` lazily, so a database cursor can be passed directly.
    """
    hasher = _hasher(algorithm)
    if not _is_hash(start_prev):
        raise ValueError("start_prev must be 64 lower-case hex characters")
    expected_seq = start_seq
    prev = start_prev
    count = 0
    for seq, prev_hash, payload, stored_hash in events:
        if seq != expected_seq:
            reason = "gap" if seq > expected_seq else "out_of_order"
            return VerifyResult(False, count, prev, broken_seq=expected_seq, reason=reason)
        if prev_hash != prev:
            return VerifyResult(False, count, prev, broken_seq=seq, reason="prev_mismatch")
        recomputed = hasher(bytes.fromhex(prev_hash) + bytes(payload)).hex()
        if stored_hash != recomputed:
            return VerifyResult(False, count, prev, broken_seq=seq, reason="hash_mismatch")
        prev = recomputed
        expected_seq += 1
        count += 1
    return VerifyResult(True, count, prev)
