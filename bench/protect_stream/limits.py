"""What Warden did to the hog, as the bench's probe saw it on the bus: the hog's limits
by desired state, when the first one came, the timeline --explain prints; and waiting
for the host to calm down before a mode starts."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from bench.rig import HOST, Rig
from shared.messages import ContainerIntent, DesiredState, PressureFact
from shared.units import MB_PER_SEC

# Calm enough to start a mode: below ADRG's io recovery threshold, well below its cpu one.
CALM_AVG10 = 10.0
CALM_TIMEOUT = 120.0
# Blocks freed by a hog are discarded at the next journal commit (ext4: every 5 s), stalling
# every writer: a mode starts after that.
SETTLE_SECONDS = 6.0


def host_avg10(resource: str) -> float:
    line = Path(f"/proc/pressure/{resource}").read_text().splitlines()[0]
    return float(line.split()[1].removeprefix("avg10="))


def desired_states(rig: Rig) -> list[tuple[float, dict[str, ContainerIntent]]]:
    """(arrival, the intents by container) of every desired state the probe has seen."""
    return [
        (seen.at, DesiredState.model_validate_json(seen.payload).containers)
        for seen in rig.probe.messages(f"warden/{HOST}/desired")
    ]


def hog_intents(
    rig: Rig, hog_name: str, after: float
) -> list[tuple[float, ContainerIntent | None]]:
    """(arrival, the hog's intent) of each desired state since `after`."""
    return [(at, states.get(hog_name)) for at, states in desired_states(rig) if at >= after]


# The limits that act on each kind of hog: cpu.idle on an io hog is not what freed the
# disk, and is on from the moment the stream plays, before any hog starts.
LIMITS_OF = {
    "io": ("paused", "io_max"),
    "cpu": ("paused", "cpu_max", "cpu_idle"),
    "memory": ("paused", "memory_high", "cpu_max"),
}


def hog_limits(rig: Rig, kind: str, hog_name: str, after: float) -> list[tuple[float, bool]]:
    """(arrival, limited for this kind) of each desired state since `after`, for the hog."""
    return [
        (at, i is not None and any(getattr(i, k) for k in LIMITS_OF[kind]))
        for at, i in hog_intents(rig, hog_name, after)
    ]


def timeline(rig: Rig, kind: str, names: tuple[str, str], hog_at: float) -> list[str]:
    """Since the hog started: each change of the hog's limits, each PSI trigger, and the
    stream's own stall share as the sensors published it."""
    stream_name, hog_name = names
    lines = []
    states = desired_states(rig)
    for (_, before), (at, after) in itertools.pairwise(states):
        changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
        if at >= hog_at and changed != [hog_name]:
            lines.append(f"  {at - hog_at:6.2f} state  changed for {', '.join(changed) or 'none'}")
    for at, intent in ((at, c.get(hog_name)) for at, c in states if at >= hog_at):
        what = "none"
        if intent is not None:
            io, cpu = intent.io_max, intent.cpu_max
            what = " ".join(
                part
                for part in (
                    "paused" if intent.paused else "",
                    f"io.max={io.write_bps / MB_PER_SEC:.1f}MiB/s" if io and io.write_bps else "",
                    f"cpu.max={cpu.quota_us}/{cpu.period_us}" if cpu else "",
                    "cpu.idle" if intent.cpu_idle else "",
                    "; ".join(str(r) for r in intent.reasons),
                )
                if part
            )
        lines.append(f"  {at - hog_at:6.2f} limit  {what}")
    for seen in rig.probe.messages(f"warden/{HOST}/sensors/pressure"):
        if seen.at >= hog_at:
            fact = PressureFact.model_validate_json(seen.payload)
            scopes = sorted({f"{f.scope[:8]} {f.resource}" for f in fact.fired})
            if scopes:
                lines.append(f"  {seen.at - hog_at:6.2f} fired  {', '.join(scopes)}")
            shares = [
                f"{st.some_percent:.1f}% over {st.seconds:g}s"
                for c in fact.containers
                if c.name == stream_name
                for st in c.stall
                if st.resource == kind
            ]
            if shares:
                lines.append(f"  {seen.at - hog_at:6.2f} stall  {kind} {shares[0]}")
    return sorted(lines, key=lambda ln: float(ln.split()[0]))


def first_limit(marks: list[tuple[float, bool]], hog_at: float) -> float | None:
    """Seconds from the hog's start to its first limit; 0 when one was on it already (cpu
    and io yields start with the stream, before any hog)."""
    before = [on for at, on in marks if at < hog_at]
    if before and before[-1]:
        return 0.0
    return next((at - hog_at for at, on in marks if at >= hog_at and on), None)


def wait_calm(rig: Rig, kind: str, hog_name: str, governed: bool) -> None:
    """Until no limit is left on the hog and the host's avg10 for the resource is low."""
    time.sleep(SETTLE_SECONDS)
    deadline = time.monotonic() + CALM_TIMEOUT
    while time.monotonic() < deadline:
        marks = hog_limits(rig, kind, hog_name, 0.0)
        free = not governed or not marks or not marks[-1][1]
        if free and host_avg10(kind) < CALM_AVG10:
            return
        time.sleep(1.0)
    raise TimeoutError(f"{kind}: the host did not calm down within {CALM_TIMEOUT:g}s")
