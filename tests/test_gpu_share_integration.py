"""GPU sharing from the readers up: a fake NVML (this machine has no NVIDIA GPU) read by the
sensors' own GPU reader, its processes placed in containers through /proc/<pid>/cgroup on a
fake tree, Plex's and Jellyfin's session replies as they send them (hardware transcodes)
read by the sensors' own parsers, and an AMD card in sysfs; then the governor's decision.

A real device run (NVENC or CUDA loads on an NVIDIA GPU, through real NVML) is left for a
session lent a GPU machine: see docs/benchmarks.md."""

from __future__ import annotations

import copy
from pathlib import Path

from host.cgroups.view import detect_layout, process_cgroups
from services.governor import policy
from services.sensors.gpu import GpuReader
from services.sensors.gpu.owners import owner, with_owners
from services.sensors.streams import jellyfin, plex
from shared.config.model import GpuSensors, WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerInventory,
    GpuFact,
    HostUsage,
    ProcessGroupUsage,
    ResourcesFact,
    StreamSession,
    StreamsFact,
)
from shared.messages.facts import StreamProvider
from tests.support.media_servers import JELLYFIN_TRANSCODE_REMOTE, PLEX_TRANSCODE_REMOTE
from tests.support.sysfs_machines import write
from tests.test_gpu import RTX_3060, FakeNvml, rx6600

MIB = 1024**2
# pid -> the cgroup it is in, on a cgroup2 host with systemd's driver.
SCOPE = "/system.slice/docker-{}.scope"
PIDS = {
    11: SCOPE.format("tdarr"),  # tdarr's init
    4242: SCOPE.format("tdarr") + "/worker",  # its ffmpeg, in a cgroup below
    21: SCOPE.format("jellyfin"),
    777: SCOPE.format("jellyfin"),  # jellyfin's ffmpeg
    31: SCOPE.format("immich"),
    5151: "/user.slice/user-1000.slice/session-3.scope",  # HandBrakeCLI, no container
}
CONFIG = WardenConfig.model_validate(
    {
        "tiers": {
            1: {"containers": ["jellyfin"]},
            2: {"containers": ["immich"]},
            3: {"containers": ["tdarr"]},
        },
        "media_mode": {"enabled": True, "provider": "jellyfin", "url": "http://j:8096"},
        "process_groups": [{"name": "handbrake", "match_name": ["HandBrakeCLI"]}],
        "gpu_share": {"hold_seconds": 30},
    }
)
INVENTORY = ContainerInventory(
    host="h",
    cpu_count=8,
    containers=[
        ContainerFact(id=n, name=n, state="running", tier=t)
        for n, t in (("jellyfin", 1), ("immich", 2), ("tdarr", 3))
    ],
)
RESOURCES = ResourcesFact(
    host="h",
    machine=HostUsage(cpu_count=8),
    process_groups=[ProcessGroupUsage(name="handbrake", pids=[5151])],
)


def host_tree(root: Path) -> tuple[Path, Path]:
    """A cgroup2 mount and a /proc holding each pid's cgroup file and comm."""
    cgroup = write(root / "cgroup", {"cgroup.controllers": "cpu io memory pids\n"})
    proc = write(
        root / "proc",
        {f"{pid}/cgroup": f"0::{path}\n" for pid, path in PIDS.items()}
        | {"4242/comm": "ffmpeg\n", "777/comm": "ffmpeg\n", "5151/comm": "HandBrakeCLI\n"},
    )
    return cgroup, proc


def read_gpus(root: Path, fake: FakeNvml, sys_root: Path | None = None) -> GpuFact:
    """The sensors' reading: NVML through the reader, each process placed in its container
    as the sensors service places it."""
    cgroup, proc = host_tree(root)
    layout = detect_layout(cgroup)
    inits = {"tdarr": 11, "jellyfin": 21, "immich": 31}
    running = [(name, process_cgroups(layout, proc, pid)) for name, pid in inits.items()]
    reader = GpuReader(
        GpuSensors(), sys_root or root / "sys", proc, load_nvml=lambda: fake, clock=lambda: 0.0
    )

    def owner_of(pid: int) -> str | None:
        try:
            return owner(process_cgroups(layout, proc, pid), running, layout)
        except OSError:
            return None

    return with_owners(reader.read("h"), owner_of)


def decide(gpu: GpuFact, streams: StreamsFact, now: float = 0.0) -> policy.Decision:
    facts = policy.Facts(
        inventory=INVENTORY,
        streams=streams.count,
        streams_seen_at=now,
        stream_report=streams,
        gpu=gpu,
        gpu_seen_at=now,
        resources=RESOURCES,
        resources_seen_at=now,
    )
    return policy.decide(CONFIG, CONFIG.tier_matcher(), facts, policy.Memory(), now)


def gpu_paused(decision: policy.Decision) -> set[str]:
    """Who GPU sharing pauses (media mode, on with the streams, holds tier 3 its own way)."""
    return {
        n
        for n, i in decision.containers.items()
        if i.paused and any(r.rule == "gpu_share" for r in i.reasons)
    }


def gpu_reason(decision: policy.Decision, name: str) -> str:
    return next(r.detail for r in decision.containers[name].reasons if r.rule == "gpu_share")


def fact(provider: StreamProvider, sessions: list[StreamSession]) -> StreamsFact:
    return StreamsFact(
        host="h", source=f"{provider} api", provider=provider, count=1, sessions=sessions
    )


def test_nvml_processes_are_placed_in_their_containers(tmp_path: Path) -> None:
    rtx = {**RTX_3060, "compute": [(4242, 900 * MIB), (777, 300 * MIB)], "graphics": []}
    rtx["proc_util"] = [(4242, 55), (777, 20)]
    gpu = read_gpus(tmp_path, FakeNvml([rtx]))
    (device,) = gpu.gpus
    assert [(p.pid, p.name, p.container) for p in device.processes or []] == [
        (777, "ffmpeg", "jellyfin"),
        (4242, "ffmpeg", "tdarr"),
    ]


def test_a_plex_hardware_transcode_pauses_the_gpu_s_other_users(tmp_path: Path) -> None:
    item = copy.deepcopy(PLEX_TRANSCODE_REMOTE)
    item["TranscodeSession"]["transcodeHwDecoding"] = "nvdec"  # type: ignore[index]
    item["TranscodeSession"]["transcodeHwEncoding"] = "nvenc"  # type: ignore[index]
    sessions = plex.parse_sessions({"MediaContainer": {"size": 1, "Metadata": [item]}})
    assert [s.hw_transcode for s in sessions] == [True]
    # Plex's transcoder runs where NVML cannot place it (another host's pid space): the
    # server's word alone; tdarr, immich and HandBrake are on the GPU.
    rtx = {**RTX_3060, "compute": [(4242, 900 * MIB), (5151, 400 * MIB)], "graphics": []}
    rtx["proc_util"] = [(4242, 55)]
    gpus = read_gpus(tmp_path, FakeNvml([rtx]))
    decision = decide(gpus, fact("plex", sessions))
    assert gpu_paused(decision) == {"tdarr"}  # immich is not on the GPU
    assert decision.process_groups["handbrake"].paused
    assert gpu_reason(decision, "tdarr") == (
        "GPU 0 (NVIDIA GeForce RTX 3060): hardware transcode of "
        "'Severance - Good News About Hell' (alice, plex)"
    )
    # A software transcode: nobody waits.
    item["TranscodeSession"]["transcodeHwDecoding"] = None  # type: ignore[index]
    item["TranscodeSession"]["transcodeHwEncoding"] = None  # type: ignore[index]
    item["TranscodeSession"]["transcodeHwRequested"] = False  # type: ignore[index]
    software = plex.parse_sessions({"MediaContainer": {"size": 1, "Metadata": [item]}})
    assert gpu_paused(decide(gpus, fact("plex", software))) == set()


def test_a_jellyfin_transcode_on_the_gpu_pauses_tier_2_and_3_users(tmp_path: Path) -> None:
    session = copy.deepcopy(JELLYFIN_TRANSCODE_REMOTE)
    session["TranscodingInfo"]["HardwareAccelerationType"] = "nvenc"  # type: ignore[index]
    sessions = jellyfin.parse_sessions([session])
    # Jellyfin names the acceleration it was set to ask for, never whether it got it.
    assert [(s.hw_transcode, s.hw_requested) for s in sessions] == [(None, True)]
    rtx = {**RTX_3060, "compute": [(777, 300 * MIB), (4242, 900 * MIB)], "graphics": []}
    rtx["proc_util"] = [(777, 20), (4242, 55)]
    gpus = read_gpus(tmp_path, FakeNvml([rtx]))
    decision = decide(gpus, fact("jellyfin", sessions))
    assert gpu_paused(decision) == {"tdarr"}
    assert "jellyfin" not in decision.containers  # the media server itself, never
    # NVML alone says so too: jellyfin's ffmpeg on the GPU, the session saying nothing.
    quiet = [s.model_copy(update={"hw_requested": None}) for s in sessions]
    assert gpu_paused(decide(gpus, fact("jellyfin", quiet))) == {"tdarr"}
    # ... and with neither, nothing.
    rtx["compute"] = [(4242, 900 * MIB)]
    idle = read_gpus(tmp_path / "again", FakeNvml([rtx]))
    assert gpu_paused(decide(idle, fact("jellyfin", quiet))) == set()


def test_an_amd_card_goes_by_the_server_s_word_and_the_users_listed(tmp_path: Path) -> None:
    config = CONFIG.model_copy(
        update={"gpu_share": CONFIG.gpu_share.model_copy(update={"users": ["tdarr", "immich"]})}
    )
    sys_root = rx6600(tmp_path / "sys")
    no_nvidia = FakeNvml([], init_error="NVML Shared Library Not Found")
    gpus = read_gpus(tmp_path, no_nvidia, sys_root)
    (card,) = gpus.gpus
    assert card.vendor == "amd" and card.processes is None
    item = copy.deepcopy(PLEX_TRANSCODE_REMOTE)
    item["TranscodeSession"]["transcodeHwEncoding"] = "vaapi"  # type: ignore[index]
    sessions = plex.parse_sessions({"MediaContainer": {"size": 1, "Metadata": [item]}})
    facts = policy.Facts(
        inventory=INVENTORY,
        streams=1,
        streams_seen_at=0,
        stream_report=fact("plex", sessions),
        gpu=gpus,
        gpu_seen_at=0,
    )
    decision = policy.decide(config, config.tier_matcher(), facts, policy.Memory(), 0)
    assert gpu_paused(decision) == {"tdarr", "immich"}
    assert gpu_reason(decision, "immich").startswith("GPU 0 (AMD): hardware transcode of ")
