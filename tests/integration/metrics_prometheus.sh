#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The Prometheus exporter end to end: `flowtap metrics` serves the pinned
# maps of a datapath on veths in namespace A; a real Prometheus (Debian's)
# scrapes it every second; known traffic runs to namespace B (an exact UDP
# burst into a closed port, HTTP requests, refused connections) and the
# counters Prometheus stored must match it exactly. Also: promtool's lint
# finds nothing, OpenMetrics and gzip are served on request, scrapes
# hammering the exporter lose nothing, and a second exporter with
# --max-interfaces / --retention folds label sets over the cap into
# interface="other" and drops a deleted interface's series after the
# retention time.
#
# Everything runs in namespace A (flowtap, the exporters on A's loopback,
# Prometheus); B is the peer. No default routes, 198.18.0.0/15 only.

. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd prometheus promtool curl jq python3
[ -x "$FT_BIN" ] || ft_skip_all "build flowtap first (make)"
"$FT_BIN" metrics --help >/dev/null 2>&1 || ft_skip_all "flowtap metrics is not in this build"

N=1000 # UDP packets of the burst
RETENTION=3

ft_netns_pair || {
	ft_fail setup "cannot create namespaces"
	exit 1
}
ft_on_exit "ft_flowtap A detach --all"

# A free TCP port on A's loopback.
free_port() {
	ft_ns A python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# prom_query PROMQL: the value of the first series of an instant query, or "none".
prom_query() {
	ft_ns A curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // "none"' 2>/dev/null
}

# wait_value NAME PROMQL WANT [SECONDS]: PASS once Prometheus has WANT.
wait_value() {
	local name=$1 q=$2 want=$3 secs=${4:-20} got i
	for ((i = 0; i < secs * 4; i++)); do
		got=$(prom_query "$q")
		[ "$got" = "$want" ] && break
		sleep 0.25
	done
	ft_expect "$name" "$got" "$want"
}

scrape() { # [CURL ARGS...]: the exposition, as a client sees it
	ft_ns A curl -s --max-time 5 "$@" "http://127.0.0.1:$FT_PORT/metrics"
}

udp_burst() { # DST PORT COUNT PAYLOAD
	ft_ns A python3 -c '
import socket, sys
dst, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(n):
    s.sendto(b"x" * size, (dst, port))
' "$@"
}

# start_exporter NAME ARGS...: `flowtap metrics` on a free port of A's
# loopback; sets PORT_<NAME>.
start_exporter() {
	local name=$1 port=
	shift
	ft_bg ft_flowtap A metrics --listen 127.0.0.1:0 "$@" >"$FT_TMP/$name.out" 2>"$FT_TMP/$name.err"
	for _ in $(seq 50); do
		port=$(sed -n 's|^serving http://127.0.0.1:\([0-9]*\)/metrics$|\1|p' "$FT_TMP/$name.out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		ft_fail "start_$name" "no 'serving' line: $(head -c 300 "$FT_TMP/$name.err")"
		exit 1
	fi
	printf -v "PORT_$name" %s "$port"
	ft_pass "start_$name"
}

# --- setup: datapath on A's veths, two exporters, Prometheus ---

ft_ns A ping -c1 -W2 "$FT_IP4_B" >/dev/null # neighbours resolved before counting
# Two more veth pairs in A for the cap and the retention; IPv6
# autoconfiguration gives them a little traffic.
if ! ip -n "$FT_NS_A" link add mx1 type veth peer name mx1p ||
	! ip -n "$FT_NS_A" link add mx2 type veth peer name mx2p; then
	ft_fail setup "cannot add veths"
	exit 1
fi
for i in "$FT_IF_A" mx1 mx2; do
	ft_flowtap A attach "$i" >/dev/null || {
		ft_fail setup "attach $i failed"
		exit 1
	}
done
for l in mx1 mx1p mx2 mx2p; do ip -n "$FT_NS_A" link set "$l" up; done
# Both have counters before the capped exporter decides who gets a slot.
for _ in $(seq 100); do
	n=$(ft_flowtap A stats --json |
		jq '[.[] | select(.iface == "mx1" or .iface == "mx2") | .iface] | unique | length')
	[ "$n" = 2 ] && break
	sleep 0.1
done
ft_expect setup_traffic_on_mx "$n" 2

start_exporter flowtap
start_exporter capped --max-interfaces 2 --retention "${RETENTION}s"
# shellcheck disable=SC2154 # set by start_exporter
FT_PORT=$PORT_flowtap

PROM_PORT=$(free_port)
# shellcheck disable=SC2154 # set by start_exporter
cat >"$FT_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: flowtap
    static_configs:
      - targets: ["127.0.0.1:$PORT_flowtap"]
  - job_name: capped
    static_configs:
      - targets: ["127.0.0.1:$PORT_capped"]
EOF
ft_bg ft_ns A prometheus --config.file="$FT_TMP/prometheus.yml" \
	--storage.tsdb.path="$FT_TMP/prometheus-data" --web.listen-address="127.0.0.1:$PROM_PORT" \
	--log.level=warn >"$FT_TMP/prometheus.log" 2>&1
wait_value prometheus_scrapes_flowtap 'up{job="flowtap"}' 1 30
wait_value prometheus_scrapes_capped 'up{job="capped"}' 1 10

# --- the exposition itself ---

scrape >"$FT_TMP/text.prom"
lint=$(promtool check metrics <"$FT_TMP/text.prom" 2>&1)
ft_expect promtool_check_metrics "$?:$lint" "0:"
ft_expect text_content_type "$(scrape -o /dev/null -w '%{content_type}')" \
	"text/plain; version=0.0.4; charset=utf-8"
scrape -H 'Accept: application/openmetrics-text; version=1.0.0' >"$FT_TMP/om.txt"
ft_expect openmetrics_eof "$(tail -n 1 "$FT_TMP/om.txt")" "# EOF"
ft_expect openmetrics_counter_family "$(grep -c '^# TYPE flowtap_packets counter$' "$FT_TMP/om.txt")" 1
ft_expect gzip_encoding "$(scrape --compressed -o /dev/null -D - | grep -ci '^content-encoding: gzip')" 1
ft_expect gzip_same_body "$(scrape --compressed | grep -c '^flowtap_build_info')" 1
ft_expect not_found "$(ft_ns A curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FT_PORT/nope")" 404
ft_expect post_refused \
	"$(ft_ns A curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$FT_PORT/metrics")" 405
# Prometheus asks for OpenMetrics first (its default Accept header): parsed.
wait_value prometheus_build_info 'flowtap_build_info{job="flowtap"}' 1

# --- known traffic, counted exactly, with scrapes hammering meanwhile ---

HAMMERS=()
for _ in 1 2 3 4; do
	ft_bg bash -c "while :; do ip netns exec $FT_NS_A curl -s -o /dev/null --max-time 5 \
		http://127.0.0.1:$FT_PORT/metrics; done"
	HAMMERS+=("$FT_LAST_PID")
done
udp_burst "$FT_IP4_B" 9999 "$N" 100
sel="job=\"flowtap\",interface=\"$FT_IF_A\",direction=\"egress\",class=\"udp\""
wait_value udp_packets "flowtap_packets_total{$sel}" "$N"
wait_value udp_bytes "flowtap_bytes_total{$sel}" "$((N * 142))"

# B had no socket on that port: N drops there, in B's namespace.
ino=$(stat -L -c %i "/run/netns/$FT_NS_B")
idx=$(ip -n "$FT_NS_B" -j link show "$FT_IF_B" | jq -r '.[0].ifindex')
wait_value kernel_drops_no_socket \
	"flowtap_kernel_drops_total{job=\"flowtap\",interface=\"netns:$ino/if$idx\",reason=\"no_socket\"}" "$N"

# HTTP: 3 GETs, 3 handshakes; 2 connections refused by a closed port.
ft_bg ft_ns B python3 -m http.server 8080 --bind "$FT_IP4_B" >/dev/null 2>&1
ft_wait_listen B "$FT_IP4_B" 8080
hs_q="flowtap_tcp_handshake_seconds_count{job=\"flowtap\",interface=\"$FT_IF_A\"}"
rst_q="flowtap_tcp_connection_failures_total{job=\"flowtap\",interface=\"$FT_IF_A\",direction=\"ingress\",reason=\"refused\"}"
sleep 2 # what the probes did is scraped
hs_before=$(prom_query "$hs_q")
rst_before=$(prom_query "$rst_q")
[ "$hs_before" = none ] && hs_before=0
[ "$rst_before" = none ] && rst_before=0
for p in /a /b /c; do ft_ns A curl -s -o /dev/null "http://$FT_IP4_B:8080$p"; done
for _ in 1 2; do ft_ns A bash -c "</dev/tcp/$FT_IP4_B/8081" 2>/dev/null; done
wait_value http_get \
	"flowtap_http_requests_total{job=\"flowtap\",interface=\"$FT_IF_A\",direction=\"egress\",method=\"GET\"}" 3
wait_value tcp_handshakes "$hs_q" "$((hs_before + 3))"
wait_value tcp_handshake_inf_bucket \
	"flowtap_tcp_handshake_seconds_bucket{job=\"flowtap\",interface=\"$FT_IF_A\",le=\"+Inf\"}" \
	"$((hs_before + 3))"
wait_value tcp_refused "$rst_q" "$((rst_before + 2))"

for p in "${HAMMERS[@]}"; do kill "$p" 2>/dev/null; done
ft_expect scrapes_never_failed "$(prom_query 'min_over_time(up{job="flowtap"}[1m])')" 1
ft_expect scrapes_fast \
	"$(prom_query 'max_over_time(scrape_duration_seconds{job="flowtap"}[1m]) < bool 0.5')" 1

# --- docs/prometheus.md: its alert rules load, its example queries run ---

DOC=$FT_ROOT/docs/prometheus.md
if [ -f "$DOC" ]; then
	awk '/^```yaml$/ { f = 1; next } /^```$/ { f = 0 } f' "$DOC" >"$FT_TMP/rules.yml"
	out=$(promtool check rules "$FT_TMP/rules.yml" 2>&1)
	ft_expect doc_alert_rules "$?" 0 || echo "$out" >&2
	python3 - "$DOC" >"$FT_TMP/queries" <<'EOF'
import sys
sec = open(sys.argv[1]).read().split("## Example queries")[1].split("## Alert rules")[0]
blocks, cur = [], []
for line in sec.split("\n") + [""]:
    if line.startswith("    "):
        cur.append(line[4:])
    elif cur:
        blocks.append(" ".join(l.strip() for l in cur))
        cur = []
for b in blocks:
    if not b.startswith("- record"):
        print(b)
EOF
	bad=0 total=0
	while IFS= read -r q; do
		total=$((total + 1))
		st=$(ft_ns A curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
			--data-urlencode "query=$q" | jq -r .status 2>/dev/null)
		[ "$st" = success ] || {
			bad=$((bad + 1))
			echo "query failed: $q" >&2
		}
	done <"$FT_TMP/queries"
	ft_expect doc_example_queries "$bad failed of $total" "0 failed of $total"
else
	ft_skip doc_alert_rules "no $DOC"
fi
DASH=$FT_ROOT/docs/grafana/flowtap.json
if [ -f "$DASH" ]; then
	# Grafana's variables as Grafana would expand them with "All" selected.
	jq -r '.. | .expr? // empty' "$DASH" | sed -e 's/\$__rate_interval/1m/g' -e 's/\$__range/1h/g' \
		-e 's/\$[a-z]*/.*/g' >"$FT_TMP/dash_queries"
	bad=0 total=0
	while IFS= read -r q; do
		total=$((total + 1))
		st=$(ft_ns A curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
			--data-urlencode "query=$q" | jq -r .status 2>/dev/null)
		[ "$st" = success ] || {
			bad=$((bad + 1))
			echo "dashboard query failed: $q" >&2
		}
	done <"$FT_TMP/dash_queries"
	ft_expect dashboard_queries "$bad failed of $total" "0 failed of $total"
	ft_expect dashboard_traffic_data "$(ft_ns A curl -s -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$(sed -n 2p "$FT_TMP/dash_queries")" | jq '.data.result | length > 0')" true
fi

# --- the cap (capped exporter): the veth and mx1 keep their series; mx2
# and the devices known only from drops are folded into "other" ---

C='job="capped"'
wait_value cap_exported "flowtap_metrics_interfaces{$C,state=\"exported\"}" 2
wait_value cap_folded "flowtap_metrics_interfaces_folded_total{$C} >= bool 1" 1
wait_value cap_other_series "count(flowtap_packets_total{$C,interface=\"other\"})" 26
ft_expect cap_veth_exported "$(prom_query "count(flowtap_packets_total{$C,interface=\"$FT_IF_A\"})")" 26
ft_expect cap_mx2_folded "$(prom_query "count(flowtap_packets_total{$C,interface=\"mx2\"})")" none
ft_expect cap_uncapped_has_mx2 \
	"$(prom_query 'count(flowtap_packets_total{job="flowtap",interface="mx2"})')" 26

# --- retention: mx1 is deleted; its series stay RETENTION s, then go, and
# its slot goes to mx2 ---

ft_expect retention_before "$(prom_query "count(flowtap_packets_total{$C,interface=\"mx1\"})")" 26
ip -n "$FT_NS_A" link del mx1
t0=$(date +%s.%N)
wait_value retention_gone_state "flowtap_metrics_interfaces{$C,state=\"gone\"} >= bool 1" 1 5
ft_expect retention_kept "$(prom_query "count(flowtap_packets_total{$C,interface=\"mx1\"})")" 26
wait_value retention_series_removed "count(flowtap_packets_total{$C,interface=\"mx1\"})" none \
	$((RETENTION + 10))
held=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
if python3 -c "import sys; sys.exit(0 if $RETENTION - 0.5 <= $held <= $RETENTION + 4 else 1)"; then
	ft_pass retention_time
else
	ft_fail retention_time "series went after ${held}s, retention ${RETENTION}s"
fi
wait_value retention_slot_reused "count(flowtap_packets_total{$C,interface=\"mx2\"})" 26
ft_expect other_never_decreases \
	"$(prom_query "sum(resets(flowtap_packets_total{$C,interface=\"other\"}[1m]))")" 0

ft_done
