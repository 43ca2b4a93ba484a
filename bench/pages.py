"""The person page under load: the full stack (scope, decryption, audit event) against the same page rendered
without scope and audit, both served by `sidms serve` (granian, 2 WSGI workers) and loaded by wrk.

    uv run python bench/pages.py [--persons 3000] [--seconds 10] [--database-url postgres://…/sidms_bench…]

Prints req/s and the latency distribution (p50, p99) at c=16 and c=64 for both, and the ratio full ÷ plain.
The plain page is a bench-only view (bench/pages_urls.py, served only here): it renders the same template
from the same record, fetched by its number without the read door, and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process PID and every process below it (granian's workers):
    per request, a figure that the load of other processes on the machine hardly changes."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(member, 0.0) for member in tree)


def wrk(url: str, cookie: str, connections: int, seconds: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of wrk against URL with the session cookie."""
    out = subprocess.run(  # noqa: S603
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Cookie: {cookie}", url],  # noqa: S607
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} responses were not 2xx/3xx:\n{out}")
    return rate, percentile("50"), percentile("99")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--business", type=int, default=40, metavar="N",
        help="employees given three years of business history by sidms.demo.business (enrolments, bases, "
        "36 months of ledger runs); the page shows one of them (default 40; 0: no business data)",
    )  # fmt: skip
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per granian worker (sidms serve --threads; default: serve's own)",
    )
    parser.add_argument("--database-url", help="postgres://…/sidms_bench… (created and dropped here)")
    parser.add_argument("--json", help="also write the c=64 figures to this file (bench/spine.py reads it)")
    parser.add_argument(
        "--profile", type=int, metavar="N", default=0,
        help="instead of serving: request each page N times through Django's test client (no granian, no wrk) "
        "under cProfile, print the SQL queries of one request and where the time goes",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None and not args.profile:
        raise SystemExit("wrk is needed: apt-get install wrk")
    data = Path(tempfile.mkdtemp(prefix="sidms-http-"))
    env = dict(os.environ)
    env.update(
        SIDMS_DATA_DIR=str(data), SIDMS_KEY_FILE=str(data / "sidms.keys"), SIDMS_CHECKPOINT_DIR=str(data / "checkpoints"),
        DJANGO_SETTINGS_MODULE="pages_settings", PYTHONPATH=f"{BENCH}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )  # fmt: skip
    database = "SQLite (WAL)"
    if args.database_url:
        if not args.database_url.rsplit("/", 1)[-1].startswith("sidms_bench"):
            raise SystemExit("the database name must start with sidms_bench (it is dropped afterwards)")
        env["SIDMS_DATABASE_URL"] = args.database_url
        database = "PostgreSQL"
        _psql(args.database_url, "CREATE")
    os.environ.update(env)
    sys.path.insert(0, str(BENCH))
    import django

    django.setup()
    from django.core.management import call_command

    from sidms.core.keys import ensure_key_file

    ensure_key_file(data / "sidms.keys", suite="sm")
    call_command("migrate", interactive=False, verbosity=0)
    from sidms.demo.generate import generate
    from sidms.demo.loader import ensure_accounts, link_agencies, load_demo

    ensure_accounts()
    load_demo(generate(persons=args.persons), progress=lambda _text: None)
    link_agencies()
    from django.db import connections
    from django.db.models import Count

    from sidms.registry.models import Person
    from sidms.security.models import SealedTOTPDevice

    started = time.perf_counter()
    if args.business:
        import sidms.demo.business

        sidms.demo.business.MAX_EMPLOYEES = args.business
        sidms.demo.business.load_business(progress=lambda _text: None)
    # The person of clerk_hc's district (371002) with the most on their page: employments, enrolments, bases,
    # contributions (the page lists the latest 24).
    person = (
        Person.objects.filter(district_id="371002")
        .annotate(entries=Count("ledger", distinct=True), jobs=Count("employments", distinct=True))
        .order_by("-entries", "-jobs", "pk")
        .first()
    )
    assert person is not None
    business = f"{time.perf_counter() - started:.0f} s of business history for {args.business} employees"
    device = SealedTOTPDevice.objects.get(user__username="clerk_hc", confirmed=True)
    password = dict(
        line.split("\t", 1) for line in (data / "demo-accounts.txt").read_text().splitlines() if "\t" in line
    )["clerk_hc"]
    connections.close_all()
    if args.profile:
        try:
            _profile(args.profile, person.person_no, password, device, f"{database}; {business}")
        finally:
            shutil.rmtree(data, ignore_errors=True)
            if args.database_url:
                connections.close_all()
                _psql(args.database_url, "DROP")
        return

    threads = ["--threads", str(args.threads)] if args.threads else []
    per_worker = args.threads or "sidms serve's default number of"
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sidms.cli", "serve", "--port", str(port), "--workers", "2", *threads],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        cookie = _sign_in(port, password, device)
        print(
            f"database  {database}; {args.persons} persons; {business}; granian, 2 workers × {per_worker} threads; "
            f"wrk {args.seconds} s per run"
        )
        results = {}
        latency: dict[tuple[str, int], tuple[float, float]] = {}
        cpu_per_request: dict[tuple[str, int], float] = {}
        for connections_ in (16, 64):
            for name, path in (
                ("full", f"/persons/{person.person_no}/"),
                ("plain", f"/bench/plain/persons/{person.person_no}/"),
            ):
                cpu = server_cpu(server.pid)
                rate, p50, p99 = wrk(f"http://127.0.0.1:{port}{path}", cookie, connections_, args.seconds)
                cpu_ms = (server_cpu(server.pid) - cpu) * 1000 / max(1.0, rate * args.seconds)
                results[name, connections_] = rate
                latency[name, connections_] = (p50, p99)
                cpu_per_request[name, connections_] = cpu_ms
                print(
                    f"  c={connections_:<3} {name:<6} {rate:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:7.1f} ms"
                    f"   server CPU {cpu_ms:5.1f} ms/request"
                )
            ratio = results["full", connections_] / results["plain", connections_]
            cpu_ratio = cpu_per_request["plain", connections_] / max(
                cpu_per_request["full", connections_], 1e-9
            )
            print(
                f"  c={connections_:<3} ratio full ÷ plain = {ratio:.2f}   (goal ≥ 0.5, p99 ≤ 50 ms)"
                f"   server CPU per request plain ÷ full = {cpu_ratio:.2f}"
            )
        if args.json:
            import json

            figures = {
                "pages": results["full", 64] / results["plain", 64],
                "full_per_s": results["full", 64],
                "plain_per_s": results["plain", 64],
                "full_p99_ms": latency["full", 64][1],
                "plain_p99_ms": latency["plain", 64][1],
                "full_cpu_ms": cpu_per_request["full", 64],
                "plain_cpu_ms": cpu_per_request["plain", 64],
            }
            Path(args.json).write_text(json.dumps(figures))
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
        if args.database_url:
            _psql(args.database_url, "DROP")


def _profile(count: int, person_no: str, password: str, device: object, database: str) -> None:
    """Each page COUNT times through Django's test client, in this process: the queries of one request, the
    time per request, and the functions that take it (cumulative), for the full page and the plain one."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp.oath import TOTP

    client = Client(SERVER_NAME="127.0.0.1")
    client.post("/login/", {"username": "clerk_hc", "password": password})
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)  # type: ignore[attr-defined]
    response = client.post("/login/otp/", {"token": f"{totp.token():06d}"})
    assert response.status_code == 302, response.content[:500]
    print(f"database  {database}; Django test client, {count} requests per page, cProfile")
    for name, path in (("full", f"/persons/{person_no}/"), ("plain", f"/bench/plain/persons/{person_no}/")):
        for _ in range(3):  # warm: templates, codes, parameters
            assert client.get(path).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            size = len(client.get(path).content)
        print(f"\n== {name}: {len(queries)} queries, {size:,} bytes")
        for query in queries.captured_queries:
            print(f"   {query['sql'][:2000]}")
        cpu = time.process_time()
        for _ in range(count):
            client.get(path)
        cpu = time.process_time() - cpu
        print(f"== {name}: {cpu / count * 1000:.2f} ms of this process's CPU per request (no profiler)")
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(count):
            client.get(path)
        profile.disable()
        elapsed = time.perf_counter() - started
        dump = Path(tempfile.gettempdir()) / f"sidms-pages-{name}.prof"
        profile.dump_stats(dump)
        print(f"== {name}: {elapsed / count * 1000:.2f} ms per request (under cProfile; stats in {dump})")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


def _sign_in(port: int, password: str, device: object) -> str:
    import httpx
    from django_otp.oath import TOTP

    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
        client.get("/login/")
        token = client.cookies["csrftoken"]
        client.post(
            "/login/", data={"username": "clerk_hc", "password": password, "csrfmiddlewaretoken": token}
        )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)  # type: ignore[attr-defined]
        device.refresh_from_db()  # type: ignore[attr-defined]
        while totp.t() <= device.last_t:  # type: ignore[attr-defined]  # a code is accepted once: runs back to back
            time.sleep(1)
        response = client.post(
            "/login/otp/",
            data={"token": f"{totp.token():06d}", "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
        assert response.status_code == 302, response.text[:500]
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def _psql(url: str, verb: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        if verb == "CREATE":
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
