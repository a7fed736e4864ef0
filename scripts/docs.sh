#!/usr/bin/env bash
# Build the documentation site (MkDocs + mkdocstrings) from docs/ and the docstrings.
#
#   bash scripts/docs.sh            build into ./site (prints the folder); any warning fails the build
#
# The site is built with `mkdocs build --strict`: a broken link, a page missing from the nav, an
# unresolvable reference or a docstring parameter the signature lacks fails it. It needs only a
# Python 3.11+ and the package registry: a venv (.venv-docs, created once, reinstalled when the
# `docs` extra changes) gets the `docs` extra's requirements alone. The package itself and Airflow
# are not installed: griffe reads the API reference from the source without importing it.
#
# Environment knobs: PYTHON (interpreter for the venv, default python3), LF_DOCS_VENV (default
# .venv-docs), LF_DOCS_SITE (output folder, default site).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
VENV="${LF_DOCS_VENV:-.venv-docs}"
SITE="${LF_DOCS_SITE:-site}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.docs-requirements"
# The `docs` extra of pyproject.toml, one requirement a line (tomllib: Python 3.11+).
wanted="$("$VENV/bin/python" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["docs"]))
')"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
  echo "== docs: installing the docs extra into $VENV"
  mapfile -t reqs <<< "$wanted"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${reqs[@]}"
  printf '%s' "$wanted" > "$STAMP"
fi

echo "== docs: mkdocs build --strict"
"$VENV/bin/mkdocs" build --strict --site-dir "$SITE"
echo "docs built into $PWD/$SITE (open $SITE/index.html)"
