"""How a table of the policy is declared, and the one reader that turns TOML into it.

A table is a frozen dataclass whose fields say, through `option(...)`, their
meaning, their TOML key when it differs from the field's name (a dotted key
reaches into a sub-table: `"new_account.max_age_days"`), and their bounds.
The field's Python type says what the value is: `bool`, `int`, `float`, `str`,
a `Literal` of strings, `tuple[...]` or `frozenset[...]` of those, an IP
network, another such dataclass (a sub-table, like `Quota`) or a tuple of them
(an array of tables). Cross-field rules are a `check()` method returning
`OptionProblem`s.

`@table("detectors.flood")`, put under `@dataclass`, reads that table of the
shipped `defaults.toml` into the fields' defaults: the file is the only source
of default values (a field it does not name is an error at import), and
`FloodOptions()` is the shipped defaults.

    @dataclass(frozen=True, slots=True)
    @table("detectors.flood")
    class FloodOptions:
        enabled: bool = option("Whether the detector runs.")
        pages: int = option("Distinct paths a client may ask for within pages_seconds.", lo=2)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, Protocol, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")

#: The key under which `option` keeps its Spec in a field's metadata.
SPEC = "scrapeguard.option"
#: The class attribute `@table` sets: the dotted name of the policy table.
TABLE = "__policy_table__"


@dataclass(frozen=True, slots=True)
class Spec:
    """What `option` says about a field."""

    doc: str
    key: str | None = None
    lo: float | None = None
    hi: float | None = None
    #: The lower bound itself is not allowed (value > lo).
    lo_open: bool = False
    #: A string that may be empty ("" means "not set").
    blank: bool = False
    #: A list that must not be empty.
    nonempty: bool = False
    #: Allowed values of a string (or of each string of a list), when no Literal says them.
    choices: tuple[str, ...] = ()
    #: For lists: what the items are, in words ("4xx/5xx statuses"), for the error message.
    items: str = ""
    #: Applied to the value read (e.g. days to seconds), defaults included.
    convert: Callable[[Any], Any] | None = None


def option(
    doc: str, *, key: str | None = None, lo: float | None = None, hi: float | None = None,
    lo_open: bool = False, blank: bool = False, nonempty: bool = False, choices: tuple[str, ...] = (),
    items: str = "", convert: Callable[[Any], Any] | None = None, default: Any = dataclasses.MISSING,
) -> Any:
    """A policy option: a dataclass field carrying its doc, TOML key and bounds. Give `default`
    only in value types such as `Quota` (what an absent key means); a table's defaults come from
    defaults.toml (`table`)."""
    spec = Spec(doc, key, lo, hi, lo_open, blank, nonempty, choices, items, convert)
    return dataclasses.field(default=default, metadata={SPEC: spec})


@dataclass(frozen=True, slots=True)
class OptionProblem:
    """A problem a table's `check()` finds: the field's key below the table (e.g. "per_day" or
    "trap_paths[2]"), what is wrong, what is allowed, and the other keys it compared (a problem is
    not reported when one of them is already invalid: one mistake, one message)."""

    key: str
    message: str
    allowed: str = ""
    compares: tuple[str, ...] = ()


class Problems(Protocol):
    """Where the reader reports: the policy loader (which adds file and line)."""

    invalid: set[str]

    def problem(self, key: str, message: str, allowed: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class OptionField:
    """One field of a table: its name, type, spec and (Python) default."""

    name: str
    hint: Any
    spec: Spec
    default: Any

    @property
    def key(self) -> str:
        return self.spec.key or self.name


# -- declaring -------------------------------------------------------------------------


def defaults_text() -> str:
    """The commented default policy, exactly as shipped."""
    return resources.files("scrapeguard.policy").joinpath("defaults.toml").read_text("utf-8")


@cache
def _defaults() -> Mapping[str, Any]:
    return tomllib.loads(defaults_text())


def defaults_table(dotted: str) -> dict[str, Any]:
    """A table of the shipped defaults (a copy)."""
    node: Any = _defaults()
    for part in dotted.split("."):
        node = node[part]
    return dict(node)


class _Strict:
    """Problems in the shipped defaults are a programming error: raised at once."""

    def __init__(self) -> None:
        self.invalid: set[str] = set()

    def problem(self, key: str, message: str, allowed: str = "") -> None:
        raise ValueError(f"defaults.toml: {key}: {message}" + (f" (allowed: {allowed})" if allowed else ""))


def table(dotted: str) -> Callable[[type[T]], type[T]]:
    """Class decorator, under `@dataclass`: the fields' defaults are table `dotted` of defaults.toml."""

    def fill(cls: type[T]) -> type[T]:
        hints = get_type_hints(cls)
        data = defaults_table(dotted)
        strict = _Strict()
        for name in cls.__annotations__:
            declared = cls.__dict__.get(name)
            if not isinstance(declared, dataclasses.Field) or SPEC not in declared.metadata:
                raise TypeError(f"{cls.__name__}.{name}: declare it with option(...)")
            spec = declared.metadata[SPEC]
            field = OptionField(name, hints[name], spec, dataclasses.MISSING)
            if _lookup(data, field.key) is _ABSENT:
                raise TypeError(f"{cls.__name__}.{name}: defaults.toml [{dotted}] has no {field.key}")
            declared.default = read_field(field, data, dotted, strict)
        setattr(cls, TABLE, dotted)
        return cls

    return fill


def table_name(cls: type) -> str:
    """The dotted policy table a `@table` class reads."""
    name = getattr(cls, TABLE, None)
    if not isinstance(name, str):
        raise TypeError(f"{cls.__name__} is not a policy table (@table)")
    return name


def option_fields(cls: type) -> tuple[OptionField, ...]:
    """The options of a table or value type, in order."""
    return _option_fields(cls)


@cache
def _option_fields(cls: type) -> tuple[OptionField, ...]:
    hints = get_type_hints(cls)
    return tuple(OptionField(f.name, hints[f.name], f.metadata.get(SPEC) or Spec(""), f.default)
                 for f in dataclasses.fields(cls))


# -- reading -----------------------------------------------------------------------------


class _Absent:
    pass


_ABSENT: Any = _Absent()


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def read(cls: type[T], data: Mapping[str, Any], dotted: str, problems: Problems) -> T:
    """An instance of `cls` from its table `data` (found at `dotted`), every problem reported."""
    values: dict[str, Any] = {}
    for field in option_fields(cls):
        if _lookup(data, field.key) is _ABSENT and field.default is not dataclasses.MISSING:
            continue  # a value type's optional key (Quota.per_week)
        values[field.name] = read_field(field, data, dotted, problems)
    instance = cls(**values)
    check: Callable[[], Iterator[OptionProblem]] | None = getattr(instance, "check", None)
    if check is not None:
        for found in check():
            keys = {f"{dotted}.{k}" for k in (found.key, *found.compares)}
            if not keys & problems.invalid:
                problems.problem(f"{dotted}.{found.key}", found.message, found.allowed)
    return instance


def read_field(field: OptionField, data: Mapping[str, Any], dotted: str, problems: Problems) -> Any:
    """One field's value from its table `data` (found at `dotted`; "" for the top level)."""
    key = f"{dotted}.{field.key}" if dotted else field.key
    value = _lookup(data, field.key)
    if value is _ABSENT:
        problems.problem(key, "is missing")
        value = None
    typed = _read_value(field.hint, field.spec, value, key, problems)
    return field.spec.convert(typed) if field.spec.convert is not None else typed


_IP_NETWORK = (ipaddress.IPv4Network, ipaddress.IPv6Network)
_CIDR = "CIDR like 192.0.2.0/24 or 2001:db8::/32, or a single address"


def _read_value(hint: Any, spec: Spec, value: Any, key: str, problems: Problems) -> Any:
    origin = get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            problems.problem(key, f"must be true or false, not {type_name(value)} {value!r}", "true, false")
            return False
        return value
    if hint is int or hint is float:
        return _read_number(value, spec, key, problems, integer=hint is int)
    if hint is str or origin is Literal:
        return _read_string(value, spec, key, problems, choices=get_args(hint) or spec.choices)
    if isinstance(hint, types.UnionType) and get_args(hint) == _IP_NETWORK:
        return _read_network(value, key, problems)
    if origin in (tuple, frozenset):
        return _read_list(get_args(hint)[0], origin, spec, value, key, problems)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            problems.problem(key, f"must be a table, not {type_name(value)}")
            value = {}
        return read(hint, value, key, problems)
    raise TypeError(f"{key}: no reader for {hint!r}")


def _read_number(value: Any, spec: Spec, key: str, problems: Problems, integer: bool) -> float:
    lo, hi = spec.lo, spec.hi
    kind = "a whole number" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    fallback = (int(lo) if integer else lo) if lo is not None else 0
    if isinstance(value, bool) or not ok_type:
        problems.problem(key, f"must be {kind}, not {type_name(value)} {value!r}", allowed_range(spec))
        return fallback
    if (lo is not None and (value < lo or (spec.lo_open and value == lo))) or (hi is not None and value > hi):
        problems.problem(key, f"{value!r} is out of range", allowed_range(spec))
        return fallback
    return int(value) if integer else float(value)


def _read_string(value: Any, spec: Spec, key: str, problems: Problems, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        problems.problem(key, f"must be a string, not {type_name(value)}", ", ".join(choices))
        return choices[0] if choices else ""
    if choices and value not in choices:
        problems.problem(key, f"{value!r} is not a valid value", ", ".join(repr(c) for c in choices))
        return choices[0]
    if not choices and not spec.blank and not value.strip():
        problems.problem(key, "must not be empty")
    return value


def _read_network(value: Any, key: str, problems: Problems) -> Any:
    try:
        return ipaddress.ip_network(value, strict=False)
    except (ValueError, TypeError):
        problems.problem(key, f"{value!r} is not an IP network", _CIDR)
        return ipaddress.ip_network("192.0.2.0/24")


def _read_list(item: Any, origin: Any, spec: Spec, value: Any, key: str, problems: Problems) -> Any:
    make = tuple if origin is tuple else frozenset
    if dataclasses.is_dataclass(item) and isinstance(item, type):
        return make(_read_tables(item, value, key, problems))
    if isinstance(item, types.UnionType) and get_args(item) == _IP_NETWORK:
        if not isinstance(value, list):
            problems.problem(key, f"must be a list of IP networks, not {type_name(value)}", _CIDR)
            return make()
        return make(_read_network(v, f"{key}[{i}]", problems) for i, v in enumerate(value))
    # a list of plain values is right or wrong as a whole: one problem, at the list's key
    item_spec = dataclasses.replace(spec, blank=True, convert=None)
    collected = _Collected()
    listed = value if isinstance(value, list) else []
    items = [_read_value(item, item_spec, v, key, collected) for v in listed]
    if not isinstance(value, list) or collected.found or (spec.nonempty and not value):
        what = spec.items or {int: "whole numbers", float: "numbers", str: "strings"}.get(item, "values")
        choices = get_args(item) or spec.choices
        allowed = ", ".join(choices) if choices else allowed_range(spec) if item in (int, float) \
            else '["..."]'
        shown = repr(value) if isinstance(value, list) else f"{type_name(value)} {value!r}"
        problems.problem(key, f"must be a {'non-empty ' if spec.nonempty else ''}list of {what}, not {shown}",
                         allowed)
        return make()
    return make(items)


def _read_tables(cls: type, value: Any, key: str, problems: Problems) -> list[Any]:
    """An array of tables ([[key]]), each read as `cls`."""
    if not isinstance(value, list):
        problems.problem(key, f"must be a list of tables ([[{key}]])")
        return []
    names = [f.key for f in option_fields(cls)]
    out: list[Any] = []
    for i, entry in enumerate(value):
        entry_key = f"{key}[{i}]"
        if not isinstance(entry, dict):
            problems.problem(entry_key, f"must be a table with {', '.join(names)}")
            continue
        for unknown in sorted(set(entry) - set(names)):
            problems.problem(f"{entry_key}.{unknown}", "unknown key", ", ".join(names))
        out.append(read(cls, entry, entry_key, problems))
    return out


class _Collected:
    """Problems of a list's items, gathered to be reported once for the whole list."""

    def __init__(self) -> None:
        self.invalid: set[str] = set()
        self.found = False

    def problem(self, key: str, message: str, allowed: str = "") -> None:
        self.found = True


def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def allowed_range(spec: Spec) -> str:
    lo, hi = spec.lo, spec.hi
    if lo is not None and hi is not None:
        return f"{lo} {'<' if spec.lo_open else '<='} value <= {hi}"
    if lo is not None:
        return f"value {'>' if spec.lo_open else '>='} {lo}"
    return ""
