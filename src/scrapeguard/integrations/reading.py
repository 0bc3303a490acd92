"""Reading a request as the site's framework reads it: the path and the cookies.

The guard keys a request (route, member, session) from what it reads; the site serves what
*it* reads. Where the two could differ, the guard reads the request the way Starlette (uvicorn),
Flask (Werkzeug) and Django (WSGI) do, and where those frameworks disagree among themselves it
refuses the request (AmbiguousRequest: 400, counted). docs/security.md lists each case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from scrapeguard.policy.model import RouteMatching
from scrapeguard.routes import CONTROL, DEFAULT_MATCHING, AmbiguousRequest, RouteMap

#: What a request target may hold: visible ASCII ("%XX" for the rest, as browsers send it).
_TARGET = re.compile(r"[!-~]*")
_SLASHES = re.compile(r"/{2,}")


def read_target(raw: str, matching: RouteMatching = DEFAULT_MATCHING) -> tuple[str, str]:
    """(the path as the site's framework routes it, the raw query string) of a request target.

    The path is percent-decoded whole, %2F included, as uvicorn, Werkzeug's server and wsgiref
    do. Refused: a target that is not a path, bytes outside visible ASCII, a fragment (Werkzeug
    drops it, uvicorn keeps it in the path), invalid UTF-8 (each framework repairs it its own way),
    control characters, and dot segments (no framework resolves them, but servers and proxies in
    front of one may: /a/../u/alice). Runs of slashes are merged when the policy says the site
    merges them (`merge_slashes`); otherwise they are kept, and `merged_slashes_agree` tells
    whether reading them merged would key the request differently.
    """
    if not raw.startswith("/"):
        raise AmbiguousRequest("ambiguous_path", "The request target must be a path.")
    if not _TARGET.fullmatch(raw) or "#" in raw:
        raise AmbiguousRequest("ambiguous_path", "The address holds characters that must be percent-encoded.")
    raw_path, _, query = raw.partition("?")
    if matching.strip_path_params:
        raw_path = "/".join(segment.partition(";")[0] for segment in raw_path.split("/"))
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8") if "%" in raw_path else raw_path
    except UnicodeDecodeError:
        raise AmbiguousRequest("ambiguous_path", "The address is not valid UTF-8.") from None
    if CONTROL.search(path):
        raise AmbiguousRequest("ambiguous_path", "The address holds control characters.")
    if "/." in path and any(segment in (".", "..") for segment in path.split("/")):
        raise AmbiguousRequest("ambiguous_path", "The address holds '.' or '..' segments.")
    if "//" in path and matching.merge_slashes:
        path = _SLASHES.sub("/", path)
    return path, query


def merged_slashes_agree(path: str, query: str, routes: RouteMap, method: str | None = None) -> bool:
    """Whether a path with runs of slashes keys the same route and member read as written and read
    merged. Werkzeug's server reads a leading "//u/x" as "/u/x", Starlette and Django do not: where
    that changes what the guard counts, the request is refused; elsewhere (a sloppy "/static//x.css"
    link) it goes through as it is."""
    if "//" not in path:
        return True
    merged = _SLASHES.sub("/", path)
    return routes.match(path, query, method, strict=True) == routes.match(merged, query, method, strict=True)


# -- cookies -----------------------------------------------------------------------------

#: RFC 6265 cookie-octets: a value every framework reads alike (no quotes, backslashes, spaces,
#: commas, semicolons, non-ASCII).
_COOKIE_VALUE = re.compile(r"[!#-+\--:<-\[\]-~]*")

#: Werkzeug's cookie grammar (werkzeug.sansio.http._cookie_re): a quoted value may hold ";".
_WERKZEUG_COOKIE = re.compile(
    r"""[ \t]*([^ \t=";]+)(?:[ \t]*=[ \t]*("(?:[^\\"]|\\.)*"|[^ \t";]*))?[ \t]*(?:;|\Z)""",
    flags=re.ASCII,
)


def cookie_line(lines: Iterable[str]) -> str | None:
    """Several Cookie header lines as the one line the guard reads and forwards: joined with "; "
    in order, as Starlette, Werkzeug and HTTP/2 (RFC 9113 8.2.3) join them. None if there is none."""
    parts = [line.strip().strip(";").strip() for line in lines]
    joined = "; ".join(p for p in parts if p)
    return joined or None


def _split_cookies(line: str) -> list[tuple[str, str]]:
    """(name, raw value) pairs as Starlette's and Django's parsers split them (every ";")."""
    pairs = []
    for chunk in line.split(";"):
        key, eq, value = chunk.partition("=")
        if not eq:
            key, value = "", chunk
        key, value = key.strip(), value.strip()
        if key or value:
            pairs.append((key, value))
    return pairs


def _werkzeug_cookies(line: str) -> list[tuple[str, str]]:
    """(name, raw value) pairs as Werkzeug's parser finds them (quoted values keep their ";")."""
    pairs = []
    pos, end = 0, len(line)
    while pos < end:
        m = _WERKZEUG_COOKIE.match(line, pos)
        if m is None:
            pos = line.find(";", pos) + 1
            if pos == 0:
                break
            continue
        pairs.append((m.group(1), m.group(2) or ""))
        pos = m.end()
    return pairs


def read_cookies(line: str | None, names: Iterable[str]) -> dict[str, str]:
    """The values of the cookies `names` in a (joined) Cookie line, as every framework reads them.

    Refused (AmbiguousRequest) when frameworks would read one of them differently: the name twice
    with different values (Starlette and Django read the last, Werkzeug the first), a value that is
    not plain cookie-octets (quoted, spaces, backslashes: each parser unquotes its own way), or a
    name one parser finds and another does not.
    """
    wanted = set(names)
    if not line or not any(name in line for name in wanted):
        return {}
    plain = [(k, v) for k, v in _split_cookies(line) if k in wanted]
    werkzeug = [(k, v) for k, v in _werkzeug_cookies(line) if k in wanted]
    found: dict[str, str] = {}
    for name in wanted:
        # an empty value is no cookie to any of them (nor to the guard)
        values = {v for k, v in plain if k == name and v}
        if values != {v for k, v in werkzeug if k == name and v}:
            raise AmbiguousRequest("ambiguous_cookie",
                                   f"The cookie {name!r} reads differently to different servers.")
        # "session=tok; session=": Starlette and Django read the last (empty: no session), Werkzeug
        # the first, so an empty value beside another is as ambiguous as two values
        if len(values) > 1 or (values and any(k == name and not v for k, v in plain)):
            raise AmbiguousRequest("ambiguous_cookie", f"The cookie {name!r} is sent more than once "
                                   "with different values. Clearing this site's cookies helps.")
        if values:
            value = values.pop()
            if not _COOKIE_VALUE.fullmatch(value):
                raise AmbiguousRequest("ambiguous_cookie", f"The cookie {name!r} has an unusual value.")
            found[name] = value
    return found
