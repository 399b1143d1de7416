#!/bin/sh
# perf-report: the measurements of docs/performance.md, on loopback, bounded so
# that it finishes in minutes on 2 cores. Run by `make perf-report`.
# Writes docs/graphs/*.png and perf-report/*.csv and prints the tables.
set -eu
BIN=${BIN:-bin/fileconv}
OUT=${OUT:-perf-report}
GRAPHS=${GRAPHS:-docs/graphs}
PORT=${PORT:-5055}
STATE=$(mktemp -d)
mkdir -p "$OUT" "$GRAPHS"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$STATE"; }
trap cleanup EXIT INT TERM

# 1. A master and one worker per core in one process (fileconv up).
"$BIN" up --dir "$STATE" --listen 127.0.0.1:$PORT --admin off --log-level warn >"$OUT/up.log" 2>&1 &
UPPID=$!
pids="$pids $UPPID"
sleep 3
B="$BIN bench --addr 127.0.0.1:$PORT --ca $STATE/ca.pem --token-file $STATE/token --quiet"
run() { name=$1; shift; echo "== $name: fileconv bench $*"; $B --out "$OUT/$name" "$@"; }

# --server-pid: the CPU time of the cluster per request, set against the
# in-process conversion's (the bench shares the two cores with the cluster).
run sizes --sweep sizes --sizes 100KB,1MB --conversions all --base-concurrency 2 --requests 8 --repeat 3 --overhead --server-pid $UPPID
run sizes5 --sweep sizes --sizes 5MB --conversions all --base-concurrency 2 --requests 2 --repeat 3 --overhead --server-pid $UPPID
run chunks --sweep chunks --conversions png-jpg --base-size 1MB --chunks 4KiB,16KiB,64KiB,256KiB,1MiB --base-concurrency 2 --requests 8 --repeat 3
run concurrency --sweep concurrency --conversions png-jpg --base-size 1MB --concurrency 1,2,5,10,15,20,32 --requests 8 --repeat 3
run small-v1 --protocol v1 --sweep sizes --sizes 100KB --conversions png-jpg,txt-pdf --base-concurrency 2 --requests 60 --repeat 3
run small-v2 --protocol v2 --sweep sizes --sizes 100KB --conversions png-jpg,txt-pdf --base-concurrency 2 --requests 60 --repeat 3
cp "$OUT/sizes/sizes.png" "$GRAPHS/sizes.png"
cp "$OUT/chunks/chunks.png" "$GRAPHS/chunks.png"
cp "$OUT/concurrency/concurrency.png" "$GRAPHS/concurrency.png"
cp "$OUT/concurrency/latency.png" "$GRAPHS/latency.png"
for p in $pids; do kill "$p"; done; pids=""
sleep 1

# 2. Master memory: a master process of its own, a worker in another, 32
#    concurrent 50 MB bodies that the worker refuses once received.
M=$STATE/m; mkdir -p "$M"
"$BIN" certs --dir "$M" >/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$M/token"
"$BIN" worker --listen 127.0.0.1:$((PORT+1)) --cert "$M/worker.pem" --key "$M/worker-key.pem" --ca "$M/ca.pem" --admin off --log-level warn >"$OUT/worker.log" 2>&1 &
pids="$pids $!"
"$BIN" master --listen 127.0.0.1:$PORT --workers 127.0.0.1:$((PORT+1)) --token-file "$M/token" --cert "$M/master.pem" --key "$M/master-key.pem" --ca "$M/ca.pem" --admin off --log-level warn >"$OUT/master.log" 2>&1 &
MPID=$!
pids="$pids $MPID"
sleep 2
echo "== relay: fileconv bench --sweep relay --relay-size 50MB --concurrency 32 --master-pid PID"
$BIN bench --addr 127.0.0.1:$PORT --ca "$M/ca.pem" --token-file "$M/token" --quiet --out "$OUT/relay" \
	--sweep relay --relay-size 50MB --concurrency 32 --repeat 1 --master-pid $MPID

# 3. Where the time goes: a CPU profile of each conversion in the process.
echo "== profiles: go test -bench BenchmarkConvert/NAME/1MB -cpuprofile; go tool pprof -top"
for c in JPG→PNG JPG→WEBP PNG→JPG PNG→WEBP WEBP→JPG WEBP→PNG TXT→PDF PDF→TXT; do
	f=$OUT/cpu-$(echo "$c" | tr -c 'A-Za-z\n' '-').prof
	${GO:-go} test -run '^$' -bench "BenchmarkConvert/$c/1MB" -benchtime 3x -cpuprofile "$f" -o "$OUT/convert.test" ./internal/convert/ >/dev/null
	echo "-- $c"
	${GO:-go} tool pprof -top -nodecount 6 "$OUT/convert.test" "$f" 2>/dev/null | sed -n '/flat%/,$p'
done

# 4. Where the relay's time goes: 1 MB PNG -> JPG through a master and two
#    workers in one test process (client included), profiled.
echo "== relay profile: go test -bench SmallFiles/PNG-1MB-to-JPG/v2 -cpuprofile; go tool pprof -top"
${GO:-go} test -run '^$' -bench 'SmallFiles/PNG-1MB-to-JPG/v2' -benchtime 300x -cpuprofile "$OUT/cpu-relay.prof" -o "$OUT/master.test" ./internal/master/ | grep Benchmark
${GO:-go} tool pprof -top -nodecount 15 "$OUT/master.test" "$OUT/cpu-relay.prof" 2>/dev/null | sed -n '/flat%/,$p'
