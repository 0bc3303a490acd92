"""Lines of the `combined` and `common` formats split at their quotes, instead of by the format's regex.

Capturing groups make Polars' regular expressions slow (about 0.4 µs a line
here); splitting at a character is several times cheaper. For a line with no
backslash, no quoted value can hold a quote, so the format's literal quotes
are the line's only quotes: a line with exactly the format's number of quotes
splits into the same pieces the regex would match, and each piece is then
checked against (and read with) a small expression of its own. Lines this
cannot settle (escapes, other counts of quotes, trailing blanks, fields
outside printable ASCII...) are left to the format's regex, so every line
reads exactly as `NginxFormat.parse` reads it.
"""

from __future__ import annotations

import polars as pl

from scrapeguard.logs.formats import COMBINED, COMMON, MONTHS, NginxFormat

#: A value matched by `\S*`, narrowed to printable ASCII without quotes (`\S*` in Python and in Polars).
_BARE = r"[!#-~]*"

#: `$time_local` in the one shape read here: "17/May/2015:10:05:03 +0200" (26 characters).
_TIME = r"[0-9]{2}/(?:" + "|".join(MONTHS) + r")/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"

#: `$remote_addr - $remote_user [$time_local] `, the piece before the request's opening quote.
HEAD = rf"^{_BARE} - {_BARE} \[{_TIME}\] $"

#: ` $status $body_bytes_sent` with a three-digit status, then the blank before `combined`'s referer.
_TAIL = rf"^ [0-9]{{3}} {_BARE}"


class QuoteSplit:
    """Reads the lines of `combined` or `common` it can, by their quotes; see the module's docstring."""

    def __init__(self, fmt: str, captured: list[str], max_line: int) -> None:
        self.captured = captured
        self.max_line = max_line
        self.quotes = fmt.count('"')
        self.tail = _TAIL + (r" $" if fmt == COMBINED else "$")

    @classmethod
    def of(cls, fmt: NginxFormat, captured: list[str], max_line: int) -> QuoteSplit | None:
        """The split for `fmt` if it is `combined` or `common` (with any variables captured), else None."""
        if fmt.fmt not in (COMBINED, COMMON):
            return None
        return cls(fmt.fmt, captured, max_line)

    def split(self, lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(`n` and the captured variables of the lines split here; `n` and `line` of the others)."""
        line = pl.col("line")
        names = [f"p{i}" for i in range(self.quotes + 1)]
        pieces = line.str.splitn('"', self.quotes + 1).struct.rename_fields(names)
        frame = lines.lazy().with_columns(pieces.alias("pieces")).unnest("pieces")
        head, tail = pl.col("p0"), pl.col("p2")
        ok = (
            (line.str.len_bytes() <= self.max_line)
            & ~line.str.contains("\\", literal=True)
            & head.str.contains(HEAD)
            & tail.str.contains(self.tail)
        )
        if self.quotes == 6:
            # the last piece is what follows the last quote: nothing (blanks before the end: the regex)
            ok = ok & (pl.col("p4") == " ") & (pl.col("p6") == "")
        frame = frame.with_columns(ok.fill_null(False).alias("ok"))
        # in a line that passed, every field is where the expressions above put it
        address_end = head.str.find(" ", literal=True)
        head_length = head.str.len_bytes()
        values = {
            "remote_addr": head.str.slice(0, address_end),
            "remote_user": head.str.slice(address_end + 3, head_length - address_end - 33),
            "time_local": head.str.slice(head_length - 28, 26),
            "request": pl.col("p1"),
            "status": tail.str.slice(1, 3),
            "body_bytes_sent": tail.str.slice(5).str.strip_suffix(" "),
            "http_referer": pl.col("p3"),
            "http_user_agent": pl.col("p5"),
        }
        split = frame.filter(pl.col("ok")).select("n", *[values[name].alias(name) for name in self.captured])
        rest = frame.filter(~pl.col("ok")).select("n", "line")
        split_frame, rest_frame = pl.collect_all([split, rest])
        return split_frame, rest_frame
