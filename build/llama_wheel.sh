#!/usr/bin/env bash
# Builds the llama-cpp-python wheel once and prints the folder that holds it.
#   build/llama_wheel.sh PYTHON            one CPU library per shipped instruction set, from the
#                                          floor up (what kbdesk ships; cpu_floor.py, cpu_variants.py)
#   build/llama_wheel.sh PYTHON --native   for this machine's own CPU (bench/bench_portable_build.py
#                                          compares the two; never installed into the app)
# The folder is named after the build flags, because pip's own wheel cache ignores CMAKE_ARGS
# (hence --no-cache-dir): a changed floor builds a new wheel instead of reusing the old one.
# The version and the source archive's sha256 come from requirements.lock; the archive is checked
# before it is unpacked, and only its list of CPU variants is edited (cpu_floor.py trim).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="$1"
LOCK=requirements.lock
# The lock's llama-cpp-python entry: its "name==version \" line and the hash lines under it.
LOCKED="$(awk '/^llama-cpp-python==/{on=1; print; next} on && /^ +--hash/{print; next} {on=0}' "$LOCK")"
LLAMA_VERSION="$(sed -n '1s/^llama-cpp-python==\([^ ]*\).*/\1/p' <<<"$LOCKED")"
[ -n "$LLAMA_VERSION" ] || { echo "llama-cpp-python is not in $LOCK" >&2; exit 1; }
FLOOR_PY=src/kbdesk/core/generate/cpu_floor.py
WHEELS="${KBDESK_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbdesk/wheels}"

if [ "${2:-}" = "--native" ]; then
    ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF"
    # A native wheel is only valid on CPUs with the same flags: name it after them.
    TAG="native-$(grep -m1 '^flags' /proc/cpuinfo | sha256sum | cut -c1-8)"
else
    ARGS="$("$PY" "$FLOOR_PY" cmake-args)"
    TAG="$("$PY" "$FLOOR_PY" tag)"
fi
DIR="$WHEELS/llama-cpp-python-$LLAMA_VERSION-$TAG"

if ! ls "$DIR"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "==> building llama-cpp-python $LLAMA_VERSION for $TAG (one time, 10-20 minutes on 2 cores)" >&2
    rm -rf "$DIR.partial" && mkdir -p "$DIR.partial/source"
    # The source archive is checked against the lock's hash before anything is built from it.
    "$PY" -m pip --disable-pip-version-check download --quiet --no-deps --require-hashes \
        --no-binary :all: -d "$DIR.partial/source" -r /dev/stdin <<<"$LOCKED" >&2
    tar -xzf "$DIR.partial/source"/llama_cpp_python-"$LLAMA_VERSION".tar.gz -C "$DIR.partial/source"
    TREE="$DIR.partial/source/llama_cpp_python-$LLAMA_VERSION"
    if [ "${2:-}" != "--native" ]; then  # only the CPU variants kbdesk ships (never AMX)
        "$PY" "$FLOOR_PY" trim "$TREE/vendor/llama.cpp/ggml/src/CMakeLists.txt" >&2
    fi
    CMAKE_ARGS="$ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc 2>/dev/null || echo 2)" \
        "$PY" -m pip --disable-pip-version-check wheel --quiet --no-cache-dir --no-deps \
        -w "$DIR.partial" "$TREE" >&2
    rm -rf "$DIR.partial/source"
    echo "$ARGS" >"$DIR.partial/CMAKE_ARGS"
    rm -rf "$DIR" && mv "$DIR.partial" "$DIR"
fi
echo "$DIR"
