#!/bin/bash
# pkg-test.sh DIST VERSION inspects the built packages and exercises the
# .deb's maintainer scripts in a throwaway Debian root:
#
#  1. dpkg-deb --info/--contents: files, modes, conffiles, scripts.
#  2. lintian: no errors.
#  3. rpm -qip/-qlp/-qcp and the scriptlets (if rpm is installed).
#  4. systemd-analyze security --offline: the unit's exposure, must be < 2.0.
#  5. In a minimal bookworm root made by mmdebstrap (as root; cached in
#     DIST/cache): install → user, group, /var/lib/tresor 0750, unit enabled;
#     reinstall (upgrade path) keeps a changed conffile and the data;
#     remove keeps data; purge without PURGE-CONFIRMED keeps data; purge
#     with it deletes /var/lib/tresor.
#
# Prints a line per check and exits non-zero on the first failure.
set -euo pipefail

dist=${1:?usage: pkg-test.sh DIST VERSION}
ver=${2:?usage: pkg-test.sh DIST VERSION}
deb=$dist/tresor_${ver}-1_amd64.deb
rpmf=$dist/tresor-${ver}-1.x86_64.rpm
here=$(cd "$(dirname "$0")/.." && pwd)
fails=0

ok() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else fail "$d"; fi
}

[ -f "$deb" ] || { echo "no $deb: make deb first" >&2; exit 1; }

# --- 1. .deb metadata and contents ------------------------------------------
info=$(dpkg-deb --info "$deb")
contents=$(dpkg-deb --contents "$deb")
check "deb: version $ver-1" grep -q "^ Version: $ver-1\$" <<<"$info"
for f in ./usr/bin/tresor ./lib/systemd/system/tresor.service ./etc/default/tresor \
	./lib/udev/rules.d/60-tresor-backup.rules ./usr/share/doc/tresor/copyright \
	./usr/share/doc/tresor/changelog.Debian.gz; do
	check "deb: contains $f" grep -q " $f\$" <<<"$contents"
done
check "deb: /usr/bin/tresor is 0755 root" grep -Eq '^-rwxr-xr-x root/root .* \./usr/bin/tresor$' <<<"$contents"
check "deb: no file under /var/lib/tresor (made by postinst, never owned by dpkg)" \
	bash -c '! grep -q "var/lib/tresor" <<<"$1"' _ "$contents"
check "deb: /etc/default/tresor is a conffile" \
	bash -c 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles | grep -qx /etc/default/tresor' _ "$deb"
for s in preinst postinst prerm postrm; do
	check "deb: maintainer script $s present and valid sh" \
		bash -c 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./$2 | sh -n' _ "$deb" "$s"
done
printf '%s\n' "$info" | sed -n 's/^ \(Installed-Size\|Depends\|Recommends\):/      \1:/p'
echo "      size: $(stat -c %s "$deb") bytes ($(du -h "$deb" | cut -f1))"

# --- 2. lintian --------------------------------------------------------------
if command -v lintian >/dev/null; then
	lint=$(lintian --allow-root "$deb" 2>&1 || true)
	if grep -q '^E:' <<<"$lint"; then
		fail "lintian: errors"; grep '^E:' <<<"$lint"
	else
		ok "lintian: no errors ($(grep -c '^W:' <<<"$lint" || true) warnings)"
	fi
else
	echo "skip  lintian not installed"
fi

# --- 3. rpm -------------------------------------------------------------------
if command -v rpm >/dev/null && [ -f "$rpmf" ]; then
	check "rpm: -qip reads the header" rpm -qip "$rpmf"
	rl=$(rpm -qlp "$rpmf" 2>/dev/null)
	for f in /usr/bin/tresor /usr/lib/systemd/system/tresor.service /etc/default/tresor /usr/lib/udev/rules.d/60-tresor-backup.rules; do
		check "rpm: contains $f" grep -qx "$f" <<<"$rl"
	done
	check "rpm: /etc/default/tresor is %config(noreplace)" \
		bash -c 'rpm -qp --qf "[%{FILEFLAGS:fflags} %{FILENAMES}\n]" "$1" | grep -Eq "^cn? /etc/default/tresor$|^c.*n.* /etc/default/tresor$"' _ "$rpmf"
	check "rpm: scriptlets pre/post/preun/postun" \
		bash -c 's=$(rpm -qp --scripts "$1"); for w in preinstall postinstall preuninstall postuninstall; do grep -q "^$w scriptlet" <<<"$s" || exit 1; done' _ "$rpmf"
	echo "      size: $(stat -c %s "$rpmf") bytes ($(du -h "$rpmf" | cut -f1))"
else
	echo "skip  rpm not installed or no $rpmf"
fi

# --- 4. systemd-analyze security ---------------------------------------------
if command -v systemd-analyze >/dev/null; then
	sec=$(systemd-analyze security --offline=yes "$here/packaging/systemd/tresor.service" 2>&1 || true)
	score=$(sed -n 's/.*Overall exposure level for tresor.service: \([0-9.]*\).*/\1/p' <<<"$sec")
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s < 2.0) }'; then
		ok "systemd-analyze security: exposure $score (< 2.0)"
	else
		fail "systemd-analyze security: exposure '${score:-?}' (want < 2.0)"
		printf '%s\n' "$sec" | grep '✗' || true
	fi
	smart=$(systemd-analyze security --offline=yes "$here/packaging/systemd/tresor-smart.service" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	echo "      tresor-smart.service exposure: ${smart:-?}"
else
	echo "skip  systemd-analyze not installed"
fi

# --- 5. Install, upgrade, remove, purge in a throwaway root -----------------
if [ "$(id -u)" -ne 0 ] || ! command -v mmdebstrap >/dev/null; then
	echo "skip  install test (needs root and mmdebstrap)"
	exit $((fails > 0))
fi
cache=$dist/cache/bookworm-minbase-systemd.tar
if [ ! -f "$cache" ]; then
	mkdir -p "$(dirname "$cache")"
	mmdebstrap --variant=minbase --include=init-system-helpers,passwd,systemd bookworm "$cache" >/dev/null 2>&1 \
		|| { fail "mmdebstrap throwaway root"; exit 1; }
fi
r=$(mktemp -d /var/tmp/tresor-pkgtest.XXXXXX)
trap 'rm -rf "$r"' EXIT
tar -C "$r" -xf "$cache"
cp "$deb" "$r/tmp/tresor.deb"
in_root() { chroot "$r" "$@"; }

out=$(in_root dpkg -i /tmp/tresor.deb 2>&1) || { fail "dpkg -i"; echo "$out"; exit 1; }
ok "dpkg -i in a fresh bookworm root"
check "install: user tresor is a system user with nologin shell" \
	bash -c 'e=$(chroot "$1" getent passwd tresor) && [ "$(echo "$e" | cut -d: -f3)" -lt 1000 ] && [ "$(echo "$e" | cut -d: -f7)" = /usr/sbin/nologin ]' _ "$r"
check "install: group tresor" in_root getent group tresor
check "install: /var/lib/tresor is 0750 tresor:tresor" \
	bash -c '[ "$(chroot "$1" stat -c "%a %U %G" /var/lib/tresor)" = "750 tresor tresor" ]' _ "$r"
check "install: tresor.service enabled (multi-user.target.wants)" \
	test -L "$r/etc/systemd/system/multi-user.target.wants/tresor.service"
check "install: tresor-smart.timer enabled" \
	test -L "$r/etc/systemd/system/timers.target.wants/tresor-smart.timer"
check "install: tresor-privileged.path enabled (paths.target.wants)" \
	test -L "$r/etc/systemd/system/paths.target.wants/tresor-privileged.path"
check "install: tresor-privileged.service watches the daemon's request directory" \
	bash -c 'grep -q "^PathExistsGlob=/var/lib/tresor/privileged/\*.req.json$" "$1/lib/systemd/system/tresor-privileged.path" && grep -q "^Environment=TRESOR_PRIVILEGED_DIR=/var/lib/tresor/privileged$" "$1/lib/systemd/system/tresor.service"' _ "$r"
check "install: /etc/default/tresor present" test -f "$r/etc/default/tresor"
check "install: /srv/tresor exists for disk mounts" test -d "$r/srv/tresor"

echo "secret client file" > "$r/var/lib/tresor/data.bin"
echo "TRESOR_LISTEN=:9443" >> "$r/etc/default/tresor"
out=$(in_root dpkg -i /tmp/tresor.deb 2>&1) || { fail "dpkg -i (upgrade path)"; echo "$out"; }
check "upgrade: data kept" grep -q "secret client file" "$r/var/lib/tresor/data.bin"
check "upgrade: changed conffile kept" grep -q "TRESOR_LISTEN=:9443" "$r/etc/default/tresor"
check "upgrade: still enabled" test -L "$r/etc/systemd/system/multi-user.target.wants/tresor.service"
check "upgrade: tresor-privileged.path still enabled" test -L "$r/etc/systemd/system/paths.target.wants/tresor-privileged.path"

out=$(in_root dpkg -r tresor 2>&1) || { fail "dpkg -r"; echo "$out"; }
check "remove: binary gone" test ! -e "$r/usr/bin/tresor"
check "remove: data kept" grep -q "secret client file" "$r/var/lib/tresor/data.bin"
check "remove: user kept" in_root getent passwd tresor

out=$(in_root dpkg --purge tresor 2>&1) || { fail "dpkg --purge"; echo "$out"; }
check "purge without PURGE-CONFIRMED: data kept" grep -q "secret client file" "$r/var/lib/tresor/data.bin"
check "purge: says the data was kept" grep -q "data KEPT" <<<"$out"
check "purge: conffile removed" test ! -e "$r/etc/default/tresor"
check "purge: enable symlink removed" test ! -e "$r/etc/systemd/system/multi-user.target.wants/tresor.service"

in_root dpkg -i /tmp/tresor.deb >/dev/null 2>&1
check "reinstall: data from before is still there" grep -q "secret client file" "$r/var/lib/tresor/data.bin"
touch "$r/var/lib/tresor/PURGE-CONFIRMED"
out=$(in_root dpkg --purge tresor 2>&1) || { fail "dpkg --purge (confirmed)"; echo "$out"; }
check "purge with PURGE-CONFIRMED: /var/lib/tresor deleted" test ! -e "$r/var/lib/tresor"

# The RPM scriptlets, run by rpm itself in the same kind of root (rpm runs
# them chrooted; --nodeps because the root is Debian, not an RPM system).
if command -v rpm >/dev/null && [ -f "$rpmf" ]; then
	rm -rf "$r"; mkdir -p "$r"; tar -C "$r" -xf "$cache"
	cp "$rpmf" "$r/tmp/tresor.rpm"
	rpmr() { rpm --root "$r" --dbpath /var/lib/rpm "$@"; }
	rpmr --initdb
	out=$(rpmr -i --nodeps "$r/tmp/tresor.rpm" 2>&1) || { fail "rpm -i"; echo "$out"; }
	check "rpm install: user tresor" in_root getent passwd tresor
	check "rpm install: /var/lib/tresor is 0750 tresor:tresor" \
		bash -c '[ "$(chroot "$1" stat -c "%a %U %G" /var/lib/tresor)" = "750 tresor tresor" ]' _ "$r"
	check "rpm install: tresor.service enabled" \
		test -L "$r/etc/systemd/system/multi-user.target.wants/tresor.service"
	echo "secret client file" > "$r/var/lib/tresor/data.bin"
	out=$(rpmr -U --replacepkgs --nodeps "$r/tmp/tresor.rpm" 2>&1) || { fail "rpm -U (upgrade path)"; echo "$out"; }
	check "rpm upgrade: data kept" grep -q "secret client file" "$r/var/lib/tresor/data.bin"
	out=$(rpmr -e --nodeps tresor 2>&1) || { fail "rpm -e"; echo "$out"; }
	check "rpm erase: binary gone" test ! -e "$r/usr/bin/tresor"
	check "rpm erase without PURGE-CONFIRMED: data kept" grep -q "secret client file" "$r/var/lib/tresor/data.bin"
	rpmr -i --nodeps "$r/tmp/tresor.rpm" >/dev/null 2>&1
	touch "$r/var/lib/tresor/PURGE-CONFIRMED"
	rpmr -e --nodeps tresor >/dev/null 2>&1 || fail "rpm -e (confirmed)"
	check "rpm erase with PURGE-CONFIRMED: /var/lib/tresor deleted" test ! -e "$r/var/lib/tresor"
fi

if [ "$fails" -gt 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all package checks passed"
