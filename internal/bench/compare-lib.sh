# Shared by the *-compare.sh scripts, which source it after setting
#   SCRIPT  their name, for messages (pdf-compare, ocr-compare)
#   DIGITS  the decimals of the milliseconds they print (default 1).

# median RUNS ARGS...: the median ms of hyperfine's runs (-N: no shell between).
median() {
	local runs=$1
	shift
	hyperfine -N --runs "$runs" --export-csv h.csv "$@" >h.log 2>&1 ||
		{ echo "$SCRIPT: failed: $*" >&2; cat h.log >&2; exit 1; }
	awk -F, -v d="${DIGITS:-1}" 'NR == 2 { printf "%.*f", d, $4 * 1000 }' h.csv
}
# per_page MS PAGES: milliseconds a page.
per_page() { awk -v ms="$1" -v n="$2" -v d="${DIGITS:-1}" 'BEGIN { printf "%.*f", d, ms / n }'; }
# ratio A B: A ÷ B, or — when either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a / b }'; }
