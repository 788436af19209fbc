#!/usr/bin/env bash
# Core datapath end to end: real traffic (ping, ping -6, an exact UDP burst,
# curl against python3 http.server) between two namespaces over a veth pair,
# with flowtap on TC, XDP native and XDP skb; exact counts from stats/flows,
# HTTP samples from `flowtap http`; detach leaves nothing behind.
set -u
cd "$(dirname "$0")/../.."
FT=$PWD/flowtap
T=$(mktemp -d /tmp/ftt-dp.XXXXXX)
A=ftt-$$-a B=ftt-$$-b
PIDS=()

pass() { echo "PASS datapath/$1"; }
fail() { echo "FAIL datapath/$1: $2"; }

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in $A $B; do
		ip netns exec $ns env FLOWTAP_PIN_ROOT=$T/bpf-$ns/flowtap LIBXDP_BPFFS=$T/bpf-$ns \
			$FT detach --all >/dev/null 2>&1
		ip netns del $ns 2>/dev/null
	done
	umount $T/bpf-* 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Each namespace gets its own bpffs for flowtap's pins: ifindexes repeat
# across namespaces, so one shared datapath would mix their counters.
setup() {
	ip netns add $A && ip netns add $B || return 1
	ip link add a0 netns $A type veth peer name b0 netns $B || return 1
	ip -n $A addr add 198.18.0.1/24 dev a0
	ip -n $B addr add 198.18.0.2/24 dev b0
	ip -n $A addr add fd00::1/64 dev a0 nodad
	ip -n $B addr add fd00::2/64 dev b0 nodad
	for ns in $A $B; do
		ip -n $ns link set lo up
		mkdir -p $T/bpf-$ns && mount -t bpf bpf $T/bpf-$ns || return 1
	done
	ip -n $A link set a0 up && ip -n $B link set b0 up
}

# ft NS ARGS...: flowtap inside a namespace with that namespace's pins.
ft() {
	local ns=$1
	shift
	ip netns exec $ns env FLOWTAP_PIN_ROOT=$T/bpf-$ns/flowtap LIBXDP_BPFFS=$T/bpf-$ns $FT "$@"
}

# expect NAME ACTUAL EXPECTED
expect() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# stat NS IFACE DIR CLASS FIELD
stat() {
	ft $1 stats --json -i $2 | jq -r --arg d $3 --arg c $4 \
		"[.[] | select(.direction == \$d and .class == \$c and .reason == null and .method == null)][0].$5 // 0"
}

# flowsum NS JQ-FILTER FIELD: sum of FIELD over matching flows
flowsum() {
	ft $1 flows --json | jq -r "[.[] | select($2) | .$3] | add // 0"
}

udp_send() { # NS DST PORT COUNT PAYLOAD-BYTES
	ip netns exec $1 python3 -c '
import socket, sys
dst, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", 40000))
for _ in range(n):
    s.sendto(b"x" * size, (dst, port))
' "$2" "$3" "$4" "$5"
}

setup || { fail setup "cannot create namespaces"; exit 1; }

# Warm neighbour caches so ARP/NDP do not interleave with the counted traffic.
ip netns exec $A ping -c1 -W2 198.18.0.2 >/dev/null
ip netns exec $A ping -6 -c1 -W2 fd00::2 >/dev/null

# --- TC on a0 (auto picks TC for a veth) ---
ft $A attach a0 || fail tc_attach "attach failed"
expect tc_status_hook "$(ft $A status --json | jq -r '.[0].hook')" tc

ip netns exec $A ping -c 5 -i 0.2 -W2 198.18.0.2 >/dev/null
expect tc_icmp_egress_pkts "$(stat $A a0 egress icmp packets)" 5
expect tc_icmp_ingress_pkts "$(stat $A a0 ingress icmp packets)" 5
expect tc_icmp_echo_flow "$(flowsum $A '.direction=="egress" and .proto=="icmp" and .type==8 and .src=="198.18.0.1" and .dst=="198.18.0.2"' packets)/$(flowsum $A '.direction=="egress" and .proto=="icmp" and .type==8' bytes)" 5/490
expect tc_icmp_reply_flow "$(flowsum $A '.direction=="ingress" and .proto=="icmp" and .type==0 and .src=="198.18.0.2"' packets)" 5

ip netns exec $A ping -6 -c 4 -i 0.2 -W2 fd00::2 >/dev/null
expect tc_icmpv6_echo_flow "$(flowsum $A '.direction=="egress" and .proto=="icmpv6" and .type==128 and .dst=="fd00::2"' packets)/$(flowsum $A '.direction=="egress" and .proto=="icmpv6" and .type==128' bytes)" 4/472

udp_send $A 198.18.0.2 9999 100 100
expect tc_udp_flow "$(flowsum $A '.direction=="egress" and .proto=="udp" and .sport==40000 and .dport==9999' packets)/$(flowsum $A '.direction=="egress" and .proto=="udp" and .dport==9999' bytes)" 100/14200
udp_send $A fd00::2 9998 50 200
expect tc_udp6_flow "$(flowsum $A '.family==6 and .proto=="udp" and .dport==9998' packets)/$(flowsum $A '.family==6 and .proto=="udp" and .dport==9998' bytes)" 50/13100

# HTTP: a real server, a real client, samples from the ring buffer.
ip netns exec $B python3 -m http.server 8080 --bind 198.18.0.2 >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec $A bash -c '</dev/tcp/198.18.0.2/8080' 2>/dev/null && break; sleep 0.1; done
ft $A http -c 2 --json >$T/http.json &
HP=$!
PIDS+=($HP)
sleep 0.5
ip netns exec $A curl -s -o /dev/null http://198.18.0.2:8080/hello/world?secret=1
ip netns exec $A curl -s -o /dev/null -X POST -d x=1 http://198.18.0.2:8080/form
for _ in $(seq 30); do kill -0 $HP 2>/dev/null || break; sleep 0.1; done
expect tc_http_samples "$(jq -r '[.method, .path, .query_redacted, .dport] | join(" ")' $T/http.json | tr '\n' ';')" "GET /hello/world true 8080;POST /form false 8080;"
expect tc_http_get_count "$(ft $A stats --json -i a0 | jq -r '[.[] | select(.direction=="egress" and .method=="GET") | .packets] | add')" 1
expect tc_http_flow_requests "$(flowsum $A '.direction=="egress" and .proto=="tcp" and .dport==8080' http_requests)" 2
flags=$(ft $A flows --json | jq -r '[.[] | select(.direction=="egress" and .dport==8080) | .tcp_flags] | join(" ")')
case "$flags" in *SYN*ACK* | *ACK*SYN*) pass tc_tcp_flags ;; *) fail tc_tcp_flags "got '$flags'" ;; esac

# a0's peer lives in namespace B: listings carry it as the container label.
expect tc_flow_labels "$(ft $A flows --json | jq -r '[.[] | select(.dport==9999)][0] | .container + " " + .container_direction')" "$B to_container"

ft $A detach a0 || fail tc_detach "detach failed"
expect tc_detach_no_qdisc "$(tc -n $A qdisc show dev a0 | grep -c clsact)" 0
expect tc_detach_status "$(ft $A status --json)" "[]"

# --- XDP native, then skb, on b0 (receiving side) ---
for mode in native skb; do
	ft $B attach b0 --xdp --mode $mode || { fail xdp_${mode}_attach "attach failed"; continue; }
	expect xdp_${mode}_status "$(ft $B status --json | jq -r '.[0].hook + "/" + .[0].mode')" xdp/$mode
	before=$(stat $B b0 ingress icmp packets)
	ip netns exec $A ping -c 3 -i 0.2 -W2 198.18.0.2 >/dev/null
	expect xdp_${mode}_icmp_ingress "$(($(stat $B b0 ingress icmp packets) - before))" 3
	before=$(flowsum $B '.proto=="udp" and .dport==7777' packets)
	udp_send $A 198.18.0.2 7777 25 64
	expect xdp_${mode}_udp_flow "$(($(flowsum $B '.proto=="udp" and .dport==7777' packets) - before))" 25
	ft $B detach b0 || fail xdp_${mode}_detach "detach failed"
	expect xdp_${mode}_detached "$(ip -n $B link show b0 | grep -c 'prog/xdp')" 0
done

# --- detach --all leaves no program, filter or pin ---
ft $A attach a0 >/dev/null
ft $B attach b0 --xdp --mode skb >/dev/null
# Other tests may run their own datapaths: check the programs this one used.
ids=$( (ft $A status --json; ft $B status --json) | jq -r '.[].prog_ids[]' | tr '\n' ' ')
ft $A detach --all
ft $B detach --all
left=$(ls $T/bpf-$A $T/bpf-$B 2>/dev/null | grep -v '^$\|:$\|^maps.debug$\|^progs.debug$' | tr '\n' ' ')
expect detach_all_pins "$left" ""
expect detach_all_filters "$(tc -n $A filter show dev a0 ingress; tc -n $A filter show dev a0 egress; tc -n $A qdisc show dev a0 | grep clsact)" ""
expect detach_all_xdp "$(ip -n $B link show b0 | grep -c 'prog/xdp')" 0
sleep 0.5
left=""
for id in $ids; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"; done
expect detach_all_progs "${ids:+ok}$left" ok

# --- bad input: one line, non-zero exit, nothing attached ---
out=$(ft $A attach nosuchif 2>&1); rc=$?
expect bad_iface "$rc/$(echo "$out" | wc -l)" 2/1
out=$(ip netns exec $A env FLOWTAP_PIN_ROOT=/tmp/not-bpffs/flowtap $FT attach a0 2>&1); rc=$?
expect no_bpffs "$rc/$(echo "$out" | wc -l)/$(ft $A status --json)" "1/1/[]"
out=$(ip netns exec $A env FLOWTAP_PIN_ROOT=$T/bpf-$A/flowtap LIBXDP_BPFFS=$T/bpf-$A \
	setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all $FT attach a0 2>&1); rc=$?
expect no_privilege "$rc/$(echo "$out" | wc -l)/$(ft $A status --json)" "1/1/[]"
# Someone else's XDP program on the interface: refused, and the datapath
# that attach loaded for it is gone again.
ip -n $B link set dev b0 xdpgeneric obj build/bare.bpf.o sec xdp
out=$(ft $B attach b0 --xdp 2>&1); rc=$?
expect foreign_xdp "$rc/$(echo "$out" | wc -l)/$(ls $T/bpf-$B | grep -c flowtap)" "1/1/0"
expect foreign_xdp_kept "$(ip -n $B link show b0 | grep -o 'name bare_xdp')" "name bare_xdp"
ip -n $B link set dev b0 xdpgeneric off
