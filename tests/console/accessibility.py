"""A static accessibility check of a console page's HTML: the language is set, every form field
has a label (a <label for>, a wrapping <label>, or aria-label), every button and link says what it
does, images have alt text, tables have header cells, there is one <h1>. Run on every page the
browser tests screenshot (helpers.screenshot) and on every page the role walk renders."""

from __future__ import annotations

from html.parser import HTMLParser

FIELDS = {"input", "select", "textarea"}
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.labels_for: set[str] = set()
        self.fields: list[tuple[str, dict[str, str], bool]] = []  # tag, attributes, inside a label
        self.label_depth = 0
        self.images_without_alt = 0
        self.h1 = 0
        self.tables = 0
        self.table_headers = 0
        self.open_clickable: list[tuple[str, dict[str, str], list[str]]] = []
        self.mute_clickables: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.labels_for.add(a["for"])
        elif tag in FIELDS:
            if not (tag == "input" and a.get("type", "text") in UNLABELLED_INPUTS):
                self.fields.append((tag, a, self.label_depth > 0))
        elif tag == "img" and "alt" not in a:
            self.images_without_alt += 1
        elif tag == "h1":
            self.h1 += 1
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self.table_headers += 1
        if tag in ("button", "a"):
            self.open_clickable.append((tag, a, []))

    def handle_data(self, data: str) -> None:
        for _, _, texts in self.open_clickable:
            texts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth = max(0, self.label_depth - 1)
        if tag in ("button", "a") and self.open_clickable:
            opened, a, texts = self.open_clickable.pop()
            if not "".join(texts).strip() and not a.get("aria-label") and not a.get("title"):
                self.mute_clickables.append(f"<{opened} {a}>")


def accessibility_problems(html: str) -> list[str]:
    page = _Page()
    page.feed(html)
    problems = []
    if not page.lang:
        problems.append("<html> has no lang attribute")
    for tag, a, wrapped in page.fields:
        if not (wrapped or a.get("aria-label") or a.get("aria-labelledby")
                or (a.get("id") and a["id"] in page.labels_for)):
            problems.append(f"<{tag} name={a.get('name')!r}> has no label")
    if page.images_without_alt:
        problems.append(f"{page.images_without_alt} image(s) without alt text")
    if page.h1 != 1:
        problems.append(f"{page.h1} <h1> headings (one expected)")
    if page.tables and not page.table_headers:
        problems.append("tables without header cells")
    problems += [f"{c} says nothing (no text, aria-label or title)" for c in page.mute_clickables]
    return problems


def assert_accessible(html: str, where: str = "") -> None:
    problems = accessibility_problems(html)
    assert not problems, f"{where}: " + "; ".join(problems)
