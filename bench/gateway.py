"""Gateway benchmark: signed Shopify `orders/create` webhooks against `handover gateway` vs bare aiohttp.

    python -m bench.gateway                       # defaults: ~75 s in all
    python -m bench.gateway --duration 5 --concurrency 32 --rate 1000 --reps 3

Processes (all on loopback): an embedded Tansu broker (started here), `handover gateway` in a
subprocess (acks=all, SQLite ledger as dedupe store in a temp dir, log level warning), a bare
aiohttp app answering 202 in another, the "minimal prototype" of the path (HMAC, msgspec decode,
send_and_wait with acks=all, 202: what the issue's 55 % reference and shared/BROKER_NOTES.md
measured) in a third, and the load client in its own process (a lean HTTP/1.1 client, see
bench/_common.py). Every request is a ~1 KB signed order with its own X-Shopify-Webhook-Id /
X-Shopify-Event-Id, so dedupe never short-circuits.

A fourth process is the same gateway with the intake journal on (`kafka.journal = "on"`, its
own SQLite ledger): every accepted event is committed to the ledger before its 2xx, as in the
one-box `handover run`. Its cost is the journal/gateway ratio (goal: at most 15 % lower).

Measured: closed-loop max throughput and latency for the four servers (taking turns, `--reps`
times, medians reported), the gateway/bare ratio, prototype/bare and gateway/prototype (how the
reference fares with this client), journal/gateway, then open loop at `--rate` req/s against
the gateway with and without the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/gateway.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CpuShares, closed_loop, median, open_loop

ROOT = Path(__file__).resolve().parent.parent
SECRET = "shpss_bench_secret"
SOURCE = "shop"
GOAL_RATIO = 0.45
GOAL_P99_MS = 20.0
GOAL_JOURNAL_RATIO = 0.85

CONFIG = """\
data_dir = "{data_dir}"
[server]
host = "127.0.0.1"
port = {port}
[kafka]
bootstrap_servers = "{bootstrap}"
idempotence = false
journal = "{journal}"
[ledger]
url = "sqlite:///{data_dir}/handover.db"
[logging]
level = "warning"
format = "json"
[sources.{source}]
kind = "shopify"
secret = "{secret}"
rate_limit_per_minute = 0
"""


# --- requests --------------------------------------------------------------------------------

def order_body(n: int) -> bytes:
    """A realistic ~1 KB Shopify orders/create body (two lines, customer, addresses)."""
    order_id = 820982911946154508 + n
    address = {
        "first_name": "Zoë", "last_name": "Jansen", "address1": "Keizersgracht 123", "address2": "",
        "city": "Amsterdam", "zip": "1015 CJ", "province": "", "country": "Netherlands",
        "country_code": "NL", "phone": "+31 20 123 4567", "company": None, "name": "Zoë Jansen",
    }
    doc = {
        "id": order_id, "name": f"#{1001 + n}", "order_number": 1001 + n,
        "email": f"zoe+{n}@example.com", "created_at": "2026-09-11T10:15:00+02:00",
        "currency": "EUR", "total_price": "404.95", "subtotal_price": "389.95", "total_tax": "70.28",
        "total_discounts": "0.00", "taxes_included": True, "financial_status": "paid", "test": False,
        "note": None,
        "customer": {"id": 115310627314723954, "email": f"zoe+{n}@example.com", "first_name": "Zoë",
                     "last_name": "Jansen", "phone": None},
        "billing_address": address, "shipping_address": address,
        "line_items": [
            {"id": 487817672276298554 + n, "name": "Aviator sunglasses", "sku": "SKU-2006-001",
             "quantity": 1, "price": "89.99", "total_discount": "0.00",
             "tax_lines": [{"price": "15.62", "rate": 0.21, "title": "BTW"}]},
            {"id": 976318377106520349 + n, "name": "Mid-century lounger", "sku": "SKU-2006-020",
             "quantity": 1, "price": "299.96", "total_discount": "0.00",
             "tax_lines": [{"price": "52.06", "rate": 0.21, "title": "BTW"}]},
        ],
        "shipping_lines": [{"id": 271878346596884015, "title": "Standard", "price": "15.00"}],
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def request_pool(host: str, port: int, size: int = 256) -> list[tuple[bytes, bytes]]:
    """(head up to the delivery-id headers, body) pairs, each body signed with the source secret."""
    pool = []
    for n in range(size):
        body = order_body(n)
        sig = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
        head = (
            f"POST /hooks/{SOURCE} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "User-Agent: Shopify-Captain-Hook\r\nAccept: */*\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Shopify-Topic: orders/create\r\n"
            f"X-Shopify-Hmac-Sha256: {sig}\r\nX-Shopify-Shop-Domain: bench.myshopify.com\r\n"
            "X-Shopify-API-Version: 2026-07\r\n"
        ).encode()
        pool.append((head, body))
    return pool


def request_factory(host: str, port: int):  # type: ignore[no-untyped-def]
    """A function returning the next raw request, each with fresh delivery ids."""
    pool = request_pool(host, port)
    prefix = uuid.uuid4().hex[:12]
    counter = itertools.count()

    def make() -> bytes:
        n = next(counter)
        head, body = pool[n % len(pool)]
        delivery = f"{prefix}-{n}".encode()
        return b"".join((head, b"X-Shopify-Webhook-Id: ", delivery, b"\r\nX-Shopify-Event-Id: ",
                         delivery, b"\r\n\r\n", body))

    return make


# --- child processes -------------------------------------------------------------------------

def serve_bare(port: int) -> None:
    """The baseline: aiohttp reads the body and answers 202 with a small JSON body."""
    from aiohttp import web

    answer = b'{"status":"accepted","event_ids":["shop:orders/create:0000000000000000000000000000"]}'

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202, body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/hooks/{source}", hook)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


PROTOTYPE_TOPIC = "bench.prototype"


def serve_prototype(port: int, bootstrap: str) -> None:
    """The "minimal prototype of this path" the issue's goal was calibrated on (and
    shared/BROKER_NOTES.md measured): HMAC check, msgspec decode, `send_and_wait` with acks=all,
    202. No content-type or size checks, no dedupe, no mapping to an event, no metrics or logs.
    Same broker, same partition count and the same GC settings as `handover gateway`."""
    import msgspec
    from aiohttp import web
    from aiokafka import AIOKafkaProducer

    from services.common.config import KafkaConfig
    from services.common.kafka import ensure_topics
    from services.common.memory import tune_gc

    key = SECRET.encode()
    answer = b'{"status":"accepted","event_ids":["shop:orders/create:0000000000000000000000000000"]}'
    producer: AIOKafkaProducer

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        given = base64.b64decode(request.headers.get("X-Shopify-Hmac-Sha256", ""))
        if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), given):
            return web.Response(status=401)
        order = msgspec.json.decode(body)
        await producer.send_and_wait(PROTOTYPE_TOPIC, body, key=str(order["id"]).encode())
        return web.Response(status=202, body=answer, content_type="application/json")

    async def kafka(app: web.Application):  # type: ignore[no-untyped-def]
        nonlocal producer
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        await ensure_topics(KafkaConfig(bootstrap_servers=bootstrap), [PROTOTYPE_TOPIC])
        await producer.start()
        tune_gc()
        yield
        await producer.stop()

    app = web.Application()
    app.cleanup_ctx.append(kafka)
    app.router.add_post("/hooks/{source}", hook)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_gateway_memory_dedupe(config: str) -> None:
    """`handover gateway` exactly as services.cli runs it, but with the in-process dedupe store
    instead of the ledger's table: shows what the SQLite dedupe round trips cost (diagnostic)."""
    from bench.gateway_parts import serve  # imported here: gateway_parts imports this module

    serve({"memdedupe"}, config)


def run_client(spec: dict[str, Any]) -> None:
    """Load-client process: one measurement, its result as a JSON line on stdout."""
    make = request_factory("127.0.0.1", spec["port"])
    if spec["mode"] == "closed":
        coro = closed_loop("127.0.0.1", spec["port"], make, spec["concurrency"], spec["duration"], spec["warmup"])
    else:
        coro = open_loop("127.0.0.1", spec["port"], make, spec["rate"], spec["duration"], spec["warmup"])
    result = asyncio.run(coro)
    print(json.dumps(result.as_dict()), flush=True)


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the client in its own process and return its result."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.gateway", "--client", json.dumps(spec)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=spec["duration"] + spec["warmup"] + 60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load client failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the run ---------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    """nproc, CPU model, Python."""
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": str(os.cpu_count()), "cpu": model or platform.processor(), "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per closed-loop measurement (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections in closed loop (default 32)")
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop request rate, req/s (default 1000)")
    parser.add_argument("--open-duration", type=float, default=8.0,
                        help="seconds per open-loop repetition (default 8; x reps = ~24 s at the rate)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of every measurement; medians reported")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent before counting, per measurement")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (gateway log, config)")
    parser.add_argument("--pause", action="store_true",
                        help="print the gateway pid and wait for Enter first (profiling)")
    parser.add_argument("--dedupe", choices=("ledger", "memory"), default="ledger",
                        help="ledger (default): `handover gateway` as shipped, dedupe in the SQLite ledger; "
                             "memory: same Runtime with the in-process dedupe store (diagnostic)")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway-memory-dedupe", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-prototype", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        run_client(json.loads(args.client))
        return 0
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.serve_prototype:
        serve_prototype(int(args.serve_prototype[0]), args.serve_prototype[1])
        return 0
    if args.serve_gateway_memory_dedupe:
        serve_gateway_memory_dedupe(args.serve_gateway_memory_dedupe)
        return 0
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    from services.common.embedded_broker import EmbeddedBroker

    tmp = tempfile.mkdtemp(prefix="handover-gwbench-")
    broker = EmbeddedBroker(log_path=Path(tmp, "broker.log"))
    procs: list[subprocess.Popen[bytes]] = []
    internal = ("client", "serve_bare", "serve_prototype", "serve_gateway_memory_dedupe")
    results: dict[str, Any] = {"machine": machine(),
                               "args": {k: v for k, v in vars(args).items() if k not in internal}}
    t_start = time.monotonic()
    try:
        broker.start()
        gw_port, bare_port, proto_port = _free_port(), _free_port(), _free_port()
        cfg = Path(tmp, "handover.toml")
        cfg.write_text(CONFIG.format(data_dir=tmp, port=gw_port, bootstrap=broker.bootstrap_servers,
                                     source=SOURCE, secret=SECRET, journal="off"))
        journal_port, journal_dir = _free_port(), Path(tmp, "journal")
        journal_dir.mkdir()
        journal_cfg = Path(journal_dir, "handover.toml")
        journal_cfg.write_text(CONFIG.format(data_dir=journal_dir, port=journal_port, source=SOURCE, secret=SECRET,
                                             bootstrap=broker.bootstrap_servers, journal="on"))
        gw_log = open(Path(tmp, "gateway.log"), "wb")
        gw_cmd = (["-m", "services.cli", "gateway", "--config", str(cfg)] if args.dedupe == "ledger"
                  else ["-m", "bench.gateway", "--serve-gateway-memory-dedupe", str(cfg)])
        gateway = subprocess.Popen([sys.executable, *gw_cmd],
                                   cwd=ROOT, env=_env(), stdout=gw_log, stderr=subprocess.STDOUT)
        procs.append(gateway)
        journaled = subprocess.Popen([sys.executable, "-m", "services.cli", "gateway", "--config", str(journal_cfg)],
                                     cwd=ROOT, env=_env(), stdout=open(Path(journal_dir, "gateway.log"), "wb"),
                                     stderr=subprocess.STDOUT)
        procs.append(journaled)
        bare = subprocess.Popen([sys.executable, "-m", "bench.gateway", "--serve-bare", str(bare_port)],
                                cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bare)
        proto = subprocess.Popen([sys.executable, "-m", "bench.gateway", "--serve-prototype", str(proto_port),
                                  broker.bootstrap_servers],
                                 cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                                 stderr=open(Path(tmp, "proto.log"), "wb"))
        procs.append(proto)
        _wait_listening(gw_port, gateway, "handover gateway")
        _wait_listening(journal_port, journaled, "handover gateway with the journal")
        _wait_listening(bare_port, bare, "bare aiohttp")
        _wait_listening(proto_port, proto, "prototype")
        # One request first: proves signature and config, and warms the producer's metadata.
        for port in (gw_port, journal_port):
            smoke = measure({"mode": "closed", "port": port, "concurrency": 1, "duration": 0.3, "warmup": 0.0})
            if smoke["non_2xx"] or smoke["errors"] or not smoke["requests"]:
                raise RuntimeError(f"gateway smoke test failed on :{port}: {smoke} (see the logs in {tmp})")
        if args.pause:
            input(f"gateway pid {gateway.pid}; press Enter to start measuring ")
        print(f"gateway pid {gateway.pid} on :{gw_port}, bare pid {bare.pid} on :{bare_port}, "
              f"prototype pid {proto.pid} on :{proto_port}, "
              f"broker {broker.bootstrap_servers}; dedupe {args.dedupe}; {args.reps} reps", file=sys.stderr)

        closed: dict[str, list[dict[str, Any]]] = {"gateway": [], "journal": [], "prototype": [], "bare": []}
        assert broker.process is not None
        cpu = CpuShares({"gateway": gateway.pid, "journal": journaled.pid, "prototype": proto.pid,
                         "broker": broker.process.pid, "bare": bare.pid})
        for rep in range(args.reps):
            for name, port in (("gateway", gw_port), ("journal", journal_port), ("prototype", proto_port),
                               ("bare", bare_port)):
                cpu.start()  # includes the client's start-up and warm-up: a lower bound while loaded
                r = measure({"mode": "closed", "port": port, "concurrency": args.concurrency,
                             "duration": args.duration, "warmup": args.warmup})
                r["cpu"] = {k: round(v, 2) for k, v in cpu.shares().items()}
                closed[name].append(r)
                shares = "  ".join(f"{k} {v:.0%}" for k, v in r["cpu"].items())
                print(f"  closed rep {rep + 1} {name:9}: {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                      f"p99 {r['p99_ms']:6.2f} ms  non-2xx {r['non_2xx']}  errors {r['errors']}  cpu: {shares}",
                      file=sys.stderr)
        opened: list[dict[str, Any]] = []
        opened_journal: list[dict[str, Any]] = []
        for rep in range(args.reps):
            for name, port, rows in (("gateway", gw_port, opened), ("journal", journal_port, opened_journal)):
                r = measure({"mode": "open", "port": port, "rate": args.rate,
                             "duration": args.open_duration, "warmup": args.warmup})
                rows.append(r)
                print(f"  open   rep {rep + 1} {name}: {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                      f"p99 {r['p99_ms']:6.2f} ms  max {r['max_ms']:7.2f} ms  non-2xx {r['non_2xx']}  "
                      f"errors {r['errors']}", file=sys.stderr)
        results.update(closed=closed, open=opened, open_journal=opened_journal)
    finally:
        for p in procs:
            _stop(p)
        broker.stop()
    results["wall_s"] = round(time.monotonic() - t_start, 1)

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return median([r[key] for r in rows])

    g, pr, b = closed["gateway"], closed["prototype"], closed["bare"]

    def ratio_of(xs: list[dict[str, Any]], ys: list[dict[str, Any]]) -> float:
        # The servers take turns, so each rep's pair saw about the same background load: the
        # median of the per-rep ratios is robust to load that drifts between reps.
        return median([x["rps"] / y["rps"] for x, y in zip(xs, ys, strict=True)])

    j = closed["journal"]
    ratio, proto_ratio, gw_vs_proto = ratio_of(g, b), ratio_of(pr, b), ratio_of(g, pr)
    journal_ratio = ratio_of(j, g)
    journal_p99 = med(opened_journal, "p99_ms")
    non2xx = sum(r["non_2xx"] + r["errors"] for rows in (g, j, pr, b, opened, opened_journal) for r in rows)
    open_non2xx = sum(r["non_2xx"] + r["errors"] for r in opened)
    open_p99 = med(opened, "p99_ms")
    summary = {
        "gateway_rps": med(g, "rps"), "gateway_p50_ms": med(g, "p50_ms"), "gateway_p99_ms": med(g, "p99_ms"),
        "bare_rps": med(b, "rps"), "bare_p50_ms": med(b, "p50_ms"), "bare_p99_ms": med(b, "p99_ms"),
        "prototype_rps": med(pr, "rps"), "prototype_p50_ms": med(pr, "p50_ms"),
        "prototype_p99_ms": med(pr, "p99_ms"), "prototype_ratio": round(proto_ratio, 3),
        "gateway_vs_prototype": round(gw_vs_proto, 3),
        "ratio": round(ratio, 3), "open_rps": med(opened, "rps"), "open_p50_ms": med(opened, "p50_ms"),
        "open_p99_ms": open_p99, "open_non_2xx": open_non2xx, "all_non_2xx_or_errors": non2xx,
        "journal_rps": med(j, "rps"), "journal_ratio": round(journal_ratio, 3),
        "journal_open_p99_ms": journal_p99,
    }
    results["summary"] = summary
    m = results["machine"]
    print(f"\nHandover gateway benchmark - {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}; "
          f"medians of {args.reps} reps; wall {results['wall_s']} s")
    print(f"{'measurement':50} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    rows = [
        (f"closed loop, {args.concurrency} conns: bare aiohttp 202", b, summary["bare_rps"]),
        (f"closed loop, {args.concurrency} conns: gateway{'' if args.dedupe == 'ledger' else ' (mem dedupe)'}",
         g, summary["gateway_rps"]),
        (f"closed loop, {args.concurrency} conns: gateway + journal", j, summary["journal_rps"]),
        (f"closed loop, {args.concurrency} conns: minimal prototype", pr, summary["prototype_rps"]),
        (f"open loop {args.rate:.0f} req/s: gateway", opened, summary["open_rps"]),
        (f"open loop {args.rate:.0f} req/s: gateway + journal", opened_journal, med(opened_journal, "rps")),
    ]
    for label, rs, rps in rows:
        print(f"{label:50} {rps:9.0f} {med(rs, 'p50_ms'):8.2f} {med(rs, 'p99_ms'):8.2f} "
              f"{sum(r['non_2xx'] + r['errors'] for r in rs):8d}")
    print(f"gateway/bare throughput ratio (median of per-rep ratios): {ratio:.2f} (goal >= {GOAL_RATIO}: "
          f"{'met' if ratio >= GOAL_RATIO else 'NOT met'})")
    print(f"minimal prototype/bare: {proto_ratio:.2f} (the issue's reference: about 0.55); "
          f"gateway/prototype: {gw_vs_proto:.2f}")
    print(f"open-loop p99: {open_p99:.2f} ms (goal < {GOAL_P99_MS:.0f} ms: "
          f"{'met' if open_p99 < GOAL_P99_MS else 'NOT met'}); non-2xx/errors: {non2xx} "
          f"({'met' if non2xx == 0 else 'NOT met'})")
    print(f"journal/gateway throughput (median of per-rep ratios): {journal_ratio:.2f} (goal >= "
          f"{GOAL_JOURNAL_RATIO}: {'met' if journal_ratio >= GOAL_JOURNAL_RATIO else 'NOT met'}); open-loop p99 "
          f"with the journal: {journal_p99:.2f} ms ({'met' if journal_p99 < GOAL_P99_MS else 'NOT met'})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.keep:
        print(f"kept {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
