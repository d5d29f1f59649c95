"""The real PaddleOCR engine: local weights, oneDNN on, no downloads, one engine per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.text_images import cjk_font_path


def test_onednn_is_on(engine):
    # paddlepaddle 3.3.x can only run with oneDNN off (5-8x slower on these machines): fail loudly.
    assert engine.run_modes() == {"det": "mkldnn", "rec": "mkldnn"}
    assert engine.onednn


def test_models_are_local_pp_ocrv5(engine):
    info = engine.describe()
    assert info["det_model"] == "PP-OCRv5_mobile_det" and info["rec_model"] == "PP-OCRv5_mobile_rec"
    for key in ("det_dir", "rec_dir"):
        assert os.path.isfile(os.path.join(info[key], "inference.pdiparams"))


def test_reads_chinese_and_digits(engine):
    img = Image.new("RGB", (640, 120), "white")
    ImageDraw.Draw(img).text(
        (20, 30), "加扣扣：391287654", font=ImageFont.truetype(cjk_font_path(), 40), fill="black"
    )
    lines = engine.read(np.asarray(img)[:, :, ::-1].copy())
    text = "".join(t for t, _, _ in lines)
    assert "391287654" in text and "扣" in text


def test_engine_build_never_touches_the_network(tmp_path):
    """Build + read in a fresh process with an empty HOME (no model cache) where every outbound connect
    raises: a download attempt would fail the build. (The socket patch is the one fake: we cannot unplug
    the network from inside a test.)"""
    script = textwrap.dedent(
        """
        import socket, json, os
        attempts = []
        def refuse(self, addr, *a, **k):
            attempts.append(repr(addr)); raise OSError("network disabled by test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        from ocr.engine import get_engine
        e = get_engine()
        print(json.dumps({"attempts": attempts, "onednn": e.onednn,
                          "cache": os.path.exists(os.path.expanduser("~/.paddlex/official_models"))}))
        """
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", None)  # the engine must set it itself
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"attempts": [], "onednn": True, "cache": False}


def test_engine_is_built_once_per_process(engine):
    from ocr import engine as engine_mod

    assert engine_mod.get_engine() is engine
    assert engine_mod.builds == 1


def test_missing_model_folder_is_a_clear_error(tmp_path, monkeypatch):
    from ocr.models import ModelNotFoundError, find_model

    monkeypatch.setenv("QQSCAN_DET_MODEL_DIR", str(tmp_path))
    try:
        find_model("det")
    except ModelNotFoundError as exc:
        assert "inference.pdiparams" in str(exc)
    else:
        raise AssertionError("an empty model folder was accepted")


def test_cv2_is_the_headless_build():
    import cv2

    so = [f for f in os.listdir(os.path.dirname(cv2.__file__)) if f.startswith("cv2") and f.endswith(".so")]
    assert so, "cv2 binary not found"
    ldd = subprocess.run(
        ["ldd", os.path.join(os.path.dirname(cv2.__file__), so[0])], capture_output=True, text=True
    )
    assert "libGL" not in ldd.stdout and "libX11" not in ldd.stdout, ldd.stdout
