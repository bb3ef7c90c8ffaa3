#!/usr/bin/env bash
# Installs the Debian packages the tests need, idempotently: nothing is
# downloaded when everything is there already.
set -euo pipefail

packages=(
  curl        # WebDAV/HTTP client in end-to-end tests
  openssl     # TLS checks from a second implementation
  ca-certificates
  chromium    # headless browser for the web interface tests (ui/)
  litmus      # WebDAV conformance suite (cmd/tresor dav e2e)
  rclone      # WebDAV client in e2e tests
  apache2     # mod_dav as the WebDAV benchmark baseline (scripts/bench-dav.sh)
  davfs2      # WebDAV mount in e2e tests (where FUSE is available)
  tar         # extracts tenant export archives in e2e tests (GNU tar --zstd)
  zstd        # the compressor GNU tar calls for .tar.zst
  fdisk       # sfdisk: the wizard partitions block devices (appliance/diskprep; loop-device tests)
  python3-aiosmtpd # a real SMTP server for the console's test mail (daemon, cmd/tresor e2e)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
