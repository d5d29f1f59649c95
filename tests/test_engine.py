"""The real OCR engines: `onnx` (PP-OCRv6 small, the default) and `paddle` (PP-OCRv5 mobile, oneDNN on);
local weights only, no downloads, one engine per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.text_images import cjk_font_path


def test_default_engine_is_onnx_on_openvino(engine):
    if os.environ.get("QQSCAN_ENGINE") or os.environ.get("QQSCAN_ONNX_RUNTIME"):
        pytest.skip("engine chosen by the environment")
    info = engine.describe()
    assert info["engine"] == "onnx" and info["backend"].startswith("openvino ")
    assert info["det_model"] == "PP-OCRv6_det_small" and info["rec_model"] == "PP-OCRv6_rec_small"
    for key in ("det_path", "rec_path"):
        assert os.path.isfile(info[key]) and "rapidocr" in info[key]  # the wheel's own files, nothing fetched


def test_paddle_onednn_is_on(paddle_engine):
    # paddlepaddle 3.3.x can only run with oneDNN off (5-8x slower on these machines): fail loudly.
    assert paddle_engine.models.run_modes() == {"det": "mkldnn", "rec": "mkldnn"}
    assert paddle_engine.onednn


def test_paddle_models_are_local_pp_ocrv5(paddle_engine):
    info = paddle_engine.describe()
    assert info["det_model"] == "PP-OCRv5_mobile_det" and info["rec_model"] == "PP-OCRv5_mobile_rec"
    for key in ("det_path", "rec_path"):
        assert os.path.isfile(os.path.join(info[key], "inference.pdiparams"))


def test_each_engine_reads_chinese_and_digits(each_engine):
    img = Image.new("RGB", (640, 120), "white")
    ImageDraw.Draw(img).text(
        (20, 30), "加扣扣：391287654", font=ImageFont.truetype(cjk_font_path(), 40), fill="black"
    )
    lines = each_engine.read(np.asarray(img)[:, :, ::-1].copy())
    text = "".join(t for t, _, _ in lines)
    assert "391287654" in text and "扣" in text


def test_onnx_runtime_and_openvino_read_alike(onnx_engine):
    """Both runtimes run the same ONNX files with RapidOCR's processing: the same text, number included."""
    from ocr.engine import EngineConfig, OcrEngine

    other = "onnxruntime" if onnx_engine.models.runtime == "openvino" else "openvino"
    alt = OcrEngine(EngineConfig(engine="onnx", onnx_runtime=other))
    img = Image.new("RGB", (700, 200), (250, 245, 235))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(cjk_font_path(), 34)
    d.text((20, 20), "售后QQ 2845731906", font=font, fill=(30, 30, 30))
    d.text((20, 110), "叁玖壹贰捌柒陆伍肆", font=font, fill=(200, 20, 30))
    arr = np.asarray(img)[:, :, ::-1].copy()
    texts = [t for t, _, _ in onnx_engine.read(arr)]
    assert "2845731906" in "".join(texts)  # not vacuous: both reading nothing would be "alike"
    assert texts == [t for t, _, _ in alt.read(arr)]


@pytest.mark.parametrize("name", ["onnx", "paddle"])
def test_engine_build_never_touches_the_network(tmp_path, name):
    """Build + read in a fresh process with an empty HOME (no model cache) where every outbound connect
    raises, and so does starting a Python child process: a download (a model hub) or a telemetry ping would
    fail the build. (The socket patch is the one
    fake: we cannot unplug the network from inside a test.)"""
    script = textwrap.dedent(
        """
        import socket, json, os
        attempts = []
        def refuse(self, addr, *a, **k):
            attempts.append(repr(addr)); raise OSError("network disabled by test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        # A Python child process (OpenVINO's telemetry sends from one) would escape the socket patch: refuse
        # those too. (Paddle shells out to `ldd --version`, a local command: subprocess stays allowed.)
        import multiprocessing
        def no_child(self, *a, **k):
            attempts.append("child process " + repr(self)); raise OSError("child processes disabled by test")
        multiprocessing.Process.start = no_child
        from ground.settings import Settings
        from jobs.scanner import Scanner
        e = Scanner(Settings.load()).engine  # this script is an edge: it reads QQSCAN_ENGINE
        print(json.dumps({"attempts": attempts, "engine": e.name, "onednn": e.onednn,
                          "cache": os.path.exists(os.path.expanduser("~/.paddlex/official_models"))}))
        """
    )
    env = {**os.environ, "HOME": str(tmp_path), "QQSCAN_ENGINE": name}
    env.pop("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", None)  # the engine must set it itself
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    onednn = True if name == "paddle" else None
    assert report == {"attempts": [], "engine": name, "onednn": onednn, "cache": False}


def test_unknown_engine_or_runtime_is_a_clear_error():
    from ground.settings import Settings
    from ocr.engine import EngineConfig, EngineError

    with pytest.raises(EngineError, match="choose one of onnx, paddle"):
        EngineConfig.from_settings(Settings.load({"QQSCAN_ENGINE": "tesseract"}))
    with pytest.raises(EngineError, match="openvino, onnxruntime"):
        EngineConfig.from_settings(Settings.load({"QQSCAN_ONNX_RUNTIME": "tensorrt"}))


def test_missing_onnx_model_is_a_clear_error(tmp_path):
    from ocr.models import ModelNotFoundError, ModelPaths, find_onnx_model

    with pytest.raises(ModelNotFoundError, match="QQSCAN_ONNX_REC_MODEL"):
        find_onnx_model("rec", ModelPaths(onnx_rec=str(tmp_path / "nope.onnx")))


def test_engine_is_built_once_per_process(engine):
    from ocr import engine as engine_mod

    assert engine_mod.get_engine() is engine
    assert engine_mod.builds == 1


def test_missing_model_folder_is_a_clear_error(tmp_path):
    from ocr.models import ModelNotFoundError, ModelPaths, find_model

    try:
        find_model("det", ModelPaths(det_dir=str(tmp_path)))
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
