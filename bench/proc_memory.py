"""Resident memory of a process as Linux reports it in /proc/PID/status (kB fields: VmRSS, VmHWM, ...)."""
from __future__ import annotations

from pathlib import Path


def status_kib(pid: int | str = "self") -> dict[str, int]:
    """Every kB field of /proc/PID/status, in KiB: VmRSS (resident now), VmHWM (its peak so far), ...
    OSError when the process has ended."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[name] = int(parts[0])
    return fields
