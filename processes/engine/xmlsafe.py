"""Hardened XML parsing for every BPMN, DMN or uploaded file.

Process files come from designers' browsers and from other modelers, so they are
untrusted: no DTDs, no entity expansion, no network, bounded size and depth.
"""

from __future__ import annotations

from lxml import etree

MAX_XML_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 200


class UnsafeXmlError(ValueError):
    """The file is refused before it is parsed; the message says why."""


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
        data = data.encode("utf-8")
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
