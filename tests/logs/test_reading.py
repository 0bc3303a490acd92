"""Reading logs: plain, gzip, several files, stdin; bad lines counted, never fatal."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest

from scrapeguard.logs.formats import make_format
from scrapeguard.logs.reading import MAX_LINE, ReadStats, read_records

LINE = '192.0.2.{n} - - [10/Oct/2000:13:55:{s:02d} +0000] "GET /u/m{n} HTTP/1.1" 200 10 "-" "Mozilla/5.0"\n'


def lines(count: int, start: int = 0) -> str:
    return "".join(LINE.format(n=start + i, s=i % 60) for i in range(count))


def read(paths: list[str]) -> tuple[list[str], ReadStats]:
    stats = ReadStats()
    return [r.path for r in read_records(paths, make_format("combined"), stats)], stats


def test_plain_gzip_and_several_files_in_order(tmp_path: Path) -> None:
    plain = tmp_path / "access.log"
    plain.write_text(lines(3))
    packed = tmp_path / "access.log.1.gz"
    with gzip.open(packed, "wt") as f:
        f.write(lines(2, start=10))
    paths, stats = read([str(plain), str(packed)])
    assert paths == ["/u/m0", "/u/m1", "/u/m2", "/u/m10", "/u/m11"]
    assert (stats.lines, stats.parsed, stats.skipped) == (5, 5, 0)


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    packed = tmp_path / "rotated"
    packed.write_bytes(gzip.compress(lines(2).encode()))
    assert read([str(packed)])[0] == ["/u/m0", "/u/m1"]


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines(4).encode())))
    assert len(read(["-"])[0]) == 4


def test_bad_lines_are_counted_with_reasons_and_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes((lines(2) + "garbage line\n\n" + lines(1, start=5)
                     + '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 777 1 "-" "x"\n'
                     + "x" * (MAX_LINE + 10) + "\n" + lines(1, start=9)).encode()
                    + b'192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET /caf\xe9 HTTP/1.1" 200 1 "-" "x"\n')
    paths, stats = read([str(log)])
    assert paths == ["/u/m0", "/u/m1", "/u/m5", "/u/m9", "/caf\ufffd"]  # nothing good was lost
    assert stats.lines == 9 and stats.skipped == 4
    assert stats.bad == {"does not match the log format": 1, "empty line": 1, "unreadable status": 1,
                         f"line longer than {MAX_LINE} bytes": 1}
    assert [(s.line_number, s.reason) for s in stats.samples] == [
        (3, "does not match the log format"), (4, "empty line"), (6, "unreadable status"),
        (7, f"line longer than {MAX_LINE} bytes")]
    assert stats.samples[0].source == str(log) and stats.samples[0].text == "garbage line"


def test_a_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    packed = tmp_path / "cut.gz"
    data = gzip.compress(lines(500).encode())
    packed.write_bytes(data[: len(data) // 2])
    paths, stats = read([str(packed)])
    assert 0 < len(paths) < 500
    assert "file unreadable from here on" in stats.bad


def test_a_truncated_gzip_names_the_file_and_its_own_line(tmp_path: Path) -> None:
    plain = tmp_path / "first.log"
    plain.write_text(lines(7))
    packed = tmp_path / "cut.gz"
    data = gzip.compress(lines(500).encode())
    packed.write_bytes(data[: len(data) // 2])
    paths, stats = read([str(plain), str(packed)])
    sample = next(s for s in stats.samples if s.reason == "file unreadable from here on")
    assert sample.source == str(packed)
    assert sample.line_number == len(paths) - 7 + 1  # the first line of cut.gz that could not be read


def test_clients_that_are_not_ips_are_counted(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(lines(2) + LINE.format(n=1, s=1).replace("192.0.2.1 ", "not-an-ip ", 1))
    stats = ReadStats()
    records = list(read_records([str(log)], make_format("combined"), stats))
    assert [r.ip for r in records] == ["192.0.2.0", "192.0.2.1", None]
    assert stats.invalid_ips == 1 and stats.skipped == 0
