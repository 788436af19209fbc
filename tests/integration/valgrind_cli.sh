#!/usr/bin/env bash
# Every CLI command under valgrind memcheck: help, bad options and values,
# then attach/status/stats/flows/http/detach on a veth pair with real
# traffic, TC and XDP. Any invalid access, use of uninitialised memory, bad
# syscall argument or definite leak fails the command's test, as does an
# exit status other than the one the command should give.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd valgrind jq curl python3
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"
# valgrind cannot run a binary built with ASan (make SANITIZE=1).
if nm -D "$FT_BIN" 2>/dev/null | grep -q __asan_init || nm "$FT_BIN" 2>/dev/null | grep -q __asan_init; then
	ft_skip_all "flowtap is built with sanitizers (make SANITIZE=1): they and valgrind exclude each other"
fi

VG_ERR=99
n=0

# Reports that are not flowtap's, each narrowed to the library call that
# produces it; invalid accesses and leaks are never suppressed.
# - valgrind 3.19 checks BPF_MAP_GET_NEXT_KEY's attr->key and attr->flags,
#   but a NULL key is how the first key is asked for and the command has no
#   flags (libbpf clears the attr only up to next_key).
# - valgrind does not know that BPF_OBJ_GET_INFO_BY_FD fills the buffers
#   info points to (the BTF blob), so everything libxdp derives from a
#   program's kernel BTF looks uninitialised.
# - libbpf's feature probes pass a short attr (its size says so); valgrind
#   checks the fields past it anyway.
# - libxdp's dispatcher config reaches the kernel with uninitialised bytes
#   (libxdp's own struct, filled by libxdp).
# - libbpf 1.1's netlink extack parsing reads past the end of an error reply
#   (bpf_tc_query on a hook with no filter).
SUPP=$FT_TMP/flowtap.supp
cat >"$SUPP" <<'EOS'
{
   valgrind-bpf-get-next-key-null-key
   Memcheck:Param
   bpf(attr->key)
   fun:syscall
   fun:bpf_map_get_next_key
}
{
   valgrind-bpf-get-next-key-flags
   Memcheck:Param
   bpf(attr->flags)
   fun:syscall
   fun:bpf_map_get_next_key
}
{
   libbpf-probe-short-attr-expected-attach-type
   Memcheck:Param
   bpf(attr->expected_attach_type)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libbpf-probe-short-attr-prog-ifindex
   Memcheck:Param
   bpf(attr->prog_ifindex)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libxdp-dispatcher-config
   Memcheck:Param
   bpf(attr->value)
   fun:syscall
   fun:bpf_map_update_elem
   ...
   fun:xdp_program__attach_multi
}
{
   libbpf-tc-query-extack
   Memcheck:Cond
   obj:*/libbpf.so*
   ...
   fun:bpf_tc_query
}
{
   kernel-btf-in-libbpf-cond
   Memcheck:Cond
   ...
   fun:btf__load_from_kernel_by_id*
}
{
   kernel-btf-in-libbpf-value8
   Memcheck:Value8
   ...
   fun:btf__load_from_kernel_by_id*
}
{
   kernel-btf-in-libxdp-cond
   Memcheck:Cond
   ...
   obj:*/libxdp.so*
}
{
   kernel-btf-in-libxdp-value8
   Memcheck:Value8
   ...
   obj:*/libxdp.so*
}
EOS

# vg_start NS ARGS...: starts flowtap ARGS under valgrind in namespace NS
# (A or B) with its pins, or in A with pins on a directory that is no bpffs
# (NS "nobpffs"), in the background; VG_PID is valgrind's (and flowtap's)
# PID, signals reach flowtap's handlers.
vg_start() {
	local ns=$1 env
	shift
	n=$((n + 1))
	VG_N=$n
	VG_ARGS="$*"
	local cmd=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		--show-leak-kinds=definite --error-exitcode=$VG_ERR --suppressions="$SUPP"
		--num-callers=30 --log-file="$FT_TMP/vg.$n.log" "$FT_BIN" "$@")
	case $ns in
	nobpffs) env=FLOWTAP_PIN_ROOT=$FT_TMP/not-bpffs/flowtap ns=$FT_NS_A ;;
	A | B)
		[ "$ns" = A ] && ns=$FT_NS_A || ns=$FT_NS_B
		env="FLOWTAP_PIN_ROOT=$(ft_bpffs "$ns")/flowtap LIBXDP_BPFFS=$(ft_bpffs "$ns")"
		;;
	esac
	# shellcheck disable=SC2086 # env holds VAR=value words
	ip netns exec "$ns" env $env "${cmd[@]}" >"$FT_TMP/out.$n" 2>"$FT_TMP/err.$n" &
	VG_PID=$!
}

# vg_check NAME WANT-RC: waits for the last vg_start, then PASS or FAIL.
vg_check() {
	local name=$1 want=$2 log=$FT_TMP/vg.$VG_N.log rc errs
	wait "$VG_PID"
	rc=$?
	errs=$(grep -E '^==[0-9]+== +(Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' "$log" |
		head -n 1 | sed 's/^==[0-9]*== *//')
	if [ "$rc" = $VG_ERR ] || [ -n "$errs" ]; then
		ft_fail "$name" "valgrind: ${errs:-error exit} (flowtap $VG_ARGS)"
		sed 's/^/    /' "$log" >&2
	elif [ "$want" != any ] && [ "$rc" != "$want" ]; then
		ft_fail "$name" "exit $rc, want $want (flowtap $VG_ARGS: $(head -c 200 "$FT_TMP/err.$VG_N"))"
	else
		ft_pass "$name"
	fi
	LAST_OUT=$FT_TMP/out.$VG_N
}

# vg NAME WANT-RC NS ARGS...: flowtap ARGS under valgrind, to completion.
vg() {
	local name=$1 want=$2
	shift 2
	vg_start "$@"
	vg_check "$name" "$want"
}

# Everything runs in a private namespace with its own pins, so a command
# that attached by mistake could not touch the host.
ft_netns_pair || {
	ft_fail setup "cannot create namespaces"
	exit 1
}
ft_on_exit "ft_flowtap $FT_NS_A detach --all; ft_flowtap $FT_NS_B detach --all"

# --- usage, help, bad options and values: one error, nothing attached ---
vg no_args 2 A
vg help 0 A help
vg version 0 A --version
vg unknown_command 2 A frobnicate
for cmd in attach detach status stats flows http; do
	vg "${cmd}_help" 0 A "$cmd" --help
	vg "${cmd}_unknown_option" 2 A "$cmd" --no-such-option
done
vg attach_no_iface 2 A attach
vg attach_missing_iface 2 A attach ftt-nosuchif
vg attach_odd_iface_name 2 A attach 'a/b;$(reboot)%n%s'
vg attach_long_iface_name 2 A attach abcdefghijklmnopqrstuvwxyz
vg attach_flow_table_too_big 2 A attach --flow-table-size 99999999999 lo
vg attach_flow_table_not_number 2 A attach --flow-table-size 12ab lo
vg attach_bad_mode 2 A attach --mode fast lo
vg attach_bad_sample_rate 2 A attach --http-sample-rate -3 lo
vg attach_xdp_and_tc 2 A attach --xdp --tc lo
vg attach_missing_value 2 A attach lo --mode
vg detach_nothing 2 A detach
vg detach_both 2 A detach --all lo
vg flows_bad_limit 2 A flows --limit=-1
vg flows_bad_sort 2 A flows --sort size
vg stats_missing_iface 2 A stats -i ftt-nosuchif
vg stats_extra_arg 2 A stats extra
vg http_bad_count 2 A http -c many
vg run_bad_option any A run --no-such-option
vg capture_bad_option any A capture --no-such-option


ft_expect nothing_attached_after_bad_input "$(ft_flowtap A status --json)" "[]"

# --- the datapath on a veth pair, with real traffic ---
ft_ns A ping -c1 -W2 "$FT_IP4_B" >/dev/null
vg stats_before_attach 1 A stats
mkdir -p "$FT_TMP/not-bpffs"
vg attach_pin_root_not_bpffs 1 nobpffs attach "$FT_IF_A"
vg stats_pin_root_not_bpffs 1 nobpffs stats

vg attach_tc 0 A attach "$FT_IF_A"
vg attach_tc_again any A attach "$FT_IF_A"
ft_ns A ping -c 3 -i 0.2 -W2 "$FT_IP4_B" >/dev/null
ft_ns A ping -6 -c 2 -i 0.2 -W2 "$FT_IP6_B" >/dev/null
vg status 0 A status
vg status_json 0 A status --json
ft_expect status_json_hook "$(jq -r '.[0].hook' "$LAST_OUT")" tc
vg stats 0 A stats
vg stats_json 0 A stats --json
vg stats_iface 0 A stats -i "$FT_IF_A" --json
ft_expect stats_icmp_counted "$(jq -r '[.[] | select(.class=="icmp" and .direction=="egress" and .reason==null and .method==null) | .packets] | add' "$LAST_OUT")" 3
vg flows 0 A flows
vg flows_json 0 A flows --json
vg flows_sorted_limited 0 A flows --sort packets --limit 2 --json
ft_expect flows_limit "$(jq length "$LAST_OUT")" 2

# http: a sample taken from a real request while the command waits.
ft_bg ip netns exec "$FT_NS_B" python3 -m http.server 8080 --bind "$FT_IP4_B" >/dev/null 2>&1
ft_wait_listen B "$FT_IP4_B" 8080
# In this shell, not a subshell: a check made in a subshell would only
# count there.
vg_start A http -c 1 --json
# valgrind needs a moment to start the reader; keep requesting until it saw one.
for _ in $(seq 60); do
	kill -0 "$VG_PID" 2>/dev/null || break
	ft_ns A curl -s -m 2 -o /dev/null "http://$FT_IP4_B:8080/valgrind?token=x"
	sleep 0.5
done
if kill -0 "$VG_PID" 2>/dev/null; then
	kill -TERM "$VG_PID" # no sample in 30 s: the path check below fails
fi
vg_check http_sample 0
# Exactly one sample: -c 1 stops after the first even when several came at once.
ft_expect http_sample_path "$(jq -sr 'map(.path) | join(" ")' "$LAST_OUT")" /valgrind

vg detach_tc 0 A detach "$FT_IF_A"
vg detach_not_attached 1 A detach "$FT_IF_A"

vg attach_xdp_skb 0 B attach "$FT_IF_B" --xdp --mode skb
ft_ns A ping -c 2 -i 0.2 -W2 "$FT_IP4_B" >/dev/null
vg stats_xdp 0 B stats --json
vg flows_xdp 0 B flows
vg detach_all 0 B detach --all
vg stats_after_detach_all 1 B stats
vg detach_all_empty 0 B detach --all

# --- the collector: start, traffic, stop ---
if ft_flowtap A run --help >/dev/null 2>&1; then
	ft_flowtap A detach --all # a fresh datapath: only this run's flows
	vg_start A run -i "$FT_IF_A" --interval 1 --flow-log "$FT_TMP/flows.jsonl"
	# Loading under valgrind takes 20-30 s on a loaded 2-core machine; the
	# traffic must come after the attach, or it is not all counted.
	deadline=$((SECONDS + 120))
	until ft_flowtap A status --json 2>/dev/null | jq -e 'length == 1' >/dev/null; do
		if [ $SECONDS -ge $deadline ] || ! kill -0 "$VG_PID" 2>/dev/null; then
			ft_fail run_attached "not attached after $((SECONDS - deadline + 120)) s"
			break
		fi
		sleep 0.2
	done
	ft_ns A ping -c 5 -i 0.2 -W2 "$FT_IP4_B" >/dev/null
	ft_ns A curl -s -m 2 -o /dev/null "http://$FT_IP4_B:8080/run?x=1"
	sleep 3
	kill -TERM "$VG_PID"
	vg_check run_start_traffic_stop 0
	ft_expect run_flow_log "$(jq -s '[.[] | select(.proto == "icmp" and .direction == "egress") | .packets_delta] | add // 0' "$FT_TMP/flows.jsonl")" 5
	ft_expect run_detached "$(ft_flowtap A status --json)" "[]"
else
	ft_skip run_start_traffic_stop "flowtap run is not in this build"
fi

ft_done
