#!/bin/bash
# pdf-compare: a PDF's pages as pictures, fileconv against poppler's pdftoppm,
# for "PDF pages to pictures" in docs/performance.md. Not in CI: it takes
# about three minutes on 2 cores, and the answer is the ratio.
#
#   BIN=bin/fileconv bash internal/bench/pdf-compare.sh      # or: make pdf-compare
#
# It measures, on this machine, in one run:
#  a. ms per page, every page of the two shared PDFs at 150 dpi to PNG:
#     fileconv end to end (fileconv up, then `fileconv send --to png --dpi 150
#     --zip`: the ZIP of pages), fileconv in the process (the Go benchmark
#     BenchmarkPDFPagesZIP, through the reader process as a worker runs it;
#     libreoffice-28pages.pdf only), `pdftoppm -r 150 -png`, and pdftoppm
#     writing PPM (poppler's rendering alone, no PNG encoding);
#  b. the latency of the first page of the 113-page pdftex-r-intro.pdf as a
#     300 px wide PNG: `fileconv send --pages 1 --width 300` and curl against
#     the web API (`/api/v1/convert?to=png&pages=1&width=300`), both through
#     fileconv up, BenchmarkPDFThumbnail in the process, and
#     `pdftoppm -f 1 -l 1 -scale-to-x 300 -scale-to-y -1 -png`.
#
# As in vips-compare.sh (MODE=one): up runs pinned to CPU 0 with one worker,
# the clients (fileconv send, curl) on CPU 1, pdftoppm and the Go benchmarks
# on CPU 0. Each case runs fileconv, then pdftoppm, back to back, so that
# outside load weighs on both alike; every figure is a median (hyperfine).
# Ratio = pdftoppm ms ÷ fileconv ms, above 1 when fileconv is faster.
#
# Needs pdftoppm (poppler-utils), hyperfine, curl and go. PDFS is the folder of
# the shared PDFs; OUT (default /dev/shm/pdf-compare, memory, so that writing
# 950 MB of PPM does not measure the disk) is emptied.
set -u
BIN=${BIN:-bin/fileconv}
GO=${GO:-go}
ROOT=$(realpath "$(dirname "$0")/../..")
PDFS=${PDFS:-$ROOT/../shared/testdata/pdf}
OUT=${OUT:-/dev/shm/pdf-compare}
RUNS=${RUNS:-3}         # runs of BenchmarkPDFPagesZIP
BIG_RUNS=${BIG_RUNS:-2} # runs of every page of a PDF (pdftoppm -png takes 30 s for 113 pages)
THUMB_RUNS=${THUMB_RUNS:-20} # runs of each thumbnail case
PORT=${PORT:-5603}
WEB=${WEB:-127.0.0.1:8603}
BIN=$(realpath "$BIN")
PDFS=$(realpath "$PDFS")
for f in pdftex-r-intro.pdf libreoffice-28pages.pdf; do
	[ -f "$PDFS/$f" ] || { echo "pdf-compare: no $PDFS/$f" >&2; exit 1; }
done
for c in pdftoppm pdfinfo hyperfine curl taskset; do
	command -v $c >/dev/null || { echo "pdf-compare: $c is missing (make pdf-compare installs it)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT/in" "$OUT/out"
cp "$PDFS/pdftex-r-intro.pdf" "$PDFS/libreoffice-28pages.pdf" "$OUT/in/"
cd "$OUT" || exit 1

SCRIPT=pdf-compare DIGITS=1
# shellcheck source=compare-lib.sh
. "$ROOT/internal/bench/compare-lib.sh"
bytes() { du -cb "$@" | awk 'END { print $1 }'; }

echo "pdf-compare: $(date -u +%F) commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(pdftoppm -v 2>&1 | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The Go benchmarks, in the process (with the PDF reader), before up starts.
gobench() {
	echo "pdf-compare: go test -bench '^$1\$' -benchtime $2x ./internal/convert/" >&2
	(cd "$ROOT" && taskset -c 0 "$GO" test -run '^$' -bench "^$1\$" -benchtime "$2x" ./internal/convert/) >"$1.txt" 2>&1 ||
		{ echo "pdf-compare: go test -bench $1 failed" >&2; cat "$1.txt" >&2; exit 1; }
}
gobench BenchmarkPDFThumbnail "$THUMB_RUNS"
gobench BenchmarkPDFPagesZIP "$RUNS"
go_thumb=$(awk '/^BenchmarkPDFThumbnail/ { printf "%.1f", $3 / 1e6 }' BenchmarkPDFThumbnail.txt)
go_page=$(awk '/^BenchmarkPDFPagesZIP/ { for (i = 1; i < NF; i++) if ($(i+1) == "ms/page") printf "%.1f", $i }' BenchmarkPDFPagesZIP.txt)
go_thumb=${go_thumb:-—} # the benchmarks skip without ../shared/testdata/pdf

rm -rf state
taskset -c 0 "$BIN" up --listen 127.0.0.1:$PORT --workers 1 --admin off --web "$WEB" --dir state >up.log 2>&1 &
UP=$!
# The pictures (35 MB, in memory by default) go; the logs stay.
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$OUT/out" "$OUT/in"' EXIT
for _ in $(seq 50); do grep -q "Stop with" up.log && break; sleep 0.2; done
grep -q "Stop with" up.log || { echo "pdf-compare: fileconv up did not start" >&2; cat up.log >&2; exit 1; }
SEND="taskset -c 1 $BIN send --addr 127.0.0.1:$PORT --ca state/ca.pem --token-file state/token --force"

rows=()
# a. Every page at 150 dpi to PNG.
for pdf in libreoffice-28pages.pdf pdftex-r-intro.pdf; do
	n=$(pdfinfo "in/$pdf" | awk '/^Pages:/ { print $2 }')
	stem=${pdf%.pdf}
	echo "pdf-compare: $pdf, $n pages at 150 dpi" >&2
	fc=$(median "$BIG_RUNS" --warmup 1 "$SEND --to png --dpi 150 --zip -o out in/$pdf") || exit 1
	fc_bytes=$(bytes "out/$stem.zip")
	# Each run writes the same files over the last run's.
	mkdir -p out/pp out/ppm
	pp=$(median "$BIG_RUNS" "taskset -c 0 pdftoppm -r 150 -png in/$pdf out/pp/p") || exit 1
	pp_bytes=$(bytes out/pp/*.png)
	ppm=$(median "$BIG_RUNS" "taskset -c 0 pdftoppm -r 150 in/$pdf out/ppm/p") || exit 1
	rm -rf out/pp out/ppm
	inproc="—"
	[ "$pdf" = libreoffice-28pages.pdf ] && [ -n "$go_page" ] && inproc=$go_page
	fcp=$(per_page "$fc" "$n")
	ppp=$(per_page "$pp" "$n")
	rows+=("| every page, 150 dpi, ms/page | $pdf ($n) | $fcp | $inproc | $ppp | **$(ratio "$ppp" "$fcp")** | $(per_page "$ppm" "$n") | $fc_bytes | $pp_bytes |")
done

# b. The first page of a 113-page PDF as a 300 px wide thumbnail.
pdf=pdftex-r-intro.pdf
n=$(pdfinfo "in/$pdf" | awk '/^Pages:/ { print $2 }')
echo "pdf-compare: $pdf, first page 300 px wide" >&2
fc=$(median "$THUMB_RUNS" --warmup 2 "$SEND --to png --pages 1 --width 300 -o out in/$pdf") || exit 1
fc_bytes=$(bytes out/pdftex-r-intro.png)
web=$(median "$THUMB_RUNS" --warmup 2 "taskset -c 1 curl -sSf -o out/web.png --data-binary @in/$pdf http://$WEB/api/v1/convert?to=png&pages=1&width=300") || exit 1
pp=$(median "$THUMB_RUNS" --warmup 2 "taskset -c 0 pdftoppm -f 1 -l 1 -scale-to-x 300 -scale-to-y -1 -png in/$pdf out/th") || exit 1
pp_bytes=$(bytes out/th-*.png)
rows+=("| first page 300 px wide, ms | $pdf ($n) | $fc (send), $web (curl, web API) | $go_thumb | $pp | **$(ratio "$pp" "$fc")** (send), $(ratio "$pp" "$web") (curl), $(ratio "$pp" "$go_thumb") (in process) | — | $fc_bytes | $pp_bytes |")

echo "| case | PDF (pages) | fileconv through up | fileconv in process | pdftoppm -png | ratio | pdftoppm PPM (render only) | fileconv bytes | pdftoppm bytes |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo "pdf-compare: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
