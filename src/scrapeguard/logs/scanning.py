"""Bulk reading of access logs for `analyze`: blocks of lines parsed by Polars into request rows.

The per-line Python parser (`formats.py`) manages some tens of thousands of
lines a second; analysis wants hundreds of thousands. Here the input is read
in blocks of whole lines (plain, gzip or standard input, so memory stays
bounded whatever the log's size). `combined` and `common` lines are split at
their quotes (`splitting.py`); other lines and formats go through the
format's own regular expression (`NginxFormat.pattern`) in Polars. Times,
statuses, plain requests and the route map are read in Polars; the fields
that need care (escapes, percent-encoded paths, query subjects, odd client
fields, times in other shapes) go through the very functions the Python
parser uses, for those rows only. Each block's rows go to a function of the
caller's in the parsing thread: `aggregates.py` reduces them for `analyze`,
`scan_logs` keeps them in Arrow IPC files. Bad lines are counted by the same
reasons as `reading.py`, with file and line number for the first few.
JSON lines are parsed by the Python parser, block by block (slower).
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from scrapeguard.logs.formats import (
    MAX_EPOCH,
    MONTHS,
    BadLine,
    JsonFormat,
    LogFormat,
    NginxFormat,
    client_of,
    optional_text,
    parse_time,
    request_of,
    user_agent_of,
)
from scrapeguard.logs.reading import MAX_LINE, BadLineSample, ReadStats
from scrapeguard.logs.splitting import QuoteSplit
from scrapeguard.routes import RouteMap

#: Bytes of input parsed at a time (whole lines): bounds memory, sets the progress bar's steps.
BLOCK = 16 * 1024 * 1024

#: "17/May/2015:10:05:03 +0200", the months in English as `formats.MONTHS` has them.
TIME_LOCAL_SHAPE = (
    r"^[0-9]{2}/(?:" + "|".join(MONTHS) + r")/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$"
)

#: Epoch seconds as `formats.EPOCH` reads them.
EPOCH_SHAPE = r"^[0-9]{1,12}(?:\.[0-9]*)?$"

#: A request `formats.split_request` would read as it is: ASCII method, a path with no "%" to decode.
PLAIN_REQUEST = r"^(?P<fast_method>[A-Za-z]+) (?P<fast_path>/[^ ?%]*)(?:\?[^ ]*)?(?: |$)"

#: A dotted-quad IPv4 address as `ipaddress` reads it (no leading zeros).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"

T = TypeVar("T")

#: What Python calls whitespace (`str.isspace`, `str.strip`, `re`'s \s): Rust's (Polars') leaves out
#: \x1c-\x1f, so Polars is given these characters by name.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

#: Blocks parsed at the same time.
WORKERS = 2

#: Bytes asked of the input at a time.
READ_STEP = 64 * 1024

#: Columns of the Arrow IPC files, one row per request.
SCHEMA = {
    "ts": pl.Float64,
    "ip": pl.String,
    "session": pl.String,
    "account": pl.String,
    "method": pl.String,
    "path": pl.String,
    "rule": pl.Int16,
    "subject": pl.String,
    "status": pl.Int16,
    "user_agent": pl.String,
}

#: Called with the bytes read so far (of the files on disk; of the compressed data for gzip).
Progress = Callable[[int], None]

#: Distinct values remembered between blocks before the caches are emptied (bounded memory).
CACHE_LIMIT = 200_000


@dataclass
class ScanResult:
    stats: ReadStats
    #: The Arrow IPC files written (one per block that had requests).
    parts: list[Path]

    def requests(self) -> pl.LazyFrame:
        if not self.parts:
            return pl.LazyFrame(schema=SCHEMA)
        return pl.scan_ipc(self.parts)


class _Reader:
    """Blocks of whole lines from one input; a truncated gzip ends the input, keeping what was read."""

    def __init__(self, path: str) -> None:
        self.source = "<stdin>" if path == "-" else path
        self.is_stdin = path == "-"
        # closed in close(): the reader outlives this method
        raw: Any = sys.stdin.buffer if self.is_stdin else Path(path).open("rb")  # noqa: SIM115
        if not hasattr(raw, "peek"):
            raw = io.BufferedReader(raw)
        self.raw: io.BufferedReader = raw
        gzipped = self.raw.peek(2)[:2] == b"\x1f\x8b"
        self.stream: gzip.GzipFile | io.BufferedReader = (
            gzip.GzipFile(fileobj=self.raw) if gzipped else self.raw
        )
        self.error: str | None = None

    def position(self) -> int:
        try:
            return 0 if self.is_stdin else self.raw.tell()
        except OSError:
            return 0

    def lines(self) -> Iterator[pl.Series]:
        """The input's lines, a block at a time (see `_lines`).

        A block is parsed where it was read, without copying it: its first line
        goes on from the previous block (that line is read apart), its last from
        the next one (that line is carried over).
        """
        carry = b""
        while True:
            data = self._read_block()
            if not data:
                if carry and self.error is None:  # a damaged file's cut-off last line is lost (as in reading)
                    yield _lines(carry)
                return
            first = data.find(b"\n")
            if first < 0:
                carry += data  # a line longer than a block: kept whole (it becomes a "line longer" bad line)
                if len(carry) > 4 * BLOCK:
                    yield _lines(carry)  # bounded: cut a pathological line-free input into separate lines
                    carry = b""
                continue
            last = data.rfind(b"\n")
            body = _lines(data, skip_first=bool(carry), cut_last=last < len(data) - 1)
            if carry:
                body = _lines(carry + data[: first + 1]).append(body)
            carry = data[last + 1 :]
            yield body

    def _read_block(self) -> bytes:
        """Up to BLOCK bytes; from gzip in small steps, so that a damaged gzip loses only its last step."""
        if self.stream is self.raw:
            try:
                return self.raw.read(BLOCK)
            except OSError as exc:
                self.error = str(exc) or type(exc).__name__
                return b""
        pieces: list[bytes] = []
        size = 0
        while size < BLOCK and self.error is None:
            try:
                piece = self.stream.read1(READ_STEP)
            except (OSError, EOFError) as exc:
                self.error = str(exc) or type(exc).__name__
                break
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        return b"".join(pieces)

    def close(self) -> None:
        if not self.is_stdin:
            self.stream.close()
            self.raw.close()


def _lines(block: bytes, skip_first: bool = False, cut_last: bool = False) -> pl.Series:
    """The block's lines, decoded as UTF-8 with replacement like `reading.py` (None for empty lines);
    without its first line if `skip_first`, without its last (unfinished) one if `cut_last`."""
    if b"\x00" not in block:
        frame = pl.read_csv(
            block,
            has_header=False,
            separator="\x00",
            quote_char=None,
            new_columns=["line"],
            encoding="utf8-lossy",
            truncate_ragged_lines=True,
            schema={"line": pl.String},
            comment_prefix=None,
            raise_if_empty=False,
            skip_rows=int(skip_first),
        )
        lines = frame.get_column("line")
        return lines.head(-1) if cut_last else lines
    text = block.decode("utf-8", errors="replace").split("\n")
    if text and text[-1] == "":
        text.pop()
    text = text[int(skip_first) : len(text) - int(cut_last)]
    return pl.Series("line", [t.rstrip("\r") or None for t in text], dtype=pl.String)


class _Cached:
    """A function of one hashable value, remembered (bounded) across blocks."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.memory: dict[Any, Any] = {}

    def __call__(self, key: Any) -> Any:
        try:
            return self.memory[key]
        except KeyError:
            if len(self.memory) >= CACHE_LIMIT:
                self.memory.clear()
            value = self.memory[key] = self.function(key)
            return value


class _NginxBlocks:
    """Turns blocks of lines into request rows for one nginx-style format."""

    TIME_VARS = ("time_local", "time_iso8601", "msec")
    FAST_COLUMNS = (
        ("method", pl.String),
        ("path", pl.String),
        ("rule", pl.Int16),
        ("subject", pl.String),
    )
    REQUEST_VARS = ("request", "request_uri", "uri", "args", "query_string", "request_method")

    def __init__(self, fmt: NginxFormat, routes: RouteMap) -> None:
        self.fmt = fmt
        self.routes = routes
        names = fmt.variables
        self.time_var = next(n for n in self.TIME_VARS if n in names)
        self.request_vars = [n for n in self.REQUEST_VARS if n in names]
        wanted = {
            self.time_var,
            *self.request_vars,
            "remote_addr",
            "http_x_forwarded_for",
            "status",
            "http_user_agent",
            fmt.session_var,
            fmt.account_var,
        }
        self.captured = [n for n in names if n in wanted]
        self.pattern = polars_pattern(fmt.pattern_capturing(set(self.captured)))
        self.quote_split = QuoteSplit.of(fmt, self.captured, MAX_LINE)
        self._request = _Cached(self._classify_request)
        self._client = _Cached(lambda pair: client_of(*pair))
        self._text = _Cached(optional_text)
        self._agent = _Cached(user_agent_of)

    def _classify_request(self, values: tuple[str | None, ...]) -> tuple[Any, ...]:
        try:
            method, path, query = request_of(dict(zip(self.request_vars, values, strict=True)))
        except BadLine as exc:
            return (exc.reason, None, None, None, None)
        rule, subject = self.routes.index_of(path, query)
        return (None, method, path, rule, subject)

    def parse(self, lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(request rows, bad rows with `n`, `line` and `reason`) for a frame with `n` and `line`."""
        fields = self._time_by_python(self._split(lines))
        reason = pl.col("reason")
        fields = fields.with_columns(
            pl.when(reason.is_null() & pl.col("ts").is_null())
            .then(pl.lit("unreadable time"))
            .otherwise(reason)
            .alias("reason")
        )
        fields = self._with_status(self._with_request(fields))
        bad = fields.filter(reason.is_not_null()).select("n", "reason")
        first = lines.get_column("n")[0] if lines.height else 0
        text = lines.get_column("line").gather(bad.get_column("n") - first)
        bad = bad.with_columns(text).select("n", "line", "reason")
        return self._rows(fields.filter(reason.is_null())), bad

    def _split(self, lines: pl.DataFrame) -> pl.DataFrame:
        """`n`, the captured variables (null where the line does not match the format), `ts` (null where
        the time is not in a shape read here) and `reason` (empty, too long, does not match)."""
        line = pl.col("line")
        reason = (
            pl.when(line.is_null() | (line.str.strip_chars(PY_WHITESPACE) == ""))
            .then(pl.lit("empty line"))
            .when(line.str.len_bytes() > MAX_LINE)
            .then(pl.lit(f"line longer than {MAX_LINE} bytes"))
            .when(pl.col(self.captured[0]).is_null())
            .then(pl.lit("does not match the log format"))
        )
        split = None
        if self.quote_split is not None:
            split, lines = self.quote_split.split(lines)
        matched = (
            lines.lazy()
            .with_columns(line.str.extract_groups(self.pattern).alias("m"))
            .unnest("m")
            .with_columns(self._time(), reason.alias("reason"))
            .drop("line")
            .collect()
        )
        if split is None:
            return matched
        # the split checked the time's shape: strptime's calendar check is what is left
        split = split.with_columns(_time_local(pl.col("time_local")), pl.lit(None, pl.String).alias("reason"))
        return pl.concat([split, matched])

    def _time(self) -> pl.Expr:
        """The usual shapes of the time, vectorised; anything else is left to `_time_by_python`."""
        text = pl.col(self.time_var).str.strip_chars(PY_WHITESPACE)
        if self.time_var == "time_local":
            # the shape `formats.parse_time` reads by hand, then the calendar check of strptime
            return _time_local(pl.when(text.str.contains(TIME_LOCAL_SHAPE)).then(text))
        if self.time_var == "time_iso8601":
            return pl.lit(None, pl.Float64).alias("ts")
        value = pl.when(text.str.contains(EPOCH_SHAPE)).then(text.cast(pl.Float64, strict=False))
        return pl.when(value <= MAX_EPOCH).then(value).alias("ts")

    def _time_by_python(self, fields: pl.DataFrame) -> pl.DataFrame:
        """`formats.parse_time` for the times the vectorised shapes did not read (few, in real logs)."""
        ts, text = fields.get_column("ts"), fields.get_column(self.time_var)
        if not ts.null_count():
            return fields
        return fields.with_columns(_patched(ts, text, ts.is_null() & text.is_not_null(), _python_time))

    def _with_request(self, fields: pl.DataFrame) -> pl.DataFrame:
        """Method, path, route rule and subject of each request, and the request's bad-line reason.

        Plain requests ("GET /u/anna HTTP/1.1": no escapes, nothing percent-encoded
        in the path, a route subject from the path) are read by Polars; the others
        go through `request_of` and the route map (remembered per distinct request).
        """
        fields = self._fast_requests(fields)
        index = (fields.get_column("reason").is_null() & ~fields.get_column("usable")).arg_true()
        names = ["reason", *[name for name, _ in self.FAST_COLUMNS]]
        columns = [fields.get_column(name if name == "reason" else f"{name}_fast") for name in names]
        if index.len():
            # these rows have neither a reason nor fast values yet
            requests = [fields.get_column(var).gather(index).to_list() for var in self.request_vars]
            classified = zip(*[self._request(key) for key in zip(*requests, strict=True)], strict=True)
            columns = [
                column.scatter(index, pl.Series(values, dtype=column.dtype))
                for column, values in zip(columns, classified, strict=True)
            ]
        fast = [f"{name}_fast" for name in names[1:]]
        return fields.with_columns(
            column.alias(name) for column, name in zip(columns, names, strict=True)
        ).drop(*fast, "usable")

    def _fast_requests(self, fields: pl.DataFrame) -> pl.DataFrame:
        """Columns *_fast, and `usable`: the request is plain and *_fast are its values (else Python's)."""
        if self.request_vars != ["request"]:
            return fields.with_columns(
                *[pl.lit(None, t).alias(f"{c}_fast") for c, t in self.FAST_COLUMNS],
                pl.lit(False).alias("usable"),
            )
        request = pl.col("request")
        parts = request.str.extract_groups(PLAIN_REQUEST)
        fields = fields.with_columns(parts.alias("parts")).unnest("parts")
        plain = pl.col("fast_method").is_not_null() & ~request.str.contains("\\", literal=True)
        path = pl.col("fast_path")
        matches, rule, subject, from_query = _route_of(path, self.routes)
        # subjects from the query: Python reads them
        usable = plain & ~pl.col("rule_fast").is_in(from_query).fill_null(False)
        # the *_fast values of a row that is not `usable` are never read: `_with_request` replaces them
        return (
            fields.with_columns(matches)
            .with_columns(rule.alias("rule_fast"))
            .with_columns(
                subject.alias("subject_fast"),
                usable.fill_null(False).alias("usable"),
                pl.col("fast_method").str.to_uppercase().alias("method_fast"),
                path.alias("path_fast"),
            )
            .drop("fast_method", "fast_path", *[m.meta.output_name() for m in matches])
        )

    def _with_status(self, fields: pl.DataFrame) -> pl.DataFrame:
        """`status_of`, vectorised: empty or "-" is no status, else 100..599."""
        if "status" not in self.captured:
            return fields.with_columns(pl.lit(None, pl.Int16).alias("status_code"))
        text = pl.col("status")
        blank = text.is_null() | text.is_in(["", "-"])
        number = pl.when(text.str.contains(r"^[0-9]+$")).then(text.cast(pl.Int64, strict=False))
        ok = number.is_between(100, 599).fill_null(False)
        return fields.with_columns(
            pl.when(ok).then(number).cast(pl.Int16).alias("status_code"),
            pl.when(pl.col("reason").is_null() & ~blank & ~ok)
            .then(pl.lit("unreadable status"))
            .otherwise(pl.col("reason"))
            .alias("reason"),
        )

    def _rows(self, good: pl.DataFrame) -> pl.DataFrame:
        ip, invalid = self._clients(good)
        return pl.DataFrame(
            {
                "ts": good.get_column("ts"),
                "ip": ip,
                "session": self._texts(good, self.fmt.session_var),
                "account": self._texts(good, self.fmt.account_var),
                "method": good.get_column("method"),
                "path": good.get_column("path"),
                "rule": good.get_column("rule"),
                "subject": good.get_column("subject"),
                "status": good.get_column("status_code"),
                "user_agent": self._agents(good),
                "invalid_ip": invalid,
            }
        )

    def _column(self, good: pl.DataFrame, var: str | None) -> pl.Series | None:
        return good.get_column(var) if var is not None and var in self.captured else None

    def _clients(self, good: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """`client_of`: plain IPv4 peers in Polars, the other (address, forwarded-for) pairs in Python."""
        n = good.height
        nothing = pl.Series([None] * n, dtype=pl.String)
        address = self._column(good, "remote_addr")
        forwarded = self._column(good, "http_x_forwarded_for")
        address = nothing if address is None else address
        forwarded = nothing if forwarded is None else forwarded
        plain = address.str.contains(IPV4).fill_null(False)
        ip = address.zip_with(plain, nothing)
        invalid = pl.Series([False] * n, dtype=pl.Boolean)
        index = (~plain).arg_true()
        if index.len():
            pairs = zip(address.gather(index).to_list(), forwarded.gather(index).to_list(), strict=True)
            found = [self._client(pair) for pair in pairs]
            ip = ip.scatter(index, pl.Series([f[0] for f in found], dtype=pl.String))
            invalid = invalid.scatter(index, pl.Series([f[1] for f in found], dtype=pl.Boolean))
        return ip, invalid

    def _agents(self, good: pl.DataFrame) -> pl.Series:
        """`user_agent_of`: "-" is none (""); values with escapes go through Python."""
        values = self._column(good, "http_user_agent")
        if values is None:
            return pl.Series([""] * good.height, dtype=pl.String)
        value = pl.col("v")
        fast = pl.DataFrame({"v": values}).select(pl.when(value == "-").then(pl.lit("")).otherwise(value))
        escaped = values.str.contains("\\", literal=True).fill_null(False)
        return _patched(fast.to_series().fill_null(""), values, escaped, self._agent)

    def _texts(self, good: pl.DataFrame, var: str | None) -> pl.Series:
        """`optional_text` of a session or account variable: printable ASCII in Polars, the rest in Python."""
        values = self._column(good, var)
        if values is None:
            return pl.Series([None] * good.height, dtype=pl.String)
        simple = values.str.contains(r"^[!-\[\]-~]*$")  # nothing to strip or unescape
        fast = pl.select(pl.when(~pl.lit(values).is_in(["", "-"])).then(pl.lit(values))).to_series()
        return _patched(fast, values, (~simple).fill_null(False), self._text)


def _patched(
    fast: pl.Series, values: pl.Series, slow: pl.Series, function: Callable[[Any], Any]
) -> pl.Series:
    """`fast`, with `function(value)` at the rows where `slow` is true."""
    index = slow.arg_true()
    if not index.len():
        return fast
    patch = pl.Series([function(v) for v in values.gather(index).to_list()], dtype=fast.dtype)
    return fast.scatter(index, patch)


def _route_of(path: pl.Expr, routes: RouteMap) -> tuple[list[pl.Expr], pl.Expr, pl.Expr, list[int]]:
    """Route matching in Polars, in steps: columns `route_<index>` (each rule's match: its subject's
    value, or whether it matches), then the first rule that matches (read from them), then its subject
    (read from them and the column `rule_fast`); and the rules whose subject comes from the query."""
    matches: list[pl.Expr] = []
    rules: list[pl.Expr] = []
    subjects: list[pl.Expr] = []
    from_query: list[int] = []
    for index, (regex, rule) in enumerate(zip(routes.expressions, routes.rules, strict=True)):
        if rule.methods:
            # RouteMap passes over a rule that names methods when it is not given one, as log lines
            # are classified (replay, the per-line reader): such a rule never matches here either
            continue
        name = f"route_{index}"
        if rule.subject is not None and rule.subject.startswith("query:"):
            from_query.append(index)
        if rule.subject is not None and rule.subject in regex.groupindex:
            # a placeholder matches one character at least: null exactly when the rule does not match
            matches.append(path.str.extract(regex.pattern, regex.groupindex[rule.subject]).alias(name))
            rules.append(pl.when(pl.col(name).is_not_null()).then(pl.lit(index, pl.Int16)))
            value = pl.lit(f"{rule.subject}:") + pl.col(name)
            subjects.append(pl.when(pl.col("rule_fast") == index).then(value))
        else:
            matches.append(path.str.contains(regex.pattern).alias(name))
            rules.append(pl.when(pl.col(name)).then(pl.lit(index, pl.Int16)))
    first = pl.coalesce(rules) if rules else pl.lit(None, pl.Int16)
    subject = pl.coalesce(subjects) if subjects else pl.lit(None, pl.String)
    return matches, first, subject, from_query


def polars_pattern(pattern: str) -> str:
    """A pattern of Python's `re` whose \\s and \\S mean in Polars what they mean in Python."""
    classes = {"s": r"[\s\x1c-\x1f]", "S": r"[^\s\x1c-\x1f]"}
    return re.sub(r"\\(.)", lambda m: classes.get(m.group(1), m.group(0)), pattern, flags=re.DOTALL)


def _time_local(text: pl.Expr) -> pl.Expr:
    """Epoch seconds `ts` of times in the shape of TIME_LOCAL_SHAPE (null for dates that do not exist)."""
    parsed = text.str.strptime(pl.Datetime("us", "UTC"), "%d/%b/%Y:%H:%M:%S %z", strict=False)
    return (parsed.dt.epoch("us").cast(pl.Float64) / 1_000_000).alias("ts")


def _python_time(text: str) -> float | None:
    try:
        return parse_time(text)
    except BadLine:
        return None


class _JsonBlocks:
    """JSON lines: the Python parser, line by line (no vectorised path)."""

    def __init__(self, fmt: JsonFormat, routes: RouteMap) -> None:
        self.fmt = fmt
        self.routes = routes

    def parse(self, lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        rows: dict[str, list[Any]] = {name: [] for name in (*SCHEMA, "invalid_ip")}
        bad: dict[str, list[Any]] = {"n": [], "line": [], "reason": []}
        for n, line in lines.iter_rows():
            if line is None or not line.strip():
                reason = "empty line"
            elif len(line.encode("utf-8", errors="replace")) > MAX_LINE:
                reason = f"line longer than {MAX_LINE} bytes"
            else:
                try:
                    r = self.fmt.parse(line)
                except BadLine as exc:
                    reason = exc.reason
                else:
                    rule, subject = self.routes.index_of(r.path, r.query)
                    for name, value in (
                        ("ts", r.ts),
                        ("ip", r.ip),
                        ("session", r.session),
                        ("account", r.account),
                        ("method", r.method),
                        ("path", r.path),
                        ("rule", rule),
                        ("subject", subject),
                        ("status", r.status),
                        ("user_agent", r.user_agent),
                        ("invalid_ip", r.invalid_ip),
                    ):
                        rows[name].append(value)
                    continue
            bad["n"].append(n)
            bad["line"].append(line)
            bad["reason"].append(reason)
        return (
            pl.DataFrame(rows, schema={**SCHEMA, "invalid_ip": pl.Boolean}),
            pl.DataFrame(bad, schema={"n": pl.Int64, "line": pl.String, "reason": pl.String}),
        )


def scan_blocks(
    paths: Iterable[str],
    fmt: LogFormat,
    routes: RouteMap,
    each: Callable[[pl.DataFrame], T],
    stats: ReadStats,
    progress: Progress | None = None,
) -> Iterator[T]:
    """`each` of every block's requests (the columns of SCHEMA), in input order; bad lines go to `stats`.

    Blocks are parsed, and `each` applied to them, by WORKERS threads (Polars
    works outside the GIL) while the next block is read; at most WORKERS
    blocks are parsed or waiting at a time (memory: a few times BLOCK each).
    """
    parser: _NginxBlocks | _JsonBlocks = (
        _JsonBlocks(fmt, routes) if isinstance(fmt, JsonFormat) else _NginxBlocks(fmt, routes)
    )

    def work(frame: pl.DataFrame) -> tuple[T, pl.DataFrame, int, int]:
        rows, bad = parser.parse(frame)
        invalid = int(rows.get_column("invalid_ip").sum())
        return each(rows.drop("invalid_ip").cast(SCHEMA)), bad, rows.height, invalid  # type: ignore[arg-type]

    pending: deque[tuple[Future[tuple[T, pl.DataFrame, int, int]], str]] = deque()

    def take(keep: int) -> Iterator[T]:
        while len(pending) > keep:
            future, source = pending.popleft()
            result, bad, parsed, invalid = future.result()
            _count_bad(stats, source, bad)
            stats.parsed += parsed
            stats.invalid_ips += invalid
            yield result

    done = 0
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="scan") as pool:
        for path in paths:
            reader = _Reader(path)
            number = 0
            try:
                for lines in reader.lines():
                    frame = pl.DataFrame(
                        {"n": pl.int_range(number + 1, number + 1 + lines.len(), eager=True), "line": lines}
                    )
                    number += lines.len()
                    stats.lines += lines.len()
                    pending.append((pool.submit(work, frame), reader.source))
                    yield from take(keep=WORKERS - 1)
                    if progress is not None:
                        progress(done + reader.position())
                yield from take(keep=0)
            finally:
                done += reader.position()
                reader.close()
            if reader.error is not None:
                stats.record_bad(reader.source, number + 1, "file unreadable from here on", reader.error)


def scan_logs(
    paths: Iterable[str], fmt: LogFormat, routes: RouteMap, workdir: Path, progress: Progress | None = None
) -> ScanResult:
    """Parse every input into Arrow IPC files under `workdir` (one per block with requests).

    `analyze` does not need the requests themselves (it reduces blocks as they
    come, `aggregates.py`); this keeps them, for whoever wants every request.
    """
    stats = ReadStats()
    numbers = itertools.count()  # next() is atomic: the blocks' threads share it

    def write(rows: pl.DataFrame) -> Path | None:
        if not rows.height:
            return None
        part = workdir / f"part-{next(numbers):06d}.arrow"
        rows.write_ipc(part, compression="lz4")
        return part

    parts = [part for part in scan_blocks(paths, fmt, routes, write, stats, progress) if part is not None]
    return ScanResult(stats, parts)


def _count_bad(stats: ReadStats, source: str, bad: pl.DataFrame) -> None:
    if not bad.height:
        return
    for reason, count in bad.group_by("reason").len().iter_rows():
        stats.bad[reason] += count
    room = stats.max_samples - len(stats.samples)
    for n, line, reason in bad.sort("n").head(max(room, 0)).iter_rows():
        shown = "" if reason == "empty line" or reason.startswith("line longer") else (line or "")
        stats.samples.append(BadLineSample(source, n, reason, shown[:200]))
