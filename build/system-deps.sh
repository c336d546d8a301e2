#!/usr/bin/env bash
# Optional system tools: Tesseract OCR (English + Simplified Chinese) for scanned PDFs, the
# libraries Qt needs for a real window, CJK fonts, and Xvfb for screenshots of the window.
# Installed with apt when running as root; otherwise a hint.
set -uo pipefail
want=()
command -v tesseract >/dev/null 2>&1 || want+=(tesseract-ocr tesseract-ocr-eng)
tesseract --list-langs 2>/dev/null | grep -qx chi_sim || want+=(tesseract-ocr-chi-sim)
command -v Xvfb >/dev/null 2>&1 || want+=(xvfb)
# Qt's xcb platform plugin (a real window) needs these since Qt 6.5; CJK fonts show Chinese text.
for lib in libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
           libxcb-render-util0 libxcb-image0 libegl1 libgl1 libfontconfig1 libdbus-1-3; do
    dpkg -s "$lib" >/dev/null 2>&1 || want+=("$lib")
done
fc-list 2>/dev/null | grep -qi "cjk" || want+=(fonts-noto-cjk)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${want[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}") >/dev/null 2>&1 \
        || echo "    (could not install ${want[*]}; OCR or the window may be unavailable)"
else
    echo "Optional: install ${want[*]} (e.g. sudo apt-get install ${want[*]}) for OCR and the window."
fi
