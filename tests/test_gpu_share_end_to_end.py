"""GPU sharing end to end: real sensors, governor and actuator processes, the real Docker
engine. The sensors read a fake NVML (this machine has no NVIDIA GPU: a `pynvml` module of
the test's, first on the sensors' path) that lists a real tier-2 container's process on the
GPU, and a fake Jellyfin that reports a transcode set to run on NVENC. The tier-2 container
is paused (its process placed in it through its real cgroup); when the transcode ends, it
runs again after the hold."""

from __future__ import annotations

import copy
import json
import signal
from pathlib import Path

from shared.messages import Applied, DesiredState, GpuFact
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.media_servers import JELLYFIN_TRANSCODE_REMOTE, FakeMediaServer
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, wait_until, write_config

FAKE_PYNVML = '''
"""A stand-in for nvidia-ml-py's pynvml: one RTX 3060 whose processes are in a file."""
import json
import os
from types import SimpleNamespace

NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


def _gpu():
    with open(os.environ["WARDEN_TEST_NVML"]) as f:
        return json.load(f)


def nvmlInit():
    pass


def nvmlDeviceGetCount():
    return 1


def nvmlDeviceGetHandleByIndex(index):
    return index


def nvmlDeviceGetName(handle):
    return "NVIDIA GeForce RTX 3060"


def nvmlDeviceGetUtilizationRates(handle):
    return SimpleNamespace(gpu=_gpu()["util"], memory=0)


def nvmlDeviceGetMemoryInfo(handle):
    return SimpleNamespace(used=3 << 30, total=12 << 30, free=9 << 30)


def nvmlDeviceGetTemperature(handle, sensor):
    return 55


def nvmlDeviceGetPowerUsage(handle):
    return 80000


def nvmlDeviceGetComputeRunningProcesses(handle):
    return [SimpleNamespace(pid=pid, usedGpuMemory=900 << 20) for pid in _gpu()["pids"]]


def nvmlDeviceGetGraphicsRunningProcesses(handle):
    return []
'''


def transcoding() -> dict[str, object]:
    session = copy.deepcopy(JELLYFIN_TRANSCODE_REMOTE)
    session["TranscodingInfo"]["HardwareAccelerationType"] = "nvenc"  # type: ignore[index]
    return session


def test_a_hardware_transcode_pauses_a_tier2_gpu_user_until_it_ends(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    encoder = containers.run("encoder")  # tier 2, on the GPU
    other = containers.run("other")  # tier 2, not on it
    fake_module = tmp_path / "fake-nvml"
    fake_module.mkdir()
    (fake_module / "pynvml.py").write_text(FAKE_PYNVML)
    state = tmp_path / "nvml.json"
    state.write_text(json.dumps({"util": 70, "pids": [containers.pid(encoder)]}))
    jellyfin = FakeMediaServer()
    jellyfin.answer([transcoding()])
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "general": {"poll_interval_seconds": 1},
            "tiers": {2: {"containers": [containers.name("encoder"), containers.name("other")]}},
            "media_mode": {
                "enabled": True,
                "provider": "jellyfin",
                "url": jellyfin.url,
                "api_key": "jf-key",
                "poll_seconds": 1,
                "cooldown_seconds": 0,
            },
            # This shared machine's own pressure must not limit anything for other reasons.
            "io_pressure": {"enabled": False},
            "memory_pressure": {"enabled": False},
            "thermal": {"enabled": False},
            "protect": {"enabled": False},
            "gpu_share": {"hold_seconds": 2},
            "governor": {"lease_seconds": 10},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        },
    )
    env = {"PYTHONPATH": str(fake_module), "WARDEN_TEST_NVML": str(state)}
    services = [Service("sensors", cfg, tmp_path, env=env)]
    services += [Service(name, cfg, tmp_path) for name in ("governor", "actuator")]
    try:
        # The sensors read the fake NVML and place its process in the encoder container.
        seen = probe.wait_for(
            f"warden/{host_id}/sensors/gpu",
            lambda s: any(
                p.container == containers.name("encoder")
                for d in GpuFact.model_validate_json(s.payload).gpus
                for p in d.processes or []
            ),
            timeout=60,
        )
        (device,) = GpuFact.model_validate_json(seen.payload).gpus
        assert (device.source, device.name) == ("nvml", "NVIDIA GeForce RTX 3060")

        def desired_pause(s: Seen) -> bool:
            d = DesiredState.model_validate_json(s.payload)
            intent = d.containers.get(containers.name("encoder"))
            return intent is not None and intent.paused

        seen = probe.wait_for(f"warden/{host_id}/desired", desired_pause, timeout=60)
        intent = DesiredState.model_validate_json(seen.payload).containers[
            containers.name("encoder")
        ]
        gpu_reasons = [r for r in intent.reasons if r.rule == "gpu_share"]
        assert [r.detail for r in gpu_reasons] == [
            "GPU 0 (NVIDIA GeForce RTX 3060): hardware transcode of "
            "'Severance - Good News About Hell' (alice, jellyfin)"
        ]
        wait_until(lambda: containers.state(encoder) == "paused", 30, "the encoder paused")
        assert containers.state(other) == "running"

        def encoder_applied(paused: bool) -> bool:
            seen = probe.messages(f"warden/{host_id}/applied")
            if not seen:
                return False
            applied = Applied.model_validate_json(seen[-1].payload)
            return any(c.id == encoder and c.paused is paused for c in applied.containers)

        wait_until(lambda: encoder_applied(True), 30, "applied says it is paused")

        # The transcode ends: after the hold, the encoder runs again.
        jellyfin.answer([])
        wait_until(lambda: containers.state(encoder) == "running", 60, "the encoder resumed")
        wait_until(lambda: encoder_applied(False), 30, "applied says it runs")
    finally:
        for service in services:
            service.kill(signal.SIGTERM)
        jellyfin.close()
