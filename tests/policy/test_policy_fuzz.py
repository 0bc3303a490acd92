"""Property tests: whatever a policy file holds, loading it succeeds or raises PolicyError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.policy import PolicyError, load_policy_text

KEYS = ["mode", "risk", "throttle", "block", "detectors", "profile_quota", "anonymous", "per_hour",
        "per_day", "allowlist", "cidrs", "routes", "pattern", "kind", "subject", "store", "max_keys"]
scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(),
                    st.text(max_size=20), st.lists(st.text(max_size=10), max_size=3))


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else repr(value).replace("inf", "inf")
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


@given(st.text(max_size=400))
def test_random_text_never_crashes_the_loader(text: str) -> None:
    try:
        load_policy_text(text, "fuzz.toml")
    except PolicyError as exc:
        assert exc.problems and all(p.file == "fuzz.toml" for p in exc.problems)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3), scalars), max_size=6))
def test_plausible_policies_load_or_name_their_problems(entries: list[tuple[list[str], object]]) -> None:
    lines = []
    for i, (path, value) in enumerate(entries):
        table, key = path[:-1], path[-1]
        if table:
            lines.append(f"[{'.'.join(table)}]" if i % 2 else f"[[{'.'.join(table)}]]")
        lines.append(f"{key} = {toml_value(value)}")
    try:
        load_policy_text("\n".join(lines) + "\n", "fuzz.toml")
    except PolicyError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert str(problem).startswith("fuzz.toml")
