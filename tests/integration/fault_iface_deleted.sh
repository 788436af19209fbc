#!/usr/bin/env bash
# Fault: an attached interface is deleted while attached (TC and XDP).
# The commands keep working, the counters and flows already counted for it
# stay readable (under its old ifindex), the other interfaces keep
# counting, and detach --all still cleans up. With the collector
# (`flowtap run`) running, it keeps running through the deletion and its
# flow log still gets the deleted interface's flows, packet for packet.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd jq python3
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"

# send IFACE COUNT: COUNT UDP packets out of IFACE (to its veth peer).
cat >"$FT_TMP/send.py" <<'EOF'
import socket, struct, sys

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 36, 0, 0, 64, 17, 0,
                 bytes([198, 18, 9, 1]), bytes([198, 18, 9, 2]))
udp = struct.pack("!HHHH", 40000, 9, 16, 0) + b"flowtap!"
for _ in range(int(sys.argv[2])):
    s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp)
EOF

ft_netns_pair || {
	ft_fail setup "cannot create namespaces"
	exit 1
}
ft_on_exit "ft_flowtap A detach --all"
ft_ns A ping -c1 -W2 "$FT_IP4_B" >/dev/null

# mkpair NAME: a veth pair NAME / NAMEp in A, up, without IPv6 chatter.
mkpair() {
	ip -n "$FT_NS_A" link add "$1" type veth peer name "$1p" &&
		ip netns exec "$FT_NS_A" sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" \
			"net.ipv6.conf.$1p.disable_ipv6=1" &&
		ip -n "$FT_NS_A" link set "$1" up && ip -n "$FT_NS_A" link set "$1p" up
}

ifindex() {
	ip -n "$FT_NS_A" -j link show "$1" | jq -r '.[0].ifindex'
}

# udp_in IFINDEX: UDP packets counted at that ifindex's ingress.
udp_in() {
	ft_flowtap A stats --json | jq -r --argjson i "$1" '[.[] | select(.ifindex == $i and
		.direction == "ingress" and .class == "udp" and .reason == null) | .packets] | add // 0'
}

flow_pkts() {
	ft_flowtap A flows --json | jq -r --argjson i "$1" \
		'[.[] | select(.ifindex == $i and .proto == "udp") | .packets] | add // 0'
}

icmp_out() {
	ft_flowtap A stats --json -i "$FT_IF_A" | jq -r '[.[] | select(.direction == "egress" and
		.class == "icmp" and .reason == null) | .packets] | add // 0'
}

# --- the CLI: TC and XDP interfaces deleted while attached ---
mkpair gone0 && mkpair gone1 || {
	ft_fail setup "cannot create veth pairs"
	exit 1
}
ft_flowtap A attach "$FT_IF_A" --tc && ft_flowtap A attach gone0 --tc &&
	ft_flowtap A attach gone1 --xdp --mode skb || {
	ft_fail attach "attach failed"
	ft_done
}
i0=$(ifindex gone0) i1=$(ifindex gone1)
ft_ns A python3 "$FT_TMP/send.py" gone0p 5
ft_ns A python3 "$FT_TMP/send.py" gone1p 7
ft_ns A ping -c 3 -i 0.2 -W2 "$FT_IP4_B" >/dev/null
ft_expect counted_before "$(udp_in "$i0")/$(udp_in "$i1")/$(flow_pkts "$i0")/$(flow_pkts "$i1")" 5/7/5/7

ip -n "$FT_NS_A" link del gone0
ip -n "$FT_NS_A" link del gone1

out=$(ft_flowtap A status --json)
ft_expect status_after_delete "$?/$(echo "$out" | jq -r '[.[].iface] | join(" ")')" "0/$FT_IF_A"
ft_expect stats_kept "$(udp_in "$i0")/$(udp_in "$i1")" 5/7
ft_expect stats_old_name "$(ft_flowtap A stats --json | jq -r --argjson i "$i0" '[.[] | select(.ifindex == $i) | .iface] | unique | join(" ")')" "if$i0"
ft_expect flows_kept "$(flow_pkts "$i0")/$(flow_pkts "$i1")" 5/7
ft_flowtap A stats >/dev/null && ft_flowtap A flows >/dev/null
ft_expect text_commands "$?" 0
ft_ns A ping -c 2 -i 0.2 -W2 "$FT_IP4_B" >/dev/null
ft_expect others_keep_counting "$(icmp_out)" 5

out=$(ft_flowtap A detach gone0 2>&1)
ft_expect detach_deleted "$?/$(echo "$out" | wc -l)" 2/1
out=$(ft_flowtap A stats -i gone0 2>&1)
ft_expect stats_deleted_by_name "$?/$(echo "$out" | wc -l)" 2/1

# A new interface (perhaps on a slot a deleted one held) starts from zero.
mkpair new0 && ft_flowtap A attach new0 --tc
ft_ns A python3 "$FT_TMP/send.py" new0p 4
ft_expect new_interface_counts "$(udp_in "$(ifindex new0)")" 4

ft_flowtap A detach --all
ft_expect detach_all "$?/$(ft_flowtap A status --json)/$(tc -n "$FT_NS_A" qdisc show dev "$FT_IF_A" | grep -c clsact)" "0/[]/0"
ft_expect detach_all_pins "$(ls "$(ft_bpffs "$FT_NS_A")" | grep -v '\.debug$' | tr '\n' ' ')" ""

# --- the collector keeps running through a deletion ---
if ! ft_flowtap A run --help >/dev/null 2>&1; then
	ft_skip collector "flowtap run is not in this build"
	ft_done
fi
log=$FT_TMP/flows.jsonl
# Started without a shell function around it, so the PID is flowtap's.
ft_bg ip netns exec "$FT_NS_A" env FLOWTAP_PIN_ROOT="$(ft_bpffs "$FT_NS_A")/flowtap" \
	LIBXDP_BPFFS="$(ft_bpffs "$FT_NS_A")" "$FT_BIN" run -i "$FT_IF_A" --interval 1 \
	--flow-log "$log" >"$FT_TMP/run.out" 2>&1
run_pid=$FT_LAST_PID
for _ in $(seq 50); do
	ft_flowtap A status --json 2>/dev/null | jq -e 'length == 1' >/dev/null && break
	sleep 0.1
done
mkpair gone2 && ft_flowtap A attach gone2 --tc
i2=$(ifindex gone2)
ft_ns A python3 "$FT_TMP/send.py" gone2p 9
sleep 1.5
ip -n "$FT_NS_A" link del gone2
sleep 2.5
if kill -0 "$run_pid" 2>/dev/null; then ft_pass collector_survives; else
	ft_fail collector_survives "flowtap run exited: $(tail -n 3 "$FT_TMP/run.out" | tr '\n' ' ')"
fi
ft_ns A ping -c 2 -i 0.2 -W2 "$FT_IP4_B" >/dev/null
sleep 1.5
kill -TERM "$run_pid"
wait "$run_pid"
ft_expect collector_clean_exit "$?" 0
ft_expect collector_exported_deleted "$(jq -s --argjson i "$i2" '[.[] | select(.ifindex == $i and .proto == "udp") | .packets_delta] | add // 0' "$log")" 9
ft_expect collector_exported_others "$(jq -s --arg f "$FT_IF_A" '[.[] | select(.iface == $f and .proto == "icmp" and .direction == "egress") | .packets_delta] | add // 0' "$log")" 2
ft_expect collector_detached "$(ft_flowtap A status --json)" "[]"

ft_done
