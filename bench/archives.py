"""The archive file store: sealing (SM4-GCM or AES-GCM in 256 KiB chunks) and storing scans, against writing
and reading the same number of bytes raw, in the same process and directory; prints the ratios.

    uv run python bench/archives.py                    # 200 scans of 1 MB, suite sm
    uv run python bench/archives.py --suite intl --count 500 --size 300000

No Django and no database: this measures the cost the archive adds to the bytes (encryption, chunk framing,
the keyed content hash, atomic replace), which is what an upload and a view pay on top of the disk. Random
bytes stand in for scans (incompressible, like JPEG).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sidms.archives.store import LocalStore, seal, unseal
from sidms.lib.crypto import KeyRing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--suite", choices=("sm", "intl"), default="sm")
    args = parser.parse_args()
    ring = KeyRing.generate(suite=args.suite)
    scans = [os.urandom(args.size) for _ in range(args.count)]
    megabytes = args.count * args.size / 1e6
    with tempfile.TemporaryDirectory(prefix="sidms-bench-archives-") as directory:
        root = Path(directory)
        raw_dir = root / "raw"
        raw_dir.mkdir()
        started = time.perf_counter()
        for i, scan in enumerate(scans):
            path = raw_dir / f"{i:06d}"
            with open(path, "wb") as handle:
                handle.write(scan)
                handle.flush()
                os.fsync(handle.fileno())
        raw_write = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(len(scans)):
            (raw_dir / f"{i:06d}").read_bytes()
        raw_read = time.perf_counter() - started

        store = LocalStore(root / "store")
        names = []
        started = time.perf_counter()
        for i, scan in enumerate(scans):
            name = ring.mac(b"archive.content\x00" + scan)
            store.put(name, seal(ring, f"item-{i}", scan))
            names.append(name)
        sealed_write = time.perf_counter() - started
        started = time.perf_counter()
        for i, name in enumerate(names):
            unseal(ring, f"item-{i}", store.get(name))
        sealed_read = time.perf_counter() - started
    print(f"{args.count} scans of {args.size:,} bytes ({megabytes:,.0f} MB), suite {args.suite}")
    print(f"  write raw    {megabytes / raw_write:8.1f} MB/s")
    print(
        f"  write sealed {megabytes / sealed_write:8.1f} MB/s   (hash + encrypt + atomic put)  ratio {raw_write / sealed_write:.2f}"
    )
    print(f"  read raw     {megabytes / raw_read:8.1f} MB/s")
    print(
        f"  read sealed  {megabytes / sealed_read:8.1f} MB/s   (get + decrypt)                ratio {raw_read / sealed_read:.2f}"
    )


if __name__ == "__main__":
    main()
