"""The pipeline refuses to build on a stored row that no longer matches its history (principle 4).

Before a change is applied to a loaded row, its keyed digest must match its own content and be the digest of
its latest revision, and each encrypted value must decrypt (its associated data names this record) to a
value whose blind index is the stored one. A row changed behind the system's back — a ciphertext laundered
from another person, a name rewritten in SQL, an index pointed elsewhere — is refused with an integrity
alert that names the record, instead of being carried into a new revision as if it were genuine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from sidms.audit.models import Outcome
from sidms.audit.services import audit_record
from sidms.core.caller import Caller
from sidms.core.errors import IntegrityAlert
from sidms.core.kernel import REGISTRY, EntitySpec, cipher_mac, digest, spec_of_model, state_of, tokens_of
from sidms.core.prepared import planned_once
from sidms.lib.crypto import DecryptionError

# The keyed digest of a ledger fact (an append-only row a run writes, with no revisions), by entity, registered
# by the app that writes the facts (business: ``ledger.entry_digest``): the read door checks each fact it shows
# against it. Without it a contribution INSERTed in SQL for a person (the triggers let INSERT through) was
# listed on their page and their unit's as theirs until the nightly verification (attack round 15).
FACT_DIGESTS: dict[str, Callable[[Any], str]] = {}


def register_fact_digest(entity: str, digest_of: Callable[[Any], str]) -> None:
    FACT_DIGESTS[entity] = digest_of


def _latest(spec: EntitySpec, pk: Any) -> tuple[int, str] | None:
    # Plain SQL rather than the ORM: every record page asks this (require_read_intact), and building and
    # compiling the queryset cost several times the indexed look-up.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version, digest FROM changes_revision WHERE entity = %s AND record_id = %s "
            "ORDER BY version DESC LIMIT 1",
            [spec.name, int(pk)],
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


_UNREAD = object()


def stored_problem(spec: EntitySpec, instance: models.Model, latest: Any = _UNREAD) -> str:
    """Why INSTANCE's stored columns do not match its history ("" when they do), without decrypting: its
    digest against its own content (the blind indexes included), against its latest revision ((version,
    digest), LATEST when already read, None for none), and its ciphertexts against their MAC (bound to this
    record)."""
    version = instance.version  # type: ignore[attr-defined]
    stored = instance.row_digest  # type: ignore[attr-defined]
    if digest(spec, version, state_of(spec, instance)) != stored:
        return "digest"
    if (_latest(spec, instance.pk) if latest is _UNREAD else latest) != (version, stored):
        return "history"
    if cipher_mac(spec, instance.uid, tokens_of(spec, instance)) != instance.cipher_mac:  # type: ignore[attr-defined]
        return "ciphertext"
    return ""


def problem_of(spec: EntitySpec, instance: models.Model) -> str:
    """Why INSTANCE does not match its history ("" when it does): :func:`stored_problem`, and each encrypted
    value decrypted to the value its blind index names."""
    reason = stored_problem(spec, instance)
    if reason:
        return reason
    for name, enc in spec.encrypted_fields.items():
        raw = instance.__dict__.get(name)
        if raw in (None, ""):
            continue
        try:
            value = getattr(instance, name)
        except (DecryptionError, IntegrityAlert):
            return "ciphertext"
        if enc.index.index_of(str(value)) != getattr(instance, enc.index.attname):
            return "index"
    return ""


ALERT = _(
    "%(record)s does not match its history (changed outside the system); refused. Tell the information centre."
)


def alert(spec: EntitySpec, pk: int, label: str | None, reason: str, *, actor: Any) -> IntegrityAlert:
    """The integrity alert naming record PK of SPEC (LABEL: its key, or None for a record with no row), with
    the audit event ``changes.integrity.check_row`` gives one."""
    record = f"{spec.model._meta.verbose_name} {label if label is not None else f'#{pk}'}"
    return integrity_alert(record, spec.name, label if label is not None else str(pk),
                           {"reason": reason, "record_id": pk}, actor=actor)  # fmt: skip


def integrity_alert(
    record: str,
    object_type: str,
    object_id: object,
    detail: dict[str, Any],
    *,
    actor: Any,
    message: Any = ALERT,
    outcome: str = Outcome.FAILED,
) -> IntegrityAlert:
    """The integrity alert naming RECORD in MESSAGE (its ``%(record)s``), with its audit event about
    OBJECT_TYPE OBJECT_ID (recorded by :func:`record_alert`, or by ``changes.services.audited_refusals``
    once the refused step has rolled back). The one way an integrity alert is built: an alert only recorded,
    never raised, is built here too and handed to :func:`record_alert`."""
    refusal = IntegrityAlert(message, {"record": record})
    refusal.audit_event = alert_event(object_type, object_id, detail, actor=actor, outcome=outcome)
    return refusal


OWNER_ALERT = _(
    "The record %(record)s belongs to does not match its history (changed outside the system); refused. Tell "
    "the information centre."
)


def owner_alert(
    spec: EntitySpec, record: models.Model | None, owner_failed: IntegrityAlert
) -> IntegrityAlert:
    """The alert shown for RECORD of SPEC (None: a new one) whose district is read from a record that failed
    its check (OWNER_FAILED, the person's alert): it names RECORD by its own key, or only its kind, and carries
    the person's audit event (recorded once, as OWNER_FAILED's is). The page of an employment refused for its
    person named the person's number to the district the SQL had written into them (attack round 14's
    follow-up); the audit log still names the person, for the information centre."""
    kind = spec.model._meta.verbose_name
    name = f"{kind} {spec.label(record)}" if record is not None and record.pk is not None else str(kind)
    shown = IntegrityAlert(OWNER_ALERT, {"record": name})
    shown.audit_event = owner_failed.audit_event
    if hasattr(owner_failed, "audit_written_at"):
        shown.audit_written_at = owner_failed.audit_written_at  # type: ignore[attr-defined]
    return shown


def alert_event(
    object_type: str, object_id: object, detail: dict[str, Any], *, actor: Any, outcome: str = Outcome.FAILED
) -> dict[str, Any]:
    """The `integrity.alert` audit event about OBJECT_TYPE OBJECT_ID (``audit_record``'s keywords). Most
    callers want :func:`integrity_alert`; this is for an alert built below this layer (a value that does not
    decrypt, ``sidms.core.errors.damaged_value``), whose event is recorded where it is met
    (``sidms.web.integrity.report_damaged``)."""
    return {
        "action": "integrity.alert",
        "actor": Caller.of(actor),
        "outcome": outcome,
        "object_type": object_type,
        "object_id": object_id,
        "detail": detail,
    }


def _write_events() -> str:
    """SQL: the condition of the audit events' partial index ``audit_write`` (sidms.audit.models) on the event
    ``a``, as this engine's schema holds it (Django's ``startswith``), doubled ``%`` for a statement with
    parameters. A probe states it so that the planner may use the index: SQLite takes a partial index only for
    a query whose WHERE holds each of its terms as written; PostgreSQL proves the index's predicate from the
    query's clauses. tests/changes/test_roll_back_probe.py pins the plans."""
    return (
        "a.action LIKE 'write.%%'"
        if connection.vendor == "postgresql"
        else "a.action LIKE 'write.%%' ESCAPE '\\'"
    )


def written_version_sql(key: str) -> str:
    """SQL: the version the latest ``write.<entity>`` audit event about the record whose label is KEY (an SQL
    expression) recorded, NULL without one: one step down the events' partial index of write events
    (``audit_write``), however many read events name the record. One parameter, before KEY's: the entity's
    name (the object type; ``services.apply_values``, which records one such event per revision it writes, is
    the one writer of ``write.`` events, each about an object of its own entity). The bulk paths vouch for
    their revisions with one event each and are not seen.

    No equality on the action: with one, PostgreSQL could combine the single-column indexes of the object and
    of the action (a bitmap AND), and for a key it cannot know when planning (a row's column, an array's
    element, a prepared statement's parameter) it estimates the object's events at the average: a person
    viewed 50,000 times then cost 8 ms, the object index's 50,000 entries, where the write index takes one
    step (bench/README.md, "The roll-back probe")."""
    version = (
        "(a.payload::jsonb -> 'detail' ->> 'version')::bigint"
        if connection.vendor == "postgresql"
        else "json_extract(a.payload, '$.detail.version')"
    )
    return (
        f"(SELECT {version} FROM audit_auditevent a WHERE a.object_type = %s AND a.object_id = {key} "  # noqa: S608  (KEY is the caller's column or mark)
        f"AND {_write_events()} ORDER BY a.seq DESC LIMIT 1)"
    )


def written_version_of_row(spec: EntitySpec, table: str) -> str:
    """:func:`written_version_sql` keyed by the label column of the row of TABLE (an alias, or a quoted table
    name): a column of a query over SPEC's rows (a run's inputs, :func:`with_latest_revision`)."""
    label = "id" if spec.label_field == "pk" else str(spec.field(spec.label_field).column)
    column = f"{table}.{connection.ops.quote_name(label)}"
    return written_version_sql(
        f"{column}::text" if connection.vendor == "postgresql" else f"CAST({column} AS TEXT)"
    )


def written_version(spec: EntitySpec, label: str) -> int | None:
    """The version the latest ``write.<entity>`` audit event about the record labelled LABEL recorded (None
    without one): :func:`written_version_sql` for one record."""
    return written_versions(spec, [label]).get(label)


def written_versions(spec: EntitySpec, labels: Sequence[str]) -> dict[str, int]:
    """:func:`written_version` of each record labelled in LABELS that has a write event, by label: one
    statement of one shape whatever their number (:func:`written_versions_query`), one index step a record.
    The read door's checks ask it of the records a page or a chunk of statements shows that were not read
    with it (:func:`with_latest_revision`)."""
    if not labels:
        return {}
    with planned_once(connection) as cursor:
        cursor.execute(*written_versions_query(spec, labels))
        return {str(label): int(version) for label, version in cursor.fetchall() if version is not None}


def written_versions_query(spec: EntitySpec, labels: Sequence[str]) -> tuple[str, list[Any]]:
    """(SQL, parameters) of :func:`written_versions`: (label, version or NULL) for each of LABELS, the labels
    as one parameter (an array on PostgreSQL, a JSON list on SQLite)."""
    params: list[Any] = [spec.name]
    if connection.vendor == "postgresql":
        return (
            f"SELECT k.key, {written_version_sql('k.key')} FROM unnest(%s::text[]) AS k(key)",  # noqa: S608
            [*params, list(labels)],
        )
    return (
        f"SELECT k.value, {written_version_sql('k.value')} FROM json_each(%s) AS k",  # noqa: S608
        [*params, json.dumps(list(labels))],
    )


def rolled_back(spec: EntitySpec, records: Sequence[models.Model]) -> set[int]:
    """The pks of those of RECORDS (of SPEC, each matching its latest revision) that were rolled back with
    their latest revisions: the latest write event about the record names a later version than the row's
    (the row put back in SQL together with deleting its latest revisions, the revisions' guard dropped, is
    consistent with what remains of its history; the audit chain still names the later version). One
    statement for all (:func:`written_versions`)."""
    if not records:
        return set()
    read = {spec.label(r): getattr(r, _WRITTEN_VERSION) for r in records if hasattr(r, _WRITTEN_VERSION)}
    written = {label: int(version) for label, version in read.items() if version is not None}
    written.update(
        written_versions(spec, [spec.label(r) for r in records if not hasattr(r, _WRITTEN_VERSION)])
    )
    return {
        int(record.pk)
        for record in records
        if written.get(spec.label(record), 0) > record.version  # type: ignore[attr-defined]
    }


def check_row(spec: EntitySpec, instance: models.Model, *, actor: Any) -> None:
    """Refuse (with an integrity alert that is audited even though the step rolls back) unless INSTANCE
    matches its history, and its latest revision is not older than the latest write event about it records
    ("rolled_back": the row put back together with its latest revisions deleted, the revisions' guard
    dropped, is consistent with what remains of its history; the audit chain still names the later version)."""
    reason = problem_of(spec, instance)
    if not reason:
        written = written_version(spec, spec.label(instance))
        if written is not None and written > instance.version:  # type: ignore[attr-defined]
            reason = "rolled_back"
    if not reason:
        return
    raise alert(spec, instance.pk, spec.label(instance), reason, actor=actor)


def _owner_spec(spec: EntitySpec) -> tuple[str, EntitySpec] | None:
    """(the reference, the spec) of the record SPEC's district is read from (``EntitySpec.district_owner``),
    when that is another governed record (an employment's, enrolment's, entitlement's or ledger entry's
    person; a unit enrolment's unit)."""
    hop = spec.district_owner
    if hop is None:
        return None
    related = spec.model._meta.get_field(hop).related_model
    owner = spec_of_model(related) if isinstance(related, type) else None
    return None if owner is None or owner.kind != REGISTRY else (hop, owner)


def latest_revision_rows(spec: EntitySpec, ids: list[int], *, state: bool = False) -> list[tuple[Any, ...]]:
    """(record id, version, digest[, state]) of each record's latest revision, for record IDS, 500 at a time;
    the state as stored (JSON text on SQLite) when STATE. The bulk paths (batches, key rotation, upgrade) and
    the read door's checks of a list page share it."""
    extra = ", r.state" if state else ""
    rows: list[tuple[Any, ...]] = []
    if connection.vendor == "postgresql":
        # Statements of one shape whatever the number of ids (an array), prepared by the connection
        # (planned_once): each id's latest revision by one backward probe of the (entity, record, version)
        # index. The read door asks this of one record on every record page; parsed and planned anew each
        # time, the grouped join below cost the database several times the probe. One id has a statement of
        # its own, whose generic plan PostgreSQL keeps (an array's length is unknown to a generic plan, which
        # costs it as ten probes, so that one is planned at each run: still parsed once).
        ids = list(dict.fromkeys(ids))
        latest = (
            "SELECT record_id, version, digest, state FROM changes_revision WHERE entity = %s AND record_id"
        )
        with planned_once(connection) as cursor:
            if len(ids) == 1:
                cursor.execute(
                    f"SELECT r.record_id, r.version, r.digest{extra} FROM ({latest} = %s "  # noqa: S608
                    "ORDER BY version DESC LIMIT 1) r",
                    [spec.name, ids[0]],
                )
            else:
                cursor.execute(
                    f"SELECT r.record_id, r.version, r.digest{extra} FROM unnest(%s::bigint[]) AS i(id) "  # noqa: S608
                    f"CROSS JOIN LATERAL ({latest} = i.id ORDER BY version DESC LIMIT 1) r",
                    [ids, spec.name],
                )
            return cursor.fetchall()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT r.record_id, r.version, r.digest{extra} FROM changes_revision r JOIN ("  # noqa: S608
                "SELECT record_id, MAX(version) AS v FROM changes_revision "
                f"WHERE entity = %s AND record_id IN ({marks}) GROUP BY record_id"
                ") m ON r.record_id = m.record_id AND r.version = m.v WHERE r.entity = %s",
                [spec.name, *part, spec.name],
            )
            rows += cursor.fetchall()
    return rows


def latest_revisions(spec: EntitySpec, ids: list[int]) -> dict[int, tuple[int, str]]:
    """(version, digest) of each record's latest revision, for record IDS."""
    return {int(pk): (int(version), str(stored)) for pk, version, stored in latest_revision_rows(spec, ids)}


# The attributes with_latest_revision annotates a record with (its latest revision's version and digest, and
# the version its latest write event names).
_LATEST_VERSION, _LATEST_DIGEST = "latest_revision_version", "latest_revision_digest"
_WRITTEN_VERSION = "latest_written_version"


def with_latest_revision(spec: EntitySpec, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """QUERYSET (of SPEC's records) with each record's latest revision, (version, digest), read by the same
    statement (two correlated look-ups on the revisions' (entity, record, version) index): a page that checks
    the records it shows (:func:`require_all_intact` with ``latest=``:func:`latest_of`) then needs no query
    of its own for their history."""
    from sidms.changes.models import Revision

    revisions = Revision.objects.filter(entity=spec.name, record_id=OuterRef("pk")).order_by("-version")
    # The roll-back probe keyed by the queryset's own table (not aliased: the queryset is not a subquery).
    written = written_version_of_row(spec, connection.ops.quote_name(spec.model._meta.db_table))
    return queryset.annotate(**{
        _LATEST_VERSION: Subquery(revisions.values("version")[:1]),
        _LATEST_DIGEST: Subquery(revisions.values("digest")[:1]),
        _WRITTEN_VERSION: RawSQL(written, [spec.name],  # noqa: S611  (no value in the text)
                                 output_field=models.BigIntegerField()),
    })  # fmt: skip


def latest_of(records: list[models.Model]) -> dict[int, tuple[int, str]]:
    """:func:`latest_revisions` of RECORDS, read with them (:func:`with_latest_revision`)."""
    latest = {}
    for record in records:
        version = getattr(record, _LATEST_VERSION)
        if version is not None:
            latest[int(record.pk)] = (int(version), str(getattr(record, _LATEST_DIGEST)))
    return latest


def require_read_intact(spec: EntitySpec, instance: models.Model, actor: Any) -> None:
    """The check the read door makes of a record before a page shows it (access.policies.record_get; this
    app registers it when ready). The scope is read from the live row: a district written into a person in
    SQL would otherwise hand the district named the person's page, decrypted, until the nightly verification
    named the row (attack round 13 found the queues; this is the record itself). A record whose district is
    read from another record (an employment's, an entitlement's, a ledger entry's person) is shown only while
    that record matches its history too: the person's district written in SQL otherwise handed the district
    named every page of theirs but their own, their name on each (attack round 14). A record that does not
    match its history is not shown: the alert is recorded now (a read has no transaction to roll back) and
    raised, and the page answers 409 naming the record; so is a record rolled back with its latest revisions
    (the latest write event about it names a later version, as :func:`check_row` refuses it). The check reads
    the stored columns only (no decryption): three keyed digests and two index look-ups a record (its latest
    revision, its latest write event), read with the record when record_get read it (:func:`read_with_history`)."""
    latest = latest_of([instance]) if hasattr(instance, _LATEST_VERSION) else None
    require_all_intact(spec, [instance], actor, latest=latest)


def read_with_history(spec: EntitySpec, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """What :func:`require_read_intact` reads of a record besides its row, for record_get's look-up by key to
    read in the same statement (access.policies.register_read_guard): a registry record's latest revision."""
    return with_latest_revision(spec, queryset) if spec.kind == REGISTRY else queryset


def require_owner_intact(spec: EntitySpec, values: Mapping[str, Any] | models.Model, *, actor: Any) -> None:
    """Refuse (an integrity alert, recorded now and raised) a step whose scope was read from the record that
    VALUES' reference (or a stored record's) names (an employment's person_id, a unit enrolment's unit_id) unless that record matches
    its history: a person's district written in SQL otherwise let the district it named enter, end and
    correct the person's employments, enrolments and entitlements (attack round 14)."""
    owned = _owner_spec(spec)
    if owned is None:
        return
    hop, owner_spec = owned
    pk = values.get(f"{hop}_id") if isinstance(values, Mapping) else getattr(values, f"{hop}_id", None)
    if pk in (None, ""):
        return
    owner = owner_spec.model._default_manager.filter(pk=pk).first()
    if owner is not None:
        try:
            require_all_intact(owner_spec, [owner], actor)
        except IntegrityAlert as failed:
            raise owner_alert(spec, None if isinstance(values, Mapping) else values, failed) from None


def withhold_unintact(spec: EntitySpec, records: list[models.Model], actor: Any) -> list[models.Model]:
    """:func:`require_read_intact` for a page of a list (access.policies.record_list, record_related): the
    RECORDS that do not match their history, or whose district is read from a record that does not (each
    such record with its alert recorded, once), for the list to withhold. The latest revisions are read in
    one query per entity, the records the districts are read from in one more when not already joined."""
    return [record for record, _alert in unintact(spec, records, actor)]


def require_all_intact(
    spec: EntitySpec,
    records: list[models.Model],
    actor: Any,
    *,
    owner_checked: bool = False,
    latest: Mapping[int, tuple[int, str]] | None = None,
) -> None:
    """Refuse a read built from RECORDS (a person's enrolments on their rights record and statement) unless
    each matches its history: the first alert, recorded with the others, is raised (the page answers 409).
    OWNER_CHECKED: the records were selected by the one record their district is read from, and that record
    was just checked (the person, through record_get): it is not checked again. LATEST: the records' latest
    revisions, read with them (:func:`with_latest_revision`, :func:`latest_of`) rather than by a query here."""
    failing = unintact(spec, records, actor, check_owners=not owner_checked, latest=latest)
    if failing:
        raise failing[0][1]


def unintact(
    spec: EntitySpec,
    records: list[models.Model],
    actor: Any,
    *,
    check_owners: bool = True,
    latest: Mapping[int, tuple[int, str]] | None = None,
) -> list[tuple[models.Model, Any]]:
    """(record, its recorded alert) for each of RECORDS that :func:`withhold_unintact` withholds; without
    CHECK_OWNERS, the records their districts are read from are not checked (the caller checked them). The
    yearly batch of statements withholds a person's statement by it (business.rights)."""
    if not records:
        return []
    failing: dict[int, IntegrityAlert] = {}
    if spec.kind == REGISTRY:
        if latest is None:
            latest = latest_revisions(spec, [int(record.pk) for record in records])
        for record, reason in _problems(spec, records, latest):
            failing[id(record)] = alert(spec, record.pk, spec.label(record), reason, actor=actor)
            record_alert(failing[id(record)])
    elif spec.name in FACT_DIGESTS:
        fact_digest = FACT_DIGESTS[spec.name]
        for record in records:
            if fact_digest(record) != record.row_digest:  # type: ignore[attr-defined]
                failing[id(record)] = alert(spec, record.pk, spec.label(record), "digest", actor=actor)
                record_alert(failing[id(record)])
    owned = _owner_spec(spec) if check_owners else None
    if owned is not None:
        hop, owner_spec = owned
        field = spec.model._meta.get_field(hop)
        ids = {getattr(record, f"{hop}_id") for record in records} - {None}
        owners = {
            getattr(record, f"{hop}_id"): getattr(record, hop)
            for record in records
            if field.is_cached(record) and getattr(record, hop) is not None  # type: ignore[union-attr]
        }
        missing = [pk for pk in ids if pk not in owners]
        if missing:
            owners.update(owner_spec.model._default_manager.in_bulk(missing))
        latest = latest_revisions(owner_spec, sorted(int(pk) for pk in owners))
        bad = {}
        for owner, reason in _problems(owner_spec, list(owners.values()), latest):
            bad[owner.pk] = alert(owner_spec, owner.pk, owner_spec.label(owner), reason, actor=actor)
            record_alert(bad[owner.pk])
        for record in records:
            if id(record) not in failing and getattr(record, f"{hop}_id") in bad:
                failing[id(record)] = owner_alert(spec, record, bad[getattr(record, f"{hop}_id")])
    return [(record, failing[id(record)]) for record in records if id(record) in failing]


def _problems(
    spec: EntitySpec, records: list[models.Model], latest: Mapping[int, tuple[int, str]]
) -> list[tuple[models.Model, str]]:
    """(record, why) for each of RECORDS (of a registry entity; LATEST: their latest revisions) that does not
    match its history (:func:`stored_problem`) or, matching it, was rolled back with its latest revisions
    ("rolled_back", :func:`rolled_back`: one statement for those that match), as the pipeline's
    :func:`check_row` refuses them."""
    reasons = {id(record): stored_problem(spec, record, latest.get(int(record.pk))) for record in records}
    back = rolled_back(spec, [record for record in records if not reasons[id(record)]])
    return [
        (record, reasons[id(record)] or "rolled_back")
        for record in records
        if reasons[id(record)] or int(record.pk) in back
    ]


def record_alert(alert: IntegrityAlert) -> None:
    """Write ALERT's audit event now, once: an alert recorded where it is met and then raised on is not
    recorded again by ``audited_refusals`` (unless the step it was written in rolled back, :func:`record_refusal`)."""
    record_refusal(alert)


def record_refusal(refusal: BaseException) -> None:
    """Write the audit event a refusal carries (its ``audit_event``), once however many hands it passes
    through: ``audited_refusals`` nested in one another, or an alert recorded where it was met and then raised.
    Once means while the write stands: again only if the transaction it was written in has since rolled back
    under it, which is what became of every atomic block the refusal left (the depth of open blocks is less
    than at the write). The event stays on the refusal, for its catcher to read."""
    event = getattr(refusal, "audit_event", None)
    if event is None:
        return
    depth = len(transaction.get_connection().atomic_blocks)
    written = getattr(refusal, "audit_written_at", None)
    if written is not None and written <= depth:
        return
    audit_record(**event)
    refusal.audit_written_at = depth  # type: ignore[attr-defined]
