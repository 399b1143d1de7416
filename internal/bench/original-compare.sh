#!/bin/bash
# original-compare: the original system (../shared/original/run.sh) and
# fileconv up side by side in one run, the same v1.0 client, inputs and load
# (`fileconv bench --compare`), for the table of docs/performance.md. Not in
# CI: it takes about five minutes on 2 cores and needs the original's Python
# packages (run.sh installs them).
#
#   BIN=bin/fileconv bash internal/bench/original-compare.sh   # or: make original-compare
#
# Rows: JPG → PNG, PNG → JPG and JPG → WEBP of 1 MB photo-like and noise
# pictures, TXT → PDF of 1 MB, PDF → TXT of 100 KB, CONC clients at once
# (default 4), REQUESTS requests a repetition (default 16), the median of 3.
# The original listens on 127.0.0.1:5000; fileconv up on PORT.
set -u
BIN=$(realpath "${BIN:-bin/fileconv}")
ROOT=$(realpath "$(dirname "$0")/../..")
ORIGINAL=${ORIGINAL:-$ROOT/../shared/original}
OUT=${OUT:-/dev/shm/original-compare}
CONC=${CONC:-4}
REQUESTS=${REQUESTS:-16}
PORT=${PORT:-5605}
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT" || exit 1
echo "original-compare: $(date -u +%F) commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
ORIG_DIR=$OUT/original bash "$ORIGINAL/run.sh" >original.log 2>&1 || { echo "original-compare: the original did not start" >&2; cat original.log >&2; exit 1; }
"$BIN" up --listen 127.0.0.1:$PORT --admin off --web off --dir state >up.log 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; ORIG_DIR=$OUT/original bash "$ORIGINAL/run.sh" stop >/dev/null' EXIT
for _ in $(seq 150); do grep -q 'engine ready.*libreoffice' up.log && break; sleep 0.2; done
sleep 2
cmp() { # conversions sizes images
	"$BIN" bench --addr 127.0.0.1:$PORT --ca state/ca.pem --token-file state/token --server-name localhost \
		--compare 127.0.0.1:5000 --compare-token super_secret_token_123456789012 --compare-insecure \
		--conversions "$1" --sizes "$2" --image "$3" --base-concurrency "$CONC" --requests "$REQUESTS" --repeat 3 --quiet --out "out-$2"
}
cmp jpg-png,png-jpg,jpg-webp,txt-pdf 1MB photo,noise && cmp pdf-txt 100KB photo
