#!/usr/bin/env bash
# Writes requirements.lock (`make lock`): the exact version and sha256 hashes of every package
# kbdesk installs, for Linux x86-64 and Python 3.11, so build/setup.sh and the installer build
# (packaging/) install the same program in six months as today. Versions already locked stay as
# they are; `make lock UPGRADE=1` moves every package to its newest allowed release.
# torch resolves to the CPU build (2.13.0+cpu) where pip finds it (this project's machines keep it
# on disk; elsewhere add --extra-index-url https://download.pytorch.org/whl/cpu).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
PIP_TOOLS_VERSION=7.6.2
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/kbdesk/pip-tools-$PIP_TOOLS_VERSION"
if [ ! -x "$TOOLS/bin/pip-compile" ]; then
    "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet "pip-tools==$PIP_TOOLS_VERSION"
fi
"$TOOLS/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --extra gui --extra dev --extra package --no-emit-index-url --no-emit-find-links \
    ${UPGRADE:+--upgrade} --output-file requirements.lock pyproject.toml
