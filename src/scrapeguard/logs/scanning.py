"""Bulk reading of access logs for `analyze`: blocks of lines parsed by Polars, written to Arrow IPC.

The per-line Python parser (`formats.py`) manages some tens of thousands of
lines a second; analysis wants hundreds of thousands. Here the input is read
in blocks of whole lines (plain, gzip or standard input, so memory stays
bounded whatever the log's size), the format's own regular expression
(`NginxFormat.pattern`) splits each block into columns in Polars, and the
fields that need care (request, client address, user agent) go through the
very functions the Python parser uses, applied once per distinct value. Each
block's requests are written to an Arrow IPC file in a work directory, ready
for the aggregations of `analysis.py`. Bad lines are counted by the same
reasons as `reading.py`, with file and line number for the first few.
JSON lines are parsed by the Python parser, block by block (slower).
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from scrapeguard.routes import RouteMap

#: Bytes of input parsed at a time (whole lines): bounds memory, sets the progress bar's steps.
BLOCK = 8 * 1024 * 1024

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

    def blocks(self) -> Iterator[bytes]:
        carry = b""
        while True:
            data = self._read_block()
            if not data:
                if carry and self.error is None:  # a damaged file's cut-off last line is lost (as in reading)
                    yield carry
                return
            data = carry + data
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data  # a line longer than a block: kept whole (it becomes a "line longer" bad line)
                if len(carry) > 4 * BLOCK:
                    yield carry  # bounded: cut a pathological line-free input into separate lines
                    carry = b""
                continue
            carry = data[cut + 1 :]
            yield data[: cut + 1]

    def _read_block(self) -> bytes:
        """Up to BLOCK bytes, in small steps so that a damaged gzip loses only its last step."""
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


def _lines(block: bytes) -> pl.Series:
    """The block's lines, decoded as UTF-8 with replacement like `reading.py` (None for empty lines)."""
    if b"\x00" not in block:
        frame = pl.read_csv(
            io.BytesIO(block),
            has_header=False,
            separator="\x00",
            quote_char=None,
            new_columns=["line"],
            encoding="utf8-lossy",
            truncate_ragged_lines=True,
            schema={"line": pl.String},
            comment_prefix=None,
            raise_if_empty=False,
        )
        return frame.get_column("line")
    text = block.decode("utf-8", errors="replace").split("\n")
    if text and text[-1] == "":
        text.pop()
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
        self.pattern = fmt.pattern_capturing(set(self.captured))
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
        line = pl.col("line")
        reason = (
            pl.when(line.is_null() | (line.str.strip_chars() == ""))
            .then(pl.lit("empty line"))
            .when(line.str.len_bytes() > MAX_LINE)
            .then(pl.lit(f"line longer than {MAX_LINE} bytes"))
            .when(pl.col(self.captured[0]).is_null())
            .then(pl.lit("does not match the log format"))
            .when(pl.col("ts").is_null())
            .then(pl.lit("unreadable time"))
        )
        fields = (
            lines.lazy()
            .with_columns(line.str.extract_groups(self.pattern).alias("m"))
            .unnest("m")
            .with_columns(self._time())
            .collect()
        )
        fields = self._time_by_python(fields).with_columns(reason.alias("reason"))
        fields = self._with_request(fields)
        fields = self._with_status(fields)
        bad = fields.filter(pl.col("reason").is_not_null()).select("n", "line", "reason")
        return self._rows(fields.filter(pl.col("reason").is_null())), bad

    def _time(self) -> pl.Expr:
        """The usual shapes of the time, vectorised; anything else is left to `_time_by_python`."""
        text = pl.col(self.time_var).str.strip_chars()
        if self.time_var == "time_local":
            # the shape `formats.parse_time` reads by hand, then the calendar check of strptime
            shaped = pl.when(text.str.contains(TIME_LOCAL_SHAPE)).then(text)
            parsed = shaped.str.strptime(pl.Datetime("us", "UTC"), "%d/%b/%Y:%H:%M:%S %z", strict=False)
            return (parsed.dt.epoch("us").cast(pl.Float64) / 1_000_000).alias("ts")
        if self.time_var == "time_iso8601":
            return pl.lit(None, pl.Float64).alias("ts")
        value = pl.when(text.str.contains(EPOCH_SHAPE)).then(text.cast(pl.Float64, strict=False))
        return pl.when(value <= MAX_EPOCH).then(value).alias("ts")

    def _time_by_python(self, fields: pl.DataFrame) -> pl.DataFrame:
        """`formats.parse_time` for the times the vectorised shapes did not read (few, in real logs)."""
        rest = fields.filter(pl.col("ts").is_null() & pl.col(self.time_var).is_not_null())
        if not rest.height:
            return fields
        values = [_python_time(t) for t in rest.get_column(self.time_var).to_list()]
        patch = pl.DataFrame({"n": rest.get_column("n"), "ts_python": pl.Series(values, dtype=pl.Float64)})
        return (
            fields.join(patch, on="n", how="left", maintain_order="left")
            .with_columns(pl.coalesce("ts", "ts_python").alias("ts"))
            .drop("ts_python")
        )

    def _with_request(self, fields: pl.DataFrame) -> pl.DataFrame:
        """Method, path, route rule and subject of each request, and the request's bad-line reason.

        Plain requests ("GET /u/anna HTTP/1.1": no escapes, nothing percent-encoded
        in the path, a route subject from the path) are read by Polars; the others
        go through `request_of` and the route map, once per distinct request.
        """
        fields = self._fast_requests(fields)
        todo = pl.col("reason").is_null() & pl.col("rule_fast").is_null() & ~pl.col("plain_page")
        key = pl.struct(self.request_vars) if len(self.request_vars) > 1 else pl.col(self.request_vars[0])
        distinct = fields.filter(todo).select(key.alias("key")).unique()
        classified = [
            self._request(tuple(k.values()) if isinstance(k, dict) else (k,))
            for k in distinct.get_column("key").to_list()
        ]
        columns = list(zip(*classified, strict=True)) if classified else [(), (), (), (), ()]
        table = distinct.with_columns(
            pl.Series("request_bad", columns[0], dtype=pl.String),
            pl.Series("method_slow", columns[1], dtype=pl.String),
            pl.Series("path_slow", columns[2], dtype=pl.String),
            pl.Series("rule_slow", columns[3], dtype=pl.Int16),
            pl.Series("subject_slow", columns[4], dtype=pl.String),
        )
        fields = fields.with_columns(pl.when(todo).then(key).alias("key")).join(
            table, on="key", how="left", maintain_order="left"
        )
        return fields.with_columns(
            pl.coalesce("reason", "request_bad").alias("reason"),
            pl.coalesce("method_fast", "method_slow").alias("method"),
            pl.coalesce("path_fast", "path_slow").alias("path"),
            pl.coalesce("rule_fast", "rule_slow").alias("rule"),
            pl.coalesce("subject_fast", "subject_slow").alias("subject"),
        )

    def _fast_requests(self, fields: pl.DataFrame) -> pl.DataFrame:
        """Columns *_fast for plain requests, and `plain_page` for plain ones that match no rule."""
        if self.request_vars != ["request"]:
            return fields.with_columns(
                *[pl.lit(None, t).alias(f"{c}_fast") for c, t in self.FAST_COLUMNS],
                pl.lit(False).alias("plain_page"),
            )
        request = pl.col("request")
        parts = request.str.extract_groups(PLAIN_REQUEST)
        fields = fields.with_columns(
            pl.when(pl.col("reason").is_null() & ~request.str.contains("\\", literal=True))
            .then(parts)
            .alias("parts")
        ).unnest("parts")
        plain = pl.col("fast_method").is_not_null()
        path = pl.col("fast_path")
        # every rule in one expression, one pass: the first alternative that matches is the first rule
        pattern, alternatives = _route_alternation(self.routes)
        fields = fields.with_columns(path.str.extract_groups(pattern).alias("route")).unnest("route")
        rule: pl.Expr = pl.lit(None, pl.Int16)
        subject: pl.Expr = pl.lit(None, pl.String)
        resolved: pl.Expr = pl.lit(True)  # False: the rule's subject comes from the query (Python reads it)
        for index, (group, subject_group, label, from_query) in reversed(list(enumerate(alternatives))):
            matches = pl.col(group).is_not_null()
            rule = pl.when(matches).then(pl.lit(index, pl.Int16)).otherwise(rule)
            if subject_group is not None:
                value = pl.lit(f"{label}:") + pl.col(subject_group)
            else:
                value = pl.lit(None, pl.String)
            if from_query:
                resolved = pl.when(matches).then(pl.lit(False)).otherwise(resolved)
            subject = pl.when(matches).then(value).otherwise(subject)
        usable = plain & resolved
        return fields.with_columns(
            pl.when(usable).then(pl.col("fast_method").str.to_uppercase()).alias("method_fast"),
            pl.when(usable).then(path).alias("path_fast"),
            pl.when(usable).then(rule).alias("rule_fast"),
            pl.when(usable).then(subject).alias("subject_fast"),
        ).with_columns(
            # plain requests that match no rule: a page, with no subject, nothing left to ask Python
            (usable & pl.col("rule_fast").is_null()).alias("plain_page")
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
                "session": self._mapped(good, self.fmt.session_var, self._text),
                "account": self._mapped(good, self.fmt.account_var, self._text),
                "method": good.get_column("method"),
                "path": good.get_column("path"),
                "rule": good.get_column("rule"),
                "subject": good.get_column("subject"),
                "status": good.get_column("status_code"),
                "user_agent": self._mapped(good, "http_user_agent", self._agent, none_as=""),
                "invalid_ip": invalid,
            }
        )

    def _clients(self, good: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """`client_of`: plain IPv4 peers in Polars, the other (address, forwarded-for) pairs in Python."""
        n = good.height
        pairs = pl.DataFrame(
            {
                name: good.get_column(name)
                if name in self.captured
                else pl.Series([None] * n, dtype=pl.String)
                for name in ("remote_addr", "http_x_forwarded_for")
            }
        ).with_columns(pl.col("remote_addr").str.contains(IPV4).fill_null(False).alias("plain"))
        distinct = pairs.filter(~pl.col("plain")).select("remote_addr", "http_x_forwarded_for").unique()
        clients = [self._client(pair) for pair in distinct.iter_rows()]
        distinct = distinct.with_columns(
            pl.Series("ip", [c[0] for c in clients], dtype=pl.String),
            pl.Series("invalid_ip", [c[1] for c in clients], dtype=pl.Boolean),
        )
        joined = pairs.join(
            distinct,
            on=["remote_addr", "http_x_forwarded_for"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        ).with_columns(
            pl.when(pl.col("plain")).then(pl.col("remote_addr")).otherwise(pl.col("ip")).alias("ip"),
            pl.when(pl.col("plain")).then(pl.lit(False)).otherwise(pl.col("invalid_ip")).alias("invalid_ip"),
        )
        return joined.get_column("ip"), joined.get_column("invalid_ip")

    def _mapped(
        self, good: pl.DataFrame, var: str | None, function: _Cached, none_as: str | None = None
    ) -> pl.Series:
        """A text column through `function`, computed once per distinct value."""
        if var is None or var not in self.captured:
            return pl.Series([none_as] * good.height, dtype=pl.String)
        values = good.get_column(var)
        distinct = values.unique().drop_nulls()
        mapped = [function(v) for v in distinct.to_list()]
        return values.replace_strict(
            distinct, pl.Series(mapped, dtype=pl.String), default=none_as, return_dtype=pl.String
        )


def _route_alternation(routes: RouteMap) -> tuple[str, list[tuple[str, str | None, str, bool]]]:
    """The route map as one expression `^(?:(?P<rt0>…)|(?P<rt1>…)…)$`, and per rule:
    (its group, the group of its subject placeholder or None, the subject's name, subject from the query)."""
    branches = []
    alternatives: list[tuple[str, str | None, str, bool]] = []
    for index, (regex, rule) in enumerate(zip(routes.expressions, routes.rules, strict=True)):
        inner = regex.pattern.removeprefix("^").removesuffix("$")
        inner = re.sub(r"\(\?P<(\w+)>", f"(?P<rt{index}_\\1>", inner)
        branches.append(f"(?P<rt{index}>{inner})")
        by_path = rule.subject is not None and not rule.subject.startswith("query:")
        alternatives.append(
            (
                f"rt{index}",
                f"rt{index}_{rule.subject}" if by_path else None,
                rule.subject or "",
                rule.subject is not None and not by_path,
            )
        )
    return "^(?:" + "|".join(branches) + ")$", alternatives


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


def scan_logs(
    paths: Iterable[str], fmt: LogFormat, routes: RouteMap, workdir: Path, progress: Progress | None = None
) -> ScanResult:
    """Parse every input into Arrow IPC files under `workdir`; bad lines are counted in the result's stats.

    Blocks are parsed by WORKERS threads (Polars works outside the GIL) while
    the next block is read; results are taken in input order.
    """
    stats = ReadStats()
    parts: list[Path] = []
    parser: _NginxBlocks | _JsonBlocks = (
        _JsonBlocks(fmt, routes) if isinstance(fmt, JsonFormat) else _NginxBlocks(fmt, routes)
    )
    pending: deque[tuple[Future[tuple[pl.DataFrame, pl.DataFrame]], str]] = deque()

    def take(keep: int) -> None:
        while len(pending) > keep:
            future, source = pending.popleft()
            rows, bad = future.result()
            _count_bad(stats, source, bad)
            if rows.height:
                stats.parsed += rows.height
                stats.invalid_ips += int(rows.get_column("invalid_ip").sum())
                part = workdir / f"part-{len(parts):06d}.arrow"
                rows.drop("invalid_ip").cast(SCHEMA).write_ipc(part, compression="lz4")  # type: ignore[arg-type]
                parts.append(part)

    done = 0
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="scan") as pool:
        for path in paths:
            reader = _Reader(path)
            number = 0
            try:
                for block in reader.blocks():
                    lines = _lines(block)
                    frame = pl.DataFrame(
                        {"n": pl.int_range(number + 1, number + 1 + lines.len(), eager=True), "line": lines}
                    )
                    number += lines.len()
                    stats.lines += lines.len()
                    pending.append((pool.submit(parser.parse, frame), reader.source))
                    take(keep=WORKERS)
                    if progress is not None:
                        progress(done + reader.position())
                take(keep=0)
            finally:
                done += reader.position()
                reader.close()
            if reader.error is not None:
                stats.record_bad(reader.source, number + 1, "file unreadable from here on", reader.error)
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
