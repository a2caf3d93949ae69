"""The config reference: every key described, the documentation's table generated from it,
and ADRG's keys told apart from Warden's exactly as an ADRG config.yaml has them."""

from __future__ import annotations

import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel

import shared.config.model as model
from shared.config import reference
from shared.messages import events
from tests.support.processes import REPO

ADRG_TEMPLATE = Path(__file__).parent / "fixtures" / "adrg_config.yaml"


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def test_every_field_of_every_section_has_a_description() -> None:
    undescribed, seen = [], set()
    todo: list[type[BaseModel]] = [model.WardenConfig]
    while todo:
        section = todo.pop()
        if section in seen:
            continue
        seen.add(section)
        for name, field in section.model_fields.items():
            if not (field.description or "").strip():
                undescribed.append(f"{section.__name__}.{name}")
            todo.extend(_models(field.annotation))
    assert undescribed == []
    # The walk reached the sections inside lists and maps too.
    assert {model.Tier, model.ProcessGroup, model.HistoryTier} <= seen


def _leaf_keys(data: object, prefix: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            # A tier's number is the map's key, not a config key.
            level = "<n>" if isinstance(key, int) else str(key)
            yield from _leaf_keys(value, f"{prefix}{level}.")
    else:
        yield prefix.rstrip(".")


def test_adrg_keys_are_exactly_those_of_adrg_template() -> None:
    adrg = set(_leaf_keys(yaml.safe_load(ADRG_TEMPLATE.read_text())))
    # The map of tiers itself is ADRG's too; its rows are the tiers' keys.
    listed = {row.key for row in reference.rows() if row.origin == "ADRG"} - {"tiers"}
    assert listed == adrg


def test_table_rows_are_one_per_key_and_show_types_and_defaults() -> None:
    rows = {row.key: row for row in reference.rows()}
    assert len(rows) == len(list(reference.rows()))
    size = rows["actuator.min_memory_high"]
    assert (size.type, size.default) == ("size (`512M`, `1.5G`, bytes)", "`64M`")
    assert rows["tiers.<n>.cpu_weight"].type == "integer ≥ 1, ≤ 10000"
    assert rows["process_groups[].name"].default == "required"
    assert rows["host_id"].default == "hostname"
    assert rows["sensors.thermal.include"].default == '`["*"]`'
    assert rows["media_mode.webhook.token"].origin == "Warden"
    assert rows["media_mode.download_throttle.timeout_seconds"].origin == "Warden"
    # The preset's numbers in its description come from the presets themselves.
    assert "balanced (85 / 80 / 85, nice 10)" in rows["process_groups[].preset"].description


def test_module_prints_the_table_and_refuses_other_arguments() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "shared.config.reference", "--readme"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout == reference.readme_table()
    assert reference.main(["--acl"]) == 2


def test_config_model_still_exports_every_section_and_the_event_kinds() -> None:
    for name in model.__all__:
        assert getattr(model, name) is not None, name
    assert model.NotifyEvent is events.NotifyEvent
    assert set(typing.get_args(events.AdrgEvent)) == set(model.ADRG_NOTIFY_ON)
