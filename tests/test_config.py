"""The config: ADRG files load unchanged with the same meaning; bad files say file, key, reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.config import ConfigError, WardenConfig, load_config, parse_config
from shared.units import parse_size
from tests.support.processes import REPO
from tests.support.real import missing

FIXTURES = Path(__file__).parent / "fixtures"
SEED_README = REPO.parent / "shared" / "seeds" / "adrg-readme.txt"
GIB = 1024**3


@pytest.fixture(autouse=True)
def _no_adrg_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ADRG_MEDIA_API_KEY",
        "ADRG_QB_PASSWORD",
        "ADRG_NTFY_URL",
        "ADRG_NTFY_TOKEN",
        "ADRG_DISCORD_WEBHOOK_URL",
        "ADRG_GOTIFY_URL",
        "ADRG_GOTIFY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def test_adrg_template_loads_unchanged_with_adrg_meaning() -> None:
    loaded = load_config(FIXTURES / "adrg_config.yaml")
    cfg = loaded.config
    assert cfg.general.poll_interval_seconds == 5
    assert cfg.general.http_server.port == 8765
    assert [cfg.tiers[n].cpu_weight for n in range(4)] == [1000, 800, 100, 10]
    assert cfg.tiers[0].memory_high is None and cfg.tiers[0].memory_max is None
    assert cfg.tiers[1].memory_high == 3 * GIB
    assert cfg.tiers[2].memory_high == int(1.5 * GIB)
    assert cfg.tiers[3].memory_max == 3 * GIB
    assert cfg.media_mode.provider == "jellyfin" and cfg.media_mode.cooldown_seconds == 60
    assert cfg.media_mode.download_throttle.limit_mb_per_sec == 5
    assert (cfg.thermal.stage1_temp_c, cfg.thermal.recovery_hold_seconds) == (75, 30)
    assert cfg.memory_pressure.memory_high_reduction_factor == 0.75
    assert cfg.io_pressure.tier3_io_max_write_mb_per_sec == 2
    assert "memory_emergency_restart" in cfg.notifications.notify_on
    assert loaded.unset_variables == [
        "ADRG_DISCORD_WEBHOOK_URL",
        "ADRG_GOTIFY_TOKEN",
        "ADRG_GOTIFY_URL",
        "ADRG_MEDIA_API_KEY",
        "ADRG_NTFY_TOKEN",
        "ADRG_NTFY_URL",
        "ADRG_QB_PASSWORD",
    ]
    # Unset variables expand to nothing: no channel is configured.
    assert cfg.notifications.ntfy_url == ""


def test_an_empty_file_means_all_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("")
    cfg = load_config(path).config
    assert cfg.memory_pressure.some_avg10_threshold == 50
    assert cfg.mqtt.topic_root == "warden" and cfg.host_id


def _seed_yaml_blocks() -> list[str]:
    if not SEED_README.exists():
        missing(f"{SEED_README} is not beside this checkout")
    return re.findall(r"```yaml\n(.*?)```", SEED_README.read_text(), flags=re.S)


def test_every_yaml_example_in_the_adrg_readme_loads(tmp_path: Path) -> None:
    blocks = _seed_yaml_blocks()
    assert len(blocks) >= 3
    for number, block in enumerate(blocks):
        data = yaml.safe_load(block)
        cfg, _ = parse_config(data, tmp_path / f"block{number}.yaml", {})
        # Every section the block writes is taken as written, none left at its default.
        assert set(data) <= cfg.model_fields_set, number
    tiers_block = next(b for b in blocks if b.startswith("tiers:"))
    cfg, _ = parse_config(yaml.safe_load(tiers_block), tmp_path / "t.yaml", {})
    matcher = cfg.tier_matcher()
    assert matcher.tier_of("tdarr_node2") == 3
    assert matcher.tier_of("pihole") == 0 and matcher.is_protected("pihole")


def test_env_file_beside_the_config_fills_variables(tmp_path: Path) -> None:
    (tmp_path / "adrg.env").write_text(
        "# secrets\nADRG_NTFY_URL=http://ntfy.local/topic\nexport ADRG_NTFY_TOKEN='tk: #1'\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        'notifications:\n  ntfy_url: "${ADRG_NTFY_URL}"\n  ntfy_token: "${ADRG_NTFY_TOKEN}"\n'
    )
    loaded = load_config(path)
    assert loaded.env_file == tmp_path / "adrg.env"
    assert loaded.config.notifications.ntfy_url == "http://ntfy.local/topic"
    # A secret holding YAML syntax stays a plain string.
    assert loaded.config.notifications.ntfy_token == "tk: #1"


def test_process_environment_wins_over_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / "secrets.env"
    env.write_text("PORT=1884\n")
    path = tmp_path / "config.yaml"
    path.write_text("mqtt:\n  port: ${PORT}\n")
    assert load_config(path, env).config.mqtt.port == 1884
    monkeypatch.setenv("PORT", "1999")
    assert load_config(path, env).config.mqtt.port == 1999


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("tiers:\n  3:\n    cpu_weight: 0\n", "tiers.3.cpu_weight", "greater than or equal to 1"),
        ("tiers:\n  7:\n    name: x\n", "tiers.7.[key]", "less than or equal to 3"),
        ("tiers:\n  3:\n    memory_high: lots\n", "tiers.3.memory_high", "is not a size"),
        (
            "tiers:\n  2:\n    memory_high: 3G\n    memory_max: 2G\n",
            "tiers.2",
            "memory_high must not",
        ),
        (
            "memory_pressure:\n  some_avg10_treshold: 50\n",
            "memory_pressure.some_avg10_treshold",
            "Extra inputs are not permitted",
        ),
        (
            "protect:\n  io_yield_mb_per_sec: 0\n",
            "protect.io_yield_mb_per_sec",
            "greater than 0",
        ),
        ("media_mode:\n  provider: kodi\n", "media_mode.provider", "Input should be"),
        (
            "notifications:\n  notify_on: [media_mode_started]\n",
            "notifications.notify_on.0",
            "Input should be",
        ),
        ("thermal:\n  recovery_temp_c: 90\n", "thermal", "recovery_temp_c < stage1_temp_c"),
        ("host_id: my/host\n", "host_id", "one MQTT topic level"),
        ("mqtt:\n  topic_root: 'a/#'\n", "mqtt.topic_root", "without wildcards"),
        ("governor:\n  lease_seconds: 10\n  renew_seconds: 10\n", "governor", "shorter than lease"),
        ("- a\n- b\n", "", "top level must be a mapping"),
        ("tiers: [\n", "line 2, column 1", "invalid YAML"),
    ],
)
def test_bad_config_names_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert key in message and reason in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_bad_env_file_line_is_named(tmp_path: Path) -> None:
    env = tmp_path / "x.env"
    env.write_text("GOOD=1\nthis is not an assignment\n")
    path = tmp_path / "config.yaml"
    path.write_text("{}\n")
    with pytest.raises(ConfigError, match=r"x.env: line 2: expected KEY=VALUE"):
        load_config(path, env)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2G", 2 * GIB),
        ("1.5G", int(1.5 * GIB)),
        ("512M", 512 * 1024**2),
        ("512mb", 512 * 1024**2),
        (4096, 4096),
        ("64k", 65536),
        ("1T", 1024**4),
    ],
)
def test_sizes_read_as_adrg_reads_them(value: str | int, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "G", "-1G", "0", "two", True])
def test_bad_sizes_are_refused(value: str | bool) -> None:
    with pytest.raises(ValueError):
        parse_size(value)


@pytest.mark.parametrize("service", ["sensors", "governor", "actuator", "notifier", "web"])
def test_check_config_reports_and_starts_nothing(tmp_path: Path, service: str) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "tiers:\n  3:\n    containers: ['tdarr*']\nnotifications:\n  ntfy_url: ${NOPE_X}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}", "--config", str(good), "--check-config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{good}: OK" in done.stdout and "${NOPE_X} is set nowhere" in done.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers:\n  3:\n    io_weight: 20000\n")
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}", "--config", str(bad), "--check-config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{bad}: tiers.3.io_weight: Input should be less than or equal to 10000" in done.stderr


def test_a_service_refuses_to_start_on_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mqtt:\n  port: 99999\n")
    done = subprocess.run(
        [sys.executable, "-m", "services.governor", "--config", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "mqtt.port" in done.stderr


@pytest.mark.parametrize(
    ("media_mode", "extra", "watched"),
    [
        ({"enabled": True, "provider": "plex", "url": "http://p:32400"}, {}, True),
        # Media mode off: GPU sharing (on by default) still reads the server's sessions ...
        ({"enabled": False, "provider": "plex", "url": "http://p:32400"}, {}, True),
        # ... and so does stream-aware bandwidth;
        (
            {"enabled": False, "provider": "plex", "url": "http://p:32400"},
            {"gpu_share": {"enabled": False}, "bandwidth": {"upload_mbps": 40}},
            True,
        ),
        # with neither, the server is left alone.
        (
            {"enabled": False, "provider": "plex", "url": "http://p:32400"},
            {"gpu_share": {"enabled": False}},
            False,
        ),
        # No server to ask: webhooks alone, or no url.
        ({"enabled": True, "provider": "webhook"}, {}, False),
        ({"enabled": False, "provider": "plex"}, {}, False),
    ],
)
def test_the_sensors_ask_the_media_server_when_a_rule_reads_its_sessions(
    media_mode: dict[str, object], extra: dict[str, object], watched: bool
) -> None:
    cfg = WardenConfig.model_validate({"media_mode": media_mode, **extra})
    assert cfg.watches_streams is watched


@pytest.mark.parametrize(
    "section",
    [
        {"process_groups": [{"name": "enc", "match_name": ["ffmpeg"], "preset": "Conservative"}]},
        {
            "schedules": [
                {
                    "name": "cheap",
                    "windows": [{"start": "02:00", "end": "05:00"}],
                    "mode": "preset_inside",
                    "preset": "Aggressive",
                }
            ]
        },
        {"conditions": [{"name": "mover", "process": {"name": ["mover"]}, "preset": " BALANCED "}]},
    ],
)
def test_a_preset_is_named_in_any_case_wherever_the_config_takes_one(
    section: dict[str, list[dict[str, object]]],
) -> None:
    ((key, [entry]),) = section.items()
    cfg = WardenConfig.model_validate(section)
    assert getattr(cfg, key)[0].preset == str(entry["preset"]).strip().lower()
