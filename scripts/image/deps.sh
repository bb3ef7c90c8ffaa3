#!/bin/sh
# deps.sh installs the Debian tools that packaging and image building need.
# Idempotent: packages already present are skipped by apt-get.
set -eu

pkgs="mmdebstrap qemu-utils qemu-system-x86 fdisk e2fsprogs dosfstools mtools
grub-pc-bin grub-efi-amd64-bin grub2-common lintian rpm systemd ovmf nftables
ca-certificates curl"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing (run as root to install)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
