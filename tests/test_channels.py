"""The channel table: complete, the source of the shipped ACL and the topic reference, and
enforced by a real Mosquitto exactly as written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest

from services.notifier.home_assistant.discovery import config_topic, node_filter
from shared import channel_files
from shared.channel import USERS, Channel, User
from shared.channels import CHANNELS
from shared.topics import Topics
from tests.support.acl_broker import SHIPPED_ACL, AclBroker, Client, login, shipped_acl_broker
from tests.support.processes import wait_until

ACL = SHIPPED_ACL
HOST = "h1"
(DISCOVERY,) = [c for c in CHANNELS if c.topic.endswith("/config")]
# The channels of topics Warden names: all but what a condition may read anywhere.
NAMED = [c for c in CHANNELS if c.scope != "anywhere"]


def concrete(channel: Channel, writer: str) -> str:
    """A topic a writer really publishes on for this channel."""
    return channel_files.render(channel.topic, "warden", HOST, "homeassistant", writer, "x-{name}")


def matching(topic: str) -> list[Channel]:
    return [
        c
        for c in NAMED
        # A channel with no writer of ours (the bridge's notification) still has its topic.
        if any(
            mqtt.topic_matches_sub(channel_files.acl_filters(c, w), topic)
            for w in (c.writers or ("bridge",))
        )
    ]


def test_shipped_acl_is_the_generated_one() -> None:
    assert ACL.read_text() == channel_files.acl(), (
        "run: python -m shared.channel_files --acl > " + str(ACL)
    )


def test_every_topic_outside_the_table_that_the_code_builds_is_one_channel() -> None:
    """Topics come from the table alone (channel.topic_for); what Home Assistant's side
    builds by its own rules (discovery configs, its birth topic) still lies in one channel."""
    built = [
        *(
            c.topic_for(Topics("warden", HOST), service="governor", kind="media_mode_activated")
            for c in NAMED
            if c.scope != "discovery"
        ),
        config_topic("homeassistant", "sensor", HOST, "memory_some_avg10"),
        "homeassistant/status",
    ]
    for topic in built:
        assert len(matching(topic)) == 1, (topic, matching(topic))
    # Topics says where on the bus, and builds no topic of its own.
    assert [f.name for f in dataclasses.fields(Topics)] == ["root", "host"]
    assert [n for n in vars(Topics) if not n.startswith("_")] == []
    # What the notifier subscribes to find its old configs lies inside the configs' channel.
    assert matching(node_filter("homeassistant", HOST).replace("+", "x")) == [DISCOVERY]


def test_each_service_writes_only_its_own_availability() -> None:
    (availability,) = [c for c in CHANNELS if "{service}" in c.topic]
    for user in USERS:
        topics = [t for a, t in channel_files.grants(user) if "availability" in t and a != "read"]
        assert topics == ([f"warden/+/{user}/availability"] if user in availability.writers else [])


# --- the real broker ------------------------------------------------------------


@pytest.fixture
def acl_broker() -> Iterator[AclBroker]:
    # Anonymous allowed, as on warden-stack's local broker: its rules are the ACL's first lines.
    with shipped_acl_broker([u for u in USERS if u != "anonymous"], allow_anonymous=True) as b:
        yield b


def test_broker_accepts_every_write_in_the_table_and_denies_the_rest(
    acl_broker: AclBroker,
) -> None:
    # Home Assistant watches: its read grants must cover everything it is meant to see.
    watcher = login(acl_broker, "homeassistant")
    watcher.subscribe("warden/#", "homeassistant/#")
    clients = {user: login(acl_broker, user) for user in USERS}
    expected: set[tuple[str, bytes]] = set()
    refused: set[tuple[str, bytes]] = set()
    try:
        for channel in NAMED:
            for user, client in clients.items():
                # A service writing another's availability is the refusal to prove there.
                # No user at all may write the bridge's own notification.
                writer = user if user in channel.writers else (channel.writers or (user,))[0]
                topic = concrete(channel, writer)
                message = (topic, f"{user}".encode())
                client.publish(topic, message[1], retain=channel.retained)
                (expected if user in channel.writers else refused).add(message)
        # Each user's last word is a write it may make: the broker forwards one client's
        # messages in the order they came, so once the watcher has every last word, a
        # refused write that had got through would already be there.
        for user, client in clients.items():
            channel = next(c for c in CHANNELS if user in c.writers)
            last_word = (concrete(channel, user), f"{user} last".encode())
            client.publish(*last_word, retain=channel.retained)
            expected.add(last_word)
        try:
            wait_until(lambda: expected <= watcher.seen(), timeout=10, what="allowed writes")
        except TimeoutError:
            pytest.fail(f"the broker dropped allowed writes: {sorted(expected - watcher.seen())}")
        assert watcher.seen() & refused == set()
        assert watcher.seen() - expected == set()
    finally:
        for client in (watcher, *clients.values()):
            client.close()


def saw(client: Client, *messages: tuple[str, bytes]) -> Callable[[], bool]:
    """wait_until's condition: the client has seen every one of the (topic, payload)s. Bound
    here, so a loop over clients waits on each in turn, not the loop's last."""
    return lambda: set(messages) <= client.seen()


def test_each_user_reads_what_it_subscribes(acl_broker: AclBroker) -> None:
    """The notifier reads Home Assistant's birth and its own old configs; every login the bus;
    the governor any topic (a condition may watch Home Assistant's mqtt_statestream)."""
    readers = {user: login(acl_broker, user) for user in USERS}
    notifier_config = concrete(DISCOVERY, "notifier")
    try:
        for client in readers.values():
            client.subscribe("warden/#", "homeassistant/#")
        governor = login(acl_broker, "governor")
        governor.publish("warden/h1/desired", b"d")
        homeassistant = readers["homeassistant"]
        homeassistant.publish("homeassistant/status", b"online")
        readers["notifier"].publish(notifier_config, b"{}")
        governor.close()
        everyone = ("warden/h1/desired", b"d")
        for client in readers.values():
            wait_until(saw(client, everyone), what=f"{client.name} reads desired")
        home_readers: tuple[User, ...] = ("notifier", "homeassistant", "web", "governor")
        for user in home_readers:
            wait_until(saw(readers[user], ("homeassistant/status", b"online")), what=user)
            wait_until(saw(readers[user], (notifier_config, b"{}")), what=user)
        # Home Assistant's and the notifier's next words, on topics everyone reads: a
        # reader sees one client's messages in order, so by then the earlier ones came.
        last_words = {("warden/h1/trigger", b"ha"), ("warden/h1/notifier/availability", b"n")}
        homeassistant.publish("warden/h1/trigger", b"ha")
        readers["notifier"].publish("warden/h1/notifier/availability", b"n")
        bus_readers: tuple[User, ...] = ("actuator", "sensors", "anonymous")
        for user in bus_readers:
            wait_until(saw(readers[user], *last_words), what=f"{user} read the last words")
            assert not any(t.startswith("homeassistant/") for t, _ in readers[user].seen())
    finally:
        for client in readers.values():
            client.close()
