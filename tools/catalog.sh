#!/usr/bin/env bash
# Refresh the translation catalog from the code: extract every marked string (babel.cfg), merge
# into the zh-CN catalog, compile. New entries then need their Chinese text in messages.po.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
"$BIN/pybabel" extract -F babel.cfg -o web/translations/messages.pot --no-location --sort-output \
  --project Redress --copyright-holder Redress . >/dev/null
"$BIN/pybabel" update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching --ignore-obsolete
# A fixed creation date: the catalog changes only when its strings do (branches merge cleanly).
sed -i 's/^"POT-Creation-Date: .*\\n"$/"POT-Creation-Date: 2026-01-01 00:00+0000\\n"/' web/translations/*/LC_MESSAGES/messages.po
"$BIN/pybabel" compile -d web/translations
