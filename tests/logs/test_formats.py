"""Log formats: each one read right, bad lines refused with a reason, nothing crashes."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.logs.formats import BadLine, FormatError, JsonFormat, NginxFormat, make_format

COMBINED_LINE = ('203.0.113.7 - anna [17/May/2015:10:05:03 +0200] "GET /u/bo%20b?tab=1 HTTP/1.1" 200 5123 '
                 '"https://example.org/directory" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"')


def test_combined() -> None:
    r = make_format("combined", account_var="remote_user").parse(COMBINED_LINE)
    assert r.ts == datetime(2015, 5, 17, 8, 5, 3, tzinfo=UTC).timestamp()
    assert (r.ip, r.method, r.path, r.query, r.status) == ("203.0.113.7", "GET", "/u/bo b", "tab=1", 200)
    assert r.user_agent == "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    assert r.referer == "https://example.org/directory"
    assert r.account == "anna" and r.session is None


def test_common() -> None:
    r = make_format("common").parse(
        '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326')
    assert (r.ip, r.path, r.status, r.user_agent, r.account) == ("192.0.2.1", "/apache_pb.gif", 200, "", None)


def test_nginx_format_string_with_a_session_cookie_and_forwarded_for() -> None:
    fmt = make_format('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                      '"$http_referer" "$http_user_agent" "$http_x_forwarded_for" sid=$cookie_sid '
                      "rt=$request_time", session_var="cookie_sid", account_var="remote_user")
    r = fmt.parse('10.1.2.3 - - [01/Feb/2026:00:00:01 +0000] "GET /api/v1/members/42 HTTP/2.0" 200 311 "-" '
                  '"curl/8.5.0" "198.51.100.4" sid=abc123 rt=0.004')
    assert (r.ip, r.session, r.account, r.path, r.user_agent) == ("10.1.2.3", "abc123", None,
                                                                   "/api/v1/members/42", "curl/8.5.0")


def test_missing_ip_is_allowed_and_forwarded_for_fills_in() -> None:
    fmt = make_format('$remote_addr [$time_iso8601] "$request" $status "$http_x_forwarded_for" $cookie_s',
                      session_var="cookie_s")
    r = fmt.parse('- [2026-02-01T10:00:00+00:00] "GET / HTTP/1.1" 200 "-" s1')
    assert r.ip is None and r.session == "s1"
    r = fmt.parse('- [2026-02-01T10:00:00+00:00] "GET / HTTP/1.1" 200 "198.51.100.4, 10.0.0.1" s1')
    assert r.ip == "198.51.100.4"


def test_escaped_quotes_inside_quoted_fields() -> None:
    nginx = make_format("combined").parse(
        '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "evil\\x22agent"')
    assert nginx.user_agent == 'evil"agent'
    apache = make_format("combined").parse(
        '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "say \\"hi\\""')
    assert apache.user_agent == 'say "hi"'


def test_json_lines_with_configured_fields_and_a_container_prefix() -> None:
    fmt = JsonFormat({"time": "start_time", "ip": "downstream_remote_address", "path": "x-envoy-origin-path",
                      "status": "response_code", "user_agent": "user-agent"})
    r = fmt.parse('2025-12-31T17:40:00.000000100+01:00 stdout F {"start_time":"2025-12-31T16:40:00.100Z",'
                  '"method":"GET","x-envoy-origin-path":"/page-01?x=1","response_code":404,"user-agent":"Go",'
                  '"downstream_remote_address":"10.0.0.13:40000"}')
    assert (r.ip, r.path, r.query, r.status, r.user_agent) == ("10.0.0.13", "/page-01", "x=1", 404, "Go")
    assert r.ts == datetime(2025, 12, 31, 16, 40, 0, 100000, tzinfo=UTC).timestamp()


def test_json_defaults_nested_keys_and_epoch_times() -> None:
    fmt = make_format("json", json_fields={"ip": "client.ip", "time": "ts"})
    r = fmt.parse('{"ts": 1767225600.5, "client": {"ip": "2001:db8::7"}, "request": "POST /login HTTP/1.1",'
                  ' "status": 302, "session": "s9", "account": "17"}')
    assert (r.ts, r.ip, r.method, r.path, r.session, r.account) == (1767225600.5, "2001:db8::7", "POST",
                                                                      "/login", "s9", "17")


@pytest.mark.parametrize("line,reason", [
    ("", "does not match the log format"),
    ("garbage", "does not match the log format"),
    ('192.0.2.1 - - [99/Foo/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "x"', "unreadable time"),
    ('192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "\\x16\\x03\\x01" 400 0 "-" "-"', "unreadable request"),
    ('192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 999 1 "-" "x"', "unreadable status"),
])
def test_bad_lines_say_why(line: str, reason: str) -> None:
    with pytest.raises(BadLine) as info:
        make_format("combined").parse(line)
    assert info.value.reason == reason


@pytest.mark.parametrize("line,reason", [
    ("no json here", "no JSON object on the line"),
    ('{"time": ', "not JSON"),
    ('{"path": "/"}', "no time field"),
    ('{"time": "2026-01-01T00:00:00"}', "unreadable time"),  # no zone: refused, not guessed
])
def test_bad_json_lines_say_why(line: str, reason: str) -> None:
    with pytest.raises(BadLine) as info:
        make_format("json").parse(line)
    assert info.value.reason == reason


@pytest.mark.parametrize("fmt,message", [
    ("$status $body_bytes_sent", "names no client"),
    ("$remote_addr $status", "needs a time"),
    ("$remote_addr [$time_local] $status", "needs the request"),
    ("plain text", "has no \\$variables"),
])
def test_unusable_formats_are_explained(fmt: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        NginxFormat(fmt)


def test_a_mistyped_format_name_is_named() -> None:
    with pytest.raises(FormatError, match=r"unknown log format 'combinde'.*combined, common, json"):
        make_format("combinde")


def test_session_variable_must_be_in_the_format() -> None:
    with pytest.raises(FormatError, match=r"\$cookie_sid is not in the format"):
        make_format("combined", session_var="cookie_sid")
    with pytest.raises(FormatError, match="--format json only"):
        make_format("combined", json_fields={"ip": "x"})
    with pytest.raises(FormatError, match="unknown JSON field"):
        make_format("json", json_fields={"colour": "x"})


FORMATS = [make_format("combined"), make_format("common"), make_format("json"),
           make_format('$remote_addr [$time_iso8601] "$request" $status $cookie_s', session_var="cookie_s")]


@given(st.binary(max_size=400))
def test_random_bytes_never_crash_a_parser(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    for fmt in FORMATS:
        with contextlib.suppress(BadLine):
            fmt.parse(text)


@given(ip=st.ip_addresses(v=4).map(str), path=st.text(alphabet="abcdefghij/-_.%0123456789", max_size=40),
       ua=st.text(max_size=60), status=st.integers(100, 599))
def test_combined_lines_round_trip(ip: str, path: str, ua: str, status: int) -> None:
    ua_escaped = ua.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
    line = f'{ip} - - [10/Oct/2000:13:55:36 +0000] "GET /{path} HTTP/1.1" {status} 12 "-" "{ua_escaped}"'
    r = make_format("combined").parse(line)
    assert (r.ip, r.status) == (ip, status)
    assert r.user_agent == ("" if ua.replace("\n", " ").replace("\r", " ") == "-"
                            else ua.replace("\n", " ").replace("\r", " "))


@pytest.mark.parametrize("line", [
    '{"time": 1767225600, "a": ' + "[" * 100_000 + "]" * 100_000 + "}",  # RecursionError in json
    '{"time": 1767225600, "n": ' + "1" * 5000 + "}",  # int too long to convert: ValueError
])
def test_json_that_breaks_the_decoder_is_a_bad_line(line: str) -> None:
    with pytest.raises(BadLine) as info:
        make_format("json").parse(line)
    assert info.value.reason == "not JSON"


@pytest.mark.parametrize("fmt,shown", [
    ('$1x [$time_local] "$request"', "'$1x'"),
    ('$remote_addr [$time_local] "$request" $é', "'$é'"),
    ('$remote_addr [$time_local] "$request" ${cookie', "'${cookie'"),
    ('$remote_addr [$time_local] "$request" $', "'$'"),
])
def test_invalid_variable_names_are_format_errors(fmt: str, shown: str) -> None:
    with pytest.raises(FormatError, match=re.escape(shown) + " at column .* is not a variable"):
        NginxFormat(fmt)


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "9" * 30, "١٧٦٧٢٢٥٦٠٠", "-5", "+1767225600"])
def test_epoch_times_must_be_plain_finite_ascii_numbers(value: str) -> None:
    fmt = make_format('$remote_addr $msec "$request" $status')
    with pytest.raises(BadLine) as info:
        fmt.parse(f'192.0.2.1 {value} "GET / HTTP/1.1" 200')
    assert info.value.reason == "unreadable time"
    assert fmt.parse('192.0.2.1 1767225600.25 "GET / HTTP/1.1" 200').ts == 1767225600.25


def test_json_infinite_or_huge_times_are_bad_lines() -> None:
    for value in ("Infinity", "NaN", "1e400", "1" + "0" * 25):
        with pytest.raises(BadLine, match="unreadable time"):
            make_format("json").parse(f'{{"time": {value}, "path": "/"}}')


def test_unicode_digits_in_clock_and_status_are_refused() -> None:
    line = '192.0.2.1 - - [10/Oct/2000:{clock} +0000] "GET / HTTP/1.1" {status} 1 "-" "x"'
    with pytest.raises(BadLine, match="unreadable time"):
        make_format("combined").parse(line.format(clock="١٣:55:36", status="200"))
    with pytest.raises(BadLine, match="unreadable status"):
        make_format("combined").parse(line.format(clock="13:55:36", status="٢٠٠"))


@pytest.mark.parametrize("client,ip", [
    ("garbage", None), ("999.1.1.1", None), ("192.0.2.7", "192.0.2.7"), ("192.0.2.7:5555", "192.0.2.7"),
    ("[2001:db8::1]:443", "2001:db8::1"), ("2001:db8::2", "2001:db8::2"), ("[nonsense]:1", None),
])
def test_the_client_field_must_be_an_ip_address(client: str, ip: str | None) -> None:
    fmt = make_format('$remote_addr [$time_local] "$request" $status sid=$cookie_sid',
                      session_var="cookie_sid")
    r = fmt.parse(f'{client} [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 sid=s1')
    assert r.ip == ip and r.invalid_ip == (ip is None) and r.session == "s1"
