"""The encrypted backup file of the embedded store (no Django).

PostgreSQL backups are pgBackRest's (its repository encrypts every file). The embedded SQLite store has no
such tool, and neither ``openssl enc`` (no authenticated streaming mode) nor ``age`` (no SM4) fits, so the
snapshot taken with SQLite's online backup API is sealed here in the streaming-AEAD shape that Tink and
libsodium's secretstream use:

    b"SIDMS-BACKUP/1\\n"
    header JSON + b"\\n"   {"label", "suite", "key_version", "wrapped_key", "chunk", "created_at"}
    chunk*                 4 bytes: final flag (top bit) and length L; 12-byte nonce; L bytes of ciphertext ‖ tag

A fresh random data key encrypts the chunks (SM4-GCM for the "sm" suite, AES-256-GCM for "intl"); the key
ring's current key version wraps it (``KeyRing.encrypt``, associated data ``backup:<label>``). Every
chunk's associated data is SHA-256(magic ‖ header) ‖ its index ‖ a final flag, so chunks cannot be
reordered, dropped, truncated or moved to another backup, and the header cannot be edited. Restoring
therefore needs the key ring (kept apart from the backups, see docs/continuity.md): a backup is
crypto-erased when its key version is retired.

The register keeps the SHA-256 of the whole encrypted file as well, so `sha256sum` checks a copy on any
host without keys, and a drill names a changed byte before it tries to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sidms.lib.crypto import DecryptionError, KeyRing
from sidms.lib.errors import StandardError

MAGIC = b"SIDMS-BACKUP/1\n"
CHUNK = 1 << 20
_NONCE = 12
_TAG = 16
_KEY_BYTES = {"sm": 16, "intl": 32}
_MAX_HEADER = 64 * 1024
_FINAL = 0x8000_0000


class BackupFileError(StandardError):
    """``reason``: ``format``, ``key``, ``tampered``, ``truncated``."""


@dataclass(frozen=True)
class Header:
    label: str
    suite: str
    key_version: int
    wrapped_key: str
    chunk: int
    created_at: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def _seal(suite: str, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
    if suite == "sm":
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        return encryptor.update(data) + encryptor.finalize() + encryptor.tag
    return AESGCM(key).encrypt(nonce, data, aad)


def _open(suite: str, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
    if suite == "sm":
        if len(data) < _TAG:
            raise InvalidTag
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, data[-_TAG:])).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(data[:-_TAG]) + decryptor.finalize()
    return AESGCM(key).decrypt(nonce, data, aad)


def _aad(header_hash: bytes, index: int, final: bool) -> bytes:
    return header_hash + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _chunks(handle: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """The file's chunks, each with whether it is the last (an empty file is one empty final chunk)."""
    current = handle.read(size)
    while True:
        following = handle.read(size)
        yield current, not following
        if not following:
            return
        current = following


class _Hashing:
    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.hash.update(data)
        self.size += len(data)


def encrypt_file(
    source: Path, target: Path, *, ring: KeyRing, label: str, created_at: str
) -> tuple[int, str]:
    """Seal SOURCE into TARGET (written 0600, atomically). Returns the target's size and SHA-256 (hex)."""
    suite = ring.suite
    data_key = os.urandom(_KEY_BYTES[suite])
    wrapped = ring.encrypt(base64.b64encode(data_key).decode("ascii"), aad=f"backup:{label}".encode())
    header = Header(
        label=label,
        suite=suite,
        key_version=ring.current,
        wrapped_key=base64.b64encode(wrapped).decode("ascii"),
        chunk=CHUNK,
        created_at=created_at,
    ).encode()
    header_hash = hashlib.sha256(MAGIC + header).digest()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw, source.open("rb") as plain:
            os.fchmod(raw.fileno(), 0o600)
            out = _Hashing(raw)
            out.write(MAGIC + header)
            for index, (chunk, final) in enumerate(_chunks(plain, CHUNK)):
                nonce = os.urandom(_NONCE)
                sealed = _seal(suite, data_key, nonce, _aad(header_hash, index, final), chunk)
                out.write((len(sealed) | (_FINAL if final else 0)).to_bytes(4, "big") + nonce + sealed)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out.size, out.hash.hexdigest()


def _read_exact(handle: BinaryIO, n: int) -> bytes:
    data = handle.read(n)
    if len(data) != n:
        raise BackupFileError(
            "truncated", "备份文件被截断：缺少结尾部分", "the backup file is truncated: its end is missing"
        )
    return data


def read_header(handle: BinaryIO) -> tuple[Header, bytes]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise BackupFileError(
            "format", "不是 sidms 备份文件，或文件开头已损坏", "not a sidms backup file (bad magic)"
        )
    line = handle.readline(_MAX_HEADER)
    try:
        header = Header(**json.loads(line.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, TypeError):
        raise BackupFileError("format", "备份文件头已损坏", "the backup file's header is damaged") from None
    if header.suite not in _KEY_BYTES or header.encode() != line:
        raise BackupFileError("format", "备份文件头已损坏", "the backup file's header is damaged")
    return header, hashlib.sha256(MAGIC + line).digest()


def decrypt_file(source: Path, target: Path, *, ring: KeyRing) -> Header:
    """Open SOURCE into TARGET; raise ``BackupFileError`` naming what is wrong (nothing half-written is kept)."""
    with source.open("rb") as handle:
        header, header_hash = read_header(handle)
        try:
            data_key = base64.b64decode(
                ring.decrypt(base64.b64decode(header.wrapped_key), aad=f"backup:{header.label}".encode())
            )
        except DecryptionError as error:
            raise BackupFileError(
                "key",
                f"无法解开备份的数据密钥（密钥版本 {header.key_version}）：{error.message}",
                f"cannot unwrap the backup's data key (key version {header.key_version}): {error.message_en}",
            ) from None
        try:
            with target.open("wb") as out:
                os.chmod(target, 0o600)
                index, final = 0, False
                while not final:
                    prefix = int.from_bytes(_read_exact(handle, 4), "big")
                    final, length = bool(prefix & _FINAL), prefix & ~_FINAL
                    if length < _TAG or length > header.chunk + _TAG:
                        raise BackupFileError(
                            "tampered", f"备份文件第 {index + 1} 块已损坏或被篡改",
                            f"chunk {index + 1} of the backup file is damaged or altered",
                        )  # fmt: skip
                    nonce = _read_exact(handle, _NONCE)
                    sealed = _read_exact(handle, length)
                    try:
                        plain = _open(header.suite, data_key, nonce, _aad(header_hash, index, final), sealed)
                    except InvalidTag:
                        raise BackupFileError(
                            "tampered", f"备份文件第 {index + 1} 块未通过完整性校验：文件被篡改或损坏",
                            f"chunk {index + 1} of the backup file failed its integrity check: altered or damaged",
                        ) from None  # fmt: skip
                    out.write(plain)
                    index += 1
                if handle.read(1):
                    raise BackupFileError(
                        "tampered",
                        "备份文件结尾之后还有多余的数据",
                        "the backup file has data after its final chunk",
                    )
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    return header


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()
