#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Concurrent captures: 8 started at the same instant on an interface
# flowtap is not attached to (distinct slots, each exactly its packets,
# nothing left attached after the last), 8 with different filters next to
# a running `flowtap run` (which stays attached), a capture killed with -9
# (its slot and its attachment are reclaimed), and all 16 slots in use.
. "$(dirname "$0")/../lib.sh"
FT_BIN=${FLOWTAP_BIN:-$FT_BIN}
ft_require_root
ft_require_cmd python3
"$FT_BIN" capture --help >/dev/null 2>&1 || ft_skip_all "this flowtap has no capture command"
ft_netns_pair || { ft_fail setup "cannot create namespaces"; exit 1; }
A=$FT_NS_A IFA=$FT_IF_A
PINS=$(ft_bpffs "$A")/flowtap

# cap_bg NAME ARGS...: a capture in namespace A in the background; PID in
# CAP_PID. A simple command, so that the PID is flowtap's.
cap_bg() {
	local name=$1
	shift
	ip netns exec "$A" env FLOWTAP_PIN_ROOT="$PINS" LIBXDP_BPFFS="$(ft_bpffs "$A")" \
		"$FT_BIN" capture "$@" >"$FT_TMP/$name.out" 2>"$FT_TMP/$name.err" &
	CAP_PID=$!
	FT_PIDS+=("$CAP_PID")
}

# wait_listening NAME...: true once every one of them is capturing.
wait_listening() {
	local i n
	for ((i = 0; i < 200; i++)); do
		n=0
		for x in "$@"; do grep -qs "listening on" "$FT_TMP/$x.err" && n=$((n + 1)); done
		[ "$n" = $# ] && return 0
		sleep 0.1
	done
	return 1
}

slot_of() { sed -n 's/.*(slot \([0-9]*\)).*/\1/p' "$FT_TMP/$1.err"; }
pcount() { tcpdump -r "$1" 2>/dev/null | wc -l; }

udp_send() { # DST PORT COUNT
	ft_ns A python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(b"flowtap", (sys.argv[1], int(sys.argv[2])))' "$@"
}

attached() { ft_flowtap A status 2>&1 | grep -c "$IFA"; }

# Eight at once on a bare interface: the first attaches, all share it,
# the last one out detaches.
t_eight_bare() {
	local pids=() names=() i slots
	for i in 1 2 3 4 5 6 7 8; do
		cap_bg "bare$i" -i "$IFA" -w "$FT_TMP/bare$i.pcap" udp dst port $((6100 + i))
		pids+=("$CAP_PID")
		names+=("bare$i")
	done
	wait_listening "${names[@]}" || { ft_fail eight-bare "not all started: $(cat "$FT_TMP"/bare*.err | head -c 400)"; return; }
	slots=$(for n in "${names[@]}"; do slot_of "$n"; done | sort -n | uniq | wc -l)
	ft_expect eight-bare/distinct-slots "$slots" 8
	for i in 1 2 3 4 5 6 7 8; do udp_send "$FT_IP4_B" $((6100 + i)) $((10 * i)); done
	sleep 0.3
	for p in "${pids[@]}"; do kill -INT "$p"; done
	for p in "${pids[@]}"; do wait "$p"; done
	local got=""
	for i in 1 2 3 4 5 6 7 8; do got+="$(pcount "$FT_TMP/bare$i.pcap") "; done
	ft_expect eight-bare/counts "$got" "10 20 30 40 50 60 70 80 "
	ft_expect eight-bare/detached "$(attached)" 0
	ft_expect eight-bare/pins "$(ls "$PINS" 2>/dev/null | wc -l)" 0
}

# Eight filters next to `flowtap run`, which keeps its attachment.
t_eight_with_run() {
	local filters=("udp port 6201" "udp port 6202" "icmp" "icmp and icmp[icmptype] = icmp-echo"
		"ip6 and udp" "udp and len > 500" "not udp and not icmp6 and not arp" "udp or icmp")
	local pids=() names=() i runpid want got
	ip netns exec "$A" env FLOWTAP_PIN_ROOT="$PINS" LIBXDP_BPFFS="$(ft_bpffs "$A")" \
		"$FT_BIN" run -i "$IFA" --interval 1 >/dev/null 2>"$FT_TMP/run.err" &
	runpid=$!
	FT_PIDS+=("$runpid")
	for ((i = 0; i < 100; i++)); do [ "$(attached)" = 1 ] && break; sleep 0.1; done
	[ "$(attached)" = 1 ] || { ft_fail with-run "flowtap run did not attach: $(head -c 300 "$FT_TMP/run.err")"; return; }
	for i in 0 1 2 3 4 5 6 7; do
		cap_bg "run$i" -i "$IFA" -w "$FT_TMP/run$i.pcap" "${filters[$i]}"
		pids+=("$CAP_PID")
		names+=("run$i")
	done
	wait_listening "${names[@]}" || { ft_fail with-run "not all started"; return; }
	udp_send "$FT_IP4_B" 6201 7
	udp_send "$FT_IP4_B" 6202 9
	ft_ns A ping -c 4 -i 0.1 -q "$FT_IP4_B" >/dev/null
	ft_ns A python3 -c 'import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for _ in range(5): s.sendto(b"y" * 600, ("'"$FT_IP6_B"'", 6203))'
	sleep 0.3
	for p in "${pids[@]}"; do kill -INT "$p"; done
	for p in "${pids[@]}"; do wait "$p"; done
	got=""
	for i in 0 1 2 3 4 5; do got+="$(pcount "$FT_TMP/run$i.pcap") "; done
	# udp 6201 (7), 6202 (9), icmp (4 requests, 4 replies; B's port
	# unreachables may add some), echo requests, IPv6 UDP, UDP over 500.
	want="7 9 "
	ft_expect with-run/udp "$(cut -d' ' -f1-2 <<<"$got") " "$want"
	ft_expect with-run/echo "$(cut -d' ' -f4 <<<"$got")" 4
	ft_expect with-run/ip6-udp "$(cut -d' ' -f5 <<<"$got")" 5
	ft_expect with-run/len "$(cut -d' ' -f6 <<<"$got")" 5
	ft_expect with-run/icmp "$(tshark -r "$FT_TMP/run2.pcap" -Y 'icmp.type == 0' 2>/dev/null | wc -l)" 4
	ft_expect with-run/or "$(( $(pcount "$FT_TMP/run7.pcap") >= 7 + 9 + 8 ))" 1
	ft_expect with-run/still-attached "$(attached)" 1
	kill -INT "$runpid"
	wait "$runpid"
}

# kill -9: the next capture reclaims the slot and the attachment.
t_kill9() {
	local first second
	cap_bg k1 -i "$IFA" -w "$FT_TMP/k1.pcap" icmp
	first=$CAP_PID
	wait_listening k1 || { ft_fail kill9 "did not start"; return; }
	kill -KILL "$first"
	wait "$first" 2>/dev/null
	ft_expect kill9/left-attached "$(attached)" 1
	cap_bg k2 -v -i "$IFA" -w "$FT_TMP/k2.pcap" icmp
	second=$CAP_PID
	wait_listening k2 || { ft_fail kill9 "second did not start: $(head -c 300 "$FT_TMP/k2.err")"; return; }
	ft_expect kill9/reclaimed "$(grep -c 'reclaiming slot 0' "$FT_TMP/k2.err")" 1
	ft_expect kill9/same-slot "$(slot_of k2)" 0
	ft_ns A ping -c 2 -i 0.1 -q "$FT_IP4_B" >/dev/null
	sleep 0.3
	kill -INT "$second"
	wait "$second"
	ft_expect kill9/captured "$(pcount "$FT_TMP/k2.pcap")" 4
	ft_expect kill9/detached "$(attached)" 0
}

# Sixteen slots: the seventeenth capture fails cleanly.
t_full() {
	local pids=() names=() i
	for i in $(seq 1 16); do
		cap_bg "full$i" -i "$IFA" -w "$FT_TMP/full$i.pcap" udp port $((6300 + i))
		pids+=("$CAP_PID")
		names+=("full$i")
	done
	wait_listening "${names[@]}" || { ft_fail full "not all 16 started"; return; }
	ft_ns A "$FT_BIN" capture -i "$IFA" -w "$FT_TMP/full17.pcap" icmp 2>"$FT_TMP/full17.err"
	ft_expect full/refused "$?" 1
	ft_expect full/message "$(grep -c 'all 16 capture slots are in use' "$FT_TMP/full17.err")" 1
	ft_expect full/no-file "$([ -e "$FT_TMP/full17.pcap" ] && echo left)" ""
	udp_send "$FT_IP4_B" 6316 3
	sleep 0.3
	for p in "${pids[@]}"; do kill -INT "$p"; done
	for p in "${pids[@]}"; do wait "$p"; done
	ft_expect full/last-slot "$(pcount "$FT_TMP/full16.pcap")" 3
	ft_expect full/detached "$(attached)" 0
}

t_eight_bare
t_eight_with_run
t_kill9
t_full
ft_done
