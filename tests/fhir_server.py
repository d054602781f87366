"""A small FHIR-like REST server over the fixture bundles in tests/data/fhir (a real process).

    python tests/fhir_server.py [--data DIR] [--port 0]

prints ``READY http://127.0.0.1:PORT`` and serves:

- ``GET /Patient/{id}``, ``GET /{Type}/{id}``: the resource, or 404 with an OperationOutcome;
- ``GET /{Type}?patient={id}`` (or ``subject=Patient/{id}``): a searchset Bundle;
- ``GET /__log``: every request so far as ``[{"path", "authorization"}]``.

Path prefixes change its behaviour, so a test can point ``fhirServer`` at them:
``/tag/{name}/...`` is ignored (to find a test's requests in the log), ``/slow/{seconds}/...``
waits before answering, ``/fail/{status}/...`` answers that HTTP status, and
``/pages/{n}/...`` splits search results into pages of n entries (linked by ``next``).
Loopback only; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent / "data" / "fhir"
_SUBJECT_FIELDS = ("subject", "patient")


def load(data: Path) -> dict[tuple[str, str], dict[str, Any]]:
    resources: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}
    for path in sorted(data.glob("*.json")):
        for res in _flatten(json.loads(path.read_text())):
            resources[(res["resourceType"], res["id"])] = res
    return resources


def _flatten(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if item.get("resourceType") == "Bundle":
        for entry in item.get("entry") or []:
            yield from _flatten(entry["resource"])
    else:
        yield item


def _patient_of(res: dict[str, Any]) -> str | None:
    for name in _SUBJECT_FIELDS:
        ref = (res.get(name) or {}).get("reference", "")
        if ref.startswith("Patient/"):
            return str(ref.split("/", 1)[1])
    return None


class Handler(BaseHTTPRequestHandler):
    server_version = "fixture-fhir/1"
    resources: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}
    log: ClassVar[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read /__log
        return

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["__log"]:
            with self.lock:
                self._send(200, list(self.log))
            return
        with self.lock:
            self.log.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        page_size = 0
        while len(parts) >= 2 and parts[0] in ("tag", "slow", "fail", "pages"):
            kind, value, parts = parts[0], parts[1], parts[2:]
            if kind == "slow":
                time.sleep(float(value))
            elif kind == "fail":
                self._send(int(value), _outcome("error", f"told to fail with {value}"))
                return
            elif kind == "pages":
                page_size = int(value)
        query = parse_qs(url.query)
        if len(parts) == 2:
            found = self.resources.get((parts[0], parts[1]))
            if found is None:
                self._send(404, _outcome("not-found", f"{parts[0]}/{parts[1]} is not here"))
            else:
                self._send(200, found)
        elif len(parts) == 1:
            self._search(parts[0], query, page_size, url.path)
        else:
            self._send(400, _outcome("invalid", f"cannot read {url.path}"))

    def _search(self, kind: str, query: dict[str, list[str]], page_size: int, path: str) -> None:
        wanted = (query.get("patient") or query.get("subject") or [""])[0].removeprefix("Patient/")
        if not wanted:
            self._send(400, _outcome("invalid", "search by patient only"))
            return
        matches = [
            r
            for (t, _), r in sorted(self.resources.items())
            if t == kind and _patient_of(r) == wanted
        ]
        page = int((query.get("_page") or ["0"])[0])
        shown = matches[page * page_size : (page + 1) * page_size] if page_size else matches
        links = [{"relation": "self", "url": self.path}]
        if page_size and (page + 1) * page_size < len(matches):
            links.append({"relation": "next", "url": f"{path}?patient={wanted}&_page={page + 1}"})
        self._send(
            200,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "link": links,
                "entry": [
                    {
                        "fullUrl": f"{r['resourceType']}/{r['id']}",
                        "resource": r,
                        "search": {"mode": "match"},
                    }
                    for r in shown
                ],
            },
        )

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    Handler.resources = load(args.data)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
