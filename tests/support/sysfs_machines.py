"""sysfs trees laid out as real machines have them: thermal zones, hwmon chips, their devices."""

from __future__ import annotations

from pathlib import Path


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def device_link(root: Path, hwmon: str, device: str) -> None:
    """hwmonN/device is a symlink to the device it measures, as in sysfs."""
    (root / "devices" / device).mkdir(parents=True, exist_ok=True)
    (root / "class" / "hwmon" / hwmon / "device").symlink_to(root / "devices" / device)


def intel_desktop(root: Path) -> Path:
    """An Intel desktop: ACPI and package zones, coretemp, one NVMe drive."""
    write(
        root,
        {
            "class/thermal/thermal_zone0/type": "acpitz\n",
            "class/thermal/thermal_zone0/temp": "27800\n",
            "class/thermal/thermal_zone1/type": "x86_pkg_temp\n",
            "class/thermal/thermal_zone1/temp": "45000\n",
            # cooling devices sit beside the zones and are not sensors
            "class/thermal/cooling_device0/type": "Processor\n",
            "class/hwmon/hwmon0/name": "acpitz\n",
            "class/hwmon/hwmon0/temp1_input": "27800\n",
            "class/hwmon/hwmon1/name": "coretemp\n",
            "class/hwmon/hwmon1/temp1_label": "Package id 0\n",
            "class/hwmon/hwmon1/temp1_input": "45000\n",
            "class/hwmon/hwmon1/temp1_crit": "100000\n",
            "class/hwmon/hwmon1/temp2_label": "Core 0\n",
            "class/hwmon/hwmon1/temp2_input": "43000\n",
            "class/hwmon/hwmon1/temp3_label": "Core 1\n",
            "class/hwmon/hwmon1/temp3_input": "44000\n",
            "class/hwmon/hwmon2/name": "nvme\n",
            "class/hwmon/hwmon2/temp1_label": "Composite\n",
            "class/hwmon/hwmon2/temp1_input": "38850\n",
            "class/hwmon/hwmon2/temp2_label": "Sensor 1\n",
            "class/hwmon/hwmon2/temp2_input": "38850\n",
        },
    )
    device_link(root, "hwmon1", "coretemp.0")
    device_link(root, "hwmon2", "nvme0")
    return root


def amd_nas(root: Path) -> Path:
    """A Ryzen NAS: no thermal zones at all, k10temp, two NVMe drives, a SATA disk (drivetemp)."""
    write(
        root,
        {
            "class/thermal/.keep": "",
            "class/hwmon/hwmon0/name": "k10temp\n",
            "class/hwmon/hwmon0/temp1_label": "Tctl\n",
            "class/hwmon/hwmon0/temp1_input": "52250\n",
            "class/hwmon/hwmon0/temp3_label": "Tccd1\n",
            "class/hwmon/hwmon0/temp3_input": "48000\n",
            "class/hwmon/hwmon1/name": "nvme\n",
            "class/hwmon/hwmon1/temp1_label": "Composite\n",
            "class/hwmon/hwmon1/temp1_input": "41850\n",
            "class/hwmon/hwmon2/name": "nvme\n",
            "class/hwmon/hwmon2/temp1_label": "Composite\n",
            "class/hwmon/hwmon2/temp1_input": "35850\n",
            "class/hwmon/hwmon3/name": "drivetemp\n",
            "class/hwmon/hwmon3/temp1_input": "34000\n",
            "class/hwmon/hwmon10/name": "nct6798\n",
            "class/hwmon/hwmon10/temp1_label": "SYSTIN\n",
            "class/hwmon/hwmon10/temp1_input": "31000\n",
        },
    )
    device_link(root, "hwmon1", "nvme0")
    device_link(root, "hwmon2", "nvme1")
    device_link(root, "hwmon3", "0:0:0:0")
    return root


def raspberry_pi(root: Path) -> Path:
    """A Raspberry Pi 4: one zone; its hwmon keeps name and temp under device/ (older layout)."""
    return write(
        root,
        {
            "class/thermal/thermal_zone0/type": "cpu-thermal\n",
            "class/thermal/thermal_zone0/temp": "48686\n",
            "class/hwmon/hwmon0/device/name": "cpu_thermal\n",
            "class/hwmon/hwmon0/device/temp1_input": "48686\n",
        },
    )
