#!/bin/bash
# overhead-report: every registry entry (`fileconv bench --conversions
# registry`) end to end through fileconv up against the same conversion in the
# bench's own process, at as many clients as cores, for docs/performance.md.
# Not in CI: about ten minutes on 2 cores.
#
#   BIN=bin/fileconv bash internal/bench/overhead-report.sh   # or: make overhead-report
#
# Generated inputs of SIZE (default 1MB; a scanned page is its own size), PDFs
# of PDF_SIZE, and the office documents of DOCS (../shared/testdata/office).
set -u
BIN=$(realpath "${BIN:-bin/fileconv}")
ROOT=$(realpath "$(dirname "$0")/../..")
DOCS=${DOCS:-$ROOT/../shared/testdata/office}
OUT=${OUT:-/dev/shm/overhead-report}
SIZE=${SIZE:-1MB}
PDF_SIZE=${PDF_SIZE:-100KB}
REQUESTS=${REQUESTS:-8}
PORT=${PORT:-5606}
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT" || exit 1
echo "overhead-report: $(date -u +%F) commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$BIN" up --listen 127.0.0.1:$PORT --admin off --web off --dir state >up.log 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null' EXIT
for _ in $(seq 150); do grep -q 'engine ready.*libreoffice' up.log && break; sleep 0.2; done
sleep 2
# conversions [-v]: the registry pairs from a PDF (with -v: the others but
# the office documents), the names of bench.RegistryConversions,
# which TestOverheadReportNamesTheRegistryPairs holds to that list.
conversions() {
	echo png-jpg,jpg-png,jpg-webp,png-gif,png-tiff,png-avif,jpg-heic,jpg-jxl,txt-pdf,jpg-pdf,pdf-txt,scan-txt,pdf-png,pdf-jpg,pdf-webp,pdf-tiff,pdf-avif,pdf-pdf,html-pdf |
		tr , '\n' | grep ${1:-} '^pdf-' | paste -sd,
}
run() { # out args...
	local out=$1
	shift
	"$BIN" bench --addr 127.0.0.1:$PORT --ca state/ca.pem --token-file state/token --server-name localhost \
		--overhead --server-pid "$UP" --base-concurrency "$(nproc)" --requests "$REQUESTS" --repeat 3 --quiet --out "$out" "$@"
}
# A PDF of 1 MB holds some 300 pages, each rendered by PDF → pictures: the
# PDF entries get PDF_SIZE (default 100KB, about 30 pages).
run generated --conversions "$(conversions -v)" --sizes "$SIZE"
run pdf --conversions "$(conversions)" --sizes "$PDF_SIZE"
docs=$(ls "$DOCS"/python-docx-tbl-having-tables.docx "$DOCS"/sample-files-writer.odt "$DOCS"/excelize-Book1.xlsx "$DOCS"/python-pptx-cht-chart-props.pptx | paste -sd,)
run documents --conversions registry --files "$docs"
