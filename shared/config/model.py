"""The one config model every service reads; each uses its own part.

ADRG's sections keep ADRG's keys, defaults and meaning, so an ADRG
config.yaml loads unchanged. Warden's own sections (mqtt, host_id,
home_assistant, governor, actuator, sensors, process_groups, protect) come
after them. Unknown keys are errors: a typo in a threshold should fail at
start, not silently fall back to a default.
"""

from __future__ import annotations

import re
import socket
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from shared.presets import PresetName
from shared.tiers import TierMatcher
from shared.units import parse_size

Size = Annotated[int, BeforeValidator(parse_size), PlainSerializer(int)]
Percent = Annotated[float, Field(ge=0, le=100)]
Seconds = Annotated[float, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
# MQTT topic levels must not hold wildcards or separators.
_TOPIC_LEVEL = re.compile(r"^[^/#+\s]+$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- ADRG's sections ---------------------------------------------------------


class HttpServer(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 8765


class General(Section):
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 5
    # ADRG's own state file; accepted so an ADRG config loads, and unused: Warden keeps
    # what it changed in actuator.state_file.
    state_file: str = "/run/adrg/state.json"
    log_file: str | None = None
    log_max_bytes: Annotated[int, Field(gt=0)] = 10 * 1024 * 1024
    log_backup_count: Annotated[int, Field(ge=0)] = 3
    http_server: HttpServer = HttpServer()


class Tier(Section):
    name: str = ""
    containers: list[str] = []
    cpu_weight: Annotated[int, Field(ge=1, le=10000)] = 100
    io_weight: Annotated[int, Field(ge=1, le=10000)] = 100
    memory_high: Size | None = None
    memory_max: Size | None = None

    @model_validator(mode="after")
    def _high_not_above_max(self) -> Tier:
        if self.memory_high and self.memory_max and self.memory_high > self.memory_max:
            raise ValueError("memory_high must not be larger than memory_max")
        return self


TierNumber = Annotated[int, Field(ge=0, le=3)]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class DownloadThrottle(Section):
    enabled: bool = False
    provider: Annotated[Literal["qbittorrent", "transmission"], BeforeValidator(_lower)] = (
        "qbittorrent"
    )
    url: str = "http://qbittorrent:8080"
    username: str = "admin"
    password: str = ""
    limit_mb_per_sec: Annotated[float, Field(gt=0)] = 5
    timeout_seconds: Annotated[float, Field(gt=0)] = 10


# Providers Warden can ask for sessions; "webhook" and "none" are ADRG's trigger-only modes.
MEDIA_SERVER_PROVIDERS = ("jellyfin", "plex", "emby", "tautulli")


class MediaWebhook(Section):
    """The sensors' receiver for media-server webhooks (Plex, Jellyfin plugin, Tautulli)."""

    # Off unless asked for: it opens a listening port.
    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8766
    # Plex cannot send headers, so the secret travels in the URL (?token= or a last path level).
    token: str | None = None


class MediaMode(Section):
    enabled: bool = False
    provider: Annotated[
        Literal["jellyfin", "plex", "emby", "tautulli", "webhook", "none"],
        BeforeValidator(_lower),
    ] = "none"
    url: str = ""
    api_key: str = ""
    tier2_cpu_max_percent: Annotated[float, Field(gt=0, le=100)] = 20
    tier2_io_max_read_mb_per_sec: Annotated[float, Field(gt=0)] = 10
    tier2_io_max_write_mb_per_sec: Annotated[float, Field(gt=0)] = 5
    cooldown_seconds: Seconds = 60
    download_throttle: DownloadThrottle = DownloadThrottle()
    # Paused sessions never count and transcodes always do; these two decide the rest.
    count_direct_play: bool = True
    count_local: bool = True
    # The slow reconciliation poll beside the webhooks, so a missed webhook cannot stick.
    poll_seconds: Annotated[float, Field(gt=0)] = 60
    timeout_seconds: Annotated[float, Field(gt=0)] = 5
    webhook: MediaWebhook = MediaWebhook()

    @model_validator(mode="after")
    def _server_needs_url(self) -> MediaMode:
        if self.enabled and self.provider in MEDIA_SERVER_PROVIDERS and not self.url:
            raise ValueError(f"provider {self.provider} needs a url")
        return self

    @property
    def queries_server(self) -> bool:
        return self.enabled and self.provider in MEDIA_SERVER_PROVIDERS


class Thermal(Section):
    enabled: bool = True
    warn_temp_c: float = 70
    stage1_temp_c: float = 75
    stage2_temp_c: float = 80
    recovery_temp_c: float = 65
    recovery_hold_seconds: Seconds = 30

    @model_validator(mode="after")
    def _ordered(self) -> Thermal:
        if not self.recovery_temp_c < self.stage1_temp_c <= self.stage2_temp_c:
            raise ValueError("expected recovery_temp_c < stage1_temp_c <= stage2_temp_c")
        return self


class MemoryPressure(Section):
    enabled: bool = True
    some_avg10_threshold: Percent = 50
    critical_avg60_threshold: Percent = 40
    emergency_full_avg10_threshold: Percent = 25
    restart_cooldown_seconds: Seconds = 300
    memory_high_reduction_factor: Annotated[float, Field(gt=0, le=1)] = 0.75


class IoPressure(Section):
    enabled: bool = True
    trigger_avg10_threshold: Percent = 60
    recovery_avg10_threshold: Percent = 20
    recovery_hold_seconds: Seconds = 30
    tier3_io_max_read_mb_per_sec: Annotated[float, Field(gt=0)] = 5
    tier3_io_max_write_mb_per_sec: Annotated[float, Field(gt=0)] = 2

    @model_validator(mode="after")
    def _recovery_below_trigger(self) -> IoPressure:
        if self.recovery_avg10_threshold >= self.trigger_avg10_threshold:
            raise ValueError("recovery_avg10_threshold must be below trigger_avg10_threshold")
        return self


AdrgEvent = Literal[
    "daemon_start",
    "daemon_stop",
    "media_mode_activated",
    "media_mode_deactivated",
    "thermal_stage1",
    "thermal_stage2",
    "memory_critical_restart",
    "memory_emergency_restart",
]
NotifyEvent = Literal[
    AdrgEvent, "thermal_warning", "lease_expired", "refusal", "notifier_channel_failed"
]
# ADRG's default notify_on: every event it knows, none of Warden's own.
ADRG_NOTIFY_ON: list[NotifyEvent] = list(get_args(AdrgEvent))


def _int_as_text(value: object) -> object:
    # YAML reads `ntfy_priority: 4` as a number; ntfy's header takes the text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


NtfyPriority = Annotated[
    Literal["min", "low", "default", "high", "urgent", "1", "2", "3", "4", "5"],
    BeforeValidator(_int_as_text),
]


class Notifications(Section):
    # ADRG sends every event when notify_on is empty; Warden keeps that meaning.
    notify_on: list[NotifyEvent] = ADRG_NOTIFY_ON
    discord_webhook_url: str = ""
    ntfy_url: str = ""
    ntfy_token: str = ""
    gotify_url: str = ""
    gotify_token: str = ""
    timeout_seconds: Annotated[float, Field(gt=0)] = 5
    # None: by event (urgent for emergencies ... low for daemon start/stop).
    ntfy_priority: NtfyPriority | None = None
    ntfy_tags: list[Annotated[str, Field(min_length=1, pattern=r"^[^,\s]+$")]] = ["computer"]
    # Undelivered notifications live here, so a restart does not lose them.
    outbox_file: str = "/var/lib/warden/notifier-outbox.json"
    retry_initial_seconds: Annotated[float, Field(gt=0)] = 2
    retry_max_seconds: Annotated[float, Field(gt=0)] = 300
    retry_max_attempts: Annotated[int, Field(ge=1)] = 10
    # A notification older than this is stale news: dropped, and logged, instead of sent.
    retry_max_age_seconds: Annotated[float, Field(gt=0)] = 6 * 3600
    # The same event and message again within this window is told once, with a count.
    dedup_window_seconds: Seconds = 60

    def wants(self, event: str) -> bool:
        return not self.notify_on or event in self.notify_on

    @model_validator(mode="after")
    def _backoff_ordered(self) -> Notifications:
        if self.retry_initial_seconds > self.retry_max_seconds:
            raise ValueError("retry_initial_seconds must not be larger than retry_max_seconds")
        return self


# --- Warden's sections -------------------------------------------------------


class Mqtt(Section):
    # No host: the stack starts a local Mosquitto on 127.0.0.1:port.
    host: str | None = None
    port: Port = 1883
    username: str | None = None
    password: str | None = None
    keepalive_seconds: Annotated[int, Field(ge=5, le=3600)] = 30
    topic_root: str = "warden"
    reconnect_min_seconds: Annotated[float, Field(gt=0)] = 1
    reconnect_max_seconds: Annotated[float, Field(gt=0)] = 30

    @field_validator("topic_root")
    @classmethod
    def _root_is_topic_path(cls, value: str) -> str:
        if not value or any(not _TOPIC_LEVEL.match(level) for level in value.split("/")):
            raise ValueError("must be MQTT topic levels without wildcards, '/' only between levels")
        return value

    @property
    def broker_host(self) -> str:
        return self.host or "127.0.0.1"


class HomeAssistant(Section):
    enabled: bool = True
    discovery_prefix: str = "homeassistant"
    # Where Home Assistant sends its birth message; default <discovery_prefix>/status.
    status_topic: str | None = None
    # Re-publish discovery this long (at most; random) after a birth message or a
    # reconnect, so a restarted Home Assistant is not flooded by every device at once.
    republish_delay_seconds: Annotated[float, Field(ge=0, le=300)] = 5
    device_name: str | None = None
    # Link on the device page; default: the HTTP API when it listens on a reachable address.
    configuration_url: str | None = None
    # Also send each notification to <root>/<host>/ha/notify for a Home Assistant automation.
    notify: bool = True

    @field_validator("discovery_prefix", "status_topic")
    @classmethod
    def _prefix_is_topic_path(cls, value: str | None) -> str | None:
        if value is not None and (
            not value or any(not _TOPIC_LEVEL.match(level) for level in value.split("/"))
        ):
            raise ValueError("must be MQTT topic levels without wildcards, '/' only between levels")
        return value

    @field_validator("configuration_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "homeassistant://")):
            raise ValueError("must start with http://, https:// or homeassistant://")
        return value

    @property
    def birth_topic(self) -> str:
        return self.status_topic or f"{self.discovery_prefix}/status"


class Governor(Section):
    # The actuator restores the baseline when a desired state is this old.
    lease_seconds: Annotated[float, Field(ge=2)] = 30
    # Renew well inside the lease; default a third of it.
    renew_seconds: Annotated[float, Field(gt=0)] | None = None
    # A streams fact older than this counts as unknown; default 3 x media_mode.poll_seconds.
    stale_after_seconds: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _renew_inside_lease(self) -> Governor:
        if self.renew_seconds is not None and self.renew_seconds >= self.lease_seconds:
            raise ValueError("renew_seconds must be shorter than lease_seconds")
        return self

    @property
    def renew_interval(self) -> float:
        return self.renew_seconds or self.lease_seconds / 3

    def streams_stale_after(self, media_mode: MediaMode) -> float:
        return self.stale_after_seconds or 3 * media_mode.poll_seconds


class Bridge(Section):
    """A Mosquitto bridge from this host's broker to a central one (warden-stack writes it).

    This host's facts, states, events, availability and discovery go up; its
    triggers and settings (and warden/trigger) come down. Decisions stay here.
    """

    enabled: bool = False
    address: str | None = None
    port: Port = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    # The CA that signed the central broker's certificate; default: the system's CAs.
    ca_file: str | None = None
    # How soon the central broker notices this host is gone: about 1.5 times this.
    keepalive_seconds: Annotated[int, Field(ge=2, le=3600)] = 30

    @model_validator(mode="after")
    def _complete(self) -> Bridge:
        if self.enabled and not self.address:
            raise ValueError("address is needed when the bridge is enabled")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file needs tls: true")
        return self


class Security(Section):
    # The governor signs desired states and actions with this key and the actuator
    # refuses what it did not sign; $WARDEN_SIGNING_KEY_FILE wins. None: unsigned.
    signing_key_file: str | None = None


class Actuator(Section):
    dry_run: bool = False
    cgroup_root: str = "/sys/fs/cgroup"
    proc_root: str = "/proc"
    docker_url: str = "unix:///var/run/docker.sock"
    state_file: str = "/run/warden/actuator-state.json"
    # After a start, wait this long for a live desired state before acting on none.
    startup_grace_seconds: Seconds = 5
    # Safety bounds whatever the governor asks: memory.high never below this.
    min_memory_high: Size = parse_size("64M")
    # Re-read the host and re-apply this often, to catch changes made behind our back.
    resync_seconds: Annotated[float, Field(gt=0)] = 60
    # Restart bounds the actuator enforces whatever the governor asks; unset, both are
    # memory_pressure.restart_cooldown_seconds (ADRG's per-container and global gates).
    restart_container_interval_seconds: Seconds | None = None
    restart_global_interval_seconds: Seconds | None = None
    # Bare processes come and go without events: look for process-group members this often.
    process_scan_seconds: Annotated[float, Field(gt=0)] = 2


class ProtectStall(Section):
    """Per resource: the share of the trigger window a protected container may stall."""

    cpu: Annotated[float, Field(gt=0, le=100)] = 10
    io: Annotated[float, Field(gt=0, le=100)] = 10
    memory: Annotated[float, Field(gt=0, le=100)] = 10


class Protect(Section):
    """Warden's own rule: throttle bulk work the moment a protected container stalls.

    A protected container is one in tier 0 or 1, or in protected_containers. When
    its own cgroup's some-stall over the PSI trigger window is above its share,
    the tier-3 container (then tier 2) using most of the contended resource gets
    io.max (io stall) or cpu.max (cpu or memory stall), tightened a step each
    window while the stall holds and does not fall, loosened a step after each
    hold_seconds of calm.
    """

    enabled: bool = True
    stall_percent: ProtectStall = ProtectStall()
    # Each step multiplies the limit by this (and a loosening step divides by it).
    step_factor: Annotated[float, Field(gt=0, lt=1)] = 0.25
    # A stall that has fired a trigger has lasted a window already: the first limit is
    # this many steps at once (use x step_factor ** first_steps).
    first_steps: Annotated[int, Field(ge=1, le=10)] = 2
    # Calm (no stall above its share) this long loosens one step.
    hold_seconds: Annotated[float, Field(gt=0)] = 10
    # Floors no step goes below; the first step starts from what the container uses now.
    io_floor_mb_per_sec: Annotated[float, Field(gt=0)] = 1
    cpu_floor_percent: Annotated[float, Field(gt=0, le=100)] = 5
    # Below these a container is not "using" the resource: it is never chosen.
    min_io_mb_per_sec: Annotated[float, Field(ge=0)] = 1
    min_cpu_percent: Annotated[float, Field(ge=0, le=100)] = 5
    min_memory_growth_mb_per_sec: Annotated[float, Field(ge=0)] = 1


class ThermalSensors(Section):
    """Which temperature sensors count, by name ("coretemp/Package id 0", "zone/acpitz")."""

    include: list[str] = ["*"]
    exclude: list[str] = []


class GpuSensors(Section):
    enabled: bool = True
    # NVML is known to hang during driver updates: every call is bounded by this.
    nvml_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 2
    # Used when NVML is not installed, finds no driver, or hangs.
    nvidia_smi: str = "nvidia-smi"
    nvidia_smi_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5


class Sensors(Section):
    proc_root: str = "/proc"
    cgroup_root: str = "/sys/fs/cgroup"
    sys_root: str = "/sys"
    docker_url: str = "unix:///var/run/docker.sock"
    # Facts are published on change; this heartbeat re-sends them anyway.
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 30
    # PSI triggers wake the sensors when stall time in a window crosses a rule's
    # threshold; false (or a kernel that refuses them) means polling instead.
    psi_triggers: bool = True
    # Without CAP_SYS_RESOURCE the kernel only accepts windows of whole multiples of 2 s.
    psi_window_seconds: Annotated[int, Field(ge=2, le=10, multiple_of=2)] = 2
    # cpu has no ADRG rule to take a threshold from.
    cpu_pressure_trigger_percent: Annotated[float, Field(gt=0, le=100)] = 50
    thermal: ThermalSensors = ThermalSensors()
    gpu: GpuSensors = GpuSensors()


class ProcessGroup(Section):
    """Bare processes handled together (Optimizarr-style), matched by name or command line."""

    name: Annotated[str, Field(min_length=1)]
    # Globs against the process name (comm) or the basename of argv[0].
    match_name: list[str] = []
    # Regular expressions searched in the command line, arguments joined by spaces.
    match_cmdline: list[str] = []
    # Applied to every matched process while Warden runs (Optimizarr's nice level and
    # affinity); None leaves the process's own setting.
    nice: Annotated[int, Field(ge=-20, le=19)] | None = None
    ionice_class: Literal["realtime", "best-effort", "idle"] | None = None
    ionice_level: Annotated[int, Field(ge=0, le=7)] = 4
    cpu_affinity: list[Annotated[int, Field(ge=0)]] | None = None
    # How a pause stops them: SIGSTOP/SIGCONT, or cgroup.freeze when the group has a
    # cgroup of its own (a systemd unit, say) holding nothing else.
    pause_with: Literal["signal", "freeze"] = "signal"
    # Optimizarr's thresholds, against the use of everything else on the host, never the
    # group's own: an encoder pegs a CPU or GPU by design. None: from the preset (the
    # run-time one, else this one, else balanced), which also sets nice when nice is None.
    preset: PresetName | None = None
    cpu_threshold_percent: Percent | None = None
    memory_threshold_percent: Percent | None = None
    gpu_threshold_percent: Percent | None = None
    # None: thermal.warn_temp_c while thermal is enabled, else not watched.
    cpu_temp_c: float | None = None
    gpu_temp_c: float | None = None
    # Host memory PSI some avg10; None: memory_pressure.some_avg10_threshold while enabled.
    pressure_some_avg10: Percent | None = None
    # Resume only when every reading is this many percent below its threshold.
    resume_margin_percent: Annotated[float, Field(ge=0, lt=100)] = 10
    # A trigger must hold this long before a pause, and calm this long before a resume.
    pause_hold_seconds: Seconds = 5
    resume_hold_seconds: Seconds = 30

    @field_validator("preset", mode="before")
    @classmethod
    def _preset_any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("match_cmdline")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _matches_something(self) -> ProcessGroup:
        if not self.match_name and not self.match_cmdline:
            raise ValueError("needs match_name or match_cmdline")
        return self


class HistoryTier(Section):
    """One downsampled tier of the web service's history: min, mean and max per bucket."""

    bucket_seconds: Annotated[float, Field(ge=1, le=86400)]
    keep_seconds: Annotated[float, Field(gt=0, le=90 * 86400)]


class WebHistory(Section):
    # Every reading as it came, for this long (at most one per metric per raw_min_interval).
    raw_keep_seconds: Annotated[float, Field(ge=0, le=86400)] = 3600
    raw_min_interval_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 1
    tiers: Annotated[list[HistoryTier], Field(max_length=6)] = [
        HistoryTier(bucket_seconds=60, keep_seconds=86400),
        HistoryTier(bucket_seconds=600, keep_seconds=7 * 86400),
    ]


class Web(Section):
    """The web service; where it listens is ADRG's general.http_server."""

    # Bearer tokens (use ${VAR} from the env file). Admin may change settings and act;
    # read-only may only look. Empty strings (an unset ${VAR}) count as no token.
    admin_tokens: list[str] = []
    read_tokens: list[str] = []
    database: str = "/var/lib/warden/web.sqlite3"
    history: WebHistory = WebHistory()
    # How many of the governor's decisions the API and the page keep.
    recent_decisions: Annotated[int, Field(ge=1, le=10000)] = 200

    @field_validator("admin_tokens", "read_tokens")
    @classmethod
    def _drop_empty(cls, value: list[str]) -> list[str]:
        return [token for token in value if token]


def _default_host_id() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


class WardenConfig(Section):
    general: General = General()
    tiers: dict[TierNumber, Tier] = {}
    protected_containers: list[str] = []
    media_mode: MediaMode = MediaMode()
    thermal: Thermal = Thermal()
    memory_pressure: MemoryPressure = MemoryPressure()
    io_pressure: IoPressure = IoPressure()
    notifications: Notifications = Notifications()

    host_id: str = Field(default_factory=_default_host_id)
    mqtt: Mqtt = Mqtt()
    home_assistant: HomeAssistant = HomeAssistant()
    governor: Governor = Governor()
    actuator: Actuator = Actuator()
    security: Security = Security()
    bridge: Bridge = Bridge()
    sensors: Sensors = Sensors()
    process_groups: list[ProcessGroup] = []
    web: Web = Web()
    protect: Protect = Protect()

    @field_validator("host_id")
    @classmethod
    def _host_id_is_topic_level(cls, value: str) -> str:
        if not _TOPIC_LEVEL.match(value):
            raise ValueError("must be one MQTT topic level: no '/', '+', '#' or spaces")
        return value

    @field_validator("process_groups")
    @classmethod
    def _group_names_unique(cls, value: list[ProcessGroup]) -> list[ProcessGroup]:
        names = [group.name for group in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"process group names must be unique: {', '.join(duplicates)}")
        return value

    def tier(self, number: int) -> Tier:
        return self.tiers.get(number, Tier())

    def tier_matcher(self) -> TierMatcher:
        return TierMatcher(
            {n: t.containers for n, t in self.tiers.items()}, self.protected_containers
        )
