"""The channel table: every topic on the bus, with its model, retained flag, writers and scope.

One list, so the broker's ACL (deploy/mosquitto/acl), the documentation's topic
table and a host's bridge are generated from it (shared/channel_files.py, which no
service imports) and a topic cannot be forgotten in any of them.

Topic templates use `{root}` (mqtt.topic_root), `{host}` (the host id) and
`{discovery}` (home_assistant.discovery_prefix); any other `{name}` is one
topic level that varies (a wildcard `+` in the ACL, `<name>` in the topic reference).
`{service}` is each writer's own name, so each service writes only its own
availability.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from shared.channel import SERVICES, TRIGGER_WRITERS, Channel
from shared.messages import (
    Action,
    Applied,
    ContainerInventory,
    DesiredState,
    Event,
    GovernorMemory,
    GpuFact,
    LastDecision,
    PressureFact,
    ProcessesFact,
    ResourcesFact,
    RuleCatalogue,
    StreamsFact,
    ThermalFact,
    Trigger,
    parse_trigger,
)
from shared.messages.decoding import text_decoder
from shared.messages.incidents import IncidentLog
from shared.messages.overrides import Overrides
from shared.messages.presets import parse_preset
from shared.messages.settings import ResourceSettings
from shared.presets import PresetName
from shared.topics import OFFLINE, ONLINE, SensorKind

M = TypeVar("M", bound=BaseModel)


def _sensor(kind: str, model: type[M], what: str) -> Channel[M]:
    return Channel(f"{{root}}/{{host}}/sensors/{kind}", model, True, ("sensors",), "host", what)


PRESSURE: Channel[PressureFact] = _sensor(
    "pressure",
    PressureFact,
    "cpu, memory, io PSI (`some`/`full` avg10/60/300); a resource the host cannot "
    "report is `null` (unknown), never 0; the triggers that fired; each managed "
    "container's PSI and stall share",
)

CONTAINERS: Channel[ContainerInventory] = _sensor(
    "containers",
    ContainerInventory,
    "every container: id, name, state, tier, protected, RSS; on every Docker event, and "
    "each poll (RSS read again; Docker listed again only when its event stream may have "
    "missed something, and every minute)",
)

STREAMS: Channel[StreamsFact] = _sensor(
    "streams",
    StreamsFact,
    "media sessions (state, per-stream decisions, media type, bitrate, hardware "
    "transcode, local) and the count media mode uses; "
    "`null` when the server cannot be asked, with the error",
)

THERMAL: Channel[ThermalFact] = _sensor(
    "thermal", ThermalFact, "temperature sensors and the hottest of them"
)

GPU: Channel[GpuFact] = _sensor(
    "gpu", GpuFact, "each GPU: utilisation, memory, temperature, power, its processes"
)

RESOURCES: Channel[ResourcesFact] = _sensor(
    "resources",
    ResourcesFact,
    "CPU, memory and disk use of the host, each process group and container",
)

PROCESSES: Channel[ProcessesFact] = _sensor(
    "processes",
    ProcessesFact,
    "the host processes `conditions` watch (Unraid's mover, a backup): per condition, "
    "whether one runs and which",
)

CONDITION_TOPICS: Channel[str] = Channel(
    "#",
    None,
    False,
    (),
    "anywhere",
    "any topic a condition reads (`conditions[].mqtt.topic`: Home Assistant's "
    "mqtt_statestream, an automation's): the governor reads its value as text",
    readers=("governor",),
    payload="text or JSON, at most 4 KiB",
)

DESIRED: Channel[DesiredState] = Channel(
    "{root}/{host}/desired",
    DesiredState,
    True,
    ("governor",),
    "host",
    "the desired state: per container paused / memory.high / cpu.max / io.max with "
    "reasons, a `seq` and a `lease_seconds`; only intents, nothing the actuator does "
    "not apply; it changes only when what is enforced does (and on each renewal)",
)

GOVERNOR_MEMORY: Channel[GovernorMemory] = Channel(
    "{root}/{host}/governor/memory",
    GovernorMemory,
    True,
    ("governor",),
    "host",
    "what the governor remembers across its restart: the trigger switches, a status "
    "(media mode, thermal stage, io throttled) and each rule's own memory; it goes "
    "out with each desired state that changes and on renewal, if it changed",
)

RULES: Channel[RuleCatalogue] = Channel(
    "{root}/{host}/governor/rules",
    RuleCatalogue,
    True,
    ("governor",),
    "host",
    "the rule catalogue: for each reason a rule gives, what it may set by tier, its "
    "host thresholds under the config in force, ADRG's name for it and how it ends; "
    "the web service, /metrics and `warden` read it instead of restating a rule",
)

ACTIONS: Channel[Action] = Channel(
    "{root}/{host}/actions",
    Action,
    False,
    ("governor",),
    "host",
    "one-shot actions with ids: container restarts, which the actuator carries out "
    "once each, within its own limits",
)

APPLIED: Channel[Applied] = Channel(
    "{root}/{host}/applied",
    Applied,
    True,
    ("actuator",),
    "host",
    "what was applied (`desired` or `baseline` and why), refusals, errors, unsupported controls",
)

EVENTS: Channel[Event] = Channel(
    "{root}/{host}/events",
    Event,
    False,
    ("governor", "actuator", "notifier"),
    "host",
    "`media_mode_activated`, `lease_expired`, `refusal`, `notifier_channel_failed`, ...",
)

TRIGGER_ALL_HOSTS: Channel[Trigger] = Channel(
    "{root}/trigger",
    Trigger,
    False,
    TRIGGER_WRITERS,
    "all_hosts",
    "`media_start`, `media_stop`, `tier3_pause`, `tier3_resume`, for every host",
    decode=parse_trigger,
)

TRIGGER: Channel[Trigger] = Channel(
    "{root}/{host}/trigger",
    Trigger,
    False,
    TRIGGER_WRITERS,
    "host",
    "the same, for one host",
    decode=parse_trigger,
)

AVAILABILITY: Channel[str] = Channel(
    "{root}/{host}/{service}/availability",
    None,
    True,
    (*SERVICES, "web"),
    "host",
    "`online`, or `offline` (last will and clean stop); each service its own",
    decode=text_decoder(ONLINE, OFFLINE),
)

BRIDGE_AVAILABILITY: Channel[str] = Channel(
    "{root}/{host}/bridge/availability",
    None,
    True,
    (),
    "host",
    "`1` while this host's bridge to the central broker is up, `0` (its last will "
    "there) when the link or the host is gone; only where `bridge:` is on",
    payload="`1` or `0`",
    decode=text_decoder("1", "0"),
)

DECISION: Channel[LastDecision] = Channel(
    "{root}/{host}/governor/decision",
    LastDecision,
    True,
    ("governor",),
    "host",
    "the last change of what is enforced, in a line, with its reasons (rule and "
    "threshold) and the live `readings` behind them",
)

PRESET: Channel[str] = Channel(
    "{root}/{host}/preset",
    None,
    True,
    ("governor",),
    "host",
    "the process-group preset in force",
)

PRESET_SET: Channel[PresetName] = Channel(
    "{root}/{host}/preset/set",
    None,
    False,
    ("homeassistant", "web"),
    "host",
    'set the process-group preset (a preset name, or `{"preset": ...}`)',
    decode=parse_preset,
)

# The model is the notifier's HaState (services/notifier/home_assistant/states.py):
# shared/ imports no service.
HA_STATE: Channel[BaseModel] = Channel(
    "{root}/{host}/ha/state",
    None,
    True,
    ("notifier",),
    "host",
    "for Home Assistant: state derived where a template cannot",
    payload="JSON (the notifier's HaState)",
)

HA_EVENT: Channel[Event] = Channel(
    "{root}/{host}/ha/event/{kind}",
    Event,
    False,
    ("notifier",),
    "host",
    "for Home Assistant: device triggers",
)

HA_NOTIFY: Channel[str] = Channel(
    "{root}/{host}/ha/notify",
    None,
    False,
    ("notifier",),
    "host",
    "for Home Assistant: notifications (`title`, `message`, `kind`)",
    payload="JSON",
)

HA_REPUBLISH: Channel[str] = Channel(
    "{root}/{host}/ha/republish",
    None,
    False,
    ("homeassistant", "web"),
    "host",
    "`republish`: announce the device to Home Assistant again",
    decode=text_decoder("republish"),
)

SETTINGS: Channel[ResourceSettings] = Channel(
    "{root}/{host}/settings",
    ResourceSettings,
    True,
    ("web",),
    "host",
    "resource settings from the dashboard and the API (thresholds, preset, nice, "
    "enabled), applied by the governor on top of the config",
)

OVERRIDES: Channel[Overrides] = Channel(
    "{root}/{host}/overrides",
    Overrides,
    True,
    ("web",),
    "host",
    "timed overrides (pause tier 3, or run a container unthrottled, for N minutes), "
    "carried out by the governor until they expire",
)

DISCOVERY_CONFIG: Channel[str] = Channel(
    "{discovery}/{component}/{node}/{object}/config",
    None,
    True,
    ("notifier",),
    "discovery",
    "Home Assistant MQTT discovery, one config per entity (empty: entity gone)",
    readers=("notifier", "homeassistant", "web"),
    payload="JSON",
)

HA_STATUS: Channel[str] = Channel(
    "{discovery}/status",
    None,
    True,
    ("homeassistant",),
    "discovery",
    "Home Assistant's birth message (`online`) and last will",
    readers=("notifier", "homeassistant", "web"),
)

# The governor reads it as any topic a condition names (CONDITION_TOPICS).
HA_STATESTREAM: Channel[str] = Channel(
    "{discovery}/{domain}/{entity}/state",
    None,
    True,
    ("homeassistant",),
    "discovery",
    "Home Assistant's mqtt_statestream, with `base_topic` its discovery prefix: each "
    "entity's state, which a condition may read (`conditions[].mqtt`)",
    readers=("homeassistant",),
    # Every entity's every change: a host's bridge brings down only the ones its
    # conditions read.
    bridged=False,
)

INCIDENTS: Channel[IncidentLog] = Channel(
    "{root}/{host}/governor/incidents",
    IncidentLog,
    True,
    ("governor",),
    "host",
    "the latest incidents, newest first: each stall of protected work (or buffering "
    "stream) with who waited on what, the streams, the top contenders, what Warden did "
    "and when, whether the stall ended, its timeline and one plain sentence",
)

# The sensors' facts by kind: what the sensors publish and the governor keeps.
SENSOR_FACTS: dict[SensorKind, Channel[Any]] = {
    "pressure": PRESSURE,
    "containers": CONTAINERS,
    "streams": STREAMS,
    "thermal": THERMAL,
    "gpu": GPU,
    "resources": RESOURCES,
    "processes": PROCESSES,
}

CHANNELS: tuple[Channel[Any], ...] = (
    PRESSURE,
    CONTAINERS,
    STREAMS,
    THERMAL,
    GPU,
    RESOURCES,
    PROCESSES,
    DESIRED,
    GOVERNOR_MEMORY,
    RULES,
    ACTIONS,
    APPLIED,
    EVENTS,
    TRIGGER_ALL_HOSTS,
    TRIGGER,
    AVAILABILITY,
    BRIDGE_AVAILABILITY,
    DECISION,
    PRESET,
    PRESET_SET,
    HA_STATE,
    HA_EVENT,
    HA_NOTIFY,
    HA_REPUBLISH,
    SETTINGS,
    OVERRIDES,
    DISCOVERY_CONFIG,
    HA_STATUS,
    HA_STATESTREAM,
    INCIDENTS,
    CONDITION_TOPICS,
)
