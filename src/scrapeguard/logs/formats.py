"""Access log formats: `combined`, `common`, JSON lines, or any nginx `log_format` string.

A format turns one line of text into a LogRecord, or raises BadLine with the
reason. An nginx-style format string (`$remote_addr - $remote_user
[$time_local] "$request" ...`) is compiled into one regular expression: each
variable becomes a named group, quoted variables may hold escaped quotes.
Which variable names the session (e.g. `cookie_sid`) and which the account
(e.g. `remote_user`) is the caller's choice.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"')
COMMON = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
NAMED_FORMATS = {"combined": COMBINED, "common": COMMON}

#: JSON field names used unless the caller maps others (ScrapeGuard name -> JSON key).
DEFAULT_JSON_FIELDS = {
    "time": "time", "ip": "remote_addr", "method": "method", "path": "path", "status": "status",
    "user_agent": "user_agent", "session": "session", "account": "account", "request": "request",
    "referer": "referer",
}


class BadLine(ValueError):
    """A line the format cannot read: `reason` (a category, counted) and `detail`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(slots=True)
class LogRecord:
    ts: float
    ip: str | None
    method: str
    path: str
    query: str
    status: int | None
    user_agent: str
    session: str | None = None
    account: str | None = None
    referer: str = ""
    #: The client field held something that is not an IP address (then `ip` is None).
    invalid_ip: bool = False


# -- time ------------------------------------------------------------------------------


MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


@lru_cache(maxsize=1024)
def _day_start(day: str, zone: str) -> float:
    """Epoch seconds of midnight of "17/May/2015" in zone "+0200"."""
    parsed = datetime.strptime(f"{day} {zone}", "%d/%b/%Y %z")
    if day[3:6] not in MONTHS:  # strptime accepts what the locale says; logs are in English
        raise ValueError(day)
    return parsed.timestamp()


def _parse_time_local(text: str) -> float:
    # "17/May/2015:10:05:03 +0000": the day is parsed once (cached), the clock time by hand
    day, clock, zone = text[:11], text[12:20], text[21:]
    digits = clock.replace(":", "")
    if text[11] != ":" or clock[2] != ":" or clock[5] != ":" or not (digits.isascii() and digits.isdigit()):
        raise ValueError(text)
    hours, minutes, seconds = int(clock[:2]), int(clock[3:5]), int(clock[6:8])
    if hours > 23 or minutes > 59 or seconds > 60:
        raise ValueError(text)
    return _day_start(day, zone) + hours * 3600 + minutes * 60 + seconds


#: Epoch seconds: ASCII digits with an optional fraction (no signs, exponents, inf or nan).
EPOCH = re.compile(r"[0-9]{1,12}(?:\.[0-9]*)?")
#: Latest epoch time accepted (the year 9999, as for ISO 8601 times).
MAX_EPOCH = 253402300799.0


def parse_time(text: str) -> float:
    """time_local ("10/Oct/2000:13:55:36 -0700"), ISO 8601, or epoch seconds."""
    text = text.strip()
    try:
        if len(text) > 20 and text[2] == "/":
            return _parse_time_local(text)
        if EPOCH.fullmatch(text):
            value = float(text)
            if not math.isfinite(value) or value > MAX_EPOCH:
                raise ValueError(text)
            return value
        return _parse_iso(text)
    except (ValueError, IndexError, OverflowError) as exc:
        raise BadLine("unreadable time", repr(text[:40])) from exc


@lru_cache(maxsize=4096)
def _parse_iso(text: str) -> float:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time without a zone")
    return value.timestamp()


def split_request(request: str) -> tuple[str, str, str]:
    """'GET /u/anna?x=1 HTTP/1.1' -> ('GET', '/u/anna', 'x=1'); the path is percent-decoded."""
    parts = request.split(" ")
    if len(parts) < 2 or not parts[0].isalpha():
        raise BadLine("unreadable request", repr(request[:60]))
    method, target = parts[0].upper(), parts[1]
    path, _, query = target.partition("?")
    if path.startswith(("http://", "https://")):  # absolute-form target
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    return method, unquote(path, errors="replace"), query


def _none_if_dash(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in ("", "-") else value


INVALID = "<invalid>"


def _client_ip(value: str | None) -> str | None:
    """The address in a client field ("10.0.0.13:40000", "[2001:db8::1]:443"), or INVALID if it is none."""
    value = _none_if_dash(value)
    if value is None:
        return None
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value if _is_ip(value) else INVALID


@lru_cache(maxsize=65536)
def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# -- nginx-style format strings ----------------------------------------------------------------


#: A variable: `$name` or `${name}`, names as nginx spells them (ASCII letters, digits, "_").
VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
KNOWN = {
    "remote_addr", "remote_user", "time_local", "time_iso8601", "msec", "request", "status",
    "body_bytes_sent", "bytes_sent", "http_referer", "http_user_agent", "http_x_forwarded_for",
    "request_time", "request_method", "request_uri", "uri", "args", "query_string", "host",
    "server_protocol", "request_length", "upstream_response_time", "upstream_addr", "http_host",
    "scheme", "server_name", "remote_port", "connection", "pipe",
}


#: A quoted value: anything but quotes, or backslash-escaped characters ("unrolled" for speed).
QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'


class FormatError(ValueError):
    """A log format string that cannot be used."""


_SPECIAL = frozenset("()[]{}?*+-|^$\\.&~# ")
_WHITESPACE = {"\t": r"\t", "\n": r"\n", "\r": r"\r", "\v": r"\v", "\f": r"\f"}


def _escape(literal: str) -> str:
    """`re.escape` in a spelling that Python's `re` and Rust's `regex` (Polars) read alike."""
    return "".join("\\" + c if c in _SPECIAL else _WHITESPACE.get(c, c) for c in literal)


class NginxFormat:
    """A compiled log_format string."""

    def __init__(self, fmt: str, session_var: str | None = None, account_var: str | None = None) -> None:
        self.fmt = fmt
        self.session_var = session_var.lstrip("$") if session_var else None
        self.account_var = account_var.lstrip("$") if account_var else None
        pattern, self.variables = self._compile(fmt)
        #: The regular expression, readable by Python's `re` and by Polars (`logs/scanning.py`).
        self.pattern = pattern
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:  # pragma: no cover - _compile only emits valid names
            raise FormatError(f"the format cannot be compiled: {exc}") from exc
        names = set(self.variables)
        if not names & {"remote_addr", "http_x_forwarded_for"} and not (
                self.session_var in names or self.account_var in names):
            raise FormatError("the format names no client: it needs $remote_addr (or "
                              "$http_x_forwarded_for), or a session or account variable")
        if not names & {"time_local", "time_iso8601", "msec"}:
            raise FormatError("the format needs a time: $time_local, $time_iso8601 or $msec")
        if "request" not in names and "request_uri" not in names and "uri" not in names:
            raise FormatError("the format needs the request: $request, $request_uri or $uri")
        for option, var in (("session", self.session_var), ("account", self.account_var)):
            if var is not None and var not in names:
                raise FormatError(f"the {option} variable ${var} is not in the format")

    def pattern_capturing(self, names: set[str]) -> str:
        """The same expression with only the variables in `names` captured (fewer groups, faster)."""
        return self._compile(self.fmt, names)[0]

    @staticmethod
    def _compile(fmt: str, capturing: set[str] | None = None) -> tuple[str, list[str]]:
        out = ["^"]
        variables: list[str] = []
        pos = 0
        for m in VARIABLE.finditer(fmt):
            name = m.group(1) or m.group(2)
            literal = fmt[pos : m.start()]
            _check_literal(literal, pos)
            out.append(_escape(literal))
            quoted = literal.endswith('"')
            group = f"?P<{name}>" if capturing is None or name in capturing else "?:"
            if name in variables:
                out.append(QUOTED if quoted else r"\S*")  # a repeated variable is matched but read once
            elif name == "time_local":
                out.append(f"({group}[^\\]]+)" if literal.endswith("[") else f"({group}\\S+ \\S+)")
            elif quoted:
                out.append(f"({group}{QUOTED})")
            elif name == "request":
                out.append(f"({group}\\S+ \\S+(?: \\S+)?)")
            else:
                out.append(f"({group}\\S*)")
            if name not in variables:
                variables.append(name)
            pos = m.end()
        _check_literal(fmt[pos:], pos)
        out.append(_escape(fmt[pos:].rstrip()) + r"\s*$")
        if not variables:
            raise FormatError("the format has no $variables")
        return "".join(out), variables

    def parse(self, line: str) -> LogRecord:
        m = self.regex.match(line)
        if m is None:
            raise BadLine("does not match the log format")
        v = m.groupdict()
        return _record(v, self.session_var, self.account_var)


def _check_literal(literal: str, offset: int) -> None:
    """A "$" between variables that starts no valid variable name is a mistake, not text to match."""
    index = literal.find("$")
    if index >= 0:
        bad = re.match(r"\$\{?[^\s\"'\[\]]*", literal[index:])
        shown = bad.group(0) if bad else "$"
        raise FormatError(f"{shown!r} at column {offset + index + 1} is not a variable: names are "
                          "letters, digits and _ and start with a letter or _ (e.g. $remote_addr, "
                          "${cookie_sid})")


#: A run of \\xHH escapes (the bytes of one or more characters), or a backslash and the character it escapes.
_ESCAPED = re.compile(r"((?:\\x[0-9a-fA-F]{2})+)|\\(.)")


def _unescape(value: str) -> str:
    r"""A logged value as it was sent: nginx writes `"`, `\` and every byte below 32 or above 126 as
    \xHH, so a run of them is bytes, decoded as UTF-8 ("\xC3\xA9" is "é", not "Ã©")."""
    if "\\" not in value:
        return value
    return _ESCAPED.sub(_unescaped, value)


def _unescaped(m: re.Match[str]) -> str:
    if m.group(1):
        run = m.group(1)
        return bytes(int(run[i + 2 : i + 4], 16) for i in range(0, len(run), 4)).decode("utf-8", "replace")
    return m.group(2)


def _record(v: dict[str, Any], session_var: str | None, account_var: str | None) -> LogRecord:
    if v.get("time_local"):
        ts = parse_time(v["time_local"])
    elif v.get("time_iso8601"):
        ts = parse_time(v["time_iso8601"])
    elif v.get("msec"):
        ts = parse_time(v["msec"])
    else:
        raise BadLine("no time")
    method, path, query = request_of(v)
    status = status_of(v.get("status"))
    ip, invalid_ip = client_of(v.get("remote_addr"), v.get("http_x_forwarded_for"))
    session = optional_text(v.get(session_var)) if session_var else None
    account = optional_text(v.get(account_var)) if account_var else None
    return LogRecord(ts=ts, ip=ip, method=method, path=path, query=query, status=status,
                     user_agent=user_agent_of(v.get("http_user_agent")), session=session, account=account,
                     referer=user_agent_of(v.get("http_referer")), invalid_ip=invalid_ip)


# The steps below are shared with the bulk reader (`logs/scanning.py`), which applies them to the
# distinct values of a column, so that both readers read every field the same way.


def request_of(v: dict[str, Any]) -> tuple[str, str, str]:
    """(method, decoded path, raw query) from $request, or from $request_uri/$uri and friends."""
    if v.get("request"):
        method, path, query = split_request(_unescape(v["request"]))
    else:
        target = v.get("request_uri") or v.get("uri") or ""
        if not target.startswith("/"):
            raise BadLine("unreadable request", repr(target[:60]))
        path, _, query = target.partition("?")
        path = unquote(path, errors="replace")
        query = query or v.get("args") or v.get("query_string") or ""
        method = (v.get("request_method") or "GET").upper()
    return method, path or "/", query


def status_of(status_text: str | None) -> int | None:
    if status_text in (None, "", "-"):
        return None
    assert status_text is not None
    if not (status_text.isascii() and status_text.isdigit()) or not 100 <= int(status_text) <= 599:
        raise BadLine("unreadable status", repr(status_text[:10]))
    return int(status_text)


def client_of(remote_addr: str | None, forwarded_for: str | None) -> tuple[str | None, bool]:
    """The client IP (the peer, else the first forwarded-for entry) and whether the field was not an IP."""
    ip = _client_ip(remote_addr)
    if ip is None and forwarded_for:
        ip = _client_ip(_unescape(forwarded_for).split(",")[0])
    if ip == INVALID:
        return None, True  # the actor is then its session or account, if the log has one
    return ip, False


def optional_text(value: str | None) -> str | None:
    """A session or account field: unescaped; empty or "-" means none."""
    return _none_if_dash(_unescape(value)) if value else None


def user_agent_of(value: str | None) -> str:
    """A user agent (or referer) field: unescaped; "-" means none (as nginx logs an absent header)."""
    ua = _unescape(value or "")
    return "" if ua == "-" else ua


# -- JSON lines ----------------------------------------------------------------------------


class JsonFormat:
    """One JSON object per line (a prefix before the first "{" — container log headers — is skipped).

    `fields` maps ScrapeGuard's names (time, ip, method, path, status,
    user_agent, session, account, request, referer) to the object's keys;
    dotted keys reach into nested objects.
    """

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        unknown = set(fields or {}) - set(DEFAULT_JSON_FIELDS)
        if unknown:
            raise FormatError(f"unknown JSON field name(s) {sorted(unknown)}; "
                              f"known: {', '.join(DEFAULT_JSON_FIELDS)}")
        self.fields = {**DEFAULT_JSON_FIELDS, **(fields or {})}

    def _get(self, obj: dict[str, Any], name: str) -> Any:
        node: Any = obj
        key = self.fields[name]
        if key in obj:
            return obj[key]
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def parse(self, line: str) -> LogRecord:
        start = line.find("{")
        if start < 0:
            raise BadLine("no JSON object on the line")
        try:
            obj = json.loads(line[start:])
        except json.JSONDecodeError as exc:
            raise BadLine("not JSON", f"{exc.msg} at column {exc.colno + start}") from exc
        except (ValueError, RecursionError) as exc:  # e.g. nesting too deep, numbers too long
            raise BadLine("not JSON", type(exc).__name__) from exc
        if not isinstance(obj, dict):
            raise BadLine("the JSON is not an object")
        time_value = self._get(obj, "time")
        if time_value is None:
            raise BadLine("no time field", repr(self.fields["time"]))
        values: dict[str, Any] = {
            "msec" if isinstance(time_value, int | float) else "time_iso8601": str(time_value),
            "remote_addr": _str(self._get(obj, "ip")),
            "status": _str(self._get(obj, "status")),
            # (JSON strings are unescaped already: their backslashes are kept from `_unescape`)
            "http_user_agent": _literal(self._get(obj, "user_agent")),
            "http_referer": _literal(self._get(obj, "referer")),
            "session": _literal(self._get(obj, "session")),
            "account": _literal(self._get(obj, "account")),
        }
        if isinstance(time_value, str) and len(time_value) > 20 and time_value[2] == "/":
            values["time_local"] = values.pop("time_iso8601")
        request = self._get(obj, "request")
        if request:
            values["request"] = _literal(request)
        else:
            values["request_uri"] = _str(self._get(obj, "path"))
            values["request_method"] = _str(self._get(obj, "method")) or "GET"
        return _record(values, "session", "account")


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _literal(value: Any) -> str:
    """A JSON value for a field `_record` unescapes as nginx escapes: its backslashes escaped, so
    that it reads back as it is (a user agent holding "\\x41" stays so, not "A")."""
    return _str(value).replace("\\", "\\\\")


LogFormat = NginxFormat | JsonFormat


def make_format(fmt: str, session_var: str | None = None, account_var: str | None = None,
                json_fields: dict[str, str] | None = None) -> LogFormat:
    """`combined`, `common`, `json`, or an nginx log_format string."""
    if fmt == "json":
        return JsonFormat(json_fields)
    if json_fields:
        raise FormatError("JSON field names apply to --format json only")
    if fmt not in NAMED_FORMATS and "$" not in fmt:
        raise FormatError(f"unknown log format {fmt!r}: use combined, common, json, "
                          "or an nginx log_format string with $variables")
    return NginxFormat(NAMED_FORMATS.get(fmt, fmt), session_var, account_var)
