#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Container discovery without a runtime: a namespace H plays the host,
# `flowtap containers --watch` runs in it, and plain namespaces get veth
# pairs whose host side is in H. Checks: a new veth is attached within 1 s
# and labelled with its `ip netns` name (or netns:<inode> when it has none);
# traffic counts in the container's direction; --exclude is honoured;
# removal forgets the interface's map entries without an error; a restart
# adopts what is attached instead of attaching twice; 50 veths created and
# removed in a loop leave no filter, map entry or file descriptor behind.
. "$(dirname "$0")/../lib.sh"
FT_BIN=${FLOWTAP_BIN:-$FT_BIN}
ft_require_root
ft_require_cmd jq tc
"$FT_BIN" containers --help >/dev/null 2>&1 ||
	ft_skip_all "this flowtap has no containers command (not registered in cli.c)"

H=ftt-$$-h   # the "host"
C1=ftt-$$-c1 # a named namespace
W=0          # PID of the running watcher

ft_netns_add $H && ft_netns_add $C1 || { ft_fail setup "cannot create namespaces"; ft_done; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# watch LOG [ARGS...]: start a watcher in H, JSON lines to LOG.
watch() {
	local log=$1
	shift
	# Not through ft_ns (a function, so a subshell): W must be flowtap's PID.
	ft_bg ip netns exec $H env FLOWTAP_PIN_ROOT="$(ft_bpffs $H)/flowtap" \
		LIBXDP_BPFFS="$(ft_bpffs $H)" "$FT_BIN" containers --watch --json "$@" \
		>"$log" 2>"$log.err"
	W=$FT_LAST_PID
	wait_ready "$log"
}

wait_ready() { # LOG: until the watcher has loaded the datapath and scanned
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q '"ready"' "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	ft_fail watcher_ready "no ready line in 15 s: $(tail -n1 "$1.err")"
}

unwatch() {
	kill -TERM "$W" 2>/dev/null
	wait "$W" 2>/dev/null
}

# event LOG KIND IFACE FIELD: FIELD of the last KIND event for IFACE.
event() {
	jq -r --arg k "$2" --arg i "$3" "select(.event == \$k and .iface == \$i) | .$4" "$1" 2>/dev/null |
		tail -n 1
}

# wait_event LOG KIND IFACE [SECONDS]: until such an event was printed.
wait_event() {
	local i
	for ((i = 0; i < ${4:-3} * 20; i++)); do
		[ -n "$(event "$1" "$2" "$3" event)" ] && return 0
		sleep 0.05
	done
	return 1
}

tc_filters() { # IFACE: flowtap filters on it (ingress + egress)
	{
		tc -n $H filter show dev "$1" ingress
		tc -n $H filter show dev "$1" egress
	} 2>/dev/null | grep -c flowtap
}

# ms_until_attached IFACE: milliseconds until both TC filters are there.
ms_until_attached() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < 150; i++)); do
		[ "$(tc_filters "$1")" = 2 ] && break
		sleep 0.02
	done
	echo $(($(now_ms) - t0))
}

# --- a veth into a named namespace ---
watch $FT_TMP/w1.log --keep --exclude 'skip*'
ip -n $H link add h1 type veth peer name eth0 netns $C1
ms=$(ms_until_attached h1)
if [ "$ms" -le 1000 ]; then ft_pass attach_within_1s; else ft_fail attach_within_1s "${ms} ms"; fi
wait_event $FT_TMP/w1.log added h1 && ft_expect added_event "$(event $FT_TMP/w1.log added h1 attach)" attached ||
	ft_fail added_event "no added event for h1"
wait_event $FT_TMP/w1.log labels h1
ft_expect label_netns_name "$(event $FT_TMP/w1.log labels h1 container)/$(event $FT_TMP/w1.log labels h1 runtime)" "$C1/none"
ft_expect label_netns_inode "$(event $FT_TMP/w1.log labels h1 netns)" "$(stat -L -c %i /run/netns/$C1)"

# Traffic from the container: host-side ingress is from_container.
ip -n $H addr add 198.18.0.1/24 dev h1
ip -n $C1 addr add 198.18.0.2/24 dev eth0
ip -n $H link set h1 up && ip -n $C1 link set eth0 up
ft_ns $C1 ping -c1 -W2 198.18.0.1 >/dev/null # neighbours
before=$(ft_ns $H "$FT_BIN" stats --json -i h1 | jq '[.[] | select(.direction=="ingress" and .class=="icmp" and .reason==null and .method==null) | .packets] | add // 0')
ft_ns $C1 ping -c3 -i0.2 -W2 198.18.0.1 >/dev/null
after=$(ft_ns $H "$FT_BIN" stats --json -i h1 | jq '[.[] | select(.direction=="ingress" and .class=="icmp" and .reason==null and .method==null) | .packets] | add // 0')
ft_expect from_container_is_ingress "$((after - before))" 3

# --- a namespace without a name: labelled by inode ---
ft_bg unshare -n sleep 300
anon=$FT_LAST_PID
sleep 0.2
ip -n $H link add h2 type veth peer name eth0 netns "$anon"
ms=$(ms_until_attached h2)
[ "$ms" -le 1000 ] && ft_pass anon_attach_within_1s || ft_fail anon_attach_within_1s "${ms} ms"
wait_event $FT_TMP/w1.log labels h2
ft_expect label_netns_anon "$(event $FT_TMP/w1.log labels h2 container)" "netns:$(stat -L -c %i /proc/$anon/ns/net)"
ft_expect label_pid "$(event $FT_TMP/w1.log labels h2 pid)" "$anon"

# --- --exclude ---
ip -n $H link add skip0 type veth peer name eth1 netns $C1
sleep 1
ft_expect exclude_not_attached "$(tc_filters skip0)/$(event $FT_TMP/w1.log added skip0 event)" "0/"

# A veth with both ends here is no container's.
ip -n $H link add loc0 type veth peer name loc1
sleep 0.5
ft_expect same_netns_ignored "$(tc_filters loc0)$(tc_filters loc1)" "00"

# --- removal forgets ---
idx1=$(ft_ns $H cat /sys/class/net/h1/ifindex)
ip -n $H link del h1
wait_event $FT_TMP/w1.log removed h1 && ft_pass removed_event || ft_fail removed_event "none for h1"
ft_expect removed_forgot_entries "$([ "$(event $FT_TMP/w1.log removed h1 forgot)" -gt 0 ] 2>/dev/null && echo yes)" yes
# ours: rows of H's interfaces (kernel drops are counted in every namespace)
ours='select(.class != "kernel_drop" or .netns == $h)'
hino=$(stat -L -c %i /run/netns/$H)
ft_expect removed_no_stats "$(ft_ns $H "$FT_BIN" stats --json | jq --argjson i "$idx1" --argjson h "$hino" "[.[] | $ours | select(.ifindex == \$i)] | length")" 0
ft_expect removed_no_flows "$(ft_ns $H "$FT_BIN" flows --json | jq --argjson i "$idx1" '[.[] | select(.ifindex == $i)] | length')" 0
ft_expect no_errors "$(grep -v '^$' $FT_TMP/w1.log.err | head -n 3)" ""

# --- restart: adopt, do not attach twice ---
unwatch
ft_expect keep_leaves_attached "$(tc_filters h2)" 2
watch $FT_TMP/w2.log --exclude 'skip*'
wait_event $FT_TMP/w2.log added h2
ft_expect restart_adopts "$(event $FT_TMP/w2.log added h2 attach)" adopted
ft_expect restart_single_filters "$(tc_filters h2)" 2
ft_expect restart_no_errors "$(grep -c 'already attached' $FT_TMP/w2.log.err)" 0

# --- churn: 50 veths in and out ---
fds_before=$(ls /proc/$W/fd | wc -l)
idxs=()
for i in $(seq 50); do
	ip -n $H link add ch$i type veth peer name c$i netns $C1 || break
	idxs+=("$(ft_ns $H cat /sys/class/net/ch$i/ifindex)")
	ft_ns $C1 ip link set c$i up
	ip -n $H link set ch$i up
	sleep 0.05
	ip -n $H link del ch$i
done
for _ in $(seq 100); do
	[ "$(jq -r 'select(.event=="removed" and (.iface | startswith("ch"))) | .iface' $FT_TMP/w2.log | wc -l)" -ge 50 ] && break
	sleep 0.1
done
# A veth that is gone before the watcher gets to it (50 ms, on a loaded
# machine) is reported "gone", not a failure.
ft_expect churn_added "$(jq -r 'select(.event=="added" and (.iface | startswith("ch")) and (.attach=="attached" or .attach=="gone")) | .iface' $FT_TMP/w2.log | sort -u | wc -l)" 50
ft_expect churn_removed "$(jq -r 'select(.event=="removed" and (.iface | startswith("ch"))) | .iface' $FT_TMP/w2.log | sort -u | wc -l)" 50
ft_expect churn_attach_failures "$(jq -r 'select(.attach=="failed") | .iface' $FT_TMP/w2.log | wc -l)" 0
idx_json=$(printf '%s\n' "${idxs[@]}" | jq -s .)
ft_expect churn_no_stats "$(ft_ns $H "$FT_BIN" stats --json | jq --argjson s "$idx_json" --argjson h "$hino" "[.[] | $ours | select(.ifindex as \$i | \$s | index(\$i))] | length")" 0
ft_expect churn_no_flows "$(ft_ns $H "$FT_BIN" flows --json | jq --argjson s "$idx_json" '[.[] | select(.ifindex as $i | $s | index($i))] | length')" 0
ft_expect churn_status "$(ft_ns $H "$FT_BIN" status --json | jq -r '[.[].iface] | sort | join(",")')" "h2"
ft_expect churn_fds "$(ls /proc/$W/fd | wc -l)" "$fds_before"
ft_expect churn_no_errors "$(grep -v '^$' $FT_TMP/w2.log.err | head -n 3)" ""

# --- without --keep, stopping detaches ---
unwatch
ft_expect stop_detaches "$(tc_filters h2)" 0
ft_expect stop_status "$(ft_ns $H "$FT_BIN" status --json)" "[]"

ft_ns $H "$FT_BIN" detach --all >/dev/null 2>&1
ft_done
