"""What the benchmarks record of the machine they ran on.

Ratios against a baseline cancel most of a machine's speed, not all of it: the same code gave
an unchanged cycle (same body) 1.12–1.22× plain aiohttp on one 2-core VM and 0.94–1.18× on
another. The processor and its caches are recorded with every run so that figures are
compared with their machine in view.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """CPUs, Python, the processor's model and its caches (what Linux tells; else omitted)."""
    found: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    if model := cpu_model():
        found["cpu"] = model
    if caches := cpu_caches():
        found["caches"] = caches
    return found


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name" and value.strip():
            return value.strip()
    return None


def cpu_caches(cpu: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[str, str]:
    """The first CPU's caches, e.g. ``{"L1d": "32K", "L2": "1024K", "L3": "32768K"}``."""
    caches: dict[str, str] = {}
    for index in sorted(cpu.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        caches[f"L{level}{suffix}"] = size
    return caches
