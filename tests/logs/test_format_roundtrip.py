"""Round trips: a generated request written as a log line in a format (as nginx writes it: quotes,
backslashes, control and non-ASCII bytes escaped as \\xHH; the request target percent-encoded) and
read back by that format (`logs/formats.py`) gives the request back, field by field. JSON lines too."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.logs.formats import JsonFormat, LogRecord, make_format

T_MIN, T_MAX = 946_684_800, 4_102_444_799  # 2000 .. 2099


@dataclass(frozen=True)
class Request:
    ts: int
    millis: int
    zone_minutes: int
    ip: str | None
    method: str
    path: str
    query: str
    status: int | None
    user_agent: str
    referer: str
    session: str | None
    account: str | None


# text a client chooses: any printable character, quotes, backslashes, controls, non-ASCII
chosen_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
# unquoted fields (and tokens) hold no whitespace; "-" alone means "none" in logs
tokens = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1,
                 max_size=16).filter(lambda t: t != "-" and not any(c.isspace() for c in t))
ips = st.one_of(st.none(), st.ip_addresses().map(str))
paths = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00?#"), max_size=30) \
    .map(lambda p: "/" + p)
queries = st.text("abcxyz0189=&%+-._~@", max_size=20)

requests = st.builds(
    Request, ts=st.integers(T_MIN, T_MAX), millis=st.integers(0, 999),
    zone_minutes=st.sampled_from([0, 60, 120, -300, 330, -600, 345]), ip=ips,
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]), path=paths, query=queries,
    status=st.one_of(st.none(), st.integers(100, 599)),
    user_agent=chosen_text.filter(lambda t: t.strip() != "-"),
    referer=chosen_text.filter(lambda t: t != "-"),  # ("-" is how nginx logs no referer)
    session=st.one_of(st.none(), tokens), account=st.one_of(st.none(), tokens),
)


def nginx_escape(value: str) -> str:
    """As nginx writes a variable (escape=default): `"`, `\\`, bytes below 32 and above 126 as \\xHH."""
    out = []
    for byte in value.encode("utf-8"):
        out.append(f"\\x{byte:02X}" if byte in (0x22, 0x5C) or byte < 32 or byte > 126 else chr(byte))
    return "".join(out)


def target(r: Request) -> str:
    return quote(r.path, safe="/") + (f"?{r.query}" if r.query else "")


def time_local(r: Request) -> str:
    zone = timezone(timedelta(minutes=r.zone_minutes))
    return datetime.fromtimestamp(r.ts, zone).strftime("%d/%b/%Y:%H:%M:%S %z")


def time_iso(r: Request) -> str:
    zone = timezone(timedelta(minutes=r.zone_minutes))
    return datetime.fromtimestamp(r.ts, zone).isoformat()


def variables(r: Request) -> dict[str, str]:
    """Each variable as nginx would log it ("-" for none)."""
    return {
        "remote_addr": r.ip or "-",
        "remote_user": nginx_escape(r.account) if r.account else "-",
        "cookie_sid": nginx_escape(r.session) if r.session else "-",
        "time_local": time_local(r),
        "time_iso8601": time_iso(r),
        "msec": f"{r.ts}.{r.millis:03d}",
        "request": nginx_escape(f"{r.method} {target(r)} HTTP/1.1"),
        "request_method": r.method,
        "request_uri": nginx_escape(target(r)),
        "status": str(r.status) if r.status is not None else "-",
        "body_bytes_sent": "512",
        "http_referer": nginx_escape(r.referer) if r.referer else "-",
        "http_user_agent": nginx_escape(r.user_agent) if r.user_agent else "-",
    }


def written(fmt: str, r: Request) -> str:
    values = variables(r)
    return re.sub(r"\$(\w+)", lambda m: values[m.group(1)], fmt)


def expected(r: Request, ts: float, session: bool = True, account: bool = True) -> LogRecord:
    return LogRecord(ts=ts, ip=r.ip, method=r.method, path=r.path, query=r.query, status=r.status,
                     user_agent=r.user_agent, session=r.session if session else None,
                     account=r.account if account else None, referer=r.referer)


COMBINED = make_format("combined", account_var="remote_user")
WITH_SESSION = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                '"$http_referer" "$http_user_agent" "$cookie_sid"')
ISO_AND_URI = '$time_iso8601 $remote_addr $request_method $request_uri $status "$http_user_agent" $cookie_sid'
MSEC = '$msec $remote_addr "$request" $status "$http_referer" "$http_user_agent" $remote_user'


@settings(max_examples=150, deadline=None)
@given(r=requests)
def test_combined_round_trip(r: Request) -> None:
    line = written(COMBINED.fmt, r)
    assert COMBINED.parse(line) == expected(r, float(r.ts), session=False)


@settings(max_examples=150, deadline=None)
@given(r=requests)
def test_custom_format_with_a_session_cookie_round_trip(r: Request) -> None:
    fmt = make_format(WITH_SESSION, session_var="cookie_sid", account_var="remote_user")
    assert fmt.parse(written(WITH_SESSION, r)) == expected(r, float(r.ts))


@settings(max_examples=150, deadline=None)
@given(r=requests)
def test_iso_time_and_request_uri_round_trip(r: Request) -> None:
    fmt = make_format(ISO_AND_URI, session_var="cookie_sid")
    got = fmt.parse(written(ISO_AND_URI, r))
    assert got == LogRecord(ts=float(r.ts), ip=r.ip, method=r.method, path=r.path, query=r.query,
                            status=r.status, user_agent=r.user_agent, session=r.session, account=None)


@settings(max_examples=150, deadline=None)
@given(r=requests)
def test_epoch_milliseconds_round_trip(r: Request) -> None:
    fmt = make_format(MSEC, account_var="remote_user")
    got = fmt.parse(written(MSEC, r))
    assert got == expected(r, float(f"{r.ts}.{r.millis:03d}"), session=False)


@settings(max_examples=150, deadline=None)
@given(r=requests, epoch=st.booleans())
def test_json_round_trip(r: Request, epoch: bool) -> None:
    obj = {"time": float(f"{r.ts}.{r.millis:03d}") if epoch else time_iso(r), "remote_addr": r.ip,
           "method": r.method, "path": target(r), "status": r.status, "user_agent": r.user_agent,
           "referer": r.referer, "session": r.session, "account": r.account}
    got = JsonFormat().parse(json.dumps(obj))
    ts = float(f"{r.ts}.{r.millis:03d}") if epoch else float(r.ts)
    assert got == expected(r, ts)
    assert datetime.fromtimestamp(got.ts, UTC).year in range(2000, 2100)
