#!/usr/bin/env bash
# Copies the front-end packages installed by npm into web/static/vendor.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=web/static/vendor
rm -rf "$dest"
mkdir -p "$dest/bootstrap" "$dest/htmx" "$dest/bpmn-js" "$dest/dmn-js" "$dest/echarts"
cp node_modules/bootstrap/dist/css/bootstrap.min.css "$dest/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js "$dest/bootstrap/"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js "$dest/bpmn-js/"
cp node_modules/bpmn-js/dist/bpmn-modeler.production.min.js "$dest/bpmn-js/"
cp -r node_modules/bpmn-js/dist/assets "$dest/bpmn-js/"
cp node_modules/dmn-js/dist/dmn-modeler.production.min.js "$dest/dmn-js/"
cp -r node_modules/dmn-js/dist/assets "$dest/dmn-js/"
cp node_modules/echarts/dist/echarts.min.js "$dest/echarts/"
