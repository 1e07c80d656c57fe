"""Send a bounded number of HTTP requests to one URL and print the status counts as JSON.

usage: http_probe.py URL [--requests N] [--threads T] [--method M] [--body-bytes B]
                         [--fresh] [--mixed] [--reload-after SECONDS] [--stop-file PATH]
--fresh opens a new connection per request; --mixed does so in every other thread and keeps
connections alive in the others, retrying an idempotent request once on a fresh connection when
the server closed a reused one before answering (as HTTP clients do; counted as "retried");
--reload-after reloads nginx while requests run; --stop-file ends the requests early once PATH
exists (a load that lasts as long as a run).
--once sends one request and prints its status, headers and body (--header K:V adds one;
an https:// URL is verified against --cafile, and its host name against the certificate);
--follow sends it again to each redirect's Location, listed in "redirects".
"""

import argparse
import collections
import http.client
import json
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

REDIRECTS = {301, 302, 303, 307, 308}
MOST_REDIRECTS = 5

IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


def worker(url, count, args, fresh, counts, errors, lock) -> None:
    parts = urlsplit(url)
    conn, served = None, 0
    body = b"x" * args.body_bytes if args.body_bytes else None
    for _ in range(count):
        if args.stop_file and Path(args.stop_file).exists():
            break
        if conn is None or fresh:
            conn, served = (
                http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10),
                0,
            )
        try:
            try:
                conn.request(args.method, parts.path or "/", body=body)
                response = conn.getresponse()
            except http.client.RemoteDisconnected:
                # Closed with no byte of an answer: only a reused connection of an idempotent
                # request may be retried, once, on a fresh connection.
                if not served or args.method not in IDEMPOTENT:
                    raise
                conn.close()
                conn, served = (
                    http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10),
                    0,
                )
                with lock:
                    counts["retried"] += 1
                conn.request(args.method, parts.path or "/", body=body)
                response = conn.getresponse()
            response.read()
            with lock:
                counts[str(response.status)] += 1
                counts["kept_alive"] += served > 0
            served += 1
            if fresh or response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as error:
            with lock:
                errors.append(repr(error))
            conn.close()
            conn = None
        if args.pace:
            time.sleep(args.pace)


def fetch(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One request to `url` on a new connection: its status, headers and body."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=args.cafile)
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port or 443, timeout=10, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
    headers = dict(header.split(":", 1) for header in args.header)
    body = b"x" * args.body_bytes if args.body_bytes else None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn.request(args.method, target, body=body, headers=headers)
    response = conn.getresponse()
    answer = {
        "status": response.status,
        "headers": {k.lower(): v for k, v in response.getheaders()},
        "body": response.read().decode("latin-1"),
    }
    conn.close()
    return answer


def once(args: argparse.Namespace) -> None:
    url = args.url
    redirects = []
    answer = fetch(url, args)
    while (
        args.follow
        and answer["status"] in REDIRECTS
        and "location" in answer["headers"]
        and len(redirects) < MOST_REDIRECTS
    ):
        location = answer["headers"]["location"]
        redirects.append({"url": url, "status": answer["status"], "location": location})
        url = urljoin(url, location)
        answer = fetch(url, args)
    sys.stdout.write(json.dumps({**answer, "url": url, "redirects": redirects}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-bytes", type=int, default=0)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--mixed", action="store_true")
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--reload-after", type=float)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--cafile")
    parser.add_argument("--follow", action="store_true")
    parser.add_argument("--stop-file")
    args = parser.parse_args()
    if args.once:
        once(args)
        return
    args.requests = min(args.requests, 20000)

    counts: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    lock = threading.Lock()
    share = args.requests // args.threads
    threads = [
        threading.Thread(
            target=worker,
            args=(
                args.url,
                share,
                args,
                args.fresh or (args.mixed and i % 2 == 0),
                counts,
                errors,
                lock,
            ),
        )
        for i in range(args.threads)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    if args.reload_after is not None:
        time.sleep(args.reload_after)
        subprocess.run(["systemctl", "reload", "nginx"], check=True)
    for thread in threads:
        thread.join()
    result = {
        "statuses": {k: v for k, v in counts.items() if k.isdigit()},
        "kept_alive": counts["kept_alive"],
        "retried": counts["retried"],
        "errors": errors[:10],
        "error_count": len(errors),
        "seconds": round(time.monotonic() - started, 2),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
