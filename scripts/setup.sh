#!/usr/bin/env bash
# Installs what Parley needs and nothing that is already there: Debian packages for
# the C driver, SecantusDB (the embedded default database) from PyPI. Idempotent;
# a second run takes well under a second. PARLEY_EXTRA_APT and PARLEY_EXTRA_PIP add
# packages (scripts/test.sh adds the browser and the test clients).
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Swift toolchain location on the machines we target.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi
command -v swift >/dev/null 2>&1 || { echo "setup: swift not found (expected in /opt/swift/usr/bin)" >&2; exit 1; }

apt_packages=(libmongoc-dev libbson-dev libssl-dev pkg-config)
apt_packages+=(${PARLEY_EXTRA_APT:-})
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Install from the current lists; refresh them only when that fails.
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}"
  }
fi

pip_packages=(secantusdb)
pip_packages+=(${PARLEY_EXTRA_PIP:-})
missing=()
for p in "${pip_packages[@]}"; do
  python3 -m pip show -q "${p%%[*}" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: pip installing ${missing[*]}"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${missing[@]}"
fi
