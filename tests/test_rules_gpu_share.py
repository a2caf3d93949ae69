"""GPU sharing, table-driven on a fake clock: a media server's hardware transcode pauses the
GPU's other users in tiers 2 and 3 until it ends plus the hold; NVML's processes or the
server's word say so; unknown never starts or ends a pause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from services.governor import policy
from services.governor.rule import Outcome
from services.governor.rules.gpu_share import RULE, GpuShareMemory, cards
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerInventory,
    GpuDevice,
    GpuFact,
    GpuProcess,
    HostUsage,
    ProcessGroupUsage,
    ResourcesFact,
    StreamSession,
    StreamsFact,
)
from tests.support.views import view

GIB = 1024**3


def cfg(media_mode: bool = True, **gpu_share: Any) -> WardenConfig:
    return WardenConfig.model_validate(
        {
            "tiers": {
                1: {"containers": ["jellyfin"]},
                2: {"containers": ["sonarr", "immich"]},
                3: {"containers": ["tdarr", "unmanic", "plex-in-t3"]},
            },
            "media_mode": {"enabled": media_mode, "provider": "jellyfin", "url": "http://j:8096"},
            "process_groups": [{"name": "handbrake", "match_name": ["HandBrakeCLI"]}],
            "gpu_share": {"hold_seconds": 30, **gpu_share},
        }
    )


CFG = cfg()
RUNNING = [
    (ContainerFact(id=n, name=n, state="running", tier=t), t)
    for n, t in (("jellyfin", 1), ("sonarr", 2), ("immich", 2), ("tdarr", 3), ("unmanic", 3))
]
TARGETS = tuple((c, t) for c, t in RUNNING)


def nvidia(
    *processes: tuple[int, str | None], util: float | None = 60, used: float = 3
) -> GpuDevice:
    return GpuDevice(
        vendor="nvidia",
        index=0,
        source="nvml",
        name="NVIDIA GeForce RTX 3060",
        utilization_percent=util,
        memory_used_bytes=int(used * GIB),
        memory_total_bytes=12 * GIB,
        processes=[GpuProcess(pid=pid, container=c) for pid, c in processes],
    )


AMD = GpuDevice(vendor="amd", index=0, source="/sys/class/drm/card0", name="AMD Radeon RX 6600")


def gpu(*devices: GpuDevice) -> GpuFact:
    return GpuFact(host="h", available=bool(devices), gpus=list(devices))


def streams(*hw: bool | None, requested: bool | None = None) -> StreamsFact:
    return StreamsFact(
        host="h",
        source="jellyfin api",
        provider="jellyfin",
        count=len(hw),
        sessions=[
            StreamSession(
                id=f"s{n}",
                user="alice",
                title="Dune",
                state="playing",
                transcode=h is not False,
                video_decision="transcode" if h is not False else "direct play",
                hw_transcode=h,
                hw_requested=requested if h is None else h,
            )
            for n, h in enumerate(hw)
        ],
    )


UNKNOWN_STREAMS = StreamsFact(host="h", source="jellyfin api", provider="jellyfin", count=None)
GROUPS = ResourcesFact(
    host="h",
    machine=HostUsage(cpu_count=4),
    process_groups=[ProcessGroupUsage(name="handbrake", pids=[5151])],
)


@dataclass(frozen=True)
class At:
    t: float
    report: StreamsFact | None = None
    gpus: GpuFact | None = None


def run(moments: Sequence[At], config: WardenConfig = CFG) -> list[Outcome[GpuShareMemory]]:
    memory, outs = GpuShareMemory(), []
    for m in moments:
        v = view(
            config,
            now=m.t,
            targets=TARGETS,
            stream_report=m.report,
            gpu=m.gpus,
            resources=GROUPS,
        )
        out = RULE.run(v, memory)
        outs.append(out)
        memory = out.memory
    return outs


def paused(out: Outcome[GpuShareMemory]) -> list[str]:
    names = [n for n, i in out.containers.items() if i.paused]
    return sorted(names + [f"group:{n}" for n, g in out.process_groups.items() if g.paused])


# tdarr (tier 3) and immich (tier 2) on the GPU with jellyfin's ffmpeg; sonarr is not on it.
ON_GPU = gpu(nvidia((100, "jellyfin"), (200, "tdarr"), (300, "immich"), (5151, None)))
OTHERS_ONLY = gpu(nvidia((200, "tdarr"), (300, "immich")))


@pytest.mark.parametrize(
    ("moments", "expected", "config"),
    [
        # The server says a hardware transcode: everyone else NVML shows on the GPU pauses,
        # tier 2 too, and the process group whose pid it is; sonarr, not on it, runs.
        ([At(0, streams(True), OTHERS_ONLY)], [["immich", "tdarr"]], CFG),
        ([At(0, streams(True), ON_GPU)], [["group:handbrake", "immich", "tdarr"]], CFG),
        # NVML alone shows jellyfin on the GPU (the server says nothing of hardware).
        ([At(0, streams(None), ON_GPU)], [["group:handbrake", "immich", "tdarr"]], CFG),
        # A software transcode, or none, and jellyfin not on the GPU: nothing.
        ([At(0, streams(False), OTHERS_ONLY)], [[]], CFG),
        ([At(0, streams(), OTHERS_ONLY)], [[]], CFG),
        # A transcode the server is set to run on a GPU counts, unless told otherwise.
        ([At(0, streams(None, requested=True), OTHERS_ONLY)], [["immich", "tdarr"]], CFG),
        (
            [At(0, streams(None, requested=True), OTHERS_ONLY)],
            [[]],
            cfg(requested_counts=False),
        ),
        # It ends: held for 30 s, then everyone goes on.
        (
            [At(0, streams(True), OTHERS_ONLY), At(10, streams(), OTHERS_ONLY),
             At(39.9, streams(), OTHERS_ONLY), At(40, streams(), OTHERS_ONLY)],
            [["immich", "tdarr"]] * 3 + [[]],
            CFG,
        ),
        # Unknown never starts a pause ...
        ([At(0, UNKNOWN_STREAMS, OTHERS_ONLY), At(1, None, None)], [[], []], CFG),
        # ... and never ends one.
        (
            [At(0, streams(True), OTHERS_ONLY), At(100, UNKNOWN_STREAMS, None),
             At(200, streams(), OTHERS_ONLY), At(230, streams(), OTHERS_ONLY)],
            [["immich", "tdarr"]] * 3 + [[]],
            CFG,
        ),
        # A user NVML no longer lists while paused stays paused until the end.
        (
            [At(0, streams(True), OTHERS_ONLY), At(5, streams(True), gpu(nvidia()))],
            [["immich", "tdarr"], ["immich", "tdarr"]],
            CFG,
        ),
        # Media mode off: the server's sessions still count (the sensors ask it for them).
        ([At(0, streams(True), OTHERS_ONLY)], [["immich", "tdarr"]], cfg(media_mode=False)),
        # Off: nothing.
        ([At(0, streams(True), ON_GPU)], [[]], cfg(enabled=False)),
    ],
)  # fmt: skip
def test_pauses(moments: list[At], expected: list[list[str]], config: WardenConfig) -> None:
    assert [paused(o) for o in run(moments, config)] == expected


def test_the_reason_names_the_gpu_and_the_stream_and_the_hold_wakes_the_governor() -> None:
    first, ended = run([At(0, streams(True), OTHERS_ONLY), At(10, streams(), OTHERS_ONLY)])
    (reason,) = first.containers["tdarr"].reasons
    assert str(reason) == (
        "gpu_share(GPU 0 (NVIDIA GeForce RTX 3060): hardware transcode of 'Dune' (alice, jellyfin))"
    )
    assert first.containers["immich"].tier == 2
    assert first.wake_at is None and ended.wake_at == 40
    assert ended.containers["tdarr"].reasons == [reason]  # the same reason through the hold


def test_without_a_media_server_to_ask_nvml_decides() -> None:
    webhook = cfg().model_copy(
        update={"media_mode": cfg().media_mode.model_copy(update={"provider": "webhook"})}
    )
    outs = run([At(0, None, ON_GPU), At(5, None, OTHERS_ONLY), At(35, None, OTHERS_ONLY)], webhook)
    assert [paused(o) for o in outs] == [["group:handbrake", "immich", "tdarr"]] * 2 + [[]]
    # GPU readings unknown: no start.
    assert paused(run([At(0, None, None)], webhook)[0]) == []


def test_amd_and_intel_go_by_the_server_s_word_and_the_users_listed() -> None:
    config = cfg(users=["unmanic", "handbrake", "sonarr"])
    (out,) = run([At(0, streams(True), gpu(AMD))], config)
    # NVML's per-process use is not there: the listed users pause (sonarr, tier 2, too).
    assert paused(out) == ["group:handbrake", "sonarr", "unmanic"]
    (reason,) = out.containers["unmanic"].reasons
    assert (
        reason.detail
        == "GPU 0 (AMD Radeon RX 6600): hardware transcode of 'Dune' (alice, jellyfin)"
    )
    two = gpu(AMD, AMD.model_copy(update={"index": 1, "name": "Intel UHD 770"}))
    (out,) = run([At(0, streams(True), two)], config)
    assert out.containers["unmanic"].reasons[0].detail.startswith("the media server's GPU: ")


def test_above_threshold_starts_only_over_it_and_holds_until_the_transcode_ends() -> None:
    config = cfg(mode="above_threshold", utilization_percent=80, memory_percent=90)
    calm_gpu = gpu(nvidia((200, "tdarr"), util=50, used=3))
    busy_gpu = gpu(nvidia((200, "tdarr"), util=95, used=3))
    full_gpu = gpu(nvidia((200, "tdarr"), util=10, used=11.5))
    unknown_gpu = gpu(nvidia((200, "tdarr"), util=None, used=3))
    outs = run(
        [
            At(0, streams(True), calm_gpu),
            At(1, streams(True), unknown_gpu),
            At(2, streams(True), busy_gpu),
            At(3, streams(True), calm_gpu),  # paused: the GPU is free now, the pause holds
            At(4, streams(), calm_gpu),
            At(34, streams(), calm_gpu),
        ],
        config,
    )
    assert [paused(o) for o in outs] == [[], [], ["tdarr"], ["tdarr"], ["tdarr"], []]
    reason = outs[2].containers["tdarr"].reasons[0]
    assert (reason.metric, reason.value, reason.threshold) == ("gpu.utilization_percent", 95, 80)
    (out,) = run([At(0, streams(True), full_gpu)], config)
    reason = out.containers["tdarr"].reasons[0]
    assert (reason.metric, reason.value, reason.threshold) == ("gpu.memory_percent", 95.8, 90)


def test_media_servers_tier_1_and_protected_are_never_paused() -> None:
    config = WardenConfig.model_validate(
        {
            "tiers": {1: {"containers": ["jellyfin"]}, 3: {"containers": ["tdarr", "plex"]}},
            "protected_containers": ["tdarr"],
            "media_mode": {"enabled": True, "provider": "plex", "url": "http://p:32400"},
            "gpu_share": {"users": ["*"]},
        }
    )
    targets = tuple(policy.enforceable(INVENTORY, config.tier_matcher()))
    v = view(config, targets=targets, stream_report=streams(True), gpu=gpu(nvidia((1, "plex"))))
    out = RULE.run(v, GpuShareMemory())
    assert paused(out) == []


INVENTORY = ContainerInventory(
    host="h",
    cpu_count=4,
    containers=[
        ContainerFact(id=n, name=n, state="running", tier=t)
        for n, t in (("jellyfin", 1), ("tdarr", 3), ("plex", 3))
    ],
)


def test_composed_with_the_other_rules_a_group_s_pause_keeps_its_nice_level() -> None:
    """The process-group rule's nice level and this rule's pause, both in force."""
    config = WardenConfig.model_validate(
        {
            **cfg().model_dump(include={"tiers", "media_mode", "gpu_share"}),
            "process_groups": [
                {"name": "handbrake", "match_name": ["HandBrakeCLI"], "preset": "aggressive"}
            ],
        }
    )
    memory = policy.Memory(
        switches=policy.Memory().switches.model_copy(update={"preset": "conservative"})
    )
    facts = policy.Facts(
        inventory=INVENTORY,
        streams=1,
        streams_seen_at=0,
        stream_report=streams(True),
        gpu=ON_GPU,
        gpu_seen_at=0,
        resources=GROUPS,
        resources_seen_at=0,
    )
    decision = policy.decide(config, config.tier_matcher(), facts, memory, 1)
    group = decision.process_groups["handbrake"]
    assert group.paused and group.nice is not None
    assert [r.rule for r in group.reasons] == ["preset", "gpu_share"]


def test_the_card() -> None:
    (card,) = cards(CFG)
    assert card.controls_for(2) == ["paused"] and card.controls_for(3) == ["paused"]
    assert card.ends == "30 s after the hardware transcode ends"
    (card,) = cards(cfg(mode="above_threshold"))
    assert "above 80 % busy or 90 % full" in card.title


def test_the_reason_follows_the_transcodes_and_keeps_the_last_through_the_hold() -> None:
    other = streams(True).model_copy(
        update={"sessions": [streams(True).sessions[0].model_copy(update={"title": "Heat"})]}
    )
    outs = run(
        [
            At(0, streams(True), OTHERS_ONLY),
            At(5, other, OTHERS_ONLY),
            At(9, streams(), OTHERS_ONLY),
        ]
    )
    details = [o.containers["tdarr"].reasons[0].detail for o in outs]
    assert [d.rsplit(": ", 1)[1] for d in details] == [
        "hardware transcode of 'Dune' (alice, jellyfin)",
        "hardware transcode of 'Heat' (alice, jellyfin)",
        "hardware transcode of 'Heat' (alice, jellyfin)",
    ]
