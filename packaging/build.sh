#!/usr/bin/env bash
# Builds every botbuilder package from a clone of the repository:
#   dist/botbuilder_<version>-1_amd64.deb            (cargo-deb; hardened systemd unit)
#   dist/botbuilder-<version>-x86_64-linux-gnu.tar.gz (binary, licenses, notices, man, completions)
#   dist/SHA256SUMS
#   target/packaging/stage/                           (container build context, see below)
# Network: only the package registries (crates.io for crates and cargo-deb; nothing else).
#
# Options:
#   --binary PATH        package this prebuilt release binary instead of running
#                        `cargo build --release --locked`
#   --tools-binary PATH  binary that prints the completions and the man page
#                        (default: the packaged binary; both come from the same CLI definition)
#   --out DIR            output directory (default: dist)
#   --image              also build the container image (needs podman or docker)
set -euo pipefail
cd "$(dirname "$0")/.."

binary="" tools="" out="dist" image=0
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --tools-binary) tools="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --image) image=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
arch="x86_64-linux-gnu"
# Reproducible archives: file times from the last commit (or now outside git).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

if [ -z "$binary" ]; then
  cargo build --release --locked
  binary="target/release/botbuilder"
fi
[ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 2; }
tools="${tools:-$binary}"
reported="$("$binary" version)"
case "$reported" in
  "botbuilder $version "*) ;;
  *) echo "$binary reports '$reported', Cargo.toml says $version" >&2; exit 2 ;;
esac

stage="target/packaging/stage"
rm -rf "$stage" && mkdir -p "$stage/completions" "$out"
cp "$binary" "$stage/botbuilder"
chmod 755 "$stage/botbuilder"
cp packaging/botbuilder.toml "$stage/"

echo "== man page and completions (from $tools)"
"$tools" man > "$stage/botbuilder.1"
gzip -9n < "$stage/botbuilder.1" > "$stage/botbuilder.1.gz"
"$tools" completions bash > "$stage/completions/botbuilder.bash"
"$tools" completions zsh > "$stage/completions/_botbuilder"
"$tools" completions fish > "$stage/completions/botbuilder.fish"
for f in "$stage/botbuilder.1" "$stage"/completions/*; do
  [ -s "$f" ] || { echo "empty: $f" >&2; exit 1; }
done

echo "== third-party notices"
python3 packaging/notices.py "$stage/THIRD-PARTY-NOTICES.txt"

echo "== Debian package"
if ! command -v cargo-deb >/dev/null 2>&1; then
  cargo install cargo-deb --locked
fi
deb="$(cargo deb --no-build --no-strip --output "$out" | tail -n1)"
echo "$deb"

echo "== release tarball"
name="botbuilder-$version-$arch"
tree="target/packaging/$name"
rm -rf "$tree" && mkdir -p "$tree/man" "$tree/completions" "$tree/docs" "$tree/systemd"
cp "$stage/botbuilder" LICENSE README.md "$stage/THIRD-PARTY-NOTICES.txt" "$tree/"
cp models/onnxruntime-LICENSE models/onnxruntime-ThirdPartyNotices.txt "$tree/"
cp "$stage/botbuilder.1" "$tree/man/"
cp "$stage"/completions/* "$tree/completions/"
cp docs/operations.md docs/configuration.md "$tree/docs/"
cp packaging/botbuilder.toml "$tree/botbuilder.toml.example"
cp packaging/systemd/botbuilder.service "$tree/systemd/"
(cd "$tree" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C target/packaging -cf - "$name" | gzip -9n > "$out/$name.tar.gz"

(cd "$out" && sha256sum "$(basename "$deb")" "$name.tar.gz" > SHA256SUMS)

if [ "$image" = 1 ]; then
  echo "== container image"
  runtime="$(command -v podman || command -v docker || true)"
  [ -n "$runtime" ] || { echo "--image: neither podman nor docker is installed" >&2; exit 1; }
  "$runtime" build -f packaging/container/Containerfile -t "botbuilder:$version" "$stage"
fi

echo "== done"
ls -l "$out"
cat "$out/SHA256SUMS"
