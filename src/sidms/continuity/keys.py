"""Key rotation (R17, B2): `sidms keys rotate [--index] [--resume]`, by the security administrator.

**Encryption keys, online.** A new key version is added to the key ring and made current; the key file is
replaced atomically (re-wrapped by the HSM's master key when the file is wrapped) and every sidms process
loads it within a second (``sidms.core.keys``), so new values are encrypted under the new version while the
system runs. Then every encrypted value still under an older version is re-encrypted in batches, with
progress: governed records through the pipeline's bulk path (``sidms.changes.rekey``: locked and re-read per
batch, checked against their history, bound to their uid as before), the staff identities of this app,
authenticator secrets (a revision of each account, ``sidms.security.accounts``) and whatever other apps
register (``register_reencrypt``: the archive files of ``sidms.archives`` when it exists). Interrupted, the
command is simply run again with ``--resume``: values already under the current version are skipped. A
second pass after the processes' reload interval catches values written meanwhile by a process that had
not reloaded yet.

What is *not* re-encrypted, by design: history. Revisions are immutable (the database refuses UPDATE), so a
value in a revision stays under the key version it was written with; those versions therefore stay in the
ring (decrypting only) and `key_census` shows what still needs them. Values held in pending review requests
and batch applications stay under their version until decided.

**The blind-index key, as a maintenance operation.** Every index changes and the indexes are covered by the
digests, so each record gets a new revision (method ``rekey``). All of it runs in one database transaction
that holds the tables against writes, the key file is switched before the transaction commits, and switched
back if the commit fails: no record is ever indexed under two keys. Stop the application servers for it (a
server holding the old index key for up to a second could index a new value under it; `sidms audit verify`
would name that record, and `sidms keys rotate --index --resume` re-indexes it).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sidms.audit.services import audit_record
from sidms.changes.rekey import reencrypt_chunk, rekey_entity, rekey_pending_requests
from sidms.changes.services import audited_refusals
from sidms.continuity.base import advance, locked, reseal_columns
from sidms.continuity.common import require
from sidms.continuity.models import StaffIdentity
from sidms.core.caller import Caller
from sidms.core.fields import NORMALISERS
from sidms.core.kernel import ENTITIES, raw_state
from sidms.core.keys import RELOAD_SECONDS, keyring
from sidms.lib import hsm
from sidms.lib.crypto import KeyRing, token_version
from sidms.registry.models import Staff
from sidms.security.accounts import staff_reseal_devices
from sidms.security.models import SealedTOTPDevice

MAY_NOT = _("Only a city-level security administrator rotates the keys.")
Progress = Callable[[str], None]
ReencryptHook = Callable[[Caller, Progress], int]
RekeyHook = Callable[[KeyRing, Caller], int]

# Other apps' encrypted data: each hook re-encrypts what is not under the current version and returns how
# many values (or files) it re-encrypted. sidms.archives registers its archive files here.
REENCRYPT_HOOKS: dict[str, ReencryptHook] = {}
# Each re-indexes its blind indexes under the new ring's index key, inside the rotation's transaction.
REKEY_HOOKS: dict[str, RekeyHook] = {}


def register_reencrypt(name: str, hook: ReencryptHook) -> None:
    REENCRYPT_HOOKS[name] = hook


def register_rekey(name: str, hook: RekeyHook) -> None:
    REKEY_HOOKS[name] = hook


def _quiet(_: str) -> None:
    return None


@dataclass
class RotationResult:
    version: int
    rows: int = 0
    values: int = 0
    seconds: float = 0.0
    per_kind: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.values / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------------------------------------
# The key file


def _key_path() -> Path:
    return Path(settings.SIDMS_KEY_FILE)


def _read(path: Path) -> tuple[KeyRing, dict[str, str] | None]:
    data = path.read_bytes()
    document = json.loads(data) if hsm.is_wrapped(data) else None
    return hsm.load_keyring(path), document


def _write(ring: KeyRing, document: dict[str, str] | None, target: Path) -> None:
    """Write RING to TARGET atomically, wrapped by the same master key when the current file is wrapped."""
    if document is None:
        ring.save(target)
        return
    pin = hsm.default_pin_source()()
    data = hsm.wrap_keyring(
        ring, module_path=document["module"], token_label=document["token_label"], pin=pin,
        key_label=document["key_label"], mechanism=document["mechanism"],
    )  # fmt: skip
    hsm.write_wrapped_keyring(target, data)


def with_new_index_key(ring: KeyRing) -> KeyRing:
    data = json.loads(ring.to_json())
    data["index"]["key"] = base64.b64encode(os.urandom(32)).decode("ascii")
    return KeyRing.from_json(json.dumps(data))


# --------------------------------------------------------------------------------------------------------
# Encryption keys


def keys_rotate(
    *, actor: Any, resume: bool = False, chunk: int = 500, progress: Progress = _quiet
) -> RotationResult:
    """Add a key version (unless RESUME) and re-encrypt every value still under an older one."""
    caller = require(actor, "keys.manage", MAY_NOT, city_level=True)
    path = _key_path()
    if not resume:
        ring, document = _read(path)
        version = ring.rotate()
        _write(ring, document, path)
        keyring.cache_clear()
        audit_record("keys.rotate", actor=caller, detail={"key_version": version, "suite": ring.suite})
        progress(
            f"key version {version} ({ring.suite}) is current; every process uses it within {RELOAD_SECONDS:.0f} s"
        )
    rotated_at = time.monotonic()
    result = RotationResult(version=keyring().current)
    started = time.perf_counter()
    _pass(caller, chunk, result, progress)
    result.seconds = time.perf_counter() - started
    # A process that had not reloaded the ring yet may have written under the old version meanwhile.
    time.sleep(max(0.0, rotated_at + 2 * RELOAD_SECONDS - time.monotonic()))
    started = time.perf_counter()
    _pass(caller, chunk, result, _quiet)
    result.seconds += time.perf_counter() - started
    audit_record(
        "keys.reencrypted", actor=caller,
        detail={"key_version": result.version, "rows": result.rows, "values": result.values,
                "per_kind": result.per_kind, "seconds": round(result.seconds, 2)},
    )  # fmt: skip
    progress(
        f"done: {result.values:,} values in {result.rows:,} rows re-encrypted under version {result.version} "
        f"in {result.seconds:.1f} s ({result.rate:,.0f} values/s)"
    )
    return result


def _pass(caller: Caller, chunk: int, result: RotationResult, progress: Progress) -> None:
    for spec in ENTITIES.values():
        if not spec.encrypted_fields:
            continue
        total = spec.model._default_manager.count()
        after, examined, started = 0, 0, time.perf_counter()
        while True:
            done = reencrypt_chunk(spec, after=after, limit=chunk, actor=caller)
            if done.last is None:
                break
            after, examined = done.last, examined + done.examined
            result.rows += done.rows
            result.values += done.values
            result.per_kind[spec.name] = result.per_kind.get(spec.name, 0) + done.values
            rate = examined / max(time.perf_counter() - started, 1e-9)
            progress(
                f"  {spec.name}: {examined:,}/{total:,} rows read, {result.per_kind.get(spec.name, 0):,} values re-encrypted ({rate:,.0f} rows/s)"
            )
    for name, hook in {
        "staff_identity": _reencrypt_identities,
        "authenticators": _reseal_devices,
        **REENCRYPT_HOOKS,
    }.items():
        count = hook(caller, progress)
        if count:
            result.values += count
            result.per_kind[name] = result.per_kind.get(name, 0) + count
            progress(f"  {name}: {count:,} re-encrypted")


def _reencrypt_identities(caller: Caller, progress: Progress) -> int:
    current = keyring().current
    count = 0
    for pk in StaffIdentity.objects.order_by("pk").values_list("pk", flat=True):
        with audited_refusals(), transaction.atomic():
            identity = locked(StaffIdentity, pk, actor=caller)
            assert identity is not None
            token = identity.__dict__.get("id_number")
            if token is None or token_version(token.token) == current:
                continue
            identity.id_number = str(identity.id_number)  # plain again: saved under the current version
            advance(identity, "staff_identity.reencrypt", actor=caller, detail={"key_version": current})
            count += 1
    return count


def _reseal_devices(caller: Caller, progress: Progress) -> int:
    current = keyring().current
    users = set()
    for user_id, key in SealedTOTPDevice.objects.values_list("user_id", "key"):
        if key.startswith("$") and token_version(base64.b85decode(key[1:])) != current:
            users.add(user_id)
    count = 0
    for staff in Staff.objects.filter(pk__in=users).order_by("pk"):
        with audited_refusals():
            count += staff_reseal_devices(actor=caller, staff=staff)
    return count


# --------------------------------------------------------------------------------------------------------
# The blind-index key


def keys_rotate_index(*, actor: Any, resume: bool = False, progress: Progress = _quiet) -> RotationResult:
    """Replace the blind-index key and re-index every record under it (see the module: a maintenance operation).
    With RESUME, only the records whose index disagrees with the current key are re-indexed (a record a
    stale process indexed under the old key)."""
    caller = require(actor, "keys.manage", MAY_NOT, city_level=True)
    path = _key_path()
    ring, document = _read(path)
    started = time.perf_counter()
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    result = RotationResult(version=ring.current)
    kept = path.with_name(f"{path.name}.prev")
    # Resuming: the key is already in force; records a stale process indexed under the previous key (kept
    # beside the key file until the security administrator destroys it) are re-indexed, nothing else.
    accept = hsm.load_keyring(kept) if resume and kept.exists() else None
    new_ring = ring if resume else with_new_index_key(ring)
    pending = path.with_name(f"{path.name}.next")
    _write(new_ring, document, pending)
    previous = path.read_bytes()
    switched = False
    try:
        with audited_refusals(), transaction.atomic():
            for spec in ENTITIES.values():
                if not spec.encrypted_fields:
                    continue
                progress(f"  re-indexing {spec.name} …")
                count = rekey_entity(
                    spec, new_ring, actor=caller, reference=f"REKEY{stamp}-{spec.name}", accept=accept
                )
                result.rows += count
                result.per_kind[spec.name] = count
            for name, hook in {"staff_identity": _rekey_identities, **REKEY_HOOKS}.items():
                result.per_kind[name] = hook(new_ring, caller)
            result.per_kind["pending_requests"] = rekey_pending_requests(new_ring, actor=caller)
            audit_record(
                "keys.rotate_index", actor=caller,
                detail={"rows": result.rows, "per_kind": result.per_kind, "resume": resume},
            )  # fmt: skip
            # The new key is in force before anything indexed with it is committed; the previous ring is kept
            # (0600, wrapped like the key file) for a resumed run, until the security administrator destroys it.
            if not resume:
                _restore(kept, previous)
            os.replace(pending, path)
            switched = True
    except BaseException:
        pending.unlink(missing_ok=True)
        if switched:
            _restore(path, previous)
        raise
    finally:
        keyring.cache_clear()
    result.seconds = time.perf_counter() - started
    progress(f"done: {result.rows:,} records re-indexed under the new index key in {result.seconds:.1f} s")
    return result


def _restore(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.restore")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _rekey_identities(new_ring: KeyRing, caller: Caller) -> int:
    count = 0
    for pk in StaffIdentity.objects.order_by("pk").values_list("pk", flat=True):
        identity = locked(StaffIdentity, pk, actor=caller)
        assert identity is not None
        index = new_ring.blind_index(
            NORMALISERS["idcard"](str(identity.id_number)), domain="person.id_number"
        )
        if index == identity.id_number_index:
            continue
        # The field would recompute the index under the old key on save: the column is written as it is.
        reseal_columns(identity, "staff_identity.rekey", actor=caller, columns={"id_number_index": index})
        count += 1
    return count


# --------------------------------------------------------------------------------------------------------
# What still needs which key version


def key_census() -> dict[str, dict[int, int]]:
    """How many encrypted values each key version still holds: live records, staff identities,
    authenticators, history (revisions, which keep their versions) and values held in pending requests."""
    census: dict[str, Counter[int]] = {
        "live": Counter(),
        "staff_identity": Counter(),
        "authenticators": Counter(),
    }
    for spec in ENTITIES.values():
        if not spec.encrypted_fields:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(spec.raw_columns)} FROM {spec.model._meta.db_table}")  # noqa: S608
            while rows := cursor.fetchmany(2000):
                for raw in rows:
                    state = raw_state(spec, raw)
                    for name in spec.encrypted_fields:
                        if state[name]:
                            census["live"][token_version(base64.b64decode(state[name]["enc"]))] += 1
    for value in StaffIdentity.objects.values_list("id_number", flat=True):
        if value:
            census["staff_identity"][token_version(value.token if hasattr(value, "token") else value)] += 1
    for key in SealedTOTPDevice.objects.values_list("key", flat=True):
        if key.startswith("$"):
            census["authenticators"][token_version(base64.b85decode(key[1:]))] += 1
    census["history"] = _history_census()
    return {kind: dict(sorted(counts.items())) for kind, counts in census.items()}


def _history_census() -> Counter[int]:
    from sidms.changes.models import Revision

    counts: Counter[int] = Counter()
    encrypted = {name for name, spec in ENTITIES.items() if spec.encrypted_fields}
    for state in (
        Revision.objects.filter(entity__in=encrypted)
        .values_list("state", flat=True)
        .iterator(chunk_size=2000)
    ):
        for value in state.values():
            if isinstance(value, dict) and "enc" in value:
                counts[token_version(base64.b64decode(value["enc"]))] += 1
    return counts


__all__ = [
    "REENCRYPT_HOOKS",
    "REKEY_HOOKS",
    "RotationResult",
    "key_census",
    "keys_rotate",
    "keys_rotate_index",
    "register_reencrypt",
    "register_rekey",
    "with_new_index_key",
]
