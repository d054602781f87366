"""Load benchmark: CDS Hooks order-select calls against ``spinecds serve --workers 2``.

32 clients on loopback keep one connection each and send requests back to back for
30 s (a seed-001-like patient with a cervical MRI order, the answer carrying a card and a
systemActions update). Prints throughput, p50, p99 and errors. Goal: p99 < 100 ms with
no errors on a 2-core machine. The client is a bare asyncio HTTP/1.1 loop so that it
takes as little CPU as possible from the server it measures.

    .venv/bin/python bench/service_load.py [--clients 32] [--seconds 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from service_support import imaging_order, order_select

PATH = "/cds-services/spinecds-imaging-order-select"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, workers: int, db: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SPINECDS_DATABASE_URL=f"sqlite:///{db}")
    command = [str(Path(sys.executable).with_name("spinecds")), "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def request_bytes(port: int) -> bytes:
    order = imaging_order("mri-1", "72141", "MRI cervical spine without contrast")
    body = json.dumps(order_select(order)).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def one_client(
    port: int, payload: bytes, until: float, out: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            elapsed = time.perf_counter() - started
            if not head.startswith(b"HTTP/1.1 200") or b'"systemActions"' not in body:
                errors.append(head.split(b"\r\n", 1)[0].decode())
            out.append(elapsed)
    finally:
        writer.close()


async def run_load(port: int, clients: int, seconds: float) -> tuple[list[float], list[str], float]:
    payload = request_bytes(port)
    latencies: list[float] = []
    errors: list[str] = []
    # Warm-up: the engine compiles its code paths on first use in each worker.
    await asyncio.gather(
        *(one_client(port, payload, time.perf_counter() + 2, [], []) for _ in range(4))
    )
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(one_client(port, payload, until, latencies, errors) for _ in range(clients))
    )
    return latencies, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db-dir", type=Path, default=None, help="where the audit log goes")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        server = start_server(port, args.workers, Path(tmp) / "audit.db")
        try:
            wait_ready(port)
            latencies, errors, wall = asyncio.run(run_load(port, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"order-select, {args.clients} clients, {args.seconds:.0f} s, --workers {args.workers}")
    print(f"  requests     {len(latencies):>8}")
    print(f"  throughput   {len(latencies) / wall:>8.0f} requests/s")
    print(f"  p50          {cuts[49] * 1000:>8.1f} ms")
    print(f"  p90          {cuts[89] * 1000:>8.1f} ms")
    print(f"  p99          {cuts[98] * 1000:>8.1f} ms   (goal < 100 ms)")
    print(f"  max          {max(latencies) * 1000:>8.1f} ms")
    print(f"  errors       {len(errors):>8}" + (f"  e.g. {errors[0]}" if errors else ""))


if __name__ == "__main__":
    main()
