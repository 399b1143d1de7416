#!/bin/bash
# ocr-compare: text from scans, fileconv against the tesseract command, for
# "OCR (issue 17)" in docs/performance.md. Not in CI: it takes about eight
# minutes on 2 cores, most of it the tesseract command with its default
# OpenMP threads, and the answer is the ratio.
#
#   BIN=bin/fileconv bash internal/bench/ocr-compare.sh      # or: make ocr-compare
#
# The scans are pages of the shared libreoffice-28pages.pdf (prose, A4)
# rendered at 300 dpi as colour PNG by pdftoppm, as a scanner delivers them,
# and image-only PDFs made of those PNGs by fileconv (send --merge --to pdf).
# It measures, on this machine, in one run:
#  a. ms per page of one PNG page to text: fileconv end to end (fileconv up,
#     then `fileconv send --to txt page.png`) against `tesseract page.png -`,
#     with its default OpenMP threads and with OMP_THREAD_LIMIT=1;
#  b. ms per page of a scanned 4-page PDF to text through up, against
#     tesseract reading the same 4 PNGs in one run (a list file, so that its
#     model loads once), both ways;
#  c. a scanned 20-page PDF to text through up: its wall time, and the CPU
#     time of up and its reader processes over it, whose quotient is the
#     cores used (2 is both); against the 20 PNGs read by two
#     OMP_THREAD_LIMIT=1 tesseract processes at once (xargs -P 2), the best
#     the command does with two cores.
# Ratio = tesseract ms ÷ fileconv ms, above 1 when fileconv is faster; the
# issue's bar is 0.9. up runs with its defaults (a worker per core) but only
# the engines measured (images, pdf, ocr), and nothing is pinned: a job of
# several pages reads them on the cores free. Every figure of a and b is a
# median (hyperfine); c runs C_RUNS times and the median wall is reported.
#
# Needs tesseract (tesseract-ocr-eng), pdftoppm (poppler-utils), hyperfine.
# PDFS is the folder of the shared PDFs; OUT (default /dev/shm/ocr-compare,
# memory) is emptied.
set -u
BIN=${BIN:-bin/fileconv}
ROOT=$(realpath "$(dirname "$0")/../..")
PDFS=${PDFS:-$ROOT/../shared/testdata/pdf}
OUT=${OUT:-/dev/shm/ocr-compare}
RUNS=${RUNS:-5}         # runs of each single-threaded case
OMP_RUNS=${OMP_RUNS:-3} # runs of tesseract with its OpenMP threads (slow here)
C_RUNS=${C_RUNS:-3}     # runs of the 20-page PDF
PORT=${PORT:-5605}
BIN=$(realpath "$BIN")
PDF=$(realpath "$PDFS")/libreoffice-28pages.pdf
[ -f "$PDF" ] || { echo "ocr-compare: no $PDF" >&2; exit 1; }
for c in tesseract pdftoppm hyperfine xargs; do
	command -v $c >/dev/null || { echo "ocr-compare: $c is missing (make ocr-compare installs it)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT/pages" "$OUT/out"
cd "$OUT" || exit 1

SCRIPT=ocr-compare DIGITS=0
# shellcheck source=compare-lib.sh
. "$ROOT/internal/bench/compare-lib.sh"
# cpu_ticks PID: CPU time (1/100 s) of PID, of its children that ended and of
# its descendants still running (the readers, which live between jobs).
cpu_ticks() {
	local t c
	t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0)
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		t=$((t + $(cpu_ticks "$c")))
	done
	echo "$t"
}
now_ms() { date +%s%3N; }

echo "ocr-compare: $(date -u +%F) commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(tesseract --version 2>&1 | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

pdftoppm -r 300 -png -f 1 -l 20 "$PDF" pages/p || { echo "ocr-compare: pdftoppm failed" >&2; exit 1; }
cp pages/p-01.png page.png
ls pages/p-0[1-4].png >list4.txt
ls pages/p-*.png >list20.txt

rm -rf state
"$BIN" up --listen 127.0.0.1:$PORT --admin off --web off --engines images,pdf,ocr --dir state >up.log 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$OUT/pages" "$OUT/out"' EXIT
for _ in $(seq 50); do grep -q "Stop with" up.log && break; sleep 0.2; done
grep -q "Stop with" up.log || { echo "ocr-compare: fileconv up did not start" >&2; cat up.log >&2; exit 1; }
SEND="$BIN send --addr 127.0.0.1:$PORT --ca state/ca.pem --token-file state/token --force"
# The master learns what the workers convert at its first look at them.
for _ in $(seq 60); do $SEND --to txt -o out page.png >probe.log 2>&1 && break; sleep 0.5; done
[ -s out/page.txt ] || { echo "ocr-compare: the master offers no PNG to text" >&2; cat probe.log >&2; exit 1; }
$SEND --merge --to pdf -o scan4.pdf $(cat list4.txt) >/dev/null &&
	$SEND --merge --to pdf -o scan20.pdf $(cat list20.txt) >/dev/null ||
	{ echo "ocr-compare: the scanned PDFs could not be made" >&2; exit 1; }

rows=()
# a. One PNG page.
echo "ocr-compare: a. one PNG page" >&2
fc=$(median "$RUNS" --warmup 1 "$SEND --to txt -o out page.png") || exit 1
t1=$(median "$RUNS" --warmup 1 "env OMP_THREAD_LIMIT=1 tesseract page.png -") || exit 1
tomp=$(median "$OMP_RUNS" "tesseract page.png -") || exit 1
rows+=("| a. one page, PNG → txt | 1 | $fc | $t1 | **$(ratio "$t1" "$fc")** | $tomp | **$(ratio "$tomp" "$fc")** | — |")

# b. A scanned 4-page PDF, ms per page.
echo "ocr-compare: b. a scanned 4-page PDF" >&2
fc=$(median "$RUNS" --warmup 1 "$SEND --to txt -o out scan4.pdf") || exit 1
t1=$(median "$RUNS" "env OMP_THREAD_LIMIT=1 tesseract list4.txt -") || exit 1
tomp=$(median "$OMP_RUNS" "tesseract list4.txt -") || exit 1
fcp=$(per_page "$fc" 4)
t1p=$(per_page "$t1" 4)
tompp=$(per_page "$tomp" 4)
rows+=("| b. scanned PDF → txt, ms/page (tesseract: the 4 PNGs) | 4 | $fcp | $t1p | **$(ratio "$t1p" "$fcp")** | $tompp | **$(ratio "$tompp" "$fcp")** | — |")

# c. A scanned 20-page PDF: wall time and cores used.
echo "ocr-compare: c. a scanned 20-page PDF, $C_RUNS runs" >&2
walls=()
cores=()
for _ in $(seq "$C_RUNS"); do
	c0=$(cpu_ticks $UP)
	s=$(now_ms)
	$SEND --to txt -o out scan20.pdf >c.log 2>&1 || { echo "ocr-compare: the 20-page PDF failed" >&2; cat c.log >&2; exit 1; }
	e=$(now_ms)
	c1=$(cpu_ticks $UP)
	walls+=($((e - s)))
	cores+=("$(awk -v c=$((c1 - c0)) -v w=$((e - s)) 'BEGIN { printf "%.2f", c * 10 / w }')")
done
fc=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
pair=$(median 1 "xargs -P 2 -a list20.txt -I{} env OMP_THREAD_LIMIT=1 tesseract {} -") || exit 1
rows+=("| c. scanned 20-page PDF → txt, ms/page (tesseract: 2 processes at once, OMP_THREAD_LIMIT=1) | 20 | $(per_page "$fc" 20) | $(per_page "$pair" 20) | **$(ratio "$pair" "$fc")** | — | — | ${cores[*]} |")

echo "| case | pages | fileconv through up, ms | tesseract, OMP_THREAD_LIMIT=1, ms | ratio | tesseract, default (OpenMP), ms | ratio | cores used by up (CPU ÷ wall, each run) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "20-page PDF: wall $fc ms (median of ${walls[*]}), $(wc -w <out/scan20.txt) words out"
echo "ocr-compare: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
