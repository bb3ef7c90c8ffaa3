#!/bin/sh
# pkg-version.sh [DESCRIBE] prints the version that .deb and .rpm packages
# carry, derived from `git describe --tags --always --dirty` (or DESCRIBE):
#
#   v1.2.3                 -> 1.2.3
#   v1.2.3-rc1             -> 1.2.3~rc1            (sorts before 1.2.3)
#   v1.2.3-4-gabc1234      -> 1.2.3+4.gabc1234     (sorts after 1.2.3)
#   v1.2.3-rc1-4-gabc1234  -> 1.2.3~rc1+4.gabc1234
#   abc1234 (no tag yet)   -> 0.0.0+<commits>.gabc1234, i.e. the fallback
#                             v0.0.0-<commits>-gabc1234
#   ...-dirty              -> ....dirty appended to the +part
#
# The result has no '-' (RPM forbids it in Version, Debian reserves it for
# the revision), and dpkg and rpm order it the same way as the tags.
set -eu

d=${1:-$(git describe --tags --always --dirty --match 'v[0-9]*' 2>/dev/null || echo unknown)}

dirty=""
case "$d" in *-dirty) dirty=1; d=${d%-dirty} ;; esac

if ! printf '%s' "$d" | grep -Eq '^v[0-9]+\.[0-9]+\.[0-9]+'; then
	# No release tag reachable: fall back to v0.0.0-<n>-g<sha>.
	n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	sha=$(printf '%s' "$d" | sed -n 's/^g\{0,1\}\([0-9a-f]\{4,\}\)$/\1/p')
	[ -n "$sha" ] || sha=$(git rev-parse --short HEAD 2>/dev/null || echo 0)
	d="v0.0.0-$n-g$sha"
fi

d=${d#v}
base=$(printf '%s' "$d" | sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+).*/\1/')
rest=${d#"$base"}
# Commits since the tag: trailing -<n>-g<sha>.
post=$(printf '%s' "$rest" | sed -nE 's/.*-([0-9]+)-g([0-9a-f]+)$/\1.g\2/p')
[ -z "$post" ] || rest=$(printf '%s' "$rest" | sed -E 's/-[0-9]+-g[0-9a-f]+$//')
# Whatever is left is a pre-release (-rc1, -beta.2): sort it before base.
pre=$(printf '%s' "${rest#-}" | tr -c 'A-Za-z0-9.\n' '.')

v=$base
[ -z "$pre" ] || v="$v~$pre"
if [ -n "$dirty" ]; then
	post=${post:+$post.}dirty
fi
[ -z "$post" ] || v="$v+$post"
printf '%s\n' "$v"
