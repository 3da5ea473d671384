"""Hardened XML parsing for every BPMN, DMN or uploaded file.

Process files come from designers' browsers and from other modelers, so they are
untrusted: no DTDs, no entity expansion, no network, bounded size and depth.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

MAX_XML_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 200


class UnsafeXmlError(ValueError):
    """The file is refused before it is parsed; the message says why."""


class EncodingError(ValueError):
    """The bytes cannot be read as text in the encoding the file declares (or UTF-8 when it declares none).

    `declared` is the declared encoding (None: no declaration), `line` the line of the first bad byte."""

    def __init__(self, message: str, declared: str | None = None, line: int | None = None):
        super().__init__(message)
        self.declared, self.line = declared, line


_DECLARATION = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z][\w.\-]*)["']""")
_TEXT_DECLARATION = re.compile(r"""^(\ufeff?<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z][\w.\-]*)(["'])""")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_xml(data: bytes | str, filename: str = "file") -> str:
    """The text of an XML file, decoded the way an XML parser would: by its byte-order mark, else by the
    encoding its XML declaration names, else as UTF-8. The declaration of the returned text says UTF-8,
    so that encoding the text as UTF-8 and parsing it again reads the same characters (stored text,
    deployment and download all encode as UTF-8). Raises EncodingError rather than guess."""
    if isinstance(data, str):
        return _declare_utf8(data)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _declare_utf8(_decode(data, codec, filename, codec.removesuffix("-sig").upper()))
    match = _DECLARATION.match(data.lstrip()[:200])
    declared = match.group(1).decode("ascii") if match else None
    if declared is not None:
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            raise EncodingError(f"{filename}: the XML declaration names encoding {declared!r}, which is unknown",
                                declared) from None
    else:
        codec = "utf-8"
    return _declare_utf8(_decode(data, codec, filename, declared))


def _decode(data: bytes, codec: str, filename: str, declared: str | None) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        said = f"declares {declared}" if declared else "declares no encoding, so it must be UTF-8"
        line = data[:exc.start].count(b"\n") + 1
        raise EncodingError(f"{filename}: byte 0x{data[exc.start]:02x} on line {line} is not valid "
                            f"{codec.upper()} (the file {said})", declared, line) from None


def _declare_utf8(text: str) -> str:
    text = text.removeprefix("\ufeff")
    return _TEXT_DECLARATION.sub(lambda m: f"{m.group(1)}UTF-8{m.group(3)}", text, count=1)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(data: bytes | str, filename: str = "file") -> etree._Element:
    """Parse untrusted XML and return its root element, or raise UnsafeXmlError / XMLSyntaxError."""
    if isinstance(data, str):
        # Text is Unicode already: a leftover `encoding="ISO-8859-1"` must not make the parser re-decode it.
        data = _declare_utf8(data).encode("utf-8")
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXmlError(f"{filename}: larger than {MAX_XML_BYTES // (1024 * 1024)} MB")
    # A DOCTYPE is the door for XXE and billion-laughs; BPMN and DMN never need one.
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise UnsafeXmlError(f"{filename}: DOCTYPE and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"{filename}: not well-formed XML: {exc}") from exc
    # The byte check above misses a DOCTYPE past the first 4 KB or in UTF-16; the parse does not.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXmlError(f"{filename}: DOCTYPE and entity declarations are not allowed")
    if _depth(root) > MAX_DEPTH:
        raise UnsafeXmlError(f"{filename}: nested deeper than {MAX_DEPTH} levels")
    return root


def _depth(root: etree._Element) -> int:
    depth = deepest = 0
    for event, _element in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest
