#!/usr/bin/env bash
# Fault: 200 interfaces created and removed in a loop with attach and
# detach: TC and XDP (skb), each either detached first or deleted while
# attached. Every interface counts exactly its own packets (a reused
# counter slot starts from zero), and afterwards nothing is left over:
# no extra programs (bpftool prog show), no TC filters or qdiscs, no XDP
# programs, no pins beyond the datapath's, no per-interface hash entries
# beyond the few slot collisions with a live interface.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd jq python3 bpftool
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"

N=${CHURN_N:-200}
PKTS=3

# send IFACE COUNT: COUNT UDP packets out of IFACE through a packet socket.
cat >"$FT_TMP/send.py" <<'EOF'
import socket, struct, sys

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 36, 0, 0, 64, 17, 0,
                 bytes([198, 18, 7, 1]), bytes([198, 18, 7, 2]))
udp = struct.pack("!HHHH", 40000, 9, 16, 0) + b"flowtap!"
for _ in range(int(sys.argv[2])):
    s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp)
EOF

ns=ftt-$$-ch
ft_netns_add "$ns" || {
	ft_fail setup "cannot create a namespace"
	exit 1
}
ft_on_exit "ft_flowtap $ns detach --all"
FS=$(ft_bpffs "$ns")

# mkpair NAME: a veth pair NAME / NAMEp, up, without IPv6 chatter.
mkpair() {
	ip -n "$ns" link add "$1" type veth peer name "$1p" || return 1
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" \
		"net.ipv6.conf.$1p.disable_ipv6=1" &&
		ip -n "$ns" link set "$1" up && ip -n "$ns" link set "$1p" up
}

# ingress_udp IFACE: UDP packets counted at IFACE's ingress.
ingress_udp() {
	ft_flowtap "$ns" stats --json -i "$1" | jq -r '[.[] | select(.direction == "ingress" and
		.class == "udp" and .reason == null) | .packets] | add // 0'
}

# Programs using this datapath's maps: its own, and any copy loaded for it.
our_progs() {
	local id
	id=$(bpftool map show pinned "$FS/flowtap/ft_flows" --json 2>/dev/null | jq -r .id)
	bpftool prog show --json | jq -r --argjson m "${id:-0}" \
		'[.[] | select((.map_ids // []) | index($m))] | length'
}

hash_entries() {
	bpftool map dump pinned "$FS/flowtap/ft_ifstats" --json 2>/dev/null | jq length
}

# Everything pinned, but libxdp's (empty) lock directory and iproute2's
# work directories: `ip -n`/`tc -n` (of any test running meanwhile) create
# ip, tc/globals and xdp/globals in the first bpffs in the mount table.
pins() {
	(cd "$FS" && find . ! -name '*.debug' ! -path ./xdp ! -path ./ip ! -path ./tc \
		! -path ./tc/globals ! -path ./xdp/globals | sort)
}

# A keeper interface stays attached throughout, so the datapath stays
# loaded and the baseline is the steady state.
mkpair keep0 && ft_flowtap "$ns" attach keep0 --tc || {
	ft_fail setup "cannot attach the keeper interface"
	ft_done
}
base_progs=$(our_progs)
base_pins=$(pins)

bad_count=() bad_attach=() bad_detach=() bad_leftover=()
start=$(date +%s)
for ((i = 1; i <= N; i++)); do
	ifc=ch$i
	if ! mkpair $ifc; then
		bad_attach+=("$ifc:create")
		continue
	fi
	case $((i % 4)) in
	0 | 2) hook=(--tc) ;;
	1 | 3) hook=(--xdp --mode skb) ;;
	esac
	if ! ft_flowtap "$ns" attach $ifc "${hook[@]}" 2>"$FT_TMP/err"; then
		bad_attach+=("$ifc:$(head -c 100 "$FT_TMP/err")")
		ip -n "$ns" link del $ifc
		continue
	fi
	# From the peer, so both hooks see them at ingress.
	ft_ns "$ns" python3 "$FT_TMP/send.py" ${ifc}p $PKTS
	got=$(ingress_udp $ifc)
	[ "$got" = $PKTS ] || bad_count+=("$ifc:$got")
	if [ $((i % 4)) -lt 2 ]; then
		ft_flowtap "$ns" detach $ifc || bad_detach+=("$ifc")
		left=$(tc -n "$ns" qdisc show dev $ifc | grep -c clsact)$(ip -n "$ns" link show $ifc | grep -c prog/xdp)
		[ "$left" = 00 ] || bad_leftover+=("$ifc:$left")
	fi
	ip -n "$ns" link del $ifc
done
echo "$N interfaces in $(($(date +%s) - start)) s" >&2

ft_expect churn_attach_failures "${bad_attach[*]}" ""
ft_expect churn_exact_counts "${bad_count[*]}" ""
ft_expect churn_detach_failures "${bad_detach[*]}" ""
ft_expect churn_detach_leaves_nothing "${bad_leftover[*]}" ""
ft_expect status_after_churn "$(ft_flowtap "$ns" status --json | jq -r '[.[].iface] | join(" ")')" keep0
sleep 0.5 # programs are freed after an RCU grace period
ft_expect no_leaked_programs "$(our_progs)" "$base_progs"
ft_expect no_leaked_pins "$(comm -3 <(echo "$base_pins") <(pins) | tr -d '\t' | tr '\n' ' ')" ""
ft_expect no_xdp_left "$(ip -n "$ns" -d link show | grep -c 'prog/xdp')" 0
ft_expect no_tc_filters_left "$(tc -n "$ns" filter show dev keep0 ingress | grep -c 'flowtap')/$(tc -n "$ns" filter show dev keep0 egress | grep -c 'flowtap')" 1/1
# Interfaces whose slot (ifindex % 256) was held by a live one count in
# the hash; with one live interface that is at most one of the N.
h=$(hash_entries)
if [ "${h:-99}" -le 2 ]; then ft_pass hash_entries_bounded; else ft_fail hash_entries_bounded "$h entries in ft_ifstats"; fi

ft_flowtap "$ns" detach --all
ft_expect detach_all_pins "$(pins)" "."

# --- with the collector: file descriptors, and map entries of gone interfaces ---
if ! "$FT_BIN" run --help >/dev/null 2>&1; then
	ft_skip collector "flowtap run is not in this build"
	ft_done
fi
N2=${CHURN_N2:-50}
printf 'idle_timeout_udp = 1s\nidle_timeout_other = 1s\n' >"$FT_TMP/run.conf"
# Started without a shell function around it, so the PID is flowtap's.
ft_bg ip netns exec "$ns" env FLOWTAP_PIN_ROOT="$FS/flowtap" LIBXDP_BPFFS="$FS" "$FT_BIN" run \
	-i keep0 --interval 1 --config "$FT_TMP/run.conf" >"$FT_TMP/run.out" 2>&1
run=$FT_LAST_PID
for _ in $(seq 50); do
	ft_flowtap "$ns" status --json 2>/dev/null | jq -e 'length == 1' >/dev/null && break
	sleep 0.1
done
sleep 2
fds0=$(ls "/proc/$run/fd" | wc -l)
kidx=$(ip -n "$ns" -j link show keep0 | jq -r '.[0].ifindex')
gone=()
bad_count=()
for ((i = 1; i <= N2; i++)); do
	ifc=cc$i
	# Every other one on the keeper's counter slot (ifindex % 256): those
	# count in the hash, as on a host with more than 256 veths.
	if [ $((i % 2)) = 0 ]; then
		ip -n "$ns" link add $ifc index $((kidx + 256 * i)) type veth peer name ${ifc}p
	else
		ip -n "$ns" link add $ifc type veth peer name ${ifc}p
	fi
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" "net.ipv6.conf.${ifc}p.disable_ipv6=1"
	ip -n "$ns" link set $ifc up && ip -n "$ns" link set ${ifc}p up
	gone+=("$(ip -n "$ns" -j link show $ifc | jq -r '.[0].ifindex')")
	ft_flowtap "$ns" attach $ifc --tc >/dev/null
	ft_ns "$ns" python3 "$FT_TMP/send.py" ${ifc}p $PKTS
	got=$(ingress_udp $ifc)
	[ "$got" = $PKTS ] || bad_count+=("$ifc:$got")
	[ $((i % 3)) = 0 ] && ft_flowtap "$ns" detach $ifc
	ip -n "$ns" link del $ifc
done
ft_expect collector_churn_counts "${bad_count[*]}" ""
sleep 4 # idle timeouts (1 s) and a few intervals
ft_expect collector_survives "$(kill -0 "$run" 2>/dev/null && echo alive)" alive
ft_expect collector_no_fd_leak "$(ls "/proc/$run/fd" | wc -l)" "$fds0"
gonejson=$(printf '%s\n' "${gone[@]}" | jq -s .)
left_flows=$(bpftool map dump pinned "$FS/flowtap/ft_flows" -j |
	jq --argjson g "$gonejson" '[.[] | select(.formatted.key.ifindex as $i | $g | index($i))] | length')
left_hash=$(bpftool map dump pinned "$FS/flowtap/ft_ifstats" -j |
	jq --argjson g "$gonejson" '[.[] | select(.formatted.key.ifindex as $i | $g | index($i))] | length')
left_slots=$(bpftool map dump pinned "$FS/flowtap/ft_ifslot" -j |
	jq --argjson g "$gonejson" '[.[] | select(.formatted.value as $i | $g | index($i))] | length')
# Flows of gone interfaces end by idle timeout; their counters, once
# reported, must not hold hash entries (4096, shared by every interface
# without a slot) or slots forever.
ft_expect collector_gone_flows_expired "$left_flows" 0
ft_expect collector_gone_ifstats_entries "$left_hash" 0
ft_expect collector_gone_slots_released "$left_slots" 0
kill -TERM "$run"
wait "$run"
ft_expect collector_exit "$?/$(ft_flowtap "$ns" status --json | jq -r '[.[].iface] | join(" ")')" "0/"

# --- after a long churn: the per-interface hash full of gone interfaces ---
# What ~2048 lifetimes of interfaces without a slot leave behind while
# nothing deletes their entries, made directly: then an interface without
# a slot (its slot held by a live one) must still be counted somewhere.
cat >"$FT_TMP/fill.py" <<'PY'
import ctypes, os, struct, sys, time

libc = ctypes.CDLL(None, use_errno=True)
SYS_bpf, MAP_UPDATE, OBJ_GET, OBJ_INFO = 321, 2, 7, 15


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_bpf, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r


path = ctypes.create_string_buffer(sys.argv[1].encode())
fd = bpf(OBJ_GET, struct.pack("QII", ctypes.addressof(path), 0, 0))
info = ctypes.create_string_buffer(88)
bpf(OBJ_INFO, struct.pack("IIQ", fd, 88, ctypes.addressof(info)))
vsz, cap = struct.unpack_from("II", info, 12)
with open("/sys/devices/system/cpu/possible") as f:
    ncpu = int(f.read().strip().split("-")[-1]) + 1
val = ctypes.create_string_buffer((vsz + 7) // 8 * 8 * ncpu)
n = 0
for i in range(cap):
    key = ctypes.create_string_buffer(struct.pack("II", 100000 + i // 2, i % 2))
    # Without preallocation an insert fails for memory until the
    # allocator's per-CPU cache is refilled (asynchronously): retry.
    for _ in range(1000):
        try:
            bpf(MAP_UPDATE, struct.pack("IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(val), 1))
            n += 1
            break
        except OSError as e:
            if e.errno != 12:
                break
            time.sleep(0.0001)
print(n)
PY
ft_flowtap "$ns" detach --all
ft_flowtap "$ns" attach keep0 --tc >/dev/null
kidx=$(ip -n "$ns" -j link show keep0 | jq -r '.[0].ifindex')
late=$((kidx + 256))
ip -n "$ns" link add late0 index $late type veth peer name late0p &&
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.late0.disable_ipv6=1 \
		net.ipv6.conf.late0p.disable_ipv6=1 &&
	ip -n "$ns" link set late0 up && ip -n "$ns" link set late0p up
filled=$(python3 "$FT_TMP/fill.py" "$FS/flowtap/ft_ifstats")
echo "ft_ifstats filled with $filled stale entries" >&2
ft_flowtap "$ns" attach late0 --tc >/dev/null
ft_ns "$ns" python3 "$FT_TMP/send.py" late0p $PKTS
ft_expect hash_filled "$filled" "$(bpftool map show pinned "$FS/flowtap/ft_ifstats" -j | jq .max_entries)"
# Its counters go to "unattributed" (ifindex 0, with a count of the packets
# that landed there); its flows carry its own ifindex as always.
ft_flowtap "$ns" stats --json >"$FT_TMP/stats.json"
counted=$(jq -r --argjson i $late '[.[] | select((.ifindex == $i or .iface == "unattributed") and
	.direction == "ingress" and .class == "udp" and .reason == null) | .packets] | add // 0' "$FT_TMP/stats.json")
unattr=$(jq -r '[.[] | select(.iface == "unattributed" and .counter == "unattributed") | .value] |
	add // 0' "$FT_TMP/stats.json")
flows=$(ft_flowtap "$ns" flows --json | jq -r --argjson i $late '[.[] | select(.ifindex == $i)] | length')
ft_expect hash_full_still_counted "$counted/$flows" "$PKTS/1"
ft_expect hash_full_unattributed_counter "$unattr" "$PKTS"
ft_expect hash_full_metrics "$(ft_flowtap "$ns" metrics --once 2>/dev/null | grep -F \
	'flowtap_packets_total{interface="unattributed",direction="ingress",class="udp"}')" \
	"flowtap_packets_total{interface=\"unattributed\",direction=\"ingress\",class=\"udp\"} $PKTS"
ft_done
