#!/bin/sh
# pkg-checksums.sh DIR (re)writes DIR/SHA256SUMS for every artefact in DIR:
# packages, disk images and their SBOMs. Verify with: sha256sum -c SHA256SUMS
set -eu
cd "${1:?usage: pkg-checksums.sh DIR}"
set --
for f in *.deb *.rpm *.raw *.qcow2 *.spdx.json; do
	[ -f "$f" ] && set -- "$@" "$f"
done
if [ $# -eq 0 ]; then
	exit 0
fi
sha256sum "$@" > SHA256SUMS.tmp
mv SHA256SUMS.tmp SHA256SUMS
echo "checksums: $(wc -l < SHA256SUMS) artefacts in $(pwd)/SHA256SUMS"
