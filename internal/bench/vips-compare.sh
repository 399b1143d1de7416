#!/bin/bash
# vips-compare: fileconv end to end (fileconv up + fileconv bench --files)
# against the vips command doing the same conversion, pair by pair, for the
# table "Images: every format" of docs/performance.md. Not in CI: it takes
# about 4 minutes per mode on 2 cores, and the answer is the ratio.
#
#   BIN=bin/fileconv IN=/tmp/vc sh internal/bench/vips-compare.sh
#
# MODE=one: up pinned to CPU 0 with one worker, the client on CPU 1, vips on
# CPU 0 (VIPS_CONCURRENCY=1, as fileconv runs libvips). MODE=two: up with two
# workers and two clients; vips twice at once. Each pair runs fileconv, then
# `vips copy`, then `vips icc_transform` (the colour step fileconv adds), so
# that outside load weighs on all three alike. Prints CSV.
#
# IN holds the inputs. Those made from the shared iPhone photo are made here
# when missing; anim.gif and drawing.svg are testfiles.AnimatedGIF(800, 600, 5)
# and testfiles.SVG(1000), and their pairs are skipped without them.
set -u
BIN=${BIN:-bin/fileconv}
IN=${IN:-/tmp/vips-compare}
MODE=${MODE:-one}
SHARED=${SHARED:-$(dirname "$0")/../../../shared/testdata/images}
BIN=$(realpath "$BIN")
SHARED=$(realpath "$SHARED")
mkdir -p "$IN/out"
cd "$IN" || exit 1

prepare() {
	[ -f big.jpg ] || vips copy "$SHARED/libvips-avif-orientation-6.avif" 'big.jpg[Q=90]'
	[ -f mid.jpg ] || vips resize big.jpg 'mid.jpg[Q=90]' 0.5774
	for s in big mid; do
		[ -f $s.heic ] || vips copy $s.jpg "$s.heic[Q=80]"
		[ -f $s.tif ] || vips copy $s.jpg "$s.tif[compression=lzw,predictor=horizontal]"
		[ -f $s.png ] || vips copy $s.jpg $s.png
	done
	cp -n "$SHARED/libheif-example.heic" "$SHARED/libvips-logo.svg" . 2>/dev/null
	chmod u+w libheif-example.heic libvips-logo.svg 2>/dev/null
}

# The savers of internal/convert/imagetargets.go with their defaults.
JPG='.jpg[Q=85,strip=true]'
PNG='.png[compression=3,filter=all,strip=true]'
WEBP='.webp[Q=80,lossless=false,effort=4,strip=true]'
AVIF='.avif[compression=av1,Q=75,lossless=false,effort=0,bitdepth=8,strip=true]'
HEIC='.heic[compression=hevc,Q=75,bitdepth=8,strip=true]'
JXL='.jxl[Q=75,lossless=false,effort=3,strip=true]'
PAIRS=${PAIRS:-"big.heic:heic-jpg:$JPG mid.heic:heic-jpg:$JPG libheif-example.heic:heic-jpg:$JPG
anim.gif:gif-webp:$WEBP big.tif:tiff-png:$PNG mid.tif:tiff-png:$PNG drawing.svg:svg-png:$PNG
libvips-logo.svg:svg-png:$PNG big.png:png-avif:$AVIF mid.png:png-avif:$AVIF big.jpg:jpg-avif:$AVIF
mid.jpg:jpg-avif:$AVIF big.jpg:jpg-heic:$HEIC mid.jpg:jpg-heic:$HEIC big.jpg:jpg-jxl:$JXL
mid.jpg:jpg-jxl:$JXL big.jpg:jpg-png:$PNG mid.jpg:jpg-png:$PNG big.jpg:jpg-webp:$WEBP mid.jpg:jpg-webp:$WEBP"}

# vips_time CMD: "median wall ms,CPU ms" of CMD, one run at a time (MODE=one)
# or two at once (MODE=two: the time for both).
vips_time() {
	if [ "$MODE" = one ]; then
		hyperfine -N --warmup 1 --runs "$runs" --export-json h.json "taskset -c 0 $1" >/dev/null 2>&1
	else
		hyperfine --warmup 1 --runs "$runs" --export-json h.json "$1 & $1 & wait" >/dev/null 2>&1
	fi
	python3 -c "import json; r=json.load(open('h.json'))['results'][0]; print('%.0f,%.0f' % (r['median']*1000, (r['user']+r['system'])*1000))"
}

prepare
export VIPS_CONCURRENCY=1
if [ "$MODE" = one ]; then
	PIN="taskset -c 0"; CPIN="taskset -c 1"; WORKERS=1; CONC=1; REQ=3
else
	PIN=""; CPIN=""; WORKERS=2; CONC=2; REQ=6
fi
rm -rf state
$PIN "$BIN" up --listen 127.0.0.1:5602 --workers $WORKERS --admin off --web off --dir state >up.log 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q "Stop with" up.log && break; sleep 0.2; done

echo "mode,input,conversion,fc_p50_ms,fc_req_per_s,fc_cpu_ms,fc_bytes,megapixels,vips_copy_ms,vips_copy_cpu_ms,vips_copy_bytes,vips_icc_ms,vips_icc_cpu_ms"
for p in $PAIRS; do
	IFS=: read -r in conv out <<<"$p"
	[ -f "$in" ] || continue
	ext=${out%%[*}; ext=${ext#.}
	vin=$in; [ "$conv" = gif-webp ] && vin="$in[n=-1]" # every frame, as fileconv keeps them
	runs=$REQ; [ "$conv" = jpg-heic ] && runs=2
	$CPIN "$BIN" bench --addr 127.0.0.1:5602 --ca state/ca.pem --token-file state/token --conversions "$conv" --files "$in" \
		--base-concurrency $CONC --requests $runs --repeat 1 --quiet --out bench-out --server-pid $UP >/dev/null || exit 1
	fc=$(python3 -c "import csv; r=next(csv.DictReader(open('bench-out/bench.csv'))); print(','.join(r[k] for k in ('p50_ms','req_per_s','cpu_ms_per_req','output_bytes','megapixels')))")
	[ "$MODE" = two ] && runs=$((runs > 2 ? 3 : 1))
	copy=$(vips_time "vips copy $vin out/x-copy$out")
	icc=","
	if vipsheader -a "$in" | grep -q icc-profile-data; then
		icc=$(vips_time "vips icc_transform $vin out/x-icc$out srgb")
	fi
	echo "$MODE,$in,$conv,$fc,$copy,$(stat -c %s out/x-copy.$ext),$icc"
done
