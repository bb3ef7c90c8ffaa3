#!/usr/bin/env bash
# WebDAV benchmark (make bench, after the storage benchmark): curl over
# loopback HTTPS against tresor (encrypting, erasure coding 2+1 over three
# directories, fsyncing) and against Apache mod_dav serving a plain
# directory, on the same file system, in one run:
#   - PUT and GET of one 1 GiB file (MB/s),
#   - PUT and GET of 1,000 files of 64 KiB (files/s), one at a time over
#     one connection (as Windows Explorer copies) and four at a time over
#     four connections (as rclone does by default), in three rounds that
#     alternate between the servers (median ratio),
#   - PROPFIND Depth 1 of a folder with 10,000 entries (ms; target < 300).
# Prints the figures and the ratios tresor/Apache. Both are asked for
# HTTP/1.1, the protocol tresor serves (appliance/server: http1Only says
# why); Apache measured over HTTP/2 with mod_http2 was slower than over
# HTTP/1.1 in every figure of a full-size run here.
#
# BENCH_DIR chooses the file system (default ./var); BENCH_QUICK=1 uses
# 128 MiB, 200 files and 2,000 entries for a smoke run. Apache is started
# with its own configuration in a temp dir on a spare port and stopped
# after; nothing of the system's apache2 service is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in curl openssl apache2; do
  command -v "$tool" >/dev/null || { echo "bench-dav: $tool missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

big_mib=1024 small_n=1000 small_rounds=3 list_n=10000
if [ "${BENCH_QUICK:-}" = 1 ]; then big_mib=128 small_n=200 small_rounds=2 list_n=2000; fi

base=${BENCH_DIR:-$PWD/var}
mkdir -p "$base"
work=$(mktemp -d "$base/bench-dav.XXXXXX")
chmod 755 "$work"
# Always the binary of this tree (bin/tresor may be older).
CGO_ENABLED=0 go build -o "$work/tresor-bin" ./cmd/tresor
TRESOR=$work/tresor-bin
tresor_pid="" apache_conf=""
cleanup() {
  [ -n "$tresor_pid" ] && kill "$tresor_pid" 2>/dev/null && wait "$tresor_pid" 2>/dev/null || true
  [ -n "$apache_conf" ] && apache2 -f "$apache_conf" -k stop 2>/dev/null || true
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  for p in $(seq 18443 18543); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "bench-dav: no free port" >&2; exit 1
}

# --- tresor -----------------------------------------------------------------
data=$work/tresor/data
mkdir -p "$data" "$work/tresor/d1" "$work/tresor/d2" "$work/tresor/d3"
printf 'bench appliance passphrase 1\n' >"$work/root.pass"
printf 'Bench-Kanzlei-Passwort-1\n' >"$work/anna.pass"
"$TRESOR" serve --data-dir "$data" --listen 127.0.0.1:0 >"$work/tresor.log" 2>&1 &
tresor_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/tresor.log" && break; sleep 0.1; done
tresor_url=$(grep -o 'listening on https://[^ ]*' "$work/tresor.log" | head -1 | cut -d' ' -f3)
[ -n "$tresor_url" ] || { cat "$work/tresor.log"; exit 1; }
"$TRESOR" setup --data-dir "$data" --disk "$work/tresor/d1" --disk "$work/tresor/d2" --disk "$work/tresor/d3" \
  --admin root --admin-password-file "$work/root.pass" --recovery-key-out "$work/recovery.txt" --auto-unlock >/dev/null
export TRESOR_DATA_DIR=$data
"$TRESOR" tenant create bench --admin anna --admin-password-file "$work/anna.pass" --require-2fa=false >/dev/null
app=$("$TRESOR" user app-password --label bench --tenant bench --as anna --password-file "$work/anna.pass" --json |
  sed -n 's/.*"password": *"\([^"]*\)".*/\1/p')
[ -n "$app" ] || { echo "bench-dav: no app password" >&2; exit 1; }
T_URL=$tresor_url/dav/bench
T_CURL=(--cacert "$data/tls/ca.crt" -u "anna:$app")

# --- Apache mod_dav -------------------------------------------------------------
a=$work/apache
mkdir -p "$a/htdocs/dav" "$a/logs" "$a/lock"
port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$a/key.pem" -out "$a/cert.pem" 2>/dev/null
chown -R www-data:www-data "$a/htdocs" "$a/lock" 2>/dev/null || true
mods=/usr/lib/apache2/modules
apache_conf=$a/httpd.conf
cat >"$apache_conf" <<EOF
ServerRoot "$a"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$a/httpd.pid"
ErrorLog "$a/logs/error.log"
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
LoadModule dav_module $mods/mod_dav.so
LoadModule dav_fs_module $mods/mod_dav_fs.so
User www-data
Group www-data
SSLEngine on
SSLCertificateFile "$a/cert.pem"
SSLCertificateKeyFile "$a/key.pem"
SSLProtocol -all +TLSv1.2 +TLSv1.3
DocumentRoot "$a/htdocs"
DavLockDB "$a/lock/DavLock"
LimitRequestBody 0
TypesConfig /etc/mime.types
<Directory "$a/htdocs">
  Require all granted
</Directory>
<Location /dav>
  Dav On
</Location>
EOF
APACHE_LOCK_DIR=$a/lock APACHE_RUN_DIR=$a apache2 -f "$apache_conf" -k start || { cat "$a/logs/error.log" >&2; exit 1; }
for _ in $(seq 50); do curl -s --cacert "$a/cert.pem" -o /dev/null "https://127.0.0.1:$port/" && break; sleep 0.1; done
A_URL=https://127.0.0.1:$port/dav
A_CURL=(--cacert "$a/cert.pem")

# --- inputs -------------------------------------------------------------------
in=$work/in
mkdir -p "$in/small"
head -c "$((big_mib << 20))" /dev/urandom >"$in/big.bin"
for i in $(seq -w 1 "$small_n"); do head -c 65536 /dev/urandom >"$in/small/f$i"; done

# secs CMD...: wall time in seconds (3 decimals).
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
mbps() { echo "scale=1; $1 / 1048576 / $2" | bc -l; }
rate() { echo "scale=1; $1 / $2" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

# big NAME URL CURLARGS...: PUT and GET of one large file, into globals.
big() {
  local name=$1 url=$2; shift 2
  local c=("$@")
  # Apache does not fsync: what it wrote is still being written back.
  # Flush it first, so that no server's run pays for another's writes.
  sync
  curl -sSf "${c[@]}" -X MKCOL "$url/big/" -o /dev/null
  local size=$((big_mib << 20)) t_put t_get
  t_put=$(secs curl -sSf "${c[@]}" -T "$in/big.bin" "$url/big/big.bin" -o /dev/null)
  t_get=$(secs curl -sSf "${c[@]}" "$url/big/big.bin" -o /dev/null)
  eval "${name}_put=$(mbps "$size" "$t_put") ${name}_get=$(mbps "$size" "$t_get")"
}

# small NAME ROUND PAR URL CURLARGS...: PUT and GET of the small files,
# PAR at a time (one curl with a config of every file; PAR > 1 runs that
# many transfers at once, each HTTP/1.1 transfer on a connection of its
# own), into a folder of the round's own; appends files/s to the globals
# NAME_sputPAR and NAME_sgetPAR.
small() {
  local name=$1 round=$2 par=$3 url=$4; shift 4
  local c=("$@") dir="small${round}p$par" t_sput t_sget
  # curl 7.88 draws its parallel progress meter even with -s.
  [ "$par" -gt 1 ] && c+=(--parallel --parallel-max "$par" --no-progress-meter)
  sync
  curl -sSf "${c[@]}" -X MKCOL "$url/$dir/" -o /dev/null
  : >"$work/$name-put.cfg"; : >"$work/$name-get.cfg"
  for f in "$in"/small/*; do
    printf 'upload-file = "%s"\nurl = "%s/%s/%s"\noutput = "/dev/null"\n' "$f" "$url" "$dir" "${f##*/}" >>"$work/$name-put.cfg"
    printf 'url = "%s/%s/%s"\noutput = "/dev/null"\n' "$url" "$dir" "${f##*/}" >>"$work/$name-get.cfg"
  done
  t_sput=$(secs curl -sSf "${c[@]}" -K "$work/$name-put.cfg")
  t_sget=$(secs curl -sSf "${c[@]}" -K "$work/$name-get.cfg")
  eval "${name}_sput$par+=\" $(rate "$small_n" "$t_sput")\" ${name}_sget$par+=\" $(rate "$small_n" "$t_sget")\""
}

# list NAME URL CURLARGS...: a folder of list_n entries (1 byte each), then
# the best of three PROPFIND Depth 1, into globals.
list() {
  local name=$1 url=$2; shift 2
  local c=("$@")
  sync
  curl -sSf "${c[@]}" -X MKCOL "$url/list/" -o /dev/null
  printf x >"$work/one"
  : >"$work/$name-list.cfg"
  for i in $(seq 1 "$list_n"); do
    printf 'upload-file = "%s"\nurl = "%s/list/e%05d.txt"\noutput = "/dev/null"\n' "$work/one" "$url" "$i" >>"$work/$name-list.cfg"
  done
  curl -sSf "${c[@]}" -K "$work/$name-list.cfg"
  local best=999 t n
  for _ in 1 2 3; do
    t=$(curl -sSf "${c[@]}" -X PROPFIND -H "Depth: 1" -o "$work/$name-propfind.xml" -w '%{time_total}' "$url/list/")
    best=$(echo "if ($t < $best) $t else $best" | bc -l)
  done
  n=$({ grep -o '<[A-Za-z0-9]*:response[ >]' "$work/$name-propfind.xml" || true; } | wc -l)
  eval "${name}_pf=$(echo "scale=0; $best * 1000 / 1" | bc -l) ${name}_pfn=$n"
}

# median of the arguments (the mean of the middle two for an even count);
# ratios T A: the per-round ratios of two lists.
median() {
  printf '%s\n' "$@" | sort -g |
    awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'
}
ratios() {
  local -a t=($1) a=($2)
  local i
  for i in "${!t[@]}"; do ratio "${t[$i]}" "${a[$i]}"; done
}
span() { printf '%s\n' "$@" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }

echo "bench-dav: tresor $T_URL, Apache mod_dav $A_URL, files on $(df --output=source "$work" | tail -1)"
A=(--http1.1 "${A_CURL[@]}") T=(--http1.1 "${T_CURL[@]}")
big apache "$A_URL" "${A[@]}"
big tresor "$T_URL" "${T[@]}"
# The disk's speed drifts by half from minute to minute here, so the small
# files run in alternating rounds and each round's ratio is one sample: the
# ratio printed is their median, with their range.
apache_sput1="" apache_sget1="" tresor_sput1="" tresor_sget1=""
apache_sput4="" apache_sget4="" tresor_sput4="" tresor_sget4=""
for r in $(seq 1 "$small_rounds"); do
  for p in 1 4; do
    small apache "$r" "$p" "$A_URL" "${A[@]}"
    small tresor "$r" "$p" "$T_URL" "${T[@]}"
  done
done
list apache "$A_URL" "${A[@]}"
list tresor "$T_URL" "${T[@]}"
# smallrow OP PAR LABEL: one line of the small-file table.
# shellcheck disable=SC2086 # word lists on purpose
smallrow() {
  local t a r
  eval "t=\$tresor_s$1$2 a=\$apache_s$1$2"
  r=$(ratios "$t" "$a")
  printf '%-34s %7s files/s %5s files/s %5sx (rounds %s)\n' "$3" "$(median $t)" "$(median $a)" "$(median $r)" "$(span $r)"
}

printf '\n%-34s %12s %12s %8s\n' "WebDAV over loopback HTTPS/1.1 (curl)" tresor "Apache" ratio
printf '%-34s %9s MB/s %7s MB/s %7sx\n' "PUT 1 file of $big_mib MiB" "$tresor_put" "$apache_put" "$(ratio "$tresor_put" "$apache_put")"
printf '%-34s %9s MB/s %7s MB/s %7sx\n' "GET 1 file of $big_mib MiB" "$tresor_get" "$apache_get" "$(ratio "$tresor_get" "$apache_get")"
smallrow put 1 "PUT $small_n files of 64 KiB"
smallrow get 1 "GET $small_n files of 64 KiB"
smallrow put 4 "PUT $small_n files, 4 at a time"
smallrow get 4 "GET $small_n files, 4 at a time"
printf '%-34s %10s ms %9s ms   (target < 300 ms; %s and %s responses)\n' "PROPFIND Depth 1, $list_n entries" "$tresor_pf" "$apache_pf" "$tresor_pfn" "$apache_pfn"
