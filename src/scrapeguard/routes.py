"""The route map: which URL paths show which member's personal data.

A pattern like `/u/{username}` matches one path segment per placeholder;
`{name*}` matches the rest of the path. The first matching rule wins and
paths that match none are plain pages.

A rule may name the `methods` it applies to (`["POST"]`): a request with another method,
or whose method is not known, goes on to the next rule. A rule's subject may be a form
field (`form:email`): the route map cannot see request bodies, so it says which field
(`RouteMatch.form`) and the integration reads it (`integrations/forms.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from scrapeguard.policy.model import RouteMatching, RouteRule

PROFILE = "profile"
CONTACT_LOOKUP = "contact_lookup"
LISTING = "listing"
ASSET = "asset"
AUTH = "auth"
#: A login form: failed logins are counted there (detector failed_logins), and its penalties guard it.
LOGIN = "login"
PAGE = "page"

#: Every route kind, as a policy's [[routes]] may name them.
ROUTE_KINDS = (PROFILE, CONTACT_LOOKUP, LISTING, ASSET, AUTH, PAGE, LOGIN)
#: Route kinds that show members' data: penalties guard them, and detectors judge requests for them.
MEMBER_DATA_KINDS = frozenset({PROFILE, CONTACT_LOOKUP, LISTING})
#: Route kinds whose subject is one member whose data the response shows.
MEMBER_KINDS = frozenset({PROFILE, CONTACT_LOOKUP})


#: File extensions of static files (what a browser loads with a page), lower case, with the dot.
STATIC_EXTENSIONS = frozenset({
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico",
    ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".ogg", ".wasm",
})


def is_static(path: str, kind: str) -> bool:
    """Whether a request is for a static file: an asset route, or a path whose last segment ends in
    a static file extension (sites rarely list every folder of them in the route map)."""
    if kind == ASSET:
        return True
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:].lower() in STATIC_EXTENSIONS


@dataclass(frozen=True, slots=True)
class RouteMatch:
    kind: str
    #: Which member the response shows, as "<placeholder>:<value>", or None.
    subject: str | None
    categories: tuple[str, ...]
    pattern: str | None
    #: The form field that names the subject (a `form:NAME` rule), for the integration to read
    #: from the request body; the subject is None until it has.
    form: str | None = None


UNMATCHED = RouteMatch(PAGE, None, (), None)


class AmbiguousRequest(ValueError):
    """A request the site may read otherwise than the guard would: refused (400) and counted.

    `count` names the proxy's counter (e.g. "ambiguous_subject")."""

    def __init__(self, count: str, message: str) -> None:
        super().__init__(message)
        self.count = count


#: How the site reads requests when the policy does not say (Starlette's, Flask's, Django's way).
DEFAULT_MATCHING = RouteMatching()

#: Control characters: no member name or contact detail holds one, and servers cut or read them
#: differently (a NUL ends a C string).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    out = ["^"]
    pos = 0
    for m in re.finditer(r"\{(\w+)(\*?)\}", pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]).rstrip("/"))
    out.append("/?$")
    return re.compile("".join(out), flags)


def _literal_prefix(pattern: str) -> str:
    """The part of a pattern before its first placeholder: a cheap test before the regex."""
    head = pattern.split("{", 1)[0]
    return head if "{" in pattern else head.rstrip("/")


class RouteMap:
    """The route map, read as the site reads requests (`matching`: the policy's [route_matching];
    logs, which record what the site served, use the defaults)."""

    def __init__(self, rules: tuple[RouteRule, ...] | list[RouteRule],
                 matching: RouteMatching = DEFAULT_MATCHING) -> None:
        self.matching = matching
        fold = matching.case_insensitive
        flags = re.IGNORECASE if fold else 0
        self._rules = [(_literal_prefix(r.pattern).lower() if fold else _literal_prefix(r.pattern),
                        _compile(r.pattern, flags), r) for r in rules]

    @property
    def rules(self) -> list[RouteRule]:
        return [rule for _, _, rule in self._rules]

    @property
    def expressions(self) -> list[re.Pattern[str]]:
        """Each rule's regular expression (Python's; Polars reads them alike), in rule order."""
        return [regex for _, regex, _ in self._rules]

    def match(self, path: str, query: str = "", method: str | None = None,
              strict: bool = False) -> RouteMatch:
        """Classify a request path (decoded, without the query), its raw query string and, when
        known, its method (None: rules that name methods are passed over). With `strict` (a live
        request), a subject the site may read otherwise raises AmbiguousRequest."""
        index, subject = self.index_of(path, query, method, strict)
        if index is None:
            return UNMATCHED
        rule = self._rules[index][2]
        form = rule.subject[5:] if rule.subject is not None and rule.subject.startswith("form:") else None
        return RouteMatch(rule.kind, subject, rule.categories, rule.pattern, form)

    def index_of(self, path: str, query: str = "", method: str | None = None,
                 strict: bool = False) -> tuple[int | None, str | None]:
        """(index of the first rule that matches, or None; the subject) — `match` in two plain values."""
        fold = self.matching.case_insensitive
        folded = path.lower() if fold else path
        for index, (prefix, regex, rule) in enumerate(self._rules):
            if not folded.startswith(prefix):
                continue
            if rule.methods and (method is None or method.upper() not in rule.methods):
                continue  # (a rule that names methods applies only where the method is known)
            m = regex.match(path)
            if m is None:
                continue
            subject = None
            if rule.subject is not None:
                if rule.subject.startswith("query:"):
                    name = rule.subject[6:]
                    value = self._query_value(name, query, strict) if query else None
                    if value and value.strip():
                        subject = f"{name}:{value.strip().lower()}"
                elif rule.subject.startswith("form:"):
                    pass  # in the request body: read by the integration (RouteMatch.form)
                else:
                    value = m.group(rule.subject)
                    subject = f"{rule.subject}:{value.lower() if fold else value}"
            return index, subject
        return None, None

    def _query_value(self, name: str, query: str, strict: bool) -> str | None:
        """The value of the subject parameter `name`, decoded as Starlette, Werkzeug and Django do
        (`+` is a space, %XX UTF-8, `&` the only separator). Given more than once, the value the
        policy says the site reads; with `strict` and "refuse", AmbiguousRequest."""
        values = parse_qs(query, keep_blank_values=True).get(name)
        if not values:
            return None
        if strict:
            if len(values) > 1 and self.matching.repeated_subject == "refuse":
                raise AmbiguousRequest("ambiguous_subject",
                                       f"The parameter {name[:40]!r} is given more than once.")
            if any(CONTROL.search(v) for v in values):
                raise AmbiguousRequest("ambiguous_subject",
                                       f"The parameter {name[:40]!r} holds control characters.")
        # Starlette's and Django's query dicts read the last value, Flask's args.get the first
        return values[0] if self.matching.repeated_subject == "first" else values[-1]
