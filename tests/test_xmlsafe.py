"""Untrusted XML is refused before it can expand entities, wherever the DOCTYPE hides."""

from __future__ import annotations

import pytest

from processes.engine.xmlsafe import UnsafeXmlError, parse_xml


def test_doctype_after_the_first_kilobytes_is_refused():
    padded = '<?xml version="1.0"?><!--' + "a" * 5000 + '--><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        parse_xml(padded, "late.bpmn")


def test_utf16_doctype_is_refused():
    hostile = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'
    with pytest.raises(UnsafeXmlError, match="DOCTYPE"):
        parse_xml(hostile.encode("utf-16"), "wide.bpmn")


def test_plain_xml_parses():
    assert parse_xml("<definitions><process id='p'/></definitions>", "ok.bpmn").tag == "definitions"
