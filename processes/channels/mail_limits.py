"""Limits an e-mail must keep before it is parsed: the stdlib parser is quadratic in places.

Measured without the limits: a 0.5 MB Subject of encoded words took 34 s to parse, 20,000
MIME parts 19 s, and MIME nesting of 1000 levels raised RecursionError. So the raw bytes are
looked at first (header size, line length, declared boundaries and nested messages), and the
parse itself is fed in chunks against a deadline.
"""

from __future__ import annotations

import re
import time
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage

MAX_HEADER_BYTES = 64 * 1024  # the whole header block of the message
MAX_HEADER_LINE = 8 * 1024  # one header, folded lines joined
MAX_PARTS = 200
MAX_NESTING = 10  # multiparts and attached messages inside each other
PARSE_SECONDS = 2.0
_CHUNK = 64 * 1024
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^";\r\n]{1,200})', re.IGNORECASE)
_NESTED_MESSAGE = re.compile(rb"content-type\s*:\s*message/", re.IGNORECASE)


class MailRefused(ValueError):
    """The message breaks a limit; its text says which, for the report."""


def check_raw(raw: bytes) -> None:
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    if len(head) > MAX_HEADER_BYTES:
        raise MailRefused(f"The headers are larger than {MAX_HEADER_BYTES // 1024} KB.")
    length = 0
    for line in head.splitlines():
        length = length + len(line) if line[:1] in (b" ", b"\t") else len(line)
        if length > MAX_HEADER_LINE:
            name = line.split(b":", 1)[0][:40].decode("ascii", "replace") if b":" in line else "a header"
            raise MailRefused(f"The header {name} is longer than {MAX_HEADER_LINE // 1024} KB.")
    boundaries = set(_BOUNDARY.findall(raw))
    if len(boundaries) + len(_NESTED_MESSAGE.findall(raw)) > MAX_NESTING * 2:
        raise MailRefused(f"The message nests more than {MAX_NESTING} levels of parts.")
    parts = sum(len(re.findall(rb"(?m)^--" + re.escape(b), raw)) for b in boundaries)
    if parts > MAX_PARTS + len(boundaries):  # each multipart has one closing delimiter too
        raise MailRefused(f"The message has more than {MAX_PARTS} parts.")


def parse(raw: bytes, seconds: float = PARSE_SECONDS) -> EmailMessage:
    """The parsed message, or MailRefused when a limit is broken or parsing takes too long."""
    check_raw(raw)
    deadline = time.monotonic() + seconds
    parser = BytesFeedParser(policy=policy.default)
    try:
        for start in range(0, len(raw), _CHUNK):
            parser.feed(raw[start:start + _CHUNK])
            if time.monotonic() > deadline:
                raise MailRefused(f"Reading the message took longer than {seconds:g} s.")
        message = parser.close()
    except RecursionError as exc:
        raise MailRefused(f"The message nests more than {MAX_NESTING} levels of parts.") from exc
    if _depth(message) > MAX_NESTING:
        raise MailRefused(f"The message nests more than {MAX_NESTING} levels of parts.")
    return message


def _depth(message: EmailMessage) -> int:
    deepest, stack = 0, [(message, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload)
    return deepest
