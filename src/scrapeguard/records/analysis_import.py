"""What `scrapeguard analyze` writes, as exposure to import: its exposed-members CSV (one row per
flagged actor, member and route), or the folder of `analyze --out DIR`, which holds it.

The rows become the exposure import shape (`records.exposure.parse_exposure_import`), which
checks them like any other import.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from scrapeguard.records.errors import RecordsError

#: The file `analyze --out DIR` writes the exposed members to.
CSV_NAME = "exposed-members.csv"
#: Its columns (logs.report.CSV_COLUMNS) that the import needs.
NEEDED = ("actor", "member", "route", "categories", "first_seen", "last_seen", "responses")


def read_exposure_file(path: Path) -> Any:
    """An exposure file as the import shape: JSON as documented, or what `analyze` wrote."""
    if path.is_dir():
        inside = path / CSV_NAME
        if not inside.exists():
            raise RecordsError(f"{path} has no {CSV_NAME} (the folder of `scrapeguard analyze --out DIR`?)")
        return exposure_from_csv(inside)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RecordsError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RecordsError(f"{path} is not UTF-8 text") from exc
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordsError(f"{path} is not JSON: {exc}") from exc
        if isinstance(data, dict) and "exposed_members" in data and not isinstance(data.get("actors"), list):
            raise RecordsError(f"{path} is the summary of `scrapeguard analyze` (counts only): import "
                               f"{CSV_NAME} from the same folder (or the folder itself)")
        return data
    return exposure_from_csv(path, text)


def exposure_from_csv(path: Path, text: str | None = None) -> dict[str, Any]:
    """`analyze`'s exposed-members CSV -> {"actors": [{"actor", "exposure": [...]}]}."""
    if text is None:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise RecordsError(f"cannot read {path}: {exc.strerror}") from exc
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in NEEDED if c not in (reader.fieldnames or ())]
    if missing:
        raise RecordsError(f"{path} is neither JSON nor the CSV of `scrapeguard analyze` "
                           f"(missing columns: {', '.join(missing)})")
    actors: dict[str, list[dict[str, Any]]] = {}
    for number, row in enumerate(reader, 2):
        try:
            count = int(row["responses"])
        except (TypeError, ValueError) as exc:
            raise RecordsError(f"{path}, line {number}: responses {row['responses']!r} "
                               "is not a number") from exc
        actors.setdefault(row["actor"], []).append({
            "member": row["member"], "route": row["route"],
            "categories": [c for c in (row["categories"] or "").split(";") if c],
            "first": row["first_seen"], "last": row["last_seen"], "count": count})
    return {"actors": [{"actor": actor, "exposure": items} for actor, items in actors.items()]}
