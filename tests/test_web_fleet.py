"""The fleet view on the real bus: the web service learns every host whose topics it sees,
each with its own page; a host whose bridge's last will arrives shows gone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.web.fleet_status import host_summary
from services.web.snapshot import snapshot
from services.web.view import Fleet, View
from shared.messages import HostUsage, ResourcesFact
from tests.support.broker import Mosquitto
from tests.support.host_facts import publish_facts
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.support.web import InProcessWeb, in_process_web


@pytest.fixture
def web(tmp_path: Path, broker: Mosquitto, host_id: str) -> Iterator[InProcessWeb]:
    with in_process_web(
        tmp_path, broker, host_id, tiers={3: {"containers": ["own-t3"]}}
    ) as running:
        yield running


@pytest.fixture
def fleet(probe: Probe, host_id: str) -> Iterator[tuple[str, str]]:
    """Two other hosts' facts, retained as their bridges leave them on a central broker."""
    a, b = f"{host_id}-a", f"{host_id}-b"
    yield a, b
    # The broker is shared by the session: leave no host behind for other tests' web.
    for seen in {
        s.topic for s in probe.seen if s.topic.startswith((f"warden/{a}/", f"warden/{b}/"))
    }:
        probe.publish(seen, b"", retain=True)


def test_every_host_on_the_broker_with_its_own_page(
    web: InProcessWeb, probe: Probe, host_id: str, fleet: tuple[str, str]
) -> None:
    a, b = fleet
    http = web.http()
    publish_facts(probe, a)
    publish_facts(probe, b)
    probe.publish(f"warden/{a}/bridge/availability", "1", retain=True)
    probe.publish(f"warden/{b}/bridge/availability", "1", retain=True)
    probe.publish(f"warden/{host_id}/governor/availability", "online", retain=True)

    def summary() -> dict[str, dict[str, object]]:
        return dict(http.get("/api/v1/hosts").json()["hosts"])

    wait_until(
        lambda: {a, b} <= set(summary()) and all(summary()[h]["bridge"] == "up" for h in (a, b)),
        what="both hosts in the fleet, bridged",
    )
    answer = http.get("/api/v1/hosts").json()
    assert answer["default"] == host_id
    hosts = answer["hosts"]
    assert next(iter(hosts)) == host_id  # own host first
    one = hosts[a]
    assert one["online"] is True and one["online_from"] == "bridge" and one["own"] is False
    assert (one["containers"], one["paused"], one["throttled"]) == (1, 0, 1)
    assert one["pressure_headline"] == "memory 60.0%"
    assert one["applied_mode"] == "desired" and one["applied_at"] is not None
    mine = hosts[host_id]
    assert mine["own"] is True and mine["online"] is True and mine["online_from"] == "services"

    # Each host's page, as for one.
    status = http.get(f"/api/v1/hosts/{a}/status").json()
    assert status["host"] == a and status["memory_throttled"] is True
    assert status["containers"]["tdarr"]["memory_high_by"] == ["memory_squeeze"]
    assert http.get(f"/api/v1/hosts/{b}/resources/current").json()["temperature_c"] == 71
    rows = {r["name"]: r for r in http.get(f"/api/v1/hosts/{a}/containers").json()}
    assert rows["tdarr"]["limits"] == ["memory_high", "cpu_idle"] and rows["sonarr"]["tier"] == 2
    wait_until(lambda: http.get(f"/api/v1/hosts/{a}/decisions").json() != [], what="decision")
    assert http.get(f"/api/v1/hosts/{a}/decisions").json()[0]["container"] == "tdarr"
    # ADRG's /status stays this service's own host.
    assert http.get("/status").json()["host"] == host_id
    assert http.get("/status").json()["containers"] == {}
    page = snapshot(web.service.backend, a)
    assert page["host"] == a and page["own"] is False and set(page["fleet"]) >= {a, b}
    assert {r["name"] for r in page["rows"]} == {"tdarr", "sonarr"}
    assert page["thresholds"]["thresholds"] == []  # in A's config, not known here

    # A trigger for one host goes on that host's topic alone.
    sent_at = time.monotonic()
    answer = http.post(f"/api/v1/hosts/{b}/trigger", json={"event": "tier3_pause"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["topic"] == f"warden/{b}/trigger"
    seen = probe.wait_for(f"warden/{b}/trigger", lambda s: True, after=sent_at)
    assert json.loads(seen.payload) == {"event": "tier3_pause"}
    assert probe.messages(f"warden/{a}/trigger") == []
    bad = http.post(f"/api/v1/hosts/{b}/trigger", content=b"reboot")
    assert bad.status_code == 400 and "valid_events" in bad.json()

    # An unknown host: 404, naming the known ones; nothing published for it.
    for path in ("status", "resources/current", "containers", "decisions"):
        missing = http.get(f"/api/v1/hosts/nowhere/{path}")
        assert missing.status_code == 404
        assert "nowhere" in missing.json()["error"] and a in missing.json()["error"]
    assert (
        http.post("/api/v1/hosts/nowhere/trigger", json={"event": "media_start"}).status_code == 404
    )
    assert http.get("/api/v1/stream", params={"host": "nowhere"}).status_code == 404
    assert probe.messages("warden/nowhere/trigger") == []

    # A payload that names another host than its topic's is dropped: no host made of it,
    # and the host it names keeps its own numbers.
    liar = f"{host_id}-liar"
    fake = ResourcesFact(host=a, machine=HostUsage(cpu_count=1, cpu_percent=99.0))
    probe.publish(f"warden/{liar}/sensors/resources", fake.model_dump_json(), retain=True)
    probe.publish(f"warden/{liar}/sensors/resources", b"{not json", retain=True)
    probe.publish(f"warden/{host_id}-c/sensors/pressure", b"{not json", retain=True)
    spaced = f"{host_id} spaced"  # a topic level, but no host id
    odd = ResourcesFact(host=spaced, machine=HostUsage(cpu_count=1))
    probe.publish(f"warden/{spaced}/sensors/resources", odd.model_dump_json())
    probe.publish(f"warden/{a}/governor/availability", "online", retain=True)  # a marker
    wait_until(lambda: summary()[a]["services"] == {"governor": "online"}, what="marker")
    assert not {liar, f"{host_id}-c", spaced} & set(summary())
    assert http.get(f"/api/v1/hosts/{a}/resources/current").json()["cpu_percent"] == 37.5
    probe.publish(f"warden/{liar}/sensors/resources", b"", retain=True)
    probe.publish(f"warden/{host_id}-c/sensors/pressure", b"", retain=True)

    # Host B's bridge's last will: B is gone, though its services' retained "online" stays.
    probe.publish(f"warden/{b}/governor/availability", "online", retain=True)
    probe.publish(f"warden/{b}/bridge/availability", "0", retain=True)
    wait_until(lambda: summary()[b]["online"] is False, what="B shown gone")
    assert summary()[b]["bridge"] == "down" and summary()[b]["services"] == {"governor": "online"}
    assert summary()[a]["online"] is True
    # Its last state stays readable, for whoever wants to know what it was doing.
    assert http.get(f"/api/v1/hosts/{b}/status").json()["host"] == b


def test_the_own_host_is_listed_while_alone_or_heard_from() -> None:
    fleet = Fleet("centre", {"centre": View()})
    assert fleet.hosts() == ["centre"]  # a host's own broker: its page, before any message
    for host in ("b", "a"):
        view = fleet.learn(host)
        assert view is not None
        view.heard = True
    # A web service on a central broker is no Warden host: its empty card is left out.
    assert fleet.hosts() == ["a", "b"]
    fleet.views["centre"].heard = True
    assert fleet.hosts() == ["centre", "a", "b"]


def test_on_its_own_bridged_broker_a_host_is_online_by_its_services() -> None:
    """There the bridge's `0` says the link to the centre is down, not the host."""
    view = View(bridge="0", availability={"governor": "online"})
    uplink = host_summary(view, "nas", own=True, uplink=True)
    assert uplink.online is True and uplink.online_from == "services"
    assert uplink.bridge == "down"
    central = host_summary(view, "nas", own=False)
    assert central.online is False and central.online_from == "bridge"
