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
go test -run '^$' -bench 'FullSync|IncrementalSync|UserLookup' -benchtime "${BENCHTIME:-3x}" -timeout 60m ./bench/ | tee "$out"
go test -run '^$' -bench 'LDAPSideBySide' -benchtime 1x -timeout 60m ./bench/ 2>&1 | grep -v '^time=' | tee -a "$out"

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
/^BenchmarkLDAPSideBySide/ {
	for (i = 3; i <= NF; i++) if ($i !~ /^[0-9.e+-]+$/) m[$i] = $(i-1)
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
	print ""
	print "| LDAP, 16 connections, one run | slapd | dirgate | ratio |"
	print "|---|---|---|---|"
	printf "| uid search returning uid cn mail memberOf (ops/s) | %d | %d | %.2f× |\n", m["slapd-uid-ops/s"], m["dirgate-uid-ops/s"], m["uid-ratio"]
	printf "| nested membership (&(uid=X)(memberOf=G)) (ops/s; slapd with dynlist) | %.1f | %d | %.0f× |\n", m["dynlist-member-ops/s"], m["dirgate-member-ops/s"], m["member-ratio"]
	printf "| nested membership vs dirgate own uid search | | | %.2f× |\n", m["member-vs-uid"]
	printf "| bind as a user (ops/s; dirgate passes it on to slapd) | %d | %d | %.2f× slower |\n", m["slapd-bind-ops/s"], m["dirgate-bind-ops/s"], m["bind-throughput-ratio"]
	printf "| dirgate peak RSS under the load / during its first sync | | %d MiB / %d MiB | |\n", m["dirgate-load-peak-RSS-MiB"], m["dirgate-sync-peak-RSS-MiB"]
}' "$out"
