"""fideslang data categories with their ENISA 2013 data type (DPC base) and ease of identification."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, cast, get_args

DataType = Literal["simple", "behavioural", "financial", "sensitive"]
#: ENISA 2013 base DPC score of each data type.
DPC_BASE: dict[DataType, int] = {"simple": 1, "behavioural": 2, "financial": 3, "sensitive": 4}
EI_VALUES = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True, slots=True)
class Category:
    key: str  # the listed fideslang key this rating comes from
    label: str
    data_type: DataType
    ei: float

    @property
    def dpc_base(self) -> int:
        return DPC_BASE[self.data_type]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: str
    categories: dict[str, Category]

    def lookup(self, key: str) -> Category | None:
        """The rating of `key`, or of its nearest listed parent; None when nothing fits."""
        parts = key.split(".")
        while parts:
            found = self.categories.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None

    def label(self, key: str) -> str:
        found = self.lookup(key)
        if found is None:
            return key
        if found.key == key:
            return found.label
        return f"{found.label} ({key.rsplit('.', 1)[-1].replace('_', ' ')})"


def parse_taxonomy(text: str, source: str = "<categories>") -> Taxonomy:
    """Parse a categories file; ValueError names the file, the key and what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    version = data.get("version")
    table = data.get("categories")
    if not isinstance(version, str) or not isinstance(table, dict) or not table:
        raise ValueError(f"{source}: needs version = \"...\" and [categories.\"user....\"] tables")
    out: dict[str, Category] = {}
    for key, entry in table.items():
        where = f"{source}: categories.{key}"
        if not key.startswith("user") or not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a table under a fideslang user.* key")
        label, data_type, ei = entry.get("label"), entry.get("dpc"), entry.get("ei")
        if not isinstance(label, str) or not label:
            raise ValueError(f"{where}.label: must be a non-empty string")
        if data_type not in get_args(DataType):
            raise ValueError(f"{where}.dpc: {data_type!r} is not one of {', '.join(get_args(DataType))}")
        if not isinstance(ei, int | float) or float(ei) not in EI_VALUES:
            raise ValueError(f"{where}.ei: {ei!r} is not one of {', '.join(map(str, EI_VALUES))}")
        out[key] = Category(key, label, cast(DataType, data_type), float(ei))
    return Taxonomy(version, out)


@cache
def packaged_taxonomy() -> Taxonomy:
    text = resources.files("scrapeguard.compliance").joinpath("categories.toml").read_text("utf-8")
    return parse_taxonomy(text, "categories.toml")
