#!/usr/bin/env bash
# Runs dirgate's benchmarks against a real slapd on a generated directory
# (100,000 users, 10,000 groups, 500,000 memberships with one level of
# nesting unless DIRGATE_BENCH_USERS / _GROUPS / _MEMBERSHIPS say otherwise)
# and prints the README's table. Needs slapd (make deps). Takes a few
# minutes; raw output goes to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
out="bench/out/bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-3x}" -timeout 60m ./bench/ | tee "$out"

awk '
function ms(ns) { return sprintf("%.1f ms", ns / 1e6) }
function us(ns) { return sprintf("%.1f µs", ns / 1e3) }
/^BenchmarkFullSync/ {
	for (i = 1; i <= NF; i++) {
		if ($i == "ns/op") full = $(i-1)
		if ($i == "peak-RSS-MiB") rss = $(i-1)
		if ($i == "entries/s") eps = $(i-1)
	}
}
/^BenchmarkIncrementalSync\/changes=/ {
	split($1, a, "="); n = a[2]; sub(/-[0-9]+$/, "", n)
	for (i = 1; i <= NF; i++) if ($i == "ns/op") inc[n] = $(i-1)
	order[++k] = n
}
/^BenchmarkUserLookup/ {
	for (i = 1; i <= NF; i++) { if ($i == "ns/lookup") ul = $(i-1); if ($i == "p99-ns/lookup") up = $(i-1) }
}
/^BenchmarkSlapdUserLookup/ {
	for (i = 1; i <= NF; i++) { if ($i == "ns/lookup") sl = $(i-1); if ($i == "p99-ns/lookup") sp = $(i-1) }
}
END {
	print ""
	print "| benchmark | result |"
	print "|---|---|"
	printf "| full sync (first, into an empty store) | %.1f s, %d entries/s, peak RSS %d MiB |\n", full / 1e9, eps, rss
	for (j = 1; j <= k; j++) printf "| incremental sync of %d changes | %s |\n", order[j], ms(inc[order[j]])
	printf "| `cache user NAME` with nested groups (mean / p99) | %s / %s |\n", us(ul), us(up)
	printf "| slapd: the user entry with direct memberOf over one connection (mean / p99) | %s / %s |\n", us(sl), us(sp)
	if (ul > 0) printf "| ratio: dirgate nested lookup vs slapd direct lookup | %.0f× faster |\n", sl / ul
}' "$out"
