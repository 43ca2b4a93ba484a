"""The archive file store: one small storage interface, and the sealed (encrypted, chunked) file format.

**The interface.** :class:`Storage` is what the archive needs of a store: put, get, exists, delete by name,
plus the names and sizes for verification. :class:`LocalStore` keeps files under the data directory
(``SIDMS_ARCHIVE_DIR``, default ``<data dir>/archives``); an object store (S3-compatible, the agency's
storage appliance) implements the same five methods.

**The format.** A stored file is never plaintext. The scan is cut into chunks of :data:`CHUNK` bytes and
each chunk is encrypted with the key ring's current suite (SM4-GCM by default, sidms.lib.crypto), with
associated data naming the identity the file is bound to, the chunk's index and whether it is the last::

    b"SIDMSAR1" | chunk size (4 bytes) | { token length (4 bytes) | token }*
    token aad = b"archive:<identity>:<index>:<last|more>"

so a chunk moved to another file or another place, a file cut short or extended, or a whole file swapped for
another item's, does not decrypt. The size of a sealed file is a function of the plaintext size
(:func:`sealed_size`), so verification can check every file's size without a key.

**Names.** A file is named by the keyed hash (HMAC under the key ring's MAC key) of its plaintext: the same
scan uploaded twice has the same name, so duplicates are found, while the name reveals nothing about the
content to anyone without the key. Writing is atomic (a temporary file *of ciphertext* in the same
directory, fsynced, then renamed); no plaintext ever reaches the disk.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sidms.lib import sweep
from sidms.lib.crypto import KeyRing, token_version

MAGIC = b"SIDMSAR1"
CHUNK = 256 * 1024
_TOKEN_OVERHEAD = 4 + 12 + 16  # header, nonce, GCM tag (sidms.lib.crypto's token layout)
_LENGTH = struct.Struct(">I")
_NAME = re.compile(r"^[0-9a-f]{64}$")


class StoreDamaged(Exception):
    """A stored file is missing, malformed, or does not decrypt as the identity it should be bound to."""


class Storage(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def get(self, name: str) -> bytes: ...
    def exists(self, name: str) -> bool: ...
    def delete(self, name: str) -> None: ...
    def size(self, name: str) -> int | None: ...
    def names(self) -> Iterator[str]: ...
    def sweep_temporary(self, older_than: float) -> int: ...


class LocalStore:
    """Files in a directory tree ``<root>/<ab>/<name>`` (the first two hex digits spread the files)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"not an archive file name: {name!r}")
        return self.root / name[:2] / name

    def put(self, name: str, data: bytes) -> None:
        if not data.startswith(MAGIC):
            raise ValueError("only sealed archive files are stored")  # never plaintext
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            raise StoreDamaged(f"archive file {name} is missing") from None

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def size(self, name: str) -> int | None:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError:
            return None

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/*")):
            if _NAME.match(path.name):
                yield path.name

    def sweep_temporary(self, older_than: float) -> int:
        """Remove the temporary files of writes a crash cut short (``put`` removes its own on any error it
        lives through) last written more than OLDER_THAN seconds ago; a younger one may be a write under way.
        How many went. (An object store's counterpart: aborting incomplete multipart uploads.)"""
        return sweep.remove_older(self.root.glob("??/.put-*"), time.time() - older_than)


def _aad(identity: str, index: int, last: bool) -> bytes:
    return f"archive:{identity}:{index}:{'last' if last else 'more'}".encode("ascii")


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK))


def sealed_size(size: int) -> int:
    """The size of the sealed file of a SIZE-byte scan (independent of the key version and suite)."""
    return len(MAGIC) + _LENGTH.size + chunk_count(size) * (_LENGTH.size + _TOKEN_OVERHEAD) + size


def seal(ring: KeyRing, identity: str, data: bytes) -> bytes:
    """Encrypt DATA in chunks under the ring's current key, bound to IDENTITY."""
    parts = [MAGIC, _LENGTH.pack(CHUNK)]
    count = chunk_count(len(data))
    for index in range(count):
        token = ring.encrypt_bytes(
            data[index * CHUNK : (index + 1) * CHUNK], aad=_aad(identity, index, index == count - 1)
        )
        parts += [_LENGTH.pack(len(token)), token]
    return b"".join(parts)


def _tokens(sealed: bytes) -> Iterator[bytes]:
    if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + _LENGTH.size:
        raise StoreDamaged("not a sealed archive file")
    (chunk,) = _LENGTH.unpack_from(sealed, len(MAGIC))
    if chunk != CHUNK:
        raise StoreDamaged(f"unexpected chunk size {chunk}")
    offset = len(MAGIC) + _LENGTH.size
    while offset < len(sealed):
        if offset + _LENGTH.size > len(sealed):
            raise StoreDamaged("truncated chunk header")
        (length,) = _LENGTH.unpack_from(sealed, offset)
        offset += _LENGTH.size
        if length > CHUNK + _TOKEN_OVERHEAD or offset + length > len(sealed):
            raise StoreDamaged("truncated or oversized chunk")
        yield sealed[offset : offset + length]
        offset += length


def unseal(ring: KeyRing, identity: str, sealed: bytes) -> bytes:
    """The plaintext of a sealed file bound to IDENTITY; :class:`StoreDamaged` if it is not exactly that."""
    from sidms.lib.crypto import DecryptionError

    tokens = list(_tokens(sealed))
    if not tokens:
        raise StoreDamaged("no chunks")
    out = []
    for index, token in enumerate(tokens):
        try:
            out.append(ring.decrypt_bytes(token, aad=_aad(identity, index, index == len(tokens) - 1)))
        except DecryptionError as exc:
            raise StoreDamaged(f"chunk {index} does not decrypt as {identity}: {exc.reason}") from None
    return b"".join(out)


def versions(sealed: bytes) -> set[int]:
    """The key versions of a sealed file's chunks (read from the token headers, nothing decrypted)."""
    return {token_version(token) for token in _tokens(sealed)}
