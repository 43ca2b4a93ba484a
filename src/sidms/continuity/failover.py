"""The off-site disaster-recovery drill with sidms itself (R18.2, checklist 18).

``sidms.lib.pgops`` builds the primary and its synchronous standby and kills and promotes clusters; this
module puts sidms on top: a separate `sidms` process writes through the services (a window submission that
changes a person's phone, and an audit event naming it, per transaction) against a libpq multi-host
connection (``host=primary,standby target_session_attrs=read-write``), the way a production deployment
follows a failover without reconfiguration. The drill

1. lets the writer run for a while, then kills the primary with SIGKILL (all its processes at once);
2. promotes the standby;
3. waits for the writer's first committed write on the promoted server (the RTO: kill → first write that
   sidms itself committed there; failure detection by a person or Patroni is not included);
4. checks that every write the writer saw acknowledged before the kill is on the promoted server with the
   same audit hash (RPO in transactions and seconds), and
5. runs `sidms audit verify` against the promoted server, with the checkpoints the writer left behind.

Run ``python -m sidms.continuity.failover setup|write`` for the two phases of the writer process.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from sidms.lib import pgops


@dataclass
class FailoverResult:
    started_at: datetime
    acknowledged: int
    lost: int
    rpo_transactions: int
    rpo_seconds: float
    rto_seconds: float
    in_doubt: int | None
    in_doubt_present: bool | None
    writes_per_second: float
    written_after: int
    verified: bool
    verify_output: str
    seconds: float
    promoted_port: int
    lost_seqs: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"RPO {self.rpo_transactions} transactions / {self.rpo_seconds:.3f} s; RTO {self.rto_seconds:.3f} s "
            f"(kill -9 → first sidms write on the promoted standby); {self.acknowledged} acknowledged sidms writes "
            f"before the kill ({self.writes_per_second:.0f}/s), {self.written_after} after; in doubt: "
            f"{self.in_doubt if self.in_doubt is not None else 'none'}"
            f"{'' if self.in_doubt_present is None else (' (committed)' if self.in_doubt_present else ' (not committed)')}; "
            f"audit verify on the promoted server: {'intact' if self.verified else 'BROKEN'}"
        )


def _env(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(base)
    env.update(extra)
    env["DJANGO_SETTINGS_MODULE"] = "sidms.settings"
    return env


def _url(cluster: pgops.Cluster, database: str) -> str:
    return f"postgres://{cluster.superuser}@127.0.0.1:{cluster.port}/{database}"


def prepare(primary: pgops.Cluster, database: str, env: Mapping[str, str], *, persons: int = 20) -> None:
    """Create the database on the primary, migrate it and load staff and persons through the pipeline."""
    primary.query(f'CREATE DATABASE "{database}"')
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "sidms.continuity.failover", "setup", str(persons)],
        env=_env(env, SIDMS_DATABASE_URL=_url(primary, database)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0 or "READY" not in result.stdout:
        raise RuntimeError(
            f"the drill database could not be prepared:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def run(
    primary: pgops.Cluster,
    standby: pgops.Cluster,
    database: str,
    env: Mapping[str, str],
    *,
    load_seconds: float = 3.0,
    after_seconds: float = 1.0,
    timeout: float = 120,
) -> FailoverResult:
    """Kill the primary under a sidms write load, promote the standby, measure and verify (see the module)."""
    from django.utils import timezone

    started_at, started = timezone.now(), time.monotonic()
    hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
    writer = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sidms.continuity.failover", "write", hosts, database],
        env=_env(env, SIDMS_DATABASE_URL=_url(primary, database)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )  # fmt: skip
    acks: list[tuple[int, int, str, float]] = []  # (n, seq, hash, monotonic time of the acknowledgement)
    in_flight: list[int] = []
    errors: list[str] = []
    first_ack = threading.Event()

    def read() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            parts = line.split()
            if parts[:1] == ["ACK"]:
                acks.append((int(parts[1]), int(parts[2]), parts[3], float(parts[4])))
                first_ack.set()
            elif parts[:1] == ["TRY"]:
                in_flight.append(int(parts[1]))
            elif parts[:1] == ["ERROR"]:
                errors.append(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not first_ack.wait(timeout):
            raise RuntimeError(
                f"the sidms writer committed nothing: {writer.stderr.read() if writer.stderr else ''}"
            )
        time.sleep(load_seconds)
        killed_at = time.monotonic()
        primary.kill9(reap_timeout=0)
        standby.promote(timeout=timeout)
        deadline = time.monotonic() + timeout
        while not any(t > killed_at for *_x, t in acks):
            if time.monotonic() > deadline or writer.poll() is not None:
                raise RuntimeError(f"no sidms write succeeded on the promoted standby: {errors[-3:]}")
            time.sleep(0.01)
        first_after = min(t for *_x, t in acks if t > killed_at)
        time.sleep(after_seconds)
    finally:
        if writer.poll() is None:
            writer.send_signal(signal.SIGTERM)
        try:
            writer.wait(30)
        except subprocess.TimeoutExpired:
            writer.kill()
        reader.join(10)
    before = [a for a in acks if a[3] <= killed_at]
    after = [a for a in acks if a[3] > killed_at]
    with psycopg.connect(standby.dsn(database), connect_timeout=10) as conn:
        present: dict[int, str] = dict(
            conn.execute(
                "SELECT seq, hash FROM audit_auditevent WHERE seq = ANY(%s)",
                [[seq for _n, seq, _h, _t in before]],
            ).fetchall()
        )
        numbers = {
            int(row[0])
            for row in conn.execute(
                "SELECT object_id FROM audit_auditevent WHERE action = 'drill.write' AND object_id ~ '^[0-9]+$'"
            ).fetchall()
        }
    lost = [(n, seq, t) for n, seq, h, t in before if present.get(seq) != h]
    acked_numbers = {n for n, *_rest in acks}
    doubt = next((n for n in reversed(in_flight) if n not in acked_numbers), None)
    verified, output = verify_promoted(standby, database, env)
    load = killed_at - before[0][3] if before else 0.0
    return FailoverResult(
        started_at=started_at, acknowledged=len(before), lost=len(lost), rpo_transactions=len(lost),
        rpo_seconds=killed_at - min(t for *_x, t in lost) if lost else 0.0, rto_seconds=first_after - killed_at,
        in_doubt=doubt, in_doubt_present=None if doubt is None else doubt in numbers,
        writes_per_second=len(before) / load if load > 0 else 0.0, written_after=len(after), verified=verified,
        verify_output=output, seconds=time.monotonic() - started, promoted_port=standby.port,
        lost_seqs=[seq for _n, seq, _t in lost],
    )  # fmt: skip


def verify_promoted(cluster: pgops.Cluster, database: str, env: Mapping[str, str]) -> tuple[bool, str]:
    """`sidms audit verify` in its own process, pointed at the promoted server."""
    result = subprocess.run(
        [sys.executable, "-m", "sidms.cli", "audit", "verify"],
        env=_env(env, SIDMS_DATABASE_URL=_url(cluster, database)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    return result.returncode == 0, (result.stdout + result.stderr).strip()[-2000:]


# --------------------------------------------------------------------------------------------------------
# The writer process


def _setup(persons: int) -> None:
    from datetime import date

    from django.core.management import call_command

    from sidms.changes.batches import batch_apply_import, batch_decide, batch_execute
    from sidms.security.accounts import staff_create

    call_command("migrate", interactive=False, verbosity=0)
    accounts = {}
    for username, posts, district in (
        ("drill_clerk", ("window_clerk",), "371002"),
        ("drill_info", ("info_centre",), "371000"),
        ("drill_approver", ("approver",), "371000"),
    ):
        accounts[username] = staff_create(
            actor="system:drill", username=username, password=secrets.token_urlsafe(16), district=district,
            posts=posts, agreement_signed_on=date(2026, 1, 1),
        )  # fmt: skip
    rows = [
        {
            "person_no": f"D{i:09d}", "id_number": _id_number(i), "name": f"演练{_STEMS[i % 10]}{_BRANCHES[i // 10 % 12]}",
            "category": "employee", "district_id": "371002", "phone": "13963100000", "status": "active",
        }
        for i in range(1, persons + 1)
    ]  # fmt: skip
    batch = batch_apply_import(
        actor=accounts["drill_info"], entity="person", rows=rows, reason="灾备演练数据"
    )
    batch_decide(actor=accounts["drill_approver"], batch_id=batch.pk, approve=True)
    batch_execute(actor=accounts["drill_info"], batch_id=batch.pk, rows=lambda: rows)
    print("READY", flush=True)


_STEMS = "甲乙丙丁戊己庚辛壬癸"
_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"


def _id_number(i: int) -> str:
    from sidms.lib.idcard import check_digit

    body = f"37100219700101{i:03d}"
    return body + check_digit(body)


def _write(hosts: str, database: str) -> None:
    import django
    from django.conf import settings

    names, ports = zip(*(h.rsplit(":", 1) for h in hosts.split(",")), strict=True)
    db: dict[str, Any] = settings.DATABASES["default"]  # type: ignore[assignment]
    # libpq tries the hosts in order and keeps the one that accepts writes: after a failover the promoted
    # standby, without any change to sidms's configuration.
    db.update(HOST=",".join(names), PORT=",".join(ports), NAME=database, CONN_MAX_AGE=None)
    db["OPTIONS"] = {**db.get("OPTIONS", {}), "target_session_attrs": "read-write", "connect_timeout": 2}
    django.setup()

    from django.db import connection, transaction

    from sidms.audit.services import audit_record
    from sidms.changes.models import Channel
    from sidms.changes.services import submit_change
    from sidms.registry.models import Person, Staff

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    clerk = Staff.objects.get(username="drill_clerk")
    people = list(Person.objects.order_by("pk").values_list("pk", flat=True))
    n = 0
    while not stop.is_set():
        n += 1
        print(f"TRY {n}", flush=True)
        try:
            with transaction.atomic():
                person = Person.objects.get(pk=people[n % len(people)])
                outcome = submit_change(
                    actor=clerk, channel=Channel.WINDOW, entity="person", record=person,
                    values={"phone": f"1396310{n % 10000:04d}"},
                )  # fmt: skip
                event = audit_record(
                    "drill.write", actor=clerk, object_type="drill", object_id=n,
                    detail={"n": n, "applied": list(outcome.applied)},
                )  # fmt: skip
            assert event is not None  # written at once: no request buffers this writer's events
            print(f"ACK {n} {event.seq} {event.hash} {time.monotonic():.6f}", flush=True)
        except Exception as error:  # the primary died under us: reconnect (to whichever host accepts writes)
            print(f"ERROR {n} {type(error).__name__}", flush=True)
            connection.close()
            time.sleep(0.02)
    print("DONE", flush=True)


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidms.settings")
    if argv[:1] == ["setup"]:
        import django

        django.setup()
        _setup(int(argv[1]) if len(argv) > 1 else 20)
    elif argv[:1] == ["write"]:
        _write(argv[1], argv[2])
    else:
        raise SystemExit("usage: python -m sidms.continuity.failover setup [PERSONS] | write HOSTS DATABASE")


if __name__ == "__main__":
    main(sys.argv[1:])
