#!/usr/bin/env bash
# Fault: the flow table full at 1,000,000 entries. Real packets (one UDP
# packet per flow, sent through a packet socket so TC egress sees each)
# fill a table of exactly 1,000,000; the packets of new flows after that
# are counted in flow_overflow, one for one, and still in their classes;
# packets of flows already in the table keep being added to them; the
# commands keep answering; detach and a fresh attach work.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd jq python3
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"

SIZE=1000000
EXTRA=1000

# flood IFACE FIRST COUNT [PROTO]: one packet for each flow FIRST..FIRST+COUNT-1,
# flow i being 198.18.x.y:sport -> 198.19.255.254:9 (or ICMP echo id i).
# Prints how many packets the kernel took.
cat >"$FT_TMP/flood.py" <<'EOF'
import socket, struct, sys

ifname, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
proto = sys.argv[4] if len(sys.argv) > 4 else "udp"
PORTS = 50000


def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF


s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
# Not the peer's MAC: the peer drops them as otherhost and never answers.
eth = b"\x02\xee\xee\xee\xee\xee\x02\x00\x00\x00\x00\x01\x08\x00"
dst = bytes([198, 19, 255, 254])
l4 = 8 + 8
pkt = bytearray(eth + bytes(20 + l4))
sent, hi_now = 0, None
for i in range(first, first + count):
    hi, lo = divmod(i, PORTS)
    if hi != hi_now:
        hi_now = hi
        src = bytes([198, 18 | (hi >> 8 & 1), hi & 0xFF, 1 + (hi >> 9)])
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + l4, 0, 0, 64,
                                   1 if proto == "icmp" else 17, 0, src, dst))
        struct.pack_into("!H", ip, 10, csum(bytes(ip)))
        pkt[14:34] = ip
    if proto == "icmp":
        struct.pack_into("!BBHHH8s", pkt, 34, 8, 0, 0, lo, 1, b"flowtap!")
        struct.pack_into("!H", pkt, 36, csum(bytes(pkt[34:])))
    else:
        struct.pack_into("!HHHH8s", pkt, 34, 1024 + lo, 9, l4, 0, b"flowtap!")
    s.send(pkt)
    sent += 1
print(sent)
EOF

ns=ftt-$$-ff
ft_netns_add "$ns" || {
	ft_fail setup "cannot create a namespace"
	exit 1
}
ft_on_exit "ft_flowtap $ns detach --all"
ip -n "$ns" link add ff0 type veth peer name ff1 || {
	ft_fail setup "cannot create a veth pair"
	exit 1
}
for d in ff0 ff1; do
	# No addresses, no IPv6: the only packets are the test's own.
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$d.disable_ipv6=1"
	ip -n "$ns" link set "$d" up
done

flood() {
	ft_ns "$ns" python3 "$FT_TMP/flood.py" "$@"
}

# stat CLASS-OR-COUNTER: egress packets of a class, or a counter's value.
stat() {
	ft_flowtap "$ns" stats --json -i ff0 | jq -r --arg c "$1" '
		[.[] | select(.direction == "egress" and .reason == null and .method == null) |
		 select(.class == $c or .counter == $c) | (.packets // .value)] | add // 0'
}

if ! ft_flowtap "$ns" attach ff0 --tc --flow-table-size $SIZE; then
	ft_fail attach "attach --flow-table-size $SIZE failed"
	ft_done
fi
ft_pass attach

sent=$(flood ff0 0 $SIZE)
ft_expect fill_sent "$sent" $SIZE
ft_expect fill_no_overflow "$(stat flow_overflow)" 0
ft_expect fill_udp_counted "$(stat udp)" $SIZE

# Full: each packet of a new flow is one overflow, and still counted.
sent=$(flood ff0 $SIZE $EXTRA)
ft_expect overflow_sent "$sent" $EXTRA
ft_expect overflow_counted "$(stat flow_overflow)" $EXTRA
ft_expect overflow_udp_class "$(stat udp)" $((SIZE + EXTRA))
ft_expect overflow_ipv4_class "$(stat ipv4)" $((SIZE + EXTRA))
sent=$(flood ff0 0 $EXTRA icmp)
ft_expect overflow_icmp_class "$sent/$(stat icmp)/$(stat flow_overflow)" "$EXTRA/$EXTRA/$((2 * EXTRA))"

# Flows already in the table still count their packets.
flood ff0 0 $EXTRA >/dev/null
ft_expect existing_flows_overflow_unchanged "$(stat flow_overflow)" $((2 * EXTRA))
top=$(ft_flowtap "$ns" flows --json --sort packets --limit $((EXTRA + 1)))
ft_expect existing_flows_counted \
	"$(echo "$top" | jq -r '[.[] | select(.packets == 2)] | length')/$(echo "$top" | jq -r '.[-1].packets')" \
	"$EXTRA/1"

# Nothing wedged: the table holds exactly SIZE flows and answers quickly.
start=$(date +%s%N)
entries=$(ft_flowtap "$ns" flows | wc -l) # one line per flow
ms=$((($(date +%s%N) - start) / 1000000))
ft_expect table_entries "$entries" $SIZE
echo "flows with $entries flows: $ms ms" >&2
start=$(date +%s%N)
ft_flowtap "$ns" stats >/dev/null && ft_flowtap "$ns" status >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
if [ $ms -lt 2000 ]; then ft_pass stats_status_answer; else ft_fail stats_status_answer "took $ms ms"; fi

ft_flowtap "$ns" detach --all
ft_expect detach_all "$?/$(ft_flowtap "$ns" status --json)/$(ls "$(ft_bpffs "$ns")" | grep -v '\.debug$' | tr '\n' ' ')" "0/[]/"
ft_flowtap "$ns" attach ff0 --tc >/dev/null
flood ff0 0 10 >/dev/null
ft_expect reattach_counts "$(stat udp)/$(stat flow_overflow)" 10/0

ft_done
