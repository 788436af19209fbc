#!/usr/bin/env bash
# Bad input: every case gets exactly one error line on stderr, a non-zero
# exit status (not a crash, not a hang: 5 s at most), and leaves nothing
# attached and nothing pinned. Unknown and odd interface names, hostile
# filter expressions, out-of-range values, unwritable and symlinked output
# paths, malformed configuration files, a pin root that is not on bpffs,
# commands that need a datapath that is not loaded.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd jq python3
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"

ns=ftt-$$-bad
ft_netns_add "$ns" || {
	ft_fail setup "cannot create a namespace"
	exit 1
}
ft_on_exit "ft_flowtap $ns detach --all"
ip -n "$ns" link add bad0 type veth peer name bad1 &&
	ip -n "$ns" link set bad0 up && ip -n "$ns" link set bad1 up || {
	ft_fail setup "cannot create a veth pair"
	exit 1
}
FS=$(ft_bpffs "$ns")
D=$FT_TMP/files
mkdir -p "$D/notbpffs" "$D/dir"
echo secret >"$D/target"
ln -s "$D/target" "$D/link"
ln -s "$D" "$D/dirlink"
: >"$D/exists.pcap"

# Configuration files.
printf 'interval = 10\ncolour = blue\n' >"$D/unknown_key.conf"
printf 'interval = soon\n' >"$D/bad_value.conf"
printf 'keep yes\n' >"$D/no_equals.conf"
printf 'keep = yes\n\0\n' >"$D/nul.conf"
printf 'table_high_water = 50\ntable_low_water = 60\n' >"$D/water.conf"
printf 'interval = %s\n' "$(head -c 5000 /dev/zero | tr '\0' 9)" >"$D/long_line.conf"
head -c $((2 << 20)) /dev/zero | tr '\0' '#' >"$D/huge.conf"
printf 'interface = bad0\nflow_log = %s/link\n' "$D" >"$D/symlinked_log.conf"

# A port already in use, for --metrics.
busy=19488
ft_bg ip netns exec "$ns" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' $busy
sleep 0.3

# bad NAME ARGS...: flowtap ARGS (in the namespace, with its pins) must fail
# cleanly. ENV_ROOT overrides the pin root for one case.
bad() {
	local name=$1 rc lines left
	shift
	ip netns exec "$ns" env FLOWTAP_PIN_ROOT="${ENV_ROOT:-$FS/flowtap}" LIBXDP_BPFFS="$FS" \
		timeout -k 2 5 "$FT_BIN" "$@" >"$FT_TMP/out" 2>"$FT_TMP/err" </dev/null
	rc=$?
	lines=$(grep -c . "$FT_TMP/err")
	left="$(ft_flowtap "$ns" status --json 2>/dev/null | jq -r '[.[].iface] | join(" ")')$(
		tc -n "$ns" qdisc show | grep -c clsact | sed 's/^0$//')$(ls "$FS" | grep -v '\.debug$' | tr '\n' ' ')"
	local why=()
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		why+=("still running after 5 s: accepted")
	elif [ $rc = 0 ] || [ $rc -ge 128 ]; then
		why+=("exit $rc")
	fi
	[ "$lines" = 1 ] || why+=("$lines error lines, want 1")
	[ -z "$left" ] || why+=("left behind: $left")
	if [ ${#why[@]} = 0 ]; then
		ft_pass "$name"
	else
		ft_fail "$name" "$(IFS=';'; echo "${why[*]}") (flowtap $(printf '%q ' "$@"| head -c 120)): $(head -c 240 "$FT_TMP/err" | tr '\n' '|')"
	fi
	# Whatever happened, the next case starts clean.
	ft_flowtap "$ns" detach --all >/dev/null 2>&1
	tc -n "$ns" qdisc del dev bad0 clsact 2>/dev/null
	rm -rf "${FS:?}/flowtap" "$FS/xdp"
}

# --- interfaces ---
bad attach_unknown_iface attach ftt-nosuch0
bad attach_iface_slash attach 'a/b'
bad attach_iface_format attach '%s%s%s%n'
bad attach_iface_shell attach 'bad0;reboot'
bad attach_iface_empty attach ''
bad attach_iface_too_long attach abcdefghijklmnopqrstuvwxyz
bad attach_iface_newline attach $'bad0\nx'
bad attach_iface_dotdot attach ..
bad stats_unknown_iface stats -i ftt-nosuch0
bad run_unknown_iface run -i ftt-nosuch0

# --- values out of range ---
bad attach_flow_table_huge attach bad0 --flow-table-size 99999999999
bad attach_flow_table_negative attach bad0 --flow-table-size -5
bad attach_sample_rate_text attach bad0 --http-sample-rate often
bad attach_mode attach bad0 --xdp --mode turbo
bad run_interval_zero run -i bad0 --interval 0
bad top_delay_zero top -i bad0 -d 0 --once
bad run_interval_negative run -i bad0 --interval -1
bad run_interval_text run -i bad0 --interval soon
bad run_interval_overflow run -i bad0 --interval 1e999
bad run_interval_inf_after_unit run -i bad0 --interval 1e308h
bad run_flow_table_huge run -i bad0 --flow-table-size 99999999999
bad run_metrics_port run -i bad0 --metrics 127.0.0.1:99999
bad run_metrics_host run -i bad0 --metrics no-such-host:9477
bad run_metrics_busy run -i bad0 --metrics 127.0.0.1:$busy
bad run_ipfix_addr run -i bad0 --ipfix 'x:y'
bad flows_limit_negative flows --limit=-1
bad http_count_text http -c many

# --- output paths ---
bad run_flow_log_unwritable run -i bad0 --flow-log /proc/flowtap-flows.jsonl
bad run_flow_log_no_dir run -i bad0 --flow-log "$D/nonexistent/flows.jsonl"
bad run_flow_log_symlink run -i bad0 --flow-log "$D/link"
bad run_flow_log_directory run -i bad0 --flow-log "$D/dir"
ft_expect flow_log_symlink_target_intact "$(cat "$D/target")" secret

# --- configuration files ---
bad config_missing run --config "$D/nonexistent.conf"
bad config_directory run --config "$D/dir"
bad config_unknown_key run --config "$D/unknown_key.conf"
bad config_bad_value run --config "$D/bad_value.conf"
bad config_no_equals run --config "$D/no_equals.conf"
bad config_nul_byte run --config "$D/nul.conf"
bad config_water_marks run --config "$D/water.conf"
bad config_long_line run --config "$D/long_line.conf"
bad config_too_big run --config "$D/huge.conf"
bad config_symlinked_flow_log run --config "$D/symlinked_log.conf"

# --- no datapath, no bpffs ---
bad stats_not_loaded stats
bad flows_not_loaded flows
bad http_not_loaded http -c 1
ENV_ROOT=$D/notbpffs/flowtap bad attach_no_bpffs attach bad0
ENV_ROOT=$D/notbpffs/flowtap bad run_no_bpffs run -i bad0
ft_expect no_bpffs_untouched "$(ls -A "$D/notbpffs")" ""

# --- capture: filters, values, files ---
if "$FT_BIN" capture --help >/dev/null 2>&1; then
	unbalanced=$(printf '(%.0s' $(seq 300))tcp
	# 1000 alternatives: libpcap's optimiser alone takes a minute of CPU
	# on them (cubic); a hostile expression must be refused, not run.
	hostile=$(for i in $(seq 1000); do printf 'host 198.18.%d.%d or ' $((i / 250)) $((i % 250 + 1)); done)tcp
	bad capture_filter_syntax capture -i bad0 -c 1 -w "$D/a.pcap" 'tcp port'
	bad capture_filter_port capture -i bad0 -c 1 -w "$D/a.pcap" 'port 99999'
	bad capture_filter_unknown_host capture -i bad0 -c 1 -w "$D/a.pcap" 'host no-such-host.invalid'
	bad capture_filter_unbalanced capture -i bad0 -c 1 -w "$D/a.pcap" "$unbalanced"
	bad capture_filter_hostile capture -i bad0 -c 1 -w "$D/a.pcap" "$hostile"
	bad capture_filter_format capture -i bad0 -c 1 -w "$D/a.pcap" '%n%n%n%s'
	bad capture_snaplen_negative capture -i bad0 -c 1 -s -1 -w "$D/a.pcap"
	bad capture_snaplen_huge capture -i bad0 -c 1 -s 99999999999 -w "$D/a.pcap"
	bad capture_count_text capture -i bad0 -c lots -w "$D/a.pcap"
	bad capture_unknown_iface capture -i ftt-nosuch0 -c 1 -w "$D/a.pcap"
	bad capture_w_unwritable capture -i bad0 -c 1 -w /proc/flowtap.pcap
	bad capture_w_symlink capture -i bad0 -c 1 -w "$D/link"
	bad capture_w_symlinked_dir capture -i bad0 -c 1 -w "$D/dirlink/b.pcap"
	bad capture_w_exists capture -i bad0 -c 1 -w "$D/exists.pcap"
	bad capture_w_directory capture -i bad0 -c 1 -w "$D/dir"
	ENV_ROOT=$D/notbpffs/flowtap bad capture_no_bpffs capture -i bad0 -c 1 -w "$D/a.pcap"
	ft_expect capture_symlink_target_intact "$(cat "$D/target")" secret
else
	ft_skip capture "flowtap capture is not in this build"
fi

ft_done
