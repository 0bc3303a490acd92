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

from scrapeguard.policy.model import RouteRule

PROFILE = "profile"
CONTACT_LOOKUP = "contact_lookup"
LISTING = "listing"
ASSET = "asset"
AUTH = "auth"
#: A login form: failed logins are counted there (detector failed_logins), and its penalties guard it.
LOGIN = "login"
PAGE = "page"

#: Route kinds that show members' data: penalties guard them, and detectors judge requests for them.
MEMBER_DATA_KINDS = frozenset({"profile", "contact_lookup", "listing"})
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


def _compile(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    pos = 0
    for m in re.finditer(r"\{(\w+)(\*?)\}", pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]).rstrip("/"))
    out.append("/?$")
    return re.compile("".join(out))


def _literal_prefix(pattern: str) -> str:
    """The part of a pattern before its first placeholder: a cheap test before the regex."""
    head = pattern.split("{", 1)[0]
    return head if "{" in pattern else head.rstrip("/")


class RouteMap:
    def __init__(self, rules: tuple[RouteRule, ...] | list[RouteRule]) -> None:
        self._rules = [(_literal_prefix(r.pattern), _compile(r.pattern), r) for r in rules]

    @property
    def rules(self) -> list[RouteRule]:
        return [rule for _, _, rule in self._rules]

    @property
    def expressions(self) -> list[re.Pattern[str]]:
        """Each rule's regular expression (Python's; Polars reads them alike), in rule order."""
        return [regex for _, regex, _ in self._rules]

    def match(self, path: str, query: str = "", method: str | None = None) -> RouteMatch:
        """Classify a request path (decoded, without the query), its raw query string and, when
        known, its method (None: rules that name methods are passed over)."""
        index, subject = self.index_of(path, query, method)
        if index is None:
            return UNMATCHED
        rule = self._rules[index][2]
        form = rule.subject[5:] if rule.subject is not None and rule.subject.startswith("form:") else None
        return RouteMatch(rule.kind, subject, rule.categories, rule.pattern, form)

    def index_of(self, path: str, query: str = "",
                 method: str | None = None) -> tuple[int | None, str | None]:
        """(index of the first rule that matches, or None; the subject) — `match` in two plain values."""
        for index, (prefix, regex, rule) in enumerate(self._rules):
            if not path.startswith(prefix):
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
                    values = parse_qs(query).get(name) if query else None
                    if values and values[0].strip():
                        subject = f"{name}:{values[0].strip().lower()}"
                elif rule.subject.startswith("form:"):
                    pass  # in the request body: read by the integration (RouteMatch.form)
                else:
                    subject = f"{rule.subject}:{m.group(rule.subject)}"
            return index, subject
        return None, None
