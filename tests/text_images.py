"""Small helpers for tests that draw their own text images."""

from __future__ import annotations

import subprocess


def cjk_font_path() -> str:
    out = subprocess.run(["fc-match", "-f", "%{file}", "Noto Sans CJK SC"], capture_output=True, text=True)
    path = out.stdout.strip()
    if "CJK" not in path:
        raise RuntimeError("Noto CJK font missing: run ./setup.sh (apt-get install fonts-noto-cjk)")
    return path
