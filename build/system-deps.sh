#!/usr/bin/env bash
# Optional system tools: Tesseract OCR (English + Simplified Chinese) for scanned PDFs, and Xvfb
# for screenshots of the window. Installed with apt when running as root; otherwise a hint.
set -uo pipefail
want=()
command -v tesseract >/dev/null 2>&1 || want+=(tesseract-ocr tesseract-ocr-eng)
tesseract --list-langs 2>/dev/null | grep -qx chi_sim || want+=(tesseract-ocr-chi-sim)
command -v Xvfb >/dev/null 2>&1 || want+=(xvfb)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${want[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}") >/dev/null 2>&1 \
        || echo "    (could not install ${want[*]}; OCR of scanned PDFs stays off)"
else
    echo "Optional: install ${want[*]} (e.g. sudo apt-get install ${want[*]}) to OCR scanned PDFs."
fi
