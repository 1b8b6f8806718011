"""What each part of the gateway's path costs: `handover gateway` with parts switched off, one at a
time and all together, beside bare aiohttp and the minimal prototype, in one run.

    python -m bench.gateway_parts                  # ~3 min: 2 reps of 10 servers, 5 s each
    python -m bench.gateway_parts --reps 3 --duration 8

A diagnostic for bench/gateway.py's throughput goal, not a configuration anyone should run: each
variant is the shipped Runtime (SQLite ledger, acks=all, same config, same client and load as
bench/gateway.py) with the named part replaced by a no-op in the server process:

    as shipped           nothing switched off
    dedupe in memory     the in-process store instead of the ledger's table
    no dedupe            no lookup, no remembering (in-flight guard kept)
    no mapping           the Shopify order is mapped once and reused (event id still per request)
    no metrics, no logs  the webhook counter, histogram and log line
    no publish timeout   no asyncio.timeout around the Kafka send
    no signature check   no HMAC
    all of these off     every switch above

For each: requests/s, the server's CPU per request (its CPU seconds / requests: the cost, robust
to a client or broker that competes for the cores), and the ratio to bare aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/gateway_parts.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CpuShares, median
from bench.gateway import CONFIG, ROOT, SECRET, SOURCE, _env, _free_port, _stop, _wait_listening, machine, measure

VARIANTS = {
    "as shipped": (),
    "dedupe in memory": ("memdedupe",),
    "no dedupe": ("nodedupe",),
    "no mapping": ("nomapping",),
    "no metrics, no logs": ("nometrics",),
    "no publish timeout": ("notimeout",),
    "no signature check": ("noverify",),
    "all of these off": ("nodedupe", "nomapping", "nometrics", "notimeout", "noverify"),
}


def serve(switches: set[str], config: str) -> None:
    """`handover gateway` (the Runtime services.cli starts) with the named parts switched off."""
    import signal

    import msgspec

    import services.common.kafka as kafka
    import services.gateway.app as gateway
    from services.assembly import load_settings
    from services.common.logging import configure_logging
    from services.common.metrics import Metrics
    from services.gateway.dedupe import MemoryDedupeStore
    from services.gateway.sources.shopify import ShopifySource
    from services.runtime import Parts, Runtime

    if "nodedupe" in switches:
        async def never_seen(self: Any, event_id: str) -> bool:
            return False

        MemoryDedupeStore.seen = never_seen  # type: ignore[method-assign]
        gateway.Remembering.start = lambda self, store, eid, ttl, guard: guard.release()  # type: ignore[method-assign]
    if "nomapping" in switches:
        mapped: dict[str, Any] = {}
        parse = ShopifySource.parse

        def parse_once(self: ShopifySource, inbound: Any, event_id: str) -> Any:
            if "order" not in mapped:
                mapped["order"] = parse(self, inbound, event_id)[0]
            return [msgspec.structs.replace(mapped["order"], id=event_id)]

        ShopifySource.parse = parse_once  # type: ignore[method-assign]
    if "nometrics" in switches:
        Metrics.webhook_answered = lambda self, source, outcome, duration_s: None  # type: ignore[method-assign]

        class Quiet:
            def info(self, *args: Any, **kwargs: Any) -> None:
                pass

            warning = info

        gateway.log = Quiet()  # type: ignore[assignment]
    if "notimeout" in switches:
        class NoTimeout:
            def __getattr__(self, name: str) -> Any:
                return getattr(asyncio, name)

            @staticmethod
            def timeout(delay: float) -> contextlib.nullcontext[None]:
                return contextlib.nullcontext()

        kafka.asyncio = NoTimeout()  # type: ignore[assignment]
    if "noverify" in switches:
        ShopifySource.verify = lambda self, inbound, now: None  # type: ignore[method-assign]

    settings = load_settings(config)
    configure_logging(settings.logging)

    async def run() -> None:
        memory = switches & {"memdedupe", "nodedupe"}
        runtime = Runtime(settings, Parts(gateway=True, web=False, sync=False, recorder=False),
                          dedupe=MemoryDedupeStore() if memory else None)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await runtime.start()
        try:
            await stop.wait()
        finally:
            await runtime.stop()

    asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--reps", type=int, default=2, help="rounds over all servers; medians reported")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent before counting")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(set(filter(None, args.serve[0].split(","))), args.serve[1])
        return 0

    from services.common.embedded_broker import EmbeddedBroker

    tmp = tempfile.mkdtemp(prefix="handover-gwparts-")
    broker = EmbeddedBroker(log_path=Path(tmp, "broker.log"))
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in ("bare aiohttp", "minimal prototype", *VARIANTS)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker.start()
        servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
        for name in rows:
            port = _free_port()
            if name == "bare aiohttp":
                cmd = ["-m", "bench.gateway", "--serve-bare", str(port)]
            elif name == "minimal prototype":
                cmd = ["-m", "bench.gateway", "--serve-prototype", str(port), broker.bootstrap_servers]
            else:
                data_dir = Path(tmp, f"gw{port}")
                data_dir.mkdir()
                cfg = data_dir / "handover.toml"
                cfg.write_text(CONFIG.format(data_dir=data_dir, port=port, bootstrap=broker.bootstrap_servers,
                                             source=SOURCE, secret=SECRET, journal="off"))
                cmd = ["-m", "bench.gateway_parts", "--serve", ",".join(VARIANTS[name]), str(cfg)]
            proc = subprocess.Popen([sys.executable, *cmd], cwd=ROOT, env=_env(),
                                    stdout=subprocess.DEVNULL, stderr=open(Path(tmp, f"{port}.log"), "wb"))
            procs.append(proc)
            _wait_listening(port, proc, name)
            smoke = measure({"mode": "closed", "port": port, "concurrency": 1, "duration": 0.3, "warmup": 0.0})
            if smoke["non_2xx"] or smoke["errors"] or not smoke["requests"]:
                raise RuntimeError(f"{name}: smoke test failed: {smoke} (logs in {tmp})")
            servers[name] = (port, proc)
        for rep in range(args.reps):
            for name, (port, proc) in servers.items():
                cpu = CpuShares({name: proc.pid})
                r = measure({"mode": "closed", "port": port, "concurrency": args.concurrency,
                             "duration": args.duration, "warmup": args.warmup})
                share = cpu.shares()[name]  # includes the client's start-up: a slight overestimate
                if r["non_2xx"] or r["errors"]:
                    raise RuntimeError(f"{name}: {r['non_2xx']} non-2xx, {r['errors']} errors")
                rows[name].append({"rps": r["rps"], "cpu_us": share * 1e6 / r["rps"]})
                print(f"  rep {rep + 1} {name:22}: {r['rps']:8.0f} req/s  cpu {share:4.0%}  "
                      f"{share * 1e6 / r['rps']:6.1f} us/req", file=sys.stderr)
    finally:
        for proc in procs:
            _stop(proc)
        broker.stop()

    m = machine()
    bare = median([r["rps"] for r in rows["bare aiohttp"]])
    shipped = median([r["cpu_us"] for r in rows["as shipped"]])
    print(f"\nGateway parts - {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}; medians of {args.reps} reps, "
          f"{args.concurrency} connections, {args.duration:g} s each")
    print(f"{'server':24}{'req/s':>9}{'CPU us/req':>12}{'vs shipped':>12}{'/ bare':>8}")
    for name, rs in rows.items():
        rps = median([r["rps"] for r in rs])
        cost = median([r["cpu_us"] for r in rs])
        print(f"{name:24}{rps:9.0f}{cost:12.1f}{cost - shipped:+12.1f}{rps / bare:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
