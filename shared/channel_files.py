"""The files made from the channel table: the broker's ACL and the topic table of the
documentation. The services never import this; warden-stack and the tests do.

    python -m shared.channel_files --acl      # the broker's acl_file
    python -m shared.channel_files --readme   # the topic table
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from shared.channel import USERS, Channel, User
from shared.channels import CHANNELS
from shared.readme_section import with_section

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render(topic: str, root: str, host: str, discovery: str, service: str, level: str) -> str:
    """The template with root, host, discovery and service filled in, other levels as `level`
    (with `{name}` in it replaced by the placeholder's name)."""
    fixed = {"root": root, "host": host, "discovery": discovery, "service": service}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return fixed[name] if name in fixed else level.replace("{name}", name)

    return _PLACEHOLDER.sub(fill, topic)


def acl_filters(
    channel: Channel, writer: str, root: str = "warden", discovery: str = "homeassistant"
) -> str:
    return render(channel.topic, root, "+", discovery, writer, "+")


def readme_topic(channel: Channel, root: str = "warden") -> str:
    return render(channel.topic, root, "<host>", "homeassistant", "<service>", "<{name}>")


def grants(
    user: User, root: str = "warden", discovery: str = "homeassistant"
) -> list[tuple[str, str]]:
    """(access, topic filter) for one user, in ACL order: read the bus, then its writes."""
    result: list[tuple[str, str]] = [("read", f"{root}/#")]
    extra_reads = {
        acl_filters(c, user, root, discovery)
        for c in CHANNELS
        if user in c.readers and c.scope in ("discovery", "anywhere")
    }
    writes: list[str] = []
    for channel in CHANNELS:
        if user in channel.writers:
            topic = acl_filters(channel, user, root, discovery)
            if topic not in writes:
                writes.append(topic)
    for topic in writes:
        result.append(("readwrite" if topic in extra_reads else "write", topic))
    result.extend(("read", t) for t in sorted(extra_reads - set(writes)))
    return result


ACL_HEADER = """\
# Who may publish what on the Warden bus (mosquitto acl_file).
#
# GENERATED from shared/channels.py: edit the table there, then run
#   python -m shared.channel_files --acl > deploy/mosquitto/acl
# (a test keeps the two equal).
#
# Topics: warden/<host>/... with the default topic root `warden` and Home
# Assistant's default discovery prefix `homeassistant`; change them below if
# config.yaml sets another mqtt.topic_root or home_assistant.discovery_prefix.
# Everything not granted here is denied: a publish the ACL refuses is dropped
# by the broker (MQTT 3.1.1 has no way to tell the client), so a stray or
# compromised process cannot write another's topics. Everyone reads the bus.
"""

_USER_NOTES: dict[User, str] = {
    "anonymous": "Clients without a login (only where the broker allows them, as "
    "warden-stack's local\n# broker does): read, and fire triggers.",
    "governor": "Decides: the only writer of desired state and one-shot actions; reads any\n"
    "# topic, since a condition may watch any (Home Assistant's mqtt_statestream).",
    "actuator": "Changes the host: the only writer of what was applied.",
    "sensors": "Reports facts.",
    "notifier": "Sends events out, and announces Warden to Home Assistant.",
    "homeassistant": "Home Assistant: fires triggers, sets the preset, asks for discovery again.",
    "web": "The web dashboard: reads everything, fires triggers, sets the preset and settings.",
}


def acl(root: str = "warden", discovery: str = "homeassistant") -> str:
    lines = [ACL_HEADER]
    # Mosquitto applies the topic lines before the first `user` line to anonymous clients.
    order: list[User] = ["anonymous", *(u for u in USERS if u != "anonymous")]
    for user in order:
        lines.append(f"# {_USER_NOTES[user]}")
        if user != "anonymous":
            lines.append(f"user {user}")
        lines.extend(f"topic {access} {topic}" for access, topic in grants(user, root, discovery))
        lines.append("")
    return "\n".join(lines)


def _writers_cell(channel: Channel) -> str:
    if "{service}" in channel.topic:
        return "each service"
    if channel.scope == "anywhere":
        return "anyone the broker lets"
    if not channel.writers:
        return "Mosquitto's bridge"
    return ", ".join("anyone (no login)" if w == "anonymous" else w for w in channel.writers)


def readme_table(root: str = "warden") -> str:
    rows = [
        "| topic | retained | who writes | payload | what |",
        "|---|---|---|---|---|",
    ]
    for channel in CHANNELS:
        model = channel.payload_doc
        rows.append(
            f"| `{readme_topic(channel, root)}` | {'yes' if channel.retained else 'no'} "
            f"| {_writers_cell(channel)} | {model} | {channel.what} |"
        )
    return "\n".join(rows) + "\n"


README_START = (
    "<!-- channels: generated by `python -m shared.channel_files --readme`"
    " from shared/channels.py -->"
)
README_END = "<!-- channels: end -->"


def readme_with_table(readme: str) -> str:
    """A page's text with the table between the markers replaced by the generated one."""
    return with_section(readme, README_START, README_END, readme_table())


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--acl"]:
        sys.stdout.write(acl())
        return 0
    if args == ["--readme"]:
        sys.stdout.write(readme_table())
        return 0
    print("usage: python -m shared.channel_files --acl | --readme", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
