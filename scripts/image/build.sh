#!/bin/bash
# build.sh DEB OUT builds the tresor appliance disk image: OUT.raw and
# OUT.qcow2 (x86-64, GPT, boots with BIOS and with UEFI without Secure Boot),
# plus OUT.raw.spdx.json listing every Debian package in it.
#
# The image is a minimal Debian bookworm made by mmdebstrap, with DEB (the
# tresor package) installed and enabled, tresor on port 443, an nftables
# firewall that lets in only 443 (and 22 with IMAGE_SSH=1), unattended
# security upgrades, a serial console on ttyS0, and a root partition that
# grows to fill the disk at first boot. Needs root, loop devices, network.
#
# Environment: IMAGE_SIZE (2G), IMAGE_SSH (0|1), IMAGE_SSH_KEY (public key
# file for root, with IMAGE_SSH=1), IMAGE_MIRROR, IMAGE_SUITE (bookworm),
# IMAGE_SBOM_TOOL (dist/bin/sbom), IMAGE_HOSTNAME (tresor).
set -euo pipefail

deb=${1:?usage: build.sh DEB OUT}
out=${2:?usage: build.sh DEB OUT}
size=${IMAGE_SIZE:-2G}
ssh=${IMAGE_SSH:-0}
ssh_key=${IMAGE_SSH_KEY:-}
mirror=${IMAGE_MIRROR:-http://deb.debian.org/debian}
security=${IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=${IMAGE_SUITE:-bookworm}
sbom_tool=${IMAGE_SBOM_TOOL:-$(dirname "$out")/bin/sbom}
hostname=${IMAGE_HOSTNAME:-tresor}
here=$(cd "$(dirname "$0")" && pwd)

log() { printf '%s image: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, loop devices, grub-install)"
[ -f "$deb" ] || die "no package $deb (make deb first)"
for t in mmdebstrap sfdisk partx losetup mkfs.ext4 mkfs.vfat mcopy qemu-img; do
	command -v "$t" >/dev/null || die "$t missing: run scripts/image/deps.sh"
done
if [ "$ssh" = 1 ] && [ -n "$ssh_key" ] && [ ! -f "$ssh_key" ]; then
	die "IMAGE_SSH_KEY $ssh_key: no such file"
fi

start=$(date +%s)
work=$(mktemp -d /var/tmp/tresor-image.XXXXXX)
root=$work/root
mnt=$work/mnt
loop=""
cleanup() {
	rc=$?
	set +e
	for m in "$mnt/sys" "$mnt/proc" "$mnt/dev/pts" "$mnt/dev" "$mnt"; do
		mountpoint -q "$m" && umount "$m"
	done
	if [ -n "$loop" ]; then
		partx -d "$loop" 2>/dev/null
		losetup -d "$loop"
	fi
	rm -rf "$work"
	# A half-built image must not be mistaken for a good one.
	[ "$rc" -eq 0 ] || rm -f "$out.raw" "$out.qcow2" "$out.raw.spdx.json"
}
trap cleanup EXIT

# --- 1. Root file system ----------------------------------------------------
pkgs=(
	systemd-sysv udev dbus kmod procps iproute2 less
	linux-image-amd64 initramfs-tools
	grub-pc grub-efi-amd64-bin
	e2fsprogs dosfstools fdisk cloud-guest-utils
	systemd-timesyncd systemd-resolved
	nftables unattended-upgrades apt-utils ca-certificates
	smartmontools curl
)
[ "$ssh" = 1 ] && pkgs+=(openssh-server)

# The Debian base (everything but tresor) is cached for a day as a tarball,
# keyed by suite, mirrors and package list: rebuilding the image for a new
# tresor commit then takes minutes, and a day-old base misses no update
# that unattended-upgrades would not fetch at first boot anyway.
cache_dir=${IMAGE_CACHE:-$(dirname "$out")/cache}
key=$(printf '%s\n' "$suite" "$mirror" "$security" "${pkgs[@]}" "$(date -u +%F)" | sha256sum | cut -c1-16)
base=$cache_dir/image-base-$key.tar
mkdir -p "$cache_dir"
if [ ! -f "$base" ]; then
	log "mmdebstrap $suite (${#pkgs[@]} packages) -> $base"
	rm -f "$cache_dir"/image-base-*.tar
	mmdebstrap --variant=minbase --mode=root \
		--include="$(IFS=,; echo "${pkgs[*]}")" \
		--essential-hook='echo "grub-pc grub-pc/install_devices_empty boolean true" | chroot "$1" debconf-set-selections' \
		"$suite" "$base.partial.tar" \
		"deb $mirror $suite main" \
		"deb $mirror $suite-updates main" \
		"deb $security $suite-security main"
	mv "$base.partial.tar" "$base"
else
	log "Debian base from cache $base"
fi
mkdir -p "$root"
tar -C "$root" --xattrs --xattrs-include='*' --numeric-owner -xf "$base"

log "install $(basename "$deb")"
cp "$deb" "$root/tmp/tresor.deb"
chroot "$root" dpkg -i /tmp/tresor.deb
rm -f "$root/tmp/tresor.deb"

# --- 2. Configuration -------------------------------------------------------
log "configure"
root_uuid=$(cat /proc/sys/kernel/random/uuid)
esp_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')

echo "$hostname" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$hostname" > "$root/etc/hosts"
# Empty machine-id: systemd makes a new one and treats the boot as first boot.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

cat > "$root/etc/fstab" <<FSTAB
# <file system>     <mount point> <type> <options>                 <dump> <pass>
UUID=$root_uuid /         ext4   errors=remount-ro        0 1
FSTAB

# Network: DHCP on every wired interface, systemd-resolved for DNS.
mkdir -p "$root/etc/systemd/network"
cat > "$root/etc/systemd/network/20-wired.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=yes
NET
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

# Firewall: only HTTPS (and SSH if chosen) from outside.
ports="443"
[ "$ssh" = 1 ] && ports="22, 443"
sed "s/@PORTS@/$ports/" "$here/nftables.conf" > "$root/etc/nftables.conf"
chmod 0755 "$root/etc/nftables.conf"

# Unattended security upgrades, with a nightly reboot when one needs it.
install -m 0644 "$here/20auto-upgrades" "$root/etc/apt/apt.conf.d/20auto-upgrades"
install -m 0644 "$here/52tresor-unattended-upgrades" "$root/etc/apt/apt.conf.d/52tresor-unattended-upgrades"

# tresor on 443, its output (setup URL) on the console too.
mkdir -p "$root/etc/systemd/system/tresor.service.d"
install -m 0644 "$here/tresor-image.conf" "$root/etc/systemd/system/tresor.service.d/image.conf"
mkdir -p "$root/etc/issue.d"
install -m 0644 "$here/tresor.issue" "$root/etc/issue.d/tresor.issue"

# The appliance marker (setup.ApplianceMarker): on the image tresor owns
# the box, so the wizard's hostname and time zone are applied to the host
# (through tresor-privileged.service); a package installed on some other
# server only records them.
mkdir -p "$root/etc/tresor"
printf '# tresor appliance image: tresor sets hostname and time zone (setup wizard, console).\n' >"$root/etc/tresor/appliance"
chmod 0644 "$root/etc/tresor/appliance"

# First boot: grow the root partition and file system to fill the disk.
install -m 0755 "$here/tresor-growroot" "$root/usr/local/sbin/tresor-growroot"
install -m 0644 "$here/tresor-growroot.service" "$root/etc/systemd/system/tresor-growroot.service"

# Boot loader configuration: serial and VGA console.
mkdir -p "$root/etc/default/grub.d"
cat > "$root/etc/default/grub.d/tresor.cfg" <<'GRUB'
GRUB_TIMEOUT=2
GRUB_DISTRIBUTOR="tresor (Debian)"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB

if [ "$ssh" = 1 ]; then
	# Host keys are made at first boot, never shipped in the image.
	rm -f "$root"/etc/ssh/ssh_host_*
	mkdir -p "$root/etc/systemd/system/ssh.service.d"
	printf '[Service]\nExecStartPre=/usr/bin/ssh-keygen -A\n' > "$root/etc/systemd/system/ssh.service.d/hostkeys.conf"
	printf 'PasswordAuthentication no\nPermitRootLogin prohibit-password\n' > "$root/etc/ssh/sshd_config.d/tresor.conf"
	if [ -n "$ssh_key" ]; then
		install -d -m 0700 "$root/root/.ssh"
		install -m 0600 "$ssh_key" "$root/root/.ssh/authorized_keys"
	fi
fi

chroot "$root" systemctl enable systemd-networkd systemd-resolved systemd-timesyncd \
	nftables tresor-growroot >/dev/null
chroot "$root" systemctl is-enabled tresor.service >/dev/null || die "tresor.service not enabled by its package"

# Smaller image: package lists are fetched again by unattended-upgrades.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old

# --- 3. Disk ----------------------------------------------------------------
log "partition $out.raw ($size)"
# Images of earlier commits would only pile up (2 GiB each).
rm -f "$(dirname "$out")"/tresor-image-*-amd64.{raw,qcow2,raw.spdx.json,serial.log}
truncate -s "$size" "$out.raw"
sfdisk -q "$out.raw" <<PART
label: gpt
first-lba: 2048
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios-boot"
size=63MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
PART

loop=$(losetup -f --show "$out.raw")
# The kernel may not scan partitions of loop devices by itself; partx adds
# them explicitly (devtmpfs makes the nodes).
partx -a "$loop" 2>/dev/null || true
for i in 1 2 3; do
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "${loop}p$i" ] && break; sleep 0.5; done
	[ -b "${loop}p$i" ] || die "no partition device ${loop}p$i"
done

log "file systems"
mkfs.vfat -F 32 -n ESP -i "$esp_id" "${loop}p2" >/dev/null
# mkfs.ext4 -d copies the tree (owners, modes, xattrs, hard links) while
# making the file system, so nothing is copied twice.
mkfs.ext4 -q -L tresor-root -U "$root_uuid" -d "$root" "${loop}p3"

log "boot loader"
mkdir -p "$mnt"
mount "${loop}p3" "$mnt"
mount --bind /dev "$mnt/dev"
mount -t devpts devpts "$mnt/dev/pts"
mount -t proc proc "$mnt/proc"
mount -t sysfs sysfs "$mnt/sys"
chroot "$mnt" grub-install --target=i386-pc --recheck "$loop"
# UEFI: the ESP is filled with mtools, without mounting it (the build host's
# kernel need not have vfat). BOOTX64.EFI (the removable-media path every
# firmware tries) is a GRUB that finds the root file system by UUID and
# reads the same /boot/grub/grub.cfg as the BIOS GRUB.
mkdir -p "$mnt/boot/grub/x86_64-efi"
cp /usr/lib/grub/x86_64-efi/*.mod /usr/lib/grub/x86_64-efi/*.lst "$mnt/boot/grub/x86_64-efi/" 2>/dev/null ||
	cp "$mnt"/usr/lib/grub/x86_64-efi/*.mod "$mnt"/usr/lib/grub/x86_64-efi/*.lst "$mnt/boot/grub/x86_64-efi/"
printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\n' "$root_uuid" > "$mnt/tmp/early.cfg"
chroot "$mnt" grub-mkimage -O x86_64-efi -o /tmp/BOOTX64.EFI -p /boot/grub -c /tmp/early.cfg \
	part_gpt part_msdos ext2 fat search search_fs_uuid normal configfile linux echo \
	all_video efi_gop efi_uga gzio serial terminal test
mmd -i "${loop}p2" ::/EFI ::/EFI/BOOT
mcopy -i "${loop}p2" "$mnt/tmp/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
rm -f "$mnt/tmp/BOOTX64.EFI" "$mnt/tmp/early.cfg"
# grub-mkconfig writes root=UUID=... only if /dev/disk/by-uuid/<uuid>
# exists, which udev makes; without udev (containers) make the link here.
made_link=""
if [ ! -e "/dev/disk/by-uuid/$root_uuid" ]; then
	mkdir -p /dev/disk/by-uuid
	ln -s "../../$(basename "${loop}p3")" "/dev/disk/by-uuid/$root_uuid"
	made_link=1
fi
chroot "$mnt" update-grub 2>&1 | grep -v '^$' >&2
[ -z "$made_link" ] || rm -f "/dev/disk/by-uuid/$root_uuid"
grep -q "root=UUID=$root_uuid" "$mnt/boot/grub/grub.cfg" || die "grub.cfg does not boot root=UUID=$root_uuid"
# grub-pc asks for its install device at upgrades; the disk name differs
# per machine (sda, nvme0n1, vda), so tell it to reinstall on none and keep
# the embedded core image (it reads grub.cfg, which upgrades regenerate).
echo "grub-pc grub-pc/install_devices_empty boolean true" | chroot "$mnt" debconf-set-selections

umount "$mnt/sys" "$mnt/proc" "$mnt/dev/pts" "$mnt/dev" "$mnt"
e2fsck -fy "${loop}p3" >/dev/null 2>&1 || true
partx -d "$loop"
losetup -d "$loop"
loop=""

# The SBOM names the raw image and its hash; make it now the image is final.
if [ -x "$sbom_tool" ]; then
	"$sbom_tool" -dpkg-status "$root/var/lib/dpkg/status" -artefact "$out.raw" -out "$out.raw.spdx.json"
fi

log "qcow2"
qemu-img convert -c -O qcow2 "$out.raw" "$out.qcow2"
end=$(date +%s)
log "done in $((end - start))s: $out.raw ($(du -h --apparent-size "$out.raw" | cut -f1) apparent, $(du -h "$out.raw" | cut -f1) used), $out.qcow2 ($(du -h "$out.qcow2" | cut -f1))"
