#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# flowtap capture end to end on a veth pair: real traffic (ping, exact UDP
# bursts, curl), files read back with tcpdump -r and tshark -r (pcap and
# pcapng), slices, direction, VLAN tags the kernel offloads, the same
# packets as tcpdump on the same interface, -w - into tcpdump, line output,
# rotation like tcpdump, file safety, disk full; and a capture on an
# interface flowtap was not attached to leaves nothing behind.
# Concurrency and kill -9 are in capture_concurrent.sh.
. "$(dirname "$0")/../lib.sh"
FT_BIN=${FLOWTAP_BIN:-$FT_BIN}
ft_require_root
ft_require_cmd tcpdump tshark python3 curl
"$FT_BIN" capture --help >/dev/null 2>&1 || ft_skip_all "this flowtap has no capture command"
ft_netns_pair || { ft_fail setup "cannot create namespaces"; exit 1; }
A=$FT_NS_A B=$FT_NS_B IFA=$FT_IF_A
ip netns exec "$A" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 2>/dev/null

# cap_start NAME NS ARGS...: `flowtap capture ARGS` in the background in
# namespace NS (A or B), stdout and stderr to $FT_TMP/NAME.{out,err};
# returns once it is listening. Its PID is in CAP_PID.
cap_start() {
	local name=$1 ns=$2 i
	shift 2
	case $ns in A) ns=$FT_NS_A ;; B) ns=$FT_NS_B ;; esac
	# A simple command, so that the PID is flowtap's (ip and env exec).
	ip netns exec "$ns" env FLOWTAP_PIN_ROOT="$(ft_bpffs "$ns")/flowtap" \
		LIBXDP_BPFFS="$(ft_bpffs "$ns")" "$FT_BIN" capture "$@" \
		>"$FT_TMP/$name.out" 2>"$FT_TMP/$name.err" &
	CAP_PID=$!
	FT_PIDS+=("$CAP_PID")
	for ((i = 0; i < 150; i++)); do
		grep -qs "listening on" "$FT_TMP/$name.err" && return 0
		kill -0 "$CAP_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

cap_err() { tr '\n' ' ' <"$FT_TMP/$1.err" | head -c 300; }

# cap_stop PID: Ctrl-C, as a user would; returns its exit status.
cap_stop() {
	sleep 0.2
	kill -INT "$1" 2>/dev/null
	wait "$1"
}

pcount() { tcpdump -r "$1" 2>/dev/null | wc -l; }

# One line per packet: its bytes in hex, sorted. [FILTER]: only those.
pbytes() {
	tcpdump -r "$1" -nn -t -xx ${2:+"$2"} 2>/dev/null |
		awk '/^\t0x/ { sub(/^\t0x[0-9a-f]+: +/, ""); gsub(/ /, ""); l = l $0; next }
		     { if (l != "") print l; l = "" } END { if (l != "") print l }' | sort
}

# udp_send NS DST PORT SIZE COUNT: exactly COUNT datagrams.
udp_send() {
	ft_ns "$1" python3 -c 'import socket, sys
a = sys.argv
s = socket.socket(socket.AF_INET6 if ":" in a[1] else socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(a[4])):
    s.sendto(b"x" * int(a[3]), (a[1], int(a[2])))' "$2" "$3" "$4" "$5"
}

# The interface statistics blocks of a pcapng file: "ifrecv filteraccept
# usrdeliv" per block.
png_isb() {
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
o = 0
while o + 12 <= len(d):
    t, n = struct.unpack_from("<II", d, o)
    if t == 5:
        opts, p, v = {}, o + 20, {}
        while p + 4 <= o + n - 4:
            c, l = struct.unpack_from("<HH", d, p)
            if c == 0:
                break
            if l == 8:
                v[c] = struct.unpack_from("<Q", d, p + 4)[0]
            p += 4 + (l + 3) // 4 * 4
        print(v.get(4), v.get(6), v.get(8))
    o += n
PY
}

# A capture on an interface flowtap was not attached to: exact ICMP count,
# fields decoded, nothing left attached or pinned afterwards.
t_basic() {
	local f=$FT_TMP/basic.pcap n
	cap_start basic A -i "$IFA" -w "$f" icmp || { ft_fail basic "did not start: $(cap_err basic)"; return; }
	ft_ns A ping -c 5 -i 0.1 -q "$FT_IP4_B" >/dev/null
	cap_stop "$CAP_PID"
	n=$(pcount "$f")
	ft_expect basic/count "$n" 10
	ft_expect basic/tshark "$(tshark -r "$f" -T fields -e icmp.type 2>/dev/null | sort | uniq -c |
		awk '{printf "%s:%s ", $2, $1}')" "0:5 8:5 "
	ft_expect basic/mode "$(stat -c %a "$f")" 600
	ft_expect basic/summary "$(grep -c 'packets captured' "$FT_TMP/basic.err")" 1
	ft_expect basic/detached "$(ft_flowtap A status 2>&1 | grep -c "$IFA")" 0
	ft_expect basic/tc-clean "$(ip -n "$A" -j filter show dev "$IFA" ingress 2>/dev/null |
		grep -c bpf)" 0
	ft_expect basic/pins-removed "$(ls "$(ft_bpffs "$A")/flowtap" 2>/dev/null | wc -l)" 0
}

# Exact UDP counts with a port filter; a filter that matches nothing.
t_udp() {
	local f=$FT_TMP/udp.pcap g=$FT_TMP/none.pcap p1 p2
	cap_start udp A -i "$IFA" -w "$f" udp and dst port 5001 || { ft_fail udp "did not start"; return; }
	p1=$CAP_PID
	cap_start none A -i "$IFA" -w "$g" udp port 5999 || { ft_fail udp "did not start"; return; }
	p2=$CAP_PID
	udp_send A "$FT_IP4_B" 5001 100 500
	udp_send A "$FT_IP4_B" 5002 100 300
	cap_stop "$p1"
	cap_stop "$p2"
	ft_expect udp/count "$(pcount "$f")" 500
	ft_expect udp/ports "$(tshark -r "$f" -T fields -e udp.dstport 2>/dev/null | sort -u)" 5001
	ft_expect udp/none "$(pcount "$g")" 0
	ft_expect udp/filtered "$(grep 'received by filter' "$FT_TMP/none.err" | awk '{print ($1 >= 800)}')" 1
}

# Slices: -s 96 keeps 96 bytes and the original length.
t_slice() {
	local f=$FT_TMP/slice.pcap
	cap_start slice A -i "$IFA" -s 96 -w "$f" udp port 5003 || { ft_fail slice "did not start"; return; }
	udp_send A "$FT_IP4_B" 5003 1000 20
	cap_stop "$CAP_PID"
	ft_expect slice/count "$(pcount "$f")" 20
	ft_expect slice/lengths "$(tshark -r "$f" -T fields -e frame.cap_len -e frame.len 2>/dev/null |
		sort -u | tr '\t' ' ')" "96 1042"
	ft_expect slice/readable "$(tcpdump -r "$f" 2>&1 | grep -c -i 'truncated dump')" 0
}

# -Q: on A's veth, requests go out and replies come in.
t_direction() {
	local fo=$FT_TMP/out.pcap fi=$FT_TMP/in.pcap po
	cap_start qout A -i "$IFA" -Q out -w "$fo" icmp || { ft_fail direction "did not start"; return; }
	po=$CAP_PID
	cap_start qin A -i "$IFA" -Q in -w "$fi" icmp || { ft_fail direction "did not start"; return; }
	ft_ns A ping -c 3 -i 0.1 -q "$FT_IP4_B" >/dev/null
	cap_stop "$po"
	cap_stop "$CAP_PID"
	ft_expect direction/out "$(tshark -r "$fo" -T fields -e icmp.type 2>/dev/null | sort | uniq -c |
		awk '{printf "%s:%s ", $2, $1}')" "8:3 "
	ft_expect direction/in "$(tshark -r "$fi" -T fields -e icmp.type 2>/dev/null | sort | uniq -c |
		awk '{printf "%s:%s ", $2, $1}')" "0:3 "
}

# td_has FILE EXPR: tcpdump's file (being written) holds a packet matching EXPR.
td_has() { tcpdump -r "$1" -nn "$2" 2>/dev/null | grep -q .; }

# The same packets as tcpdump on the same interface and expression.
# tcpdump must be listening before the traffic starts ("listening on"
# comes after its socket is bound and filtered), and must have read every
# packet before it is stopped: on SIGINT it leaves in its ring what it has
# not read yet (a ring block is handed over when full or after 1 s), which
# on a loaded machine was everything. So a last marker datagram ends the
# traffic, and tcpdump, writing each packet out as it reads it (-U), is
# stopped only once the marker is in its file. (Not --immediate-mode: with
# it, tcpdump missed a third of the 200-datagram burst here.)
t_vs_tcpdump() {
	local f=$FT_TMP/ft.pcap t=$FT_TMP/td.pcap e='udp or icmp6 or (tcp and port 8081)' i tp
	cap_start vs A -i "$IFA" -w "$f" "$e" || { ft_fail vs-tcpdump "did not start"; return; }
	ip netns exec "$A" tcpdump -Z root -i "$IFA" -w "$t" -U "$e" 2>"$FT_TMP/td.err" &
	tp=$!
	FT_PIDS+=("$tp")
	for ((i = 0; i < 150; i++)); do
		grep -qs "listening on" "$FT_TMP/td.err" && break
		kill -0 "$tp" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -qs "listening on" "$FT_TMP/td.err"; then
		ft_fail vs-tcpdump "tcpdump did not start: $(tr '\n' ' ' <"$FT_TMP/td.err" | head -c 200)"
		kill -INT "$tp" "$CAP_PID" 2>/dev/null
		wait "$tp" "$CAP_PID" 2>/dev/null
		return
	fi
	udp_send A "$FT_IP4_B" 5004 200 100
	udp_send A "$FT_IP6_B" 5005 300 100
	ft_ns A ping -6 -c 3 -i 0.1 -q "$FT_IP6_B" >/dev/null
	ft_ns A curl -s -m 2 "http://$FT_IP4_B:8081/" >/dev/null
	udp_send A "$FT_IP4_B" 5009 10 1 # the marker: the last packet
	for ((i = 0; i < 150; i++)); do
		td_has "$t" "udp port 5009" && break
		sleep 0.1
	done
	td_has "$t" "udp port 5009" || ft_fail vs-tcpdump/marker "tcpdump wrote no marker in 15 s"
	kill -INT "$tp"
	wait "$tp" 2>/dev/null
	cap_stop "$CAP_PID"
	grep -E "dropped by (kernel|interface)" "$FT_TMP/td.err" | grep -v "^0 " >&2
	# Time stamps differ by the hook; the bytes must not. The test's own
	# traffic only: neighbour discovery and MLD come when they like, and
	# flowtap's capture runs a little longer than tcpdump's on each side.
	local own='udp or (tcp and port 8081) or icmp6[icmp6type] == icmp6-echo or icmp6[icmp6type] == icmp6-echoreply'
	pbytes "$f" "$own" >"$FT_TMP/ft.bytes"
	pbytes "$t" "$own" >"$FT_TMP/td.bytes"
	ft_expect vs-tcpdump/count "$(wc -l <"$FT_TMP/ft.bytes")" "$(wc -l <"$FT_TMP/td.bytes")"
	if cmp -s "$FT_TMP/ft.bytes" "$FT_TMP/td.bytes"; then
		ft_pass vs-tcpdump/bytes
	else
		ft_fail vs-tcpdump/bytes "$(diff "$FT_TMP/ft.bytes" "$FT_TMP/td.bytes" | head -c 300)"
		tcpdump -nr "$f" >&2
		echo --- >&2
		tcpdump -nr "$t" >&2
	fi
}

# pcapng: interface block with the name, direction flags, statistics;
# tshark decodes the HTTP request of a curl.
t_pcapng_http() {
	local f=$FT_TMP/http.pcapng got n
	ft_ns B python3 -m http.server 8080 --bind "$FT_IP4_B" >/dev/null 2>&1 &
	FT_PIDS+=($!)
	ft_wait_listen B "$FT_IP4_B" 8080 || { ft_fail pcapng "http.server is not listening"; return; }
	cap_start http A -i "$IFA" --pcapng -w "$f" tcp port 8080 || { ft_fail pcapng "did not start"; return; }
	ft_ns A curl -s -m 3 "http://$FT_IP4_B:8080/flowtap/test?q=1" >/dev/null
	sleep 0.3
	cap_stop "$CAP_PID"
	got=$(tshark -r "$f" -Y http.request -T fields -e http.request.method -e http.request.uri 2>/dev/null)
	ft_expect pcapng/http "$got" "$(printf 'GET\t/flowtap/test?q=1')"
	ft_expect pcapng/ifname "$(tshark -r "$f" -T fields -e frame.interface_name 2>/dev/null | sort -u)" "$IFA"
	ft_expect pcapng/directions "$(tshark -r "$f" -T fields -e frame.packet_flags_direction 2>/dev/null |
		sort -u | tr '\n' ' ')" "0x00000001 0x00000002 "
	ft_expect pcapng/tcpdump "$(tcpdump -r "$f" 2>/dev/null | wc -l)" "$(pcount "$f")"
	n=$(pcount "$f")
	ft_expect pcapng/isb "$(png_isb "$f" | awk -v n="$n" '{print ($1 >= n && $2 == n && $3 == n)}')" 1
}

# 802.1Q over the veth: the kernel keeps the tag out of the frame (skb
# vlan_tci); the capture shows it in place, like tcpdump.
t_vlan() {
	local f=$FT_TMP/vlan.pcap
	ip -n "$A" link add link "$IFA" name "$IFA.100" type vlan id 100 &&
		ip -n "$B" link add link "$FT_IF_B" name "$FT_IF_B.100" type vlan id 100 &&
		ip -n "$A" addr add 198.18.100.1/24 dev "$IFA.100" &&
		ip -n "$B" addr add 198.18.100.2/24 dev "$FT_IF_B.100" &&
		ip -n "$A" link set "$IFA.100" up && ip -n "$B" link set "$FT_IF_B.100" up ||
		{ ft_skip vlan "cannot create VLAN devices"; return; }
	cap_start vlan A -i "$IFA" -w "$f" vlan 100 and icmp || { ft_fail vlan "did not start"; return; }
	ft_ns A ping -c 3 -i 0.1 -q 198.18.100.2 >/dev/null
	cap_stop "$CAP_PID"
	ft_expect vlan/count "$(pcount "$f")" 6
	ft_expect vlan/id "$(tshark -r "$f" -T fields -e vlan.id -e icmp.type 2>/dev/null | sort -u |
		tr '\t\n' ': ')" "100:0 100:8 "
	ip -n "$A" link del "$IFA.100"
	ip -n "$B" link del "$FT_IF_B.100"
}

# -w - into tcpdump -r -; no -w prints tcpdump-like lines; -c stops.
t_stream_print() {
	local n
	n=$(ft_ns A bash -c "'$FT_BIN' capture -i '$IFA' -c 4 -w - icmp 2>/dev/null | tcpdump -r - -n 2>/dev/null" &
		sleep 2; ft_ns A ping -c 3 -i 0.1 -q "$FT_IP4_B" >/dev/null; wait)
	ft_expect stream/tcpdump "$(grep -c 'ICMP echo' <<<"$n")" 4
	cap_start print A -i "$IFA" -c 4 icmp || { ft_fail print "did not start"; return; }
	ft_ns A ping -c 3 -i 0.1 -q "$FT_IP4_B" >/dev/null
	wait "$CAP_PID"
	ft_expect print/lines "$(grep -c "IP $FT_IP4_A > $FT_IP4_B: ICMP echo request" "$FT_TMP/print.out")" 2
	ft_expect print/count "$(wc -l <"$FT_TMP/print.out")" 4
}

# -C/-W/-G name files like tcpdump; every file is readable; nothing lost.
t_rotate() {
	local d=$FT_TMP/rot total names
	mkdir -p "$d"
	cap_start rotC A -i "$IFA" -C 1 -w "$d/c.pcap" udp port 5006 || { ft_fail rotate "did not start"; return; }
	udp_send A "$FT_IP4_B" 5006 1400 2000
	cap_stop "$CAP_PID"
	names=$(cd "$d" && ls c.pcap* | sort -V | tr '\n' ' ')
	ft_expect rotate/C-names "$names" "c.pcap c.pcap1 c.pcap2 "
	total=0
	for x in "$d"/c.pcap*; do total=$((total + $(pcount "$x"))); done
	ft_expect rotate/C-total "$total" 2000
	cap_start rotW A -i "$IFA" -C 1 -W 2 -w "$d/w.pcap" udp port 5007 || { ft_fail rotate "did not start"; return; }
	udp_send A "$FT_IP4_B" 5007 1400 2000
	cap_stop "$CAP_PID"
	ft_expect rotate/W-names "$(cd "$d" && ls w.pcap* | tr '\n' ' ')" "w.pcap0 w.pcap1 "
	cap_start rotG A -i "$IFA" -G 1 -W 3 -w "$d/g-%s.pcap" udp port 5008 || { ft_fail rotate "did not start"; return; }
	for i in 1 2 3 4 5 6 7 8; do udp_send A "$FT_IP4_B" 5008 100 5; sleep 0.5; done
	wait "$CAP_PID"
	ft_expect rotate/G-files "$(ls "$d"/g-*.pcap* | wc -l)" 3
	ft_expect rotate/G-exit "$(grep -c 'packets captured' "$FT_TMP/rotG.err")" 1
}

# Never through a symbolic link, never onto an existing file unless asked.
t_safety() {
	local d=$FT_TMP/safe
	mkdir -p "$d" && ln -s /etc/flowtap-must-not-exist "$d/link" && echo keep >"$d/exists"
	ft_ns A "$FT_BIN" capture -i "$IFA" -c 1 -w "$d/link" icmp 2>"$FT_TMP/safe.err"
	ft_expect safety/symlink "$? $([ -e /etc/flowtap-must-not-exist ] && echo created)" "1 "
	ft_ns A "$FT_BIN" capture -i "$IFA" -c 1 -w "$d/exists" icmp 2>>"$FT_TMP/safe.err"
	ft_expect safety/exists "$? $(cat "$d/exists")" "1 keep"
	ln -s "$d" "$d/dirlink"
	ft_ns A "$FT_BIN" capture -i "$IFA" -c 1 -w "$d/dirlink/new.pcap" icmp 2>>"$FT_TMP/safe.err"
	ft_expect safety/dir-symlink "$? $([ -e "$d/new.pcap" ] && echo created)" "1 "
	cap_start over A -i "$IFA" -c 1 --overwrite -w "$d/exists" icmp || { ft_fail safety "did not start"; return; }
	ft_ns A ping -c 1 -q "$FT_IP4_B" >/dev/null
	wait "$CAP_PID"
	ft_expect safety/overwrite "$(pcount "$d/exists") $(stat -c %a "$d/exists")" "1 600"
	ft_expect safety/still-detached "$(ft_flowtap A status 2>&1 | grep -c "$IFA")" 0
}

# Disk full: a clear error, exit status 1, and the file stays readable.
t_disk_full() {
	local d=$FT_TMP/full err
	mkdir -p "$d" && mount -t tmpfs -o size=256k tmpfs "$d" || { ft_skip disk-full "no tmpfs"; return; }
	FT_MOUNTS+=("$d")
	cap_start full A -i "$IFA" -w "$d/f.pcap" udp port 5009 || { ft_fail disk-full "did not start"; return; }
	udp_send A "$FT_IP4_B" 5009 1000 1000
	sleep 0.5
	kill -INT "$CAP_PID" 2>/dev/null
	wait "$CAP_PID"
	ft_expect disk-full/status "$?" 1
	ft_expect disk-full/message "$(grep -c 'No space left' "$FT_TMP/full.err")" 1
	err=$(tcpdump -r "$d/f.pcap" 2>&1 >/dev/null | grep -v '^reading from')
	ft_expect disk-full/readable "$err" ""
	ft_expect disk-full/packets "$(pcount "$d/f.pcap" | awk '{print ($1 > 100)}')" 1
}

t_basic
t_udp
t_slice
t_direction
t_vs_tcpdump
t_pcapng_http
t_vlan
t_stream_print
t_rotate
t_safety
t_disk_full
ft_expect final/detached "$(ft_flowtap A status 2>&1 | grep -c "$IFA")" 0
ft_done
