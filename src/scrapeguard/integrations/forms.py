"""The subject of a form route, read from the request body as the site will read it.

Sign-up, password-reset and login forms name a member in a form field (a route rule with
`subject = "form:email"`, say). The guard reads the body of such a request (at most
FORM_LIMIT bytes; it forwards exactly the bytes it read) and takes the field, in the three
encodings forms use: `application/x-www-form-urlencoded`, `multipart/form-data` and JSON.

Where frameworks could read one body two ways, the guard does not guess which: the request is
refused as ambiguous (400), and counted. That is: the field given more than once (frameworks
differ on first or last), `;` used as a separator where it changes what the field holds (some
parsers split on it, others do not), bytes that are not UTF-8, a JSON value that is not a
string. A body the guard cannot read at all (another content type, a content encoding, another
charset) is refused with 415, since the site might read it and the guard could not count it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import unquote_plus

#: Bodies of form routes larger than this are refused (413): forms that name a member are small.
FORM_LIMIT = 64 * 1024
#: Subject values longer than this are kept as a hash (the state store keeps subjects).
MAX_VALUE = 256
#: Charsets the guard reads form bodies in (the site's framework reads them alike).
CHARSETS = frozenset({"", "utf-8", "utf8", "us-ascii", "ascii"})


class FormError(ValueError):
    """A form body the guard refuses: `status` is 400 (ambiguous), 413 (too large) or 415."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class FormSubject:
    """What a form route's body said about its subject."""

    #: "<field>:<value>" (value stripped, lower case, hashed if long), or None if the field is absent.
    subject: str | None


def subject_value(field: str, value: str) -> str | None:
    """The subject as the route map names it ("email:jane@example.org"), None for a blank value."""
    value = value.strip().lower()
    if not value:
        return None
    if len(value) > MAX_VALUE:
        value = "sha256-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{field}:{value}"


def check_encoding(content_encoding: str | None) -> None:
    """Refuse (415) a compressed form body: the guard would count what it cannot read."""
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        raise FormError(415, "a form body must not be compressed")


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    message = Message()
    message["content-type"] = content_type
    params = {k.lower(): v for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type().lower(), params


def read_subject(body: bytes, content_type: str | None, field: str,
                 content_encoding: str | None = None) -> FormSubject:
    """The subject `field` holds in `body`. Raises FormError when the body is ambiguous or unreadable."""
    check_encoding(content_encoding)
    if len(body) > FORM_LIMIT:
        raise FormError(413, f"a form is at most {FORM_LIMIT // 1024} KiB here")
    if not body:
        return FormSubject(None)
    media, params = _media_type(content_type or "")
    if params.get("charset", "").strip().lower() not in CHARSETS:
        raise FormError(415, "a form body must be UTF-8")
    if media == "application/x-www-form-urlencoded":
        value = _urlencoded(body, field)
    elif media == "multipart/form-data":
        value = _multipart(body, content_type or "", field)
    elif media == "application/json" or media.endswith("+json"):
        value = _json(body, field)
    else:
        raise FormError(415, "this form is sent as application/x-www-form-urlencoded, "
                             "multipart/form-data or JSON")
    return FormSubject(subject_value(field, value) if value is not None else None)


def read_field(body: bytes, content_type: str | None, field: str) -> str | None:
    """The value of `field` in an HTML form post (URL-encoded or multipart), as it was sent; None
    if absent. Raises FormError when the body is ambiguous, unreadable or not such a form."""
    if len(body) > FORM_LIMIT:
        raise FormError(413, f"a form is at most {FORM_LIMIT // 1024} KiB here")
    media, params = _media_type(content_type or "")
    if params.get("charset", "").strip().lower() not in CHARSETS:
        raise FormError(415, "a form body must be UTF-8")
    if media == "application/x-www-form-urlencoded":
        return _urlencoded(body, field)
    if media == "multipart/form-data":
        return _multipart(body, content_type or "", field)
    raise FormError(415, "this form is sent as application/x-www-form-urlencoded or multipart/form-data")


def _one(values: Sequence[str], field: str) -> str | None:
    if len(values) > 1:
        raise FormError(400, f"the form field {field!r} is given more than once")
    return values[0] if values else None


def _urlencoded(body: bytes, field: str) -> str | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError(400, "the form is not UTF-8") from None

    def values(separators: str) -> list[str]:
        pairs = [text]
        for sep in separators:
            pairs = [part for chunk in pairs for part in chunk.split(sep)]
        found = []
        for pair in pairs:
            name, _, value = pair.partition("=")
            try:
                if unquote_plus(name, errors="strict") == field:
                    found.append(unquote_plus(value, errors="strict"))
            except UnicodeDecodeError:
                raise FormError(400, "the form is not UTF-8") from None
        return found

    # Parsers differ on ";" (python-multipart and older stdlib split on it, WHATWG and current
    # stdlib do not): the field must read the same either way.
    plain = _one(values("&"), field)
    split = _one(values("&;"), field)
    if plain != split:
        raise FormError(400, f"the form field {field!r} reads differently with ';' as a separator")
    return plain


def _multipart(body: bytes, content_type: str, field: str) -> str | None:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        message = BytesParser(policy=HTTP).parsebytes(head + body)
    except Exception:  # the email parser is lenient; anything it raises is a body we cannot read
        raise FormError(400, "the multipart form could not be read") from None
    if not message.is_multipart() or message.defects:
        raise FormError(400, "the multipart form could not be read")
    found = []
    for part in message.iter_parts():
        if part.get_content_disposition() != "form-data" or part.defects:
            raise FormError(400, "the multipart form could not be read")
        dispositions = [v for k, v in part.raw_items() if k.lower() == "content-disposition"]
        if len(dispositions) != 1 or "*=" in dispositions[0] or "content-transfer-encoding" in part:
            # parsers differ on these (RFC 2231 names, encoded parts): not read either way
            raise FormError(400, "a part of the multipart form is ambiguous")
        if part.get_param("name", header="content-disposition") != field:
            continue
        if part.get_filename() is not None:
            raise FormError(400, f"the form field {field!r} is a file")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise FormError(400, "the multipart form could not be read")
        try:
            found.append(payload.decode("utf-8"))
        except UnicodeDecodeError:
            raise FormError(400, "the form is not UTF-8") from None
    return _one(found, field)


def _json(body: bytes, field: str) -> str | None:
    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        names = [name for name, _ in items]
        if field in names and names.count(field) > 1:
            raise FormError(400, f"the field {field!r} is given more than once")
        return dict(items)

    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=pairs)
    except FormError:
        raise
    except ValueError:  # (UnicodeDecodeError and JSONDecodeError are ValueErrors)
        raise FormError(400, "the JSON body could not be read") from None
    if not isinstance(data, dict) or field not in data:
        return None
    value = data[field]
    if not isinstance(value, str):
        raise FormError(400, f"the field {field!r} must be a string")
    return value
