#!/usr/bin/env bash
# Builds the installer packages from the locked virtual environment (`make package`):
#   build/out/packages/kbdesk_<version>_amd64.deb             the program under /opt/kbdesk,
#       `kbdesk` on the PATH, the menu entry with its icon, "Open with kbdesk" for PDF and more
#   build/out/packages/<model package>_<version>_all.deb      the default answer model, in the
#       program's read-only models folder; shipped apart so program updates do not re-ship it
#   build/out/packages/kbdesk-training_<version>_amd64.deb    optional: adapter training (PyTorch)
# The programs are PyInstaller onedirs (packaging/kbdesk.spec, packaging/kbdesk-train.spec).
# Sizes are printed at the end. zstd: a tenth of xz's time on two cores, a few % larger.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
OUT=build/out
PACKAGES="$OUT/packages"
STAGE="$OUT/deb"
VERSION="$("$PY" -c 'import kbdesk; print(kbdesk.__version__)')"
read -r MODEL_FILE MODEL_VERSION < <("$PY" -c '
from kbdesk.core.generate.models import BUILTIN_MODELS
m = BUILTIN_MODELS["large"]
print(m.file, m.version)')
MODEL_PACKAGE=kbdesk-model-qwen2.5-coder-1.5b

for spec in kbdesk kbdesk-train; do
    echo "==> building $spec (PyInstaller onedir)"
    "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$OUT/dist" --workpath "$OUT/pyinstaller" "packaging/$spec.spec"
done

# The oldest C library the programs run on: the newest GLIBC_ symbol version any file asks for.
GLIBC="$(find "$OUT/dist" -type f \( -name '*.so*' -o -name kbdesk -o -name kbdesk-train \) -print0 \
    | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"

fill() {  # template -> stdout, with the @NAME@ fields filled in
    sed -e "s/@VERSION@/$VERSION/" -e "s/@MODEL_PACKAGE@/$MODEL_PACKAGE/g" \
        -e "s/@MODEL_VERSION@/$MODEL_VERSION/" -e "s/@SIZE_KB@/$2/" -e "s/@GLIBC@/${GLIBC:-}/" "$1"
}

echo "==> kbdesk $VERSION package"
ROOT="$STAGE/kbdesk"
rm -rf "$ROOT" && mkdir -p "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/DEBIAN" \
    "$ROOT/usr/share/applications" "$ROOT/usr/share/icons/hicolor/256x256/apps"
cp -a "$OUT/dist/kbdesk" "$ROOT/opt/kbdesk"
ln -s /opt/kbdesk/kbdesk "$ROOT/usr/bin/kbdesk"
install -m 644 packaging/debian/kbdesk.desktop "$ROOT/usr/share/applications/kbdesk.desktop"
install -m 644 src/kbdesk/assets/kbdesk.png "$ROOT/usr/share/icons/hicolor/256x256/apps/kbdesk.png"
install -m 755 packaging/debian/postinst packaging/debian/postrm "$ROOT/DEBIAN/"
fill packaging/debian/kbdesk.control "$(du -sk "$ROOT" | cut -f1)" >"$ROOT/DEBIAN/control"
rm -rf "$PACKAGES" && mkdir -p "$PACKAGES"
dpkg-deb --root-owner-group -Zzstd --build "$ROOT" "$PACKAGES/kbdesk_${VERSION}_amd64.deb" >/dev/null

echo "==> kbdesk-training $VERSION package"
ROOT="$STAGE/training"
rm -rf "$ROOT" && mkdir -p "$ROOT/opt/kbdesk" "$ROOT/DEBIAN"
cp -a "$OUT/dist/kbdesk-train" "$ROOT/opt/kbdesk/training"
fill packaging/debian/training.control "$(du -sk "$ROOT" | cut -f1)" >"$ROOT/DEBIAN/control"
dpkg-deb --root-owner-group -Zzstd --build "$ROOT" \
    "$PACKAGES/kbdesk-training_${VERSION}_amd64.deb" >/dev/null

echo "==> $MODEL_PACKAGE $MODEL_VERSION package"
"$PY" build/assemble_models.py --large  # into the per-user models folder, checked by its sha256
MODEL="$("$PY" -c 'from kbdesk.core.paths import user_models_dir; print(user_models_dir())')/$MODEL_FILE"
ROOT="$STAGE/model"
rm -rf "$ROOT" && mkdir -p "$ROOT/opt/kbdesk/models" "$ROOT/DEBIAN"
cp -l "$MODEL" "$ROOT/opt/kbdesk/models/" 2>/dev/null || cp "$MODEL" "$ROOT/opt/kbdesk/models/"
fill packaging/debian/model.control "$(du -sk "$ROOT" | cut -f1)" >"$ROOT/DEBIAN/control"
# Quantised weights do not compress: stored as they are, the package builds in seconds.
dpkg-deb --root-owner-group -Znone --build "$ROOT" \
    "$PACKAGES/${MODEL_PACKAGE}_${MODEL_VERSION}_all.deb" >/dev/null

echo "==> packages (glibc >= $GLIBC)"
for deb in "$PACKAGES"/*.deb; do
    printf '%6s MB download, %6s MB installed  %s\n' "$(( $(stat -c %s "$deb") / 1000000 ))" \
        "$(( $(dpkg-deb -f "$deb" Installed-Size) * 1024 / 1000000 ))" "$(basename "$deb")"
done
