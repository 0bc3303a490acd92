"""Route matching on generated route maps and paths, against a plain segment-by-segment reading of
the patterns (written here without regular expressions): the first rule that matches wins, a
placeholder takes one segment (a `*` one the rest of the path), literal text is literal whatever
characters it holds, a trailing slash is optional, and the subject is the placeholder's value."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.policy.model import RouteMatching, RouteRule
from scrapeguard.routes import RouteMap

#: Literal text of patterns: letters and the characters regular expressions give a meaning to.
LITERAL_CHARS = "abcXYZ019.-_~+()$^*?[]|&#"
#: Placeholder values: what a member name or id may hold in a path (no "/").
VALUE_CHARS = "abcxyzABC0189.-_~+@()$^*é"
KINDS = ("profile", "listing", "contact_lookup", "asset")


@dataclass(frozen=True)
class Segment:
    """One segment of a generated pattern: literal text, a placeholder, or a placeholder for the rest."""

    text: str = ""
    name: str = ""
    rest: bool = False

    @property
    def spelled(self) -> str:
        return self.text if not self.name else "{" + self.name + ("*" if self.rest else "") + "}"


@dataclass(frozen=True)
class Pattern:
    segments: tuple[Segment, ...]
    trailing_slash: bool

    @property
    def spelled(self) -> str:
        return "/" + "/".join(s.spelled for s in self.segments) + ("/" if self.trailing_slash else "")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments if s.name]


def reference_match(pattern: Pattern, path: str, fold: bool) -> dict[str, str] | None:
    """The placeholders' values if `path` matches `pattern`, else None: segment by segment. A `*`
    placeholder takes the rest of the path as it is (a trailing slash included); otherwise one
    trailing slash may follow the last segment."""
    if not path.startswith("/"):
        return None
    rest_of_path = path[1:]
    values: dict[str, str] = {}
    for i, segment in enumerate(pattern.segments):
        if segment.rest:
            if not rest_of_path or "\n" in rest_of_path:
                return None
            values[segment.name] = rest_of_path
            return values
        part, slash, rest_of_path = rest_of_path.partition("/")
        last = i == len(pattern.segments) - 1
        if not last and not slash:
            return None
        if segment.name:
            if not part:
                return None
            values[segment.name] = part
        elif (part.lower() != segment.text.lower()) if fold else (part != segment.text):
            return None
    return values if rest_of_path == "" else None


literal_segments = st.builds(Segment, text=st.text(LITERAL_CHARS, min_size=1, max_size=6))


@st.composite
def patterns(draw: st.DrawFn) -> Pattern:
    segments = draw(st.lists(st.one_of(literal_segments, st.just(Segment(name="x"))), min_size=1, max_size=4))
    # placeholders named apart (a regex group name may appear once)
    named = tuple(Segment(name=f"p{i}") if s.name else s for i, s in enumerate(segments))
    if draw(st.booleans()):
        named = (*named, Segment(name="rest", rest=True))
    return Pattern(named, trailing_slash=draw(st.booleans()) and not named[-1].rest)


@st.composite
def route_maps(draw: st.DrawFn) -> tuple[list[Pattern], list[RouteRule]]:
    drawn = draw(st.lists(patterns(), min_size=1, max_size=6, unique_by=lambda p: p.spelled))
    rules = []
    for p in drawn:
        subject = draw(st.sampled_from([None, *p.names])) if p.names else None
        rules.append(RouteRule(p.spelled, draw(st.sampled_from(KINDS)), subject, ()))
    return drawn, rules


values = st.text(VALUE_CHARS, min_size=1, max_size=8)


@st.composite
def path_for(draw: st.DrawFn, pattern: Pattern) -> str:
    """A path that the pattern matches (perhaps a case or a slash away)."""
    parts = []
    for s in pattern.segments:
        if s.rest:
            parts.append("/".join(draw(st.lists(values, min_size=1, max_size=3))))
        elif s.name:
            parts.append(draw(values))
        else:
            parts.append(draw(st.sampled_from([s.text, s.text.upper(), s.text.lower()])))
    return "/" + "/".join(parts) + draw(st.sampled_from(["", "/"]))


def expected_rule(drawn: list[Pattern], rules: list[RouteRule], path: str,
                  fold: bool) -> tuple[int | None, str | None]:
    for index, (pattern, rule) in enumerate(zip(drawn, rules, strict=True)):
        found = reference_match(pattern, path, fold)
        if found is not None:
            if rule.subject is None:
                return index, None
            value = found[rule.subject]
            return index, f"{rule.subject}:{value.lower() if fold else value}"
    return None, None


@settings(max_examples=100, deadline=None)
@given(data=st.data(), fold=st.booleans())
def test_the_first_matching_rule_wins_with_its_subject(data: st.DataObject, fold: bool) -> None:
    drawn, rules = data.draw(route_maps())
    routes = RouteMap(rules, RouteMatching(case_insensitive=fold))
    target = data.draw(st.sampled_from(drawn))
    path = data.draw(st.one_of(path_for(target), st.text(LITERAL_CHARS + VALUE_CHARS + "/", max_size=20)
                               .map(lambda p: "/" + p)))
    assert routes.index_of(path) == expected_rule(drawn, rules, path, fold)
    match = routes.match(path)
    index = expected_rule(drawn, rules, path, fold)[0]
    assert match.kind == (rules[index].kind if index is not None else "page")
