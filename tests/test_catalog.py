"""The translation catalog: every interface string has its Chinese text, and the catalog is
current against the code (`tools/catalog.sh` refreshes it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "web" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    pot = tmp_path_factory.mktemp("catalog") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "extract", "-F", "babel.cfg", "-o", str(pot), "--no-location", "."],
                   cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


@pytest.fixture(scope="module")
def catalog():
    with CATALOG.open("rb") as f:
        return read_po(f)


def test_catalog_is_current_against_the_code(extracted, catalog):
    in_catalog = {m.id for m in catalog if m.id}
    missing = sorted(extracted - in_catalog)
    obsolete = sorted(in_catalog - extracted)
    assert (missing, obsolete) == ([], []), "run tools/catalog.sh and translate the new entries"


def test_every_string_has_its_chinese_text(catalog):
    untranslated = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert (untranslated, fuzzy) == ([], [])


def test_translations_keep_their_placeholders(catalog):
    broken = [m.id for m in catalog if m.id and m.string
              and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))]
    assert broken == []


def test_extraction_finds_lazy_and_runtime_strings(extracted):
    """`_l` in the web layer and `N_` in the runtime are extracted (babel.cfg keywords)."""
    assert "Product quality" in extracted  # _l, web/workspace_i18n.py
    assert "This task does not exist." in extracted  # N_, processes/engine/runtime.py
