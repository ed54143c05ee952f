"""How every benchmark hands back its figures: JSON on stdout, and to --out when given."""
from __future__ import annotations

import json
from pathlib import Path


def emit_json(report: dict, out: str | None) -> None:
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
