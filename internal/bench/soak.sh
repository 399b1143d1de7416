#!/bin/sh
# soak: 10 minutes of load at saturation against fileconv up on loopback, sampling
# the process's goroutines and resident memory from /metrics every 15 s, then again
# after a minute of rest. Run by `make soak` (not in CI). Writes soak/*.csv.
set -eu
BIN=${BIN:-bin/fileconv}
OUT=${OUT:-soak}
PORT=${PORT:-5066}
ADMIN=127.0.0.1:${ADMIN_PORT:-9096}
EACH=${EACH:-150s}   # per conversion; four conversions make the 10 minutes
CLIENTS=${CLIENTS:-8}
STATE=$(mktemp -d)
mkdir -p "$OUT"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$STATE"; }
trap cleanup EXIT INT TERM

"$BIN" up --dir "$STATE" --listen 127.0.0.1:$PORT --admin $ADMIN --web off --log-level warn >"$OUT/up.log" 2>&1 &
pids="$pids $!"
sleep 3

sample() { # phase → one CSV row: time, phase, goroutines, resident bytes
	m=$(curl -fsS "http://$ADMIN/metrics" 2>/dev/null || wget -qO- "http://$ADMIN/metrics")
	g=$(echo "$m" | awk '/^go_goroutines /{print $2}')
	r=$(echo "$m" | awk '/^process_resident_memory_bytes /{printf "%d", $2}')
	echo "$(date +%s),$1,$g,$r"
}
B="$BIN bench --addr 127.0.0.1:$PORT --ca $STATE/ca.pem --token-file $STATE/token --quiet"
echo "unix_time,phase,goroutines,resident_bytes" >"$OUT/samples.csv"
sample baseline >>"$OUT/samples.csv"
# One request of each conversion, then the idle release (5 s): what the process
# keeps once every codec has been used (thread pools, font and colour tables).
$B --out "$OUT/warm" --sweep sizes --sizes 1MB --conversions png-jpg,txt-pdf,pdf-txt,jpg-webp \
	--base-concurrency 1 --requests 1 --repeat 1 --warmup=false >/dev/null
sleep 10
sample warm >>"$OUT/samples.csv"
( while :; do sleep 15; sample load >>"$OUT/samples.csv"; done ) &
sampler=$!
pids="$pids $sampler"

echo "== soak: fileconv bench --sweep steady --duration $EACH --base-concurrency $CLIENTS"
$B --out "$OUT/bench" \
	--sweep steady --conversions png-jpg,txt-pdf,pdf-txt,jpg-webp --base-size 1MB \
	--base-concurrency "$CLIENTS" --duration "$EACH" --repeat 1 --timeout 5m
kill $sampler
sleep 60
sample rest >>"$OUT/samples.csv"
echo "== samples (time, phase, goroutines, resident bytes)"
cat "$OUT/samples.csv"
echo "== errors by kind"
cat "$OUT/bench/"*.csv | head -20
