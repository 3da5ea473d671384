#!/usr/bin/env bash
# Copies the front-end packages installed by npm into web/static/vendor.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=web/static/vendor
mkdir -p "$dest/bootstrap" "$dest/htmx" "$dest/bpmn-js"
cp node_modules/bootstrap/dist/css/bootstrap.min.css "$dest/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js "$dest/bootstrap/"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js "$dest/bpmn-js/"
cp -r node_modules/bpmn-js/dist/assets "$dest/bpmn-js/"
