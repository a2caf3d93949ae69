"""What every benchmark stands on: a Mosquitto of its own, a probe on it, Docker if
asked, Warden's services, and the polling baseline running beside them."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import docker

from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers, ensure_image
from tests.support.probe import Probe
from tests.support.processes import REPO, Service, write_config

HOST = "bench"
# ADRG's loop: what Warden's event-driven paths are measured against.
POLL_SECONDS = 5.0


class Rig:
    def __init__(self, with_docker: bool = False) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="warden-bench-"))
        self.broker = Mosquitto(self.workdir)
        self.broker.start()
        self.probe = Probe(self.broker.host, self.broker.port)
        self.api: docker.APIClient | None = None
        self.containers: Containers | None = None
        if with_docker:
            self.api = docker.APIClient(timeout=120)
            ensure_image(self.api)
            self.containers = Containers(self.api)
        self._stop = threading.Event()
        self._services: list[Service] = []

    def config(self, **sections: object) -> Path:
        return write_config(
            self.workdir / "config.yaml",
            {
                "host_id": HOST,
                "mqtt": {"host": self.broker.host, "port": self.broker.port},
                **sections,
            },
        )

    def service(
        self,
        name: str,
        config: Path,
        python: str = sys.executable,
        checkout: Path | None = None,
        logdir: Path | None = None,
    ) -> Service:
        """checkout: run another commit's code (a worktree of it); logdir: where its log goes."""
        started = Service(name, config, logdir or self.workdir, python=python, cwd=checkout or REPO)
        self._services.append(started)
        return started

    def poll_every(self, seconds: float, poll_once: Callable[[], None]) -> None:
        """The baseline: poll_once() on a fixed period, as a polling daemon would."""

        def loop() -> None:
            while not self._stop.wait(seconds):
                poll_once()

        threading.Thread(target=loop, name="baseline-poll", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        for service in self._services:
            service.stop()
        if self.containers is not None:
            self.containers.remove_all()
        self.probe.close()
        self.broker.stop()

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def first_after(probe: Probe, topic: str, match: Callable[[str], bool], after: float) -> float:
    """Seconds from `after` to the first message on topic whose text matches."""
    seen = probe.wait_for(topic, lambda s: match(s.text), timeout=60, after=after)
    return seen.at - after


def medians(label: str, warden: list[float], poll: list[float]) -> str:
    ours, theirs = statistics.median(warden), statistics.median(poll)
    return (
        f"median: {label} {ours * 1000:.1f} ms, {POLL_SECONDS:g} s poll "
        f"{theirs * 1000:.1f} ms, poll / {label} = {theirs / ours:.1f}x"
    )


def runs_asked(description: str | None) -> int:
    """--runs N from the command line (5 by default): how many times each side is timed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=5)
    return int(parser.parse_args().runs)
