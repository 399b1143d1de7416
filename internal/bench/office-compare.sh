#!/bin/bash
# office-compare: DOCX → PDF documents per second, fileconv up (its warm
# LibreOffice processes) against `soffice --headless --convert-to pdf` on the
# same files on the same machine, for docs/performance.md. Not in CI: it takes
# about two minutes on 2 cores, and the answer is the ratio.
#
#   BIN=bin/fileconv bash internal/bench/office-compare.sh    # or: make office-compare
#
# It measures, in one run, for each DOCX of DOCS:
#  a. fileconv: `fileconv bench --conversions docx-pdf --files …` through
#     `fileconv up` (a worker and a LibreOffice process per core), 2 clients
#     at once (one per core), REQUESTS requests a repetition, the median of 3;
#  b. soffice, one loop: LOOPS runs of soffice, one after the other, with a
#     profile made beforehand (its first run makes it, which is not counted);
#  c. soffice, two loops at once (one per core, each its own profile): the
#     best soffice can do with the machine's two cores.
# The ratios: fileconv docs/s ÷ b (the issue's measure: a loop of soffice), and
# ÷ c. up is stopped before soffice runs, so that neither measures the other's
# load.
#
# Needs soffice (libreoffice-writer-nogui) and go's fileconv build. DOCS is the
# folder of the shared office documents; OUT (default /dev/shm/office-compare)
# is emptied.
set -u
BIN=${BIN:-bin/fileconv}
ROOT=$(realpath "$(dirname "$0")/../..")
DOCS=${DOCS:-$ROOT/../shared/testdata/office}
OUT=${OUT:-/dev/shm/office-compare}
LOOPS=${LOOPS:-4}       # soffice runs per file and loop
REQUESTS=${REQUESTS:-20} # fileconv requests per repetition and file
PORT=${PORT:-5604}
BIN=$(realpath "$BIN")
command -v soffice >/dev/null || { echo "office-compare: soffice is missing (make office-deps installs it)" >&2; exit 1; }
shopt -s nullglob
docs=("$DOCS"/*.docx)
[ ${#docs[@]} -gt 0 ] || { echo "office-compare: no DOCX in $DOCS" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/out1" "$OUT/out2"
cd "$OUT" || exit 1
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.2f", n / (e - s) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.1f", a / b }'; }

echo "office-compare: $(date -u +%F) commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(soffice --version 2>/dev/null | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# a. fileconv through up, once its LibreOffice has passed its self-test.
"$BIN" up --listen 127.0.0.1:$PORT --admin off --web off --dir state >up.log 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null' EXIT
for _ in $(seq 150); do grep -q 'engine ready.*libreoffice' up.log && break; sleep 0.2; done
grep -q 'engine ready.*libreoffice' up.log || { echo "office-compare: fileconv up's LibreOffice did not start" >&2; cat up.log >&2; exit 1; }
# The master learns what the worker converts at its next look at it.
mkdir -p probe
for _ in $(seq 60); do
	"$BIN" send --addr 127.0.0.1:$PORT --ca state/ca.pem --token-file state/token --to pdf --force -o probe "${docs[0]}" >probe.log 2>&1 && break
	sleep 0.5
done
ls probe/*.pdf >/dev/null 2>&1 || { echo "office-compare: the master offers no DOCX to PDF" >&2; cat probe.log >&2; exit 1; }
files=$(IFS=,; echo "${docs[*]}")
echo "office-compare: fileconv bench, ${#docs[@]} DOCX, 2 clients, $REQUESTS requests × 3" >&2
"$BIN" bench --addr 127.0.0.1:$PORT --ca state/ca.pem --token-file state/token --conversions docx-pdf \
	--files "$files" --sweep sizes --base-concurrency 2 --requests "$REQUESTS" --repeat 3 --quiet --out bench >bench.log 2>&1 ||
	{ echo "office-compare: fileconv bench failed" >&2; cat bench.log >&2; exit 1; }
awk -F, 'NR > 1 && $10 > 0 { bad = 1 } END { exit bad }' bench/bench.csv ||
	{ echo "office-compare: some conversions failed" >&2; cat bench.log >&2; exit 1; }
kill -INT $UP; wait $UP 2>/dev/null
trap - EXIT
# Column 12 is req_per_s, column 22 the file's name (bench.csv's header).
declare -A fileconv
while IFS=, read -r rps name; do fileconv[$name]=$rps; done < <(awk -F, 'NR > 1 { print $12 "," $22 }' bench/bench.csv)

# b and c. soffice; each profile is made by a first, uncounted run.
office() { soffice -env:UserInstallation=file://$OUT/profile$1 --headless --convert-to pdf --outdir "out$1" "${@:2}" >/dev/null 2>&1; }
office 1 "${docs[0]}"
office 2 "${docs[0]}"
rows=()
for doc in "${docs[@]}"; do
	name=$(basename "$doc")
	echo "office-compare: soffice on $name" >&2
	start=$(now)
	for _ in $(seq "$LOOPS"); do office 1 "$doc"; done
	one=$(rate "$LOOPS" "$start" "$(now)")
	start=$(now)
	(for _ in $(seq "$LOOPS"); do office 1 "$doc"; done) &
	(for _ in $(seq "$LOOPS"); do office 2 "$doc"; done) &
	wait
	two=$(rate $((2 * LOOPS)) "$start" "$(now)")
	fc=${fileconv[$name]:-0}
	rows+=("| $name | $(stat -c %s "$doc") | $fc | $one | **$(ratio "$fc" "$one")** | $two | $(ratio "$fc" "$two") |")
done

echo "| DOCX | bytes | fileconv docs/s (up, 2 clients) | soffice docs/s (a loop) | ratio | soffice docs/s (two loops at once) | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo "office-compare: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
