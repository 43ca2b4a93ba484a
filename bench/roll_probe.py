"""The roll-back probe (``changes.integrity.written_version``) as the read events about a person grow, against
the probe before the partial index of write events (main's query, which walks back over the read events to
the last write: SQLite by the object index, PostgreSQL by the log's key); and what that index costs an
appended audit event (a page view's read event, which only evaluates the index's condition, and a write
event, which enters it: ``write.bench`` events about no record), with the index and with it dropped, in turns.

    uv run python bench/roll_probe.py [--views 1000,10000,50000] [--repeat 200] [--appends 2000]
        [--changes 2000] [--database-url postgres://postgres@127.0.0.1:5432/<an empty database of yours>]

The store is isolated (SQLite in a temp dir, removed at the end, or the PostgreSQL database given, which must
exist and be empty, and is left for you to drop), with a few persons loaded through the pipeline
(bench/pipeline.py) and changed one at a time at the window (write events), the measured person last. The
read events are appended by ``audit_record`` in transactions of 1,000, as bench/access_lists.py grows its
log. PostgreSQL's statistics are gathered before each measurement (autovacuum's ANALYZE); SQLite's planner
has none, as in production.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline  # bench/pipeline.py: setup_store, load

# The probe before the partial index (main at d56320d): the object index, filtered by the action.
BEFORE = {
    "sqlite": "SELECT (SELECT json_extract(a.payload, '$.detail.version') FROM audit_auditevent a "
    "WHERE a.object_type = %s AND a.object_id = %s AND a.action = %s ORDER BY a.seq DESC LIMIT 1)",
    "postgresql": "SELECT (SELECT (a.payload::jsonb -> 'detail' ->> 'version')::bigint FROM audit_auditevent a "
    "WHERE a.object_type = %s AND a.object_id = %s AND a.action = %s ORDER BY a.seq DESC LIMIT 1)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--views", default="1000,10000,50000", help="read events about the person, cumulative"
    )
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--appends", type=int, default=2000, help="events appended per append measurement")
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--changes", type=int, default=2000, help="single changes before the measurements")
    parser.add_argument("--database-url", default="")
    return parser.parse_args()


def isolate(args: argparse.Namespace) -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="sidms-bench-"))
    os.environ["SIDMS_DATA_DIR"] = str(data_dir)
    os.environ["SIDMS_KEY_FILE"] = str(data_dir / "sidms.keys")
    os.environ["SIDMS_CHECKPOINT_DIR"] = str(data_dir / "checkpoints")
    os.environ["DJANGO_SETTINGS_MODULE"] = "sidms.settings"
    os.environ["SIDMS_DATABASE_URL"] = args.database_url or f"sqlite:///{data_dir / 'sidms.sqlite3'}"
    return data_dir


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    args = parse_args()
    data_dir = isolate(args)
    try:
        measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(args: argparse.Namespace) -> None:
    pipeline.setup_store()
    from django.db import connection, transaction
    from django.utils import timezone

    from sidms.audit.models import AuditEvent
    from sidms.audit.services import audit_record
    from sidms.changes.integrity import written_version
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from sidms.core.caller import Caller
    from sidms.core.kernel import spec_for
    from sidms.registry.models import Person, Staff

    pipeline.load(args.persons, {})
    clerk = Caller.of(Staff.objects.get(username="clerk_hc"))
    # Single changes at the window, round-robin over the district's persons (each a write event), so that
    # write.person is as common in the log as a store that has been in use makes it: with one such event in
    # the whole log, PostgreSQL's planner rightly walks the action index instead, which says nothing of a
    # store in use. The measured person is the first, changed last.
    people = list(Person.objects.filter(district_id="371002").order_by("pk"))
    started = time.perf_counter()
    for n in range(args.changes):
        one = Person.objects.get(pk=people[(args.changes - 1 - n) % len(people)].pk)
        status = "suspended" if one.status == "active" else "active"
        submit_change(
            actor=clerk, channel=Channel.WINDOW, entity="person", record=one, values={"status": status}
        )
    person = Person.objects.get(pk=people[0].pk)
    spec = spec_for("person")
    vendor = connection.vendor
    writes = AuditEvent.objects.filter(action="write.person").count()
    print(f"engine {vendor}; {args.changes:,} single changes of {len(people)} persons in "
          f"{time.perf_counter() - started:.1f} s; {writes:,} write.person events; "
          f"person {person.person_no} at version {person.version}")  # fmt: skip

    def analyze() -> None:
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE audit_auditevent")

    def before() -> int | None:
        with connection.cursor() as cursor:
            cursor.execute(BEFORE[vendor], [spec.name, person.person_no, "write.person"])
            row = cursor.fetchone()
        return None if row[0] is None else int(row[0])

    def timed(probe: object) -> float:
        took = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            probe()  # type: ignore[operator]
            took.append(time.perf_counter() - started)
        return median_ms(took)

    def index(create: bool) -> None:
        with connection.cursor() as cursor:
            if create:
                cursor.execute(
                    "CREATE INDEX audit_write ON audit_auditevent (object_type, object_id, seq) WHERE "
                    + (
                        "action::text LIKE 'write.%'"
                        if vendor == "postgresql"
                        else "action LIKE 'write.%' ESCAPE '\\'"
                    )
                )
            else:
                cursor.execute("DROP INDEX audit_write")

    def appends(action: str, object_type: str) -> float:
        """Seconds an event: ARGS.appends events, each in its own transaction as a page view's."""
        took = []
        for n in range(args.appends):
            started = time.perf_counter()
            with transaction.atomic():
                audit_record(action, actor=clerk, object_type=object_type, object_id=f"B{n:09d}")
            took.append(time.perf_counter() - started)
        return statistics.fmean(took)

    def inserts(action: str) -> float:
        """Seconds a row: ARGS.appends * 10 event rows (a read event's payload, new sequence numbers) inserted
        by one executemany and rolled back: the table's and its indexes' own cost, without the append's
        hashing and commit."""
        payload = (
            AuditEvent.objects.filter(action="read.person").values_list("payload", flat=True).first() or ""
        )
        head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        now = timezone.now()
        rows = [
            (head + 1 + n, now, "bench", action, "person", f"B{n:09d}", "ok", payload, "0" * 64, "0" * 64)
            for n in range(args.appends * 10)
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.executemany(
                "INSERT INTO audit_auditevent (seq, at, actor, action, object_type, object_id, outcome, payload, "
                "prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
            took = time.perf_counter() - started
            transaction.set_rollback(True)
        return took / len(rows)

    print(
        "\nappending an audit event (mean of each round, µs; rounds alternate with and without audit_write):"
    )
    rows: dict[str, list[float]] = {"with": [], "without": []}
    writes: dict[str, list[float]] = {"with": [], "without": []}
    for _round in range(4):
        for state in ("with", "without"):
            if state == "without":
                index(create=False)
            rows[state].append(appends("read.person", "person") * 1e6)
            # About no record (a bench object type): it enters the index as a write event does.
            writes[state].append(appends("write.bench", "bench") * 1e6)
            if state == "without":
                index(create=True)
    for state in ("with", "without"):
        print(f"  {state:7} audit_write: read event {' · '.join(f'{v:.1f}' for v in rows[state])}; "
              f"write event {' · '.join(f'{v:.1f}' for v in writes[state])}")  # fmt: skip

    print(f"\ninserting event rows ({args.appends * 10:,} by one executemany, rolled back; µs a row):")
    raw: dict[str, dict[str, list[float]]] = {
        "with": {"read": [], "write": []},
        "without": {"read": [], "write": []},
    }
    for _round in range(4):
        for state in ("with", "without"):
            if state == "without":
                index(create=False)
            raw[state]["read"].append(inserts("read.person") * 1e6)
            raw[state]["write"].append(inserts("write.bench") * 1e6)
            if state == "without":
                index(create=True)
    for state in ("with", "without"):
        print(f"  {state:7} audit_write: read event {' · '.join(f'{v:.2f}' for v in raw[state]['read'])}; "
              f"write event {' · '.join(f'{v:.2f}' for v in raw[state]['write'])}")  # fmt: skip

    print(f"\nthe probe of {person.person_no} (median of {args.repeat}, ms):")
    done = 0
    for target in (int(v) for v in args.views.split(",")):
        while done < target:
            with transaction.atomic():
                for _ in range(min(1000, target - done)):
                    audit_record("read.person", actor=clerk, object_type="person", object_id=person.person_no)
                    done += 1
        analyze()
        assert before() == written_version(spec, person.person_no) == person.version
        old, new = timed(before), timed(lambda: written_version(spec, person.person_no))
        events = AuditEvent.objects.count()
        print(f"  after {done:>6,} read events ({events:,} in the log): before {old:.3f} · after {new:.3f}")

    from sidms.changes.integrity import written_versions_query

    sql, params = written_versions_query(spec, [person.person_no])
    with connection.cursor() as cursor:
        for name, (text, values) in {"before": (BEFORE[vendor], [spec.name, person.person_no, "write.person"]),
                                     "after": (sql, params)}.items():  # fmt: skip
            cursor.execute(("EXPLAIN QUERY PLAN " if vendor == "sqlite" else "EXPLAIN ") + text, values)
            print(
                f"\nplan {name}:",
                *(f"  {row[-1] if vendor == 'sqlite' else row[0]}" for row in cursor.fetchall()),
                sep="\n",
            )
        if vendor == "postgresql":
            # The plan the prepared statement keeps (planned_once): parameters unknown to the planner.
            marks = iter(("$1", "$2"))
            generic = "".join(next(marks) if part == "%s" else part for part in re.split(r"(%s)", sql))
            cursor.execute(f"PREPARE probe(text, text[]) AS {generic.replace('%%', '%')}")
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            cursor.execute("EXPLAIN EXECUTE probe(%s, %s)", params)
            print("\nplan after, generic:", *(f"  {row[0]}" for row in cursor.fetchall()), sep="\n")
            cursor.execute("RESET plan_cache_mode")
            cursor.execute("DEALLOCATE probe")


if __name__ == "__main__":
    main()
