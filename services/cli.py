"""The `handover` command: run the services, check a config, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import secrets
import signal
import sys
from pathlib import Path

import msgspec
import structlog

from services.assembly import check_report, config_schema, explain, load_settings
from services.common.config import Settings
from services.common.embedded_broker import running_broker
from services.common.errors import ConfigError, HandoverError
from services.common.logging import configure_logging
from services.common.memory import tune_gc
from services.common.secrets import Secret
from services.runtime import Parts, Runtime

log = structlog.get_logger("handover")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handover", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--config", "-c", metavar="PATH", help="TOML config file (default: built-in demo)")
        return p

    command("run", "run everything in one process (starts an embedded broker if none is configured)")
    command("gateway", "run the webhook gateway alone, against the configured Kafka")
    sync = command("sync", "run the sync workers alone, against the configured Kafka")
    sync.add_argument("--target", action="append", help="only this target (repeatable)")
    command("web", "run the web app alone (pages, /metrics)")
    command("recorder", "run the recorder alone: every event into the ledger")
    replay = command("replay", "deliver a target's dead letters again (same idempotency keys: at most one effect)")
    replay.add_argument("target", help="the target whose dead letters to replay")
    replay.add_argument("--event", metavar="ID", help="only this event")
    replay.add_argument("--since", metavar="TIME", help="only dead letters since this ISO 8601 time")
    check = command("check", "validate a config file and say what it would do")
    check.add_argument("--explain", metavar="KIND", help="describe a source or target kind's keys instead")
    schemas = sub.add_parser(
        "schemas", help="export event JSON Schemas, an AsyncAPI document and handover.toml's JSON Schema"
    )
    schemas.add_argument("--out", metavar="DIR", default="handover-schemas", help="directory to write")
    return parser


def _export_schemas(out: str) -> int:
    from pathlib import Path

    from schemas.export import documents

    # handover.schema.json: point an editor at it (taplo: `#:schema ./handover.schema.json`).
    for name, doc in {**documents(), "handover.schema.json": config_schema()}.items():
        path = Path(out) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(path)
    return 0


async def _serve(settings: Settings, parts: Parts, announce: bool) -> None:
    if announce and parts.web and settings.admin_password is None and settings.api_token is None:
        # Nobody chose a password yet (the demo, a first config): one made on the first start and
        # kept in data_dir (0600), printed below, so the pages open for whoever started it.
        from services.web.password import made_password

        try:
            password = made_password(settings.data_path())
        except OSError:  # nowhere to keep it: one for this run, so the pages are still reachable
            password = secrets.token_urlsafe(12)
        settings = msgspec.structs.replace(settings, admin_password=Secret(password))
    runtime = Runtime(settings, parts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    tune_gc()
    if announce:
        _announce(runtime)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await runtime.stop()
        log.info("stopped")


def _announce(runtime: Runtime) -> None:
    s = runtime.settings
    url = s.server.public_url or runtime.base_url
    lines = [
        "",
        f"Handover is running ({s.origin or 'config'}).",
        f"  Calculator: {url}/   (what retyping costs you, worst handover first)",
        f"  Try it:     {url}/try",
        f"  Status:     {url}/status   (dead letters, handoffs, audit: log in with the admin password)",
        f"  Metrics:    {url}/metrics",
    ]
    if not s.web.admin_password and not s.web.admin_password_env and s.admin_password is not None:
        lines.append(f"  Password:   {_show_password(s.admin_password.reveal(), s.data_path())}   (made once, kept "
                     f"in {s.data_path('admin-password')}; set [web] admin_password_env to choose your own)")
    if runtime.broker is not None:
        lines.append(f"  Kafka:      embedded broker at {runtime.broker.bootstrap_servers}")
    for name, spec in s.sources.items():
        lines.append(f"  Webhook:    {url}/hooks/{name}  ({spec.kind})")
    forms = [n for n, spec in s.sources.items() if spec.kind == "form"]
    if forms:
        lines += [
            "",
            "Submit a sample form:",
            f"  curl -i -X POST {url}/hooks/{forms[0]} \\",
            "    --data-urlencode 'name=Zoë Jansen' --data-urlencode 'email=zoe+demo@example.com' \\",
            "    --data-urlencode 'message=Hello, please call me back.'",
            f"Then look in {s.data_dir}/outbox/ and {s.data_dir}/mail/.",
        ]
    lines.append("Stop with Ctrl-C.\n")
    print("\n".join(lines), flush=True)


def _show_password(password: str, data_dir: Path) -> str:
    """The password itself on a terminal; where stdout is kept (a journal, `docker logs`), the
    path of a file only its owner can read."""
    if sys.stdout.isatty():
        return password
    return f"in {data_dir / 'admin-password'}"  # services.web.password wrote it there


async def _replay(settings: Settings, target: str, event: str | None, since: dt.datetime | None) -> int:
    from services.ledger.store import open_ledger
    from services.sync.replay import DeadLetter, Replayer
    from services.sync.runner import Outcome

    if not settings.kafka.bootstrap_servers:
        address = running_broker(settings.data_dir)
        if address is None:
            print(
                "handover: replay needs kafka.bootstrap_servers, or a running `handover run` with this config "
                f"(the dead letters are in its embedded broker; none is running for data_dir {settings.data_dir}). "
                f"Start it, then replay here or on its Dead letters page ({settings.public_url}/dead-letters).",
                file=sys.stderr,
            )
            return 2
        kafka = msgspec.structs.replace(settings.kafka, bootstrap_servers=address, idempotence=False)
        settings = msgspec.structs.replace(settings, kafka=kafka)
    ledger = await open_ledger(settings.ledger.url)
    replayer = Replayer(settings, ledger)
    failed = 0

    def progress(i: int, n: int, dl: DeadLetter, outcome: Outcome) -> None:
        nonlocal failed
        failed += outcome.status == "failed"
        width = 30
        done = int(width * i / n)
        bar = "#" * done + "-" * (width - done)
        print(f"\r[{bar}] {i}/{n} {dl.id} {outcome.status:<17}", end="", file=sys.stderr, flush=True)

    try:
        results = await replayer.replay_all(target, event, since, progress)
    finally:
        await replayer.close()
        await ledger.close()
    if results:
        print(file=sys.stderr)
    for dl, outcome in results:
        print(f"{dl.id}\tevent {dl.event_id}\t{outcome.status}\t{outcome.detail}")
    print(f"replayed {len(results)} dead letter(s) of {target}: {len(results) - failed} ok, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `handover` console script."""
    args = _parser().parse_args(argv)
    if args.command == "schemas":  # needs no config
        return _export_schemas(args.out)
    if args.command == "check" and args.explain:  # needs no config either
        try:
            print(explain(args.explain), end="")
        except ConfigError as exc:
            print(f"handover: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"handover: config error: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(check_report(settings))
        return 0
    if args.command == "replay":
        if args.target not in settings.targets:
            print(f"handover: unknown target {args.target!r}; known: {', '.join(settings.targets)}", file=sys.stderr)
            return 2
        try:
            since = dt.datetime.fromisoformat(args.since) if args.since else None
        except ValueError:
            print(f"handover: --since {args.since!r} is not an ISO 8601 time", file=sys.stderr)
            return 2
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        configure_logging(msgspec.structs.replace(settings.logging, level="warning"))
        return asyncio.run(_replay(settings, args.target, args.event, since))
    unknown = [t for t in getattr(args, "target", None) or [] if t not in settings.targets]
    if unknown:
        print(f"handover: unknown target {unknown[0]!r}; known: {', '.join(settings.targets)}", file=sys.stderr)
        return 2
    configure_logging(settings.logging)
    parts = {
        "run": Parts(),
        "gateway": Parts(gateway=True, web=False, sync=False, recorder=False),
        "sync": Parts(gateway=False, web=False, sync=True, recorder=False, targets=getattr(args, "target", None)),
        "web": Parts(gateway=False, web=True, sync=False, recorder=False),
        "recorder": Parts(gateway=False, web=False, sync=False, recorder=True),
    }[args.command]
    if args.command != "run" and not settings.kafka.bootstrap_servers:
        print(
            f"handover: `handover {args.command}` needs kafka.bootstrap_servers "
            "(or HANDOVER_KAFKA_BOOTSTRAP_SERVERS); `handover run` starts an embedded broker",
            file=sys.stderr,
        )
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(settings, parts, announce=args.command == "run"))
    except HandoverError as exc:
        print(f"handover: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        server = settings.server
        if exc.filename is not None:  # a file or directory, e.g. data_dir: not the port
            print(f"handover: cannot use {exc.filename}: {exc.strerror or exc} (check data_dir and the "
                  "paths in the config)", file=sys.stderr)
        else:
            print(
                f"handover: cannot listen on {server.host}:{server.port}: {exc.strerror or exc} "
                "(set [server] port, or HANDOVER_SERVER_PORT)",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
