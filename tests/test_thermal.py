"""Thermal zones and hwmon sensors, on sysfs trees laid out as real machines have them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.sensors.thermal import (
    RawSensor,
    SensorValueError,
    parse_millidegrees,
    read_thermal,
    selected,
    thermal_fact,
    unique_names,
)
from shared.messages import ThermalFact
from tests.support.sysfs_machines import amd_nas, intel_desktop, raspberry_pi, write


def names(fact: ThermalFact) -> dict[str, float | None]:
    return {s.name: s.celsius for s in fact.sensors}


def test_intel_desktop(tmp_path: Path) -> None:
    fact = read_thermal("nas", intel_desktop(tmp_path), ["*"], [])
    assert names(fact) == {
        "zone/acpitz": 27.8,
        "zone/x86_pkg_temp": 45.0,
        "acpitz/temp1": 27.8,
        "coretemp/Package id 0": 45.0,
        "coretemp/Core 0": 43.0,
        "coretemp/Core 1": 44.0,
        "nvme/Composite": 38.85,
        "nvme/Sensor 1": 38.85,
    }
    assert fact.available and fact.max_celsius == 45.0
    assert fact.hottest in ("zone/x86_pkg_temp", "coretemp/Package id 0")
    assert fact.reason is None
    package = next(s for s in fact.sensors if s.name == "coretemp/Package id 0")
    assert package.source == str(tmp_path / "class/hwmon/hwmon1/temp1_input")


def test_selection_by_include_and_exclude(tmp_path: Path) -> None:
    fact = read_thermal("nas", intel_desktop(tmp_path), ["coretemp/*"], ["*/Package*"])
    assert fact.hottest == "coretemp/Core 1" and fact.max_celsius == 44.0
    chosen = {s.name for s in fact.sensors if s.selected}
    assert chosen == {"coretemp/Core 0", "coretemp/Core 1"}
    # Sensors not selected are still reported, so a user can see what there is to pick.
    assert len(fact.sensors) == 8


def test_amd_nas_names_repeated_chips_by_device(tmp_path: Path) -> None:
    fact = read_thermal("nas", amd_nas(tmp_path), ["*"], ["k10temp/Tctl"])
    assert names(fact) == {
        "k10temp/Tctl": 52.25,
        "k10temp/Tccd1": 48.0,
        "nvme@nvme0/Composite": 41.85,
        "nvme@nvme1/Composite": 35.85,
        "drivetemp/temp1": 34.0,
        "nct6798/SYSTIN": 31.0,
    }
    # Tctl carries an offset on some Ryzens, so users exclude it: Tccd1 is the hottest left.
    assert fact.hottest == "k10temp/Tccd1" and fact.max_celsius == 48.0


def test_raspberry_pi_older_hwmon_layout(tmp_path: Path) -> None:
    fact = read_thermal("pi", raspberry_pi(tmp_path), ["*"], [])
    assert names(fact) == {"zone/cpu-thermal": 48.686, "cpu_thermal/temp1": 48.686}


def test_no_sensors_is_none_available_not_zero(tmp_path: Path) -> None:
    fact = read_thermal("vm", tmp_path, ["*"], [])
    assert not fact.available and fact.max_celsius is None and fact.hottest is None
    assert fact.reason is not None and fact.reason.startswith("none available: no thermal zones")


def test_nothing_selected_says_so(tmp_path: Path) -> None:
    fact = read_thermal("nas", intel_desktop(tmp_path), ["gpu/*"], [])
    assert not fact.available and fact.max_celsius is None
    assert fact.reason is not None and "none selected" in fact.reason


def test_unreadable_and_garbage_values_are_unknown_with_the_reason(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "class/hwmon/hwmon0/name": "drivetemp\n",
            "class/hwmon/hwmon0/temp1_input": "not-a-number\n",
            "class/hwmon/hwmon1/name": "nvme\n",
            # disconnected probes report absurd values; they must not become the maximum
            "class/hwmon/hwmon1/temp1_input": "250000\n",
        },
    )
    # A sensor whose read fails (EIO from a sleeping disk) appears with the error.
    (tmp_path / "class/thermal/thermal_zone0/temp").mkdir(parents=True)
    (tmp_path / "class/thermal/thermal_zone0/type").write_text("acpitz\n")
    fact = read_thermal("nas", tmp_path, ["*"], [])
    assert not fact.available and fact.max_celsius is None
    assert names(fact) == {"zone/acpitz": None, "drivetemp/temp1": None, "nvme/temp1": None}
    errors = {s.name: s.error or "" for s in fact.sensors}
    assert "not an integer millidegree" in errors["drivetemp/temp1"]
    assert "outside" in errors["nvme/temp1"]
    assert "thermal_zone0/temp" in errors["zone/acpitz"]
    assert fact.reason is not None and "unreadable" in fact.reason


@pytest.mark.parametrize(
    ("text", "celsius"),
    [("45000\n", 45.0), ("-5000", -5.0), ("38850", 38.85), ("0", 0.0), ("200000", 200.0)],
)
def test_millidegrees(text: str, celsius: float) -> None:
    assert parse_millidegrees(text, "t") == celsius


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not an integer"),
        ("45.0", "not an integer"),
        ("abc", "not an integer"),
        ("-128000", "outside"),  # a "no sensor" marker
        ("255000", "outside"),
    ],
)
def test_bad_millidegrees(text: str, why: str) -> None:
    with pytest.raises(SensorValueError, match=why):
        parse_millidegrees(text, "t")


@pytest.mark.parametrize(
    ("name", "include", "exclude", "chosen"),
    [
        ("coretemp/Core 0", ["*"], [], True),
        ("coretemp/Core 0", ["coretemp/*"], [], True),
        ("coretemp/Core 0", ["k10temp/*"], [], False),
        ("coretemp/Core 0", ["*"], ["coretemp/*"], False),
        ("zone/acpitz", [], [], False),
        ("nvme@nvme1/Composite", ["nvme*"], [], True),
        ("Coretemp/Core 0", ["coretemp/*"], [], False),  # case matters, as in sysfs
    ],
)
def test_selection_table(name: str, include: list[str], exclude: list[str], chosen: bool) -> None:
    assert selected(name, include, exclude) is chosen


def test_unique_names() -> None:
    assert unique_names([("nvme", "nvme0"), ("nvme", "nvme1"), ("k10temp", "x")]) == [
        "nvme@nvme0",
        "nvme@nvme1",
        "k10temp",
    ]


def test_thermal_fact_hottest_ignores_unknowns() -> None:
    raw = [
        RawSensor("a/x", "/a", None, "a: EIO"),
        RawSensor("b/y", "/b", "61000", None),
        RawSensor("c/z", "/c", "59000", None),
    ]
    fact = thermal_fact("h", raw, ["*"], [], "/sys/class")
    assert fact.hottest == "b/y" and fact.max_celsius == 61.0


def test_this_machines_real_sysfs() -> None:
    fact = read_thermal("here", "/sys", ["*"], [])
    if fact.available:
        assert fact.max_celsius is not None and fact.hottest is not None
    else:
        assert fact.max_celsius is None and fact.reason and fact.reason.startswith("none available")
