"""What is sampled on threads while the stream plays: its page cache (memory hog), and
for --explain what the kernel has it waiting in and every other process's CPU time."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.protect_stream.hogs import page_cache_bytes
from host.cgroups.view import ProcessCgroups


class CacheSampler:
    """The stream's page cache every quarter second (memory hog): that the hog really took
    it, whatever that cost the stream on this machine's disk."""

    PERIOD = 0.25

    def __init__(self, cg: ProcessCgroups) -> None:
        self.samples: list[tuple[float, int]] = []
        self._cg = cg
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.PERIOD):
            if (cached := page_cache_bytes(self._cg)) is not None:
                self.samples.append((time.monotonic(), cached))

    def stop(self) -> None:
        self._stop.set()

    def mib(self, start: float, end: float, pick: Callable[[list[int]], int]) -> float | None:
        inside = [v for t, v in self.samples if start <= t < end]
        return pick(inside) / (1 << 20) if inside else None


class StackSampler:
    """What the kernel has a process waiting in, every millisecond (for --explain)."""

    def __init__(self, pid: int) -> None:
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._path = Path(f"/proc/{pid}/stack")
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = self._path.read_text()
            except OSError:
                return
            frames = [ln.split("] ", 1)[1].split("+")[0] for ln in text.splitlines() if "] " in ln]
            self.samples.append((time.monotonic(), " < ".join(frames[:3]) or "running"))
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()

    def waiting_in(self, start: float, seconds: float) -> str:
        counts = Counter(f for t, f in self.samples if start <= t <= start + seconds)
        return ", ".join(f"{frame} ({n})" for frame, n in counts.most_common(2))


class CpuByProcess:
    """Every quarter second, the CPU time of every process on the host but the hog's (for
    --explain): who else ran in a slow second, on a machine of two cores."""

    PERIOD = 0.25

    def __init__(self, hog_procs: Path) -> None:
        self.snapshots: list[tuple[float, dict[str, int]]] = []
        self._hog_procs = hog_procs
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._ticks = os.sysconf("SC_CLK_TCK")
        threading.Thread(target=self._run, daemon=True).start()

    def _name(self, pid: int, comm: str) -> str:
        if pid not in self._names:
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                argv = []
            # Warden's services by name, and the benchmark's own two pythons (the stream
            # probe, and this one, whose sampling threads cost it) apart from any other.
            ours = (b"services.", b"bench.")
            module = next((a.decode() for a in argv if a.startswith(ours)), None)
            self._names[pid] = module.removeprefix("services.") if module else comm
        return self._names[pid]

    def _snapshot(self) -> dict[str, int]:
        try:
            hog = set(self._hog_procs.read_text().split())
        except OSError:
            hog = set()
        used: Counter[str] = Counter()
        # The hypervisor's share of this VM's time, as /proc/stat counts it (all CPUs).
        used["(steal)"] = int(Path("/proc/stat").read_text().split()[8])
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or entry.name in hog:
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
            fields = rest.split()
            used[self._name(int(entry.name), comm)] += int(fields[11]) + int(fields[12])
        return dict(used)

    def _run(self) -> None:
        while not self._stop.wait(self.PERIOD):
            self.snapshots.append((time.monotonic(), self._snapshot()))

    def stop(self) -> None:
        self._stop.set()

    def top(self, start: float, seconds: float, n: int = 4) -> str:
        """The n processes that used most CPU from start for seconds, in ms."""
        inside = [(t, s) for t, s in self.snapshots if start - self.PERIOD <= t <= start + seconds]
        if len(inside) < 2:
            return ""
        (t0, first), (t1, last) = inside[0], inside[-1]
        used = Counter({k: v - first.get(k, 0) for k, v in last.items()})
        scale = 1000 / self._ticks / (t1 - t0) * seconds
        return ", ".join(f"{k} {v * scale:.0f}" for k, v in used.most_common(n) if v > 0)
