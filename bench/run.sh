#!/usr/bin/env bash
# Runs dirgate's benchmarks against a real slapd on a generated directory
# (100,000 users, 10,000 groups, 500,000 memberships with one level of
# nesting unless DIRGATE_BENCH_USERS / _GROUPS / _MEMBERSHIPS say otherwise)
# and prints the README's tables. Needs slapd (make deps). Takes a few
# minutes; raw output goes to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
out="bench/out/bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
go test -run '^$' -bench 'FullSync|IncrementalSync|UserLookup' -benchtime "${BENCHTIME:-3x}" -timeout 60m ./bench/ | tee "$out"
# In a process of its own: after it, about 80 MiB of its directory stayed
# reachable and inflated the next benchmark's peak RSS.
go test -run '^$' -bench 'GCMark' -benchtime "${BENCHTIME:-3x}" -timeout 60m ./bench/ | grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok\)' | tee -a "$out"
go test -run '^$' -bench 'LDAPSideBySide' -benchtime 1x -timeout 60m ./bench/ 2>&1 | grep -v '^time=' | tee -a "$out"
# The Crowd REST frontend: logins, nested groups (and the net/http floor
# under the same load), /group/membership and a Jira-like full sync
# (`dirgate serve` in its own process, the load generator in the test's).
go test -run '^$' -bench 'REST' -benchtime 1x -timeout 60m ./bench/ 2>&1 | grep -v '^time=' | tee -a "$out"

awk '
function ms(ns) { return sprintf("%.1f ms", ns / 1e6) }
function us(ns) { return sprintf("%.1f µs", ns / 1e3) }
function dur(msec) { return msec >= 1000 ? sprintf("%.1f s", msec / 1e3) : sprintf("%.1f ms", msec) }
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
/^BenchmarkREST/ {
	# r[name, unit]: name is the benchmark without its -GOMAXPROCS suffix.
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkREST/, "", name)
	for (i = 3; i <= NF; i++) if ($i !~ /^[0-9.e+-]+$/) r[name, $i] = $(i-1)
	rest = 1
	if (name ~ /^NestedGroups\/names-at-/) { rate = name; sub(/^NestedGroups\/names-at-/, "", rate); sub(/\/s$/, "", rate); rates[++nrates] = rate }
}
/^BenchmarkGCMark/ {
	for (i = 1; i <= NF; i++) g[$i] = $(i-1)
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
	if ("cpu-ms/GC" in g)
		printf "| one garbage collection, directory loaded, LDAP per-user cache full (CPU; live heap, scanned part, objects; collector CPU per KiB allocated at GOGC=60) | %.0f ms; %d MiB, %d MiB, %d; %.2f µs/KiB |\n",
			g["cpu-ms/GC"], g["live-MiB"], g["scan-MiB"], g["objects"], g["gc-µs/KiB"]
	print ""
	printf "| LDAP, 16 connections, median of %d rounds | slapd | dirgate | ratio (worst round) |\n", m["rounds"]
	print "|---|---|---|---|"
	printf "| uid search returning uid cn mail memberOf (ops/s) | %d | %d | %.2f× (%.2f×) |\n", m["slapd-uid-ops/s"], m["dirgate-uid-ops/s"], m["uid-ratio"], m["uid-ratio-min"]
	printf "| nested membership (&(uid=X)(memberOf=G)) (ops/s; slapd with dynlist) | %.1f | %d | %.0f× |\n", m["dynlist-member-ops/s"], m["dirgate-member-ops/s"], m["member-ratio"]
	printf "| nested membership vs dirgate own uid search | | | %.2f× (%.2f×) |\n", m["member-vs-uid"], m["member-vs-uid-min"]
	printf "| bind as a user (ops/s; dirgate passes it on to slapd; median of %d rounds) | %d | %d | %.2f× slower (%.2f×) |\n", m["bind-rounds"], m["slapd-bind-ops/s"], m["dirgate-bind-ops/s"], m["bind-throughput-ratio"], m["bind-throughput-ratio-max"]
	printf "| CPU per bind (µs) and cores busy, of 2: slapd answering / dirgate + slapd behind it | %d µs, %.2f cores | %d + %d µs, %.2f cores | |\n", m["slapd-bind-cpu-µs"], m["slapd-bind-cores-used"], m["dirgate-bind-cpu-µs"], m["slapd-behind-dirgate-bind-cpu-µs"], m["dirgate-bind-cores-used"]
	printf "| dirgate peak RSS under the load / during its first sync | | %d MiB / %d MiB | |\n", m["dirgate-load-peak-RSS-MiB"], m["dirgate-sync-peak-RSS-MiB"]
	if (!rest) exit
	print ""
	print "| Crowd REST login, local user, argon2id m=19 MiB t=2 | clients | ms per login (wall) | logins/s | p50 | p99 | peak RSS growth |"
	print "|---|---|---|---|---|---|---|"
	split("cold warm", modes, " "); split("1 8 64", concs, " ")
	label["cold"] = "cold: first login of each user"; label["warm"] = "warm: the same users again"
	for (x = 1; x <= 2; x++) for (y = 1; y <= 3; y++) {
		n = "Authentication/" modes[x] "/c=" concs[y]
		if ((n, "ns/op") in r)
			printf "| %s | %d | %.1f | %.1f | %s | %s | %d MiB |\n", label[modes[x]], concs[y], r[n, "ns/op"] / 1e6, r[n, "req/s"],
				dur(r[n, "p50-ms"]), dur(r[n, "p99-ms"]), r[n, "peak-RSS-growth-MiB"]
	}
	print ""
	print "| Crowd REST reads (100k users / 10k groups unless resized) | result | target |"
	print "|---|---|---|"
	for (v = 1; v <= 2; v++) {
		n = v == 1 ? "NestedGroups/names" : "NestedGroups/expand=group"
		if ((n, "req/s") in r)
			printf "| `/user/group/nested` max-results=-1%s, 64 keep-alive clients (p50 / p99, req/s) | %s / %s, %d req/s | %s |\n",
				v == 1 ? "" : " expand=group", dur(r[n, "p50-ms"]), dur(r[n, "p99-ms"]), r[n, "req/s"], (v == 1 ? "p99 ≤ 5 ms" : "")
	}
	n = "NestedGroups/net-http-floor"
	if ((n, "req/s") in r)
		printf "| floor: a net/http server answering every request with a prepared body of that size, same load, same run (p50 / p99, req/s) | %s / %s, %d req/s | |\n",
			dur(r[n, "p50-ms"]), dur(r[n, "p99-ms"]), r[n, "req/s"]
	n = "NestedGroups/names-vs-floor"
	if ((n, "p99-ms") in r)
		printf "| names, closed loop, dirgate and the floor in %d alternating rounds of 3 s: median p99 (lowest, highest), median p99 of the floor, median ratio of the two; median req/s of each | %s (%s, %s), floor %s, %.2f×; %d / %d req/s | p99 ≤ 5 ms |\n",
			r[n, "rounds"], dur(r[n, "p99-ms"]), dur(r[n, "p99-ms-min"]), dur(r[n, "p99-ms-max"]), dur(r[n, "floor-p99-ms"]), r[n, "p99-ratio"], r[n, "req/s"], r[n, "floor-req/s"]
	for (j = 1; j <= nrates; j++) {
		n = "NestedGroups/names-at-" rates[j] "/s"; f = "NestedGroups/net-http-floor-at-" rates[j] "/s"
		printf "| names offered at %d req/s by the 64 clients (open loop): p50 / p99; the floor at that rate | %s / %s; floor %s / %s | |\n",
			rates[j], dur(r[n, "p50-ms"]), dur(r[n, "p99-ms"]), dur(r[f, "p50-ms"]), dur(r[f, "p99-ms"])
	}
	n = "GroupMembership/membership"
	if ((n, "ns/op") in r)
		printf "| `/group/membership` (time, size, peak RSS growth) | %.2f s, %.1f MB, +%d MiB | ≤ 5 s, ≤ 100 MB |\n",
			r[n, "ns/op"] / 1e9, r[n, "resp-bytes"] / 1e6, r[n, "peak-RSS-growth-MiB"]
	n = "GroupMembership/full-sync"
	if ((n, "ns/op") in r)
		printf "| Jira-like full sync: all users, all groups (expanded), /group/membership (total time = users + groups + memberships, peak RSS growth) | %.2f s = %.2f + %.2f + %.2f s, +%d MiB | |\n",
			r[n, "ns/op"] / 1e9, r[n, "users-s"], r[n, "groups-s"], r[n, "membership-s"], r[n, "peak-RSS-growth-MiB"]
}' "$out"
