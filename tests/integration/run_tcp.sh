#!/usr/bin/env bash
# Flow state rules of flowtap run with short configured timeouts, on real
# TCP and UDP traffic: a connection closed with FIN ends "end_of_flow" after
# tcp_fin_timeout, one answered by a RST after tcp_rst_timeout; a flow that
# never idles closes records at the active timeout and goes on; SIGTERM
# ends the rest "forced"; every flow ends once and its deltas add up; both
# directions of a closed connection end, spanning its lifetime, bytes each way.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../run_lib.sh"

setup || { fail setup "cannot create namespaces"; exit 1; }
ip netns exec $A ping -c1 -W2 198.18.0.2 >/dev/null

F=$T/flows.jsonl
printf '%s\n' 'interval = 1s' 'idle_timeout_tcp = 60s' 'idle_timeout_udp = 60s' \
	'tcp_fin_timeout = 2s' 'tcp_rst_timeout = 1s' 'active_timeout = 3s' 'http_log = yes' >$T/run.conf
# A TCP server that answers one line and closes.
ip netns exec $B python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.2", 8080)); s.listen(8)
while True:
    c, _ = s.accept(); c.recv(100); c.sendall(b"bye\n"); c.close()
' &
FT_PIDS+=($!)
for _ in $(seq 30); do ip netns exec $B ss -ltn | grep -q 198.18.0.2:8080 && break; sleep 0.1; done
start_run d1 -i a0 --config $T/run.conf --flow-log $F || { fail start "$(cat $T/d1.err)"; exit 1; }

# tcp_client SPORT DPORT: connect from a fixed port, talk, close (FIN).
tcp_client() {
	ip netns exec $A python3 -c '
import socket, sys
s = socket.socket(); s.bind(("198.18.0.1", int(sys.argv[1])))
try:
    s.connect(("198.18.0.2", int(sys.argv[2]))); s.sendall(b"hello\n"); s.recv(100)
except ConnectionRefusedError:
    pass
s.close()
' $1 $2
}
tcp_client 41000 8080 # a whole connection, closed with FIN
tcp_client 41001 8081 # refused: the answer is a RST
# A UDP flow that never idles: 10 packets, one every 0.5 s, over 5 s.
for _ in $(seq 10); do ft_udp_send $A 198.18.0.2 40000 7000 1 100; sleep 0.5; done
sleep 1.5

fin='.direction=="egress" and .proto=="tcp" and .sport==41000 and .dport==8080'
rst='.direction=="ingress" and .proto=="tcp" and .sport==8081 and .dport==41001'
syn='.direction=="egress" and .proto=="tcp" and .sport==41001 and .dport==8081'
act='.direction=="egress" and .proto=="udp" and .dport==7000'
expect tcp_fin_end "$(jq -sc "[.[] | select($fin and .end_reason != null) | .end_reason]" $F)" '["end_of_flow"]'
expect tcp_fin_flags "$(jq -sr "[.[] | select($fin)][-1].tcp_flags" $F | tr '|' '\n' | sort | tr '\n' ' ')" "ACK FIN PSH SYN "
expect tcp_fin_exact "$(jsum $F "$fin" packets_delta)" "$(jq -s "[.[] | select($fin)][-1].packets" $F)"
# Lifetime and bytes each way: the answering direction ends with it, each
# ended record spans the connection (well under a second here), and its
# byte deltas add up to its bytes.
finr='.direction=="ingress" and .proto=="tcp" and .sport==8080 and .dport==41000'
expect tcp_fin_reverse_end "$(jq -sc "[.[] | select($finr and .end_reason != null) | .end_reason]" $F)" '["end_of_flow"]'
for d in fin finr; do
	sel=${!d}
	expect tcp_${d}_lifetime "$(jq -s "[.[] | select($sel and .end_reason != null)][0] | (.last_seen - .first_seen) as \$t | \$t >= 0 and \$t < 1" $F)" true
	expect tcp_${d}_bytes "$(jsum $F "$sel" bytes_delta)" "$(jq -s "[.[] | select($sel)][-1].bytes | select(. > 0)" $F)"
done
expect tcp_rst_end "$(jq -sc "[.[] | select($rst and .end_reason != null) | [.end_reason, .packets]]" $F)" '[["end_of_flow",1]]'
expect active_records "$(jq -sc "[.[] | select($act and .end_reason == \"active\")] | length >= 1" $F)" true
expect active_goes_on "$(jq -sc "[.[] | select($act and .end_reason != null and .end_reason != \"active\")] | length" $F)" 0
expect syn_only_alive "$(jq -sc "[.[] | select($syn and .end_reason != null)] | length" $F)" 0

# HTTP: the run consumes the sample ring buffer; http_log puts the samples
# in the flow log, the flows count the requests.
ip netns exec $B python3 -m http.server 8000 --bind 198.18.0.2 >/dev/null 2>&1 &
FT_PIDS+=($!)
ft_wait_listen $B 198.18.0.2 8000
for p in /one /two?secret=1 /three; do
	ip netns exec $A python3 -c 'import sys, urllib.request; urllib.request.urlopen("http://198.18.0.2:8000" + sys.argv[1]).read()' "$p" 2>/dev/null
done
sleep 1.5
expect http_samples "$(jq -sc '[.[] | select(.type == "http_sample") | [.method, .path, .dport]]' $F)" '[["GET","/one",8000],["GET","/two",8000],["GET","/three",8000]]'
expect http_flow_requests "$(jq -s '[.[] | select(.type == null and .direction == "egress" and .dport == 8000)] | group_by(.sport) | map(map(.http_requests) | max) | add' $F)" 3
expect http_flow_log_deltas "$(jq -s '[.[] | select(.type == null and .direction == "egress" and .dport == 8000)] | length > 0' $F)" true

stop_run d1
expect shutdown_forced_syn "$(jq -sc "[.[] | select($syn and .end_reason != null) | .end_reason]" $F)" '["forced"]'
expect shutdown_forced_udp "$(jq -sc "[.[] | select($act and .end_reason == \"forced\")] | length" $F)" 1
expect active_exact "$(jsum $F "$act" packets_delta)" 10
# Every flow ends exactly once, and the deltas add up to its packets.
expect one_end_per_flow "$(jq -sc 'map(select(.type == null)) | group_by([.direction, .proto, .src, .dst, .sport, .dport, .type, .code]) | map([.[] | select(.end_reason != null and .end_reason != "active")] | length) | unique' $F)" '[1]'
expect deltas_add_up "$(jq -sc 'map(select(.type == null)) | group_by([.direction, .proto, .src, .dst, .sport, .dport, .type, .code]) | map(([.[] | .packets_delta] | add) == (.[-1].packets)) | unique' $F)" '[true]'
[ -s $T/d1.err ] && fail stderr_clean "$(head -3 $T/d1.err)" || pass stderr_clean
# A small table: what does not fit is counted as overflow packet for
# packet, and past the high-water mark the longest-idle flows are evicted
# (lack_of_resources) so new ones fit again.
printf '%s\n' 'interval = 1s' 'table_high_water = 50' 'table_low_water = 25' >$T/small.conf
ip netns exec $B python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.0.2", 6000)); time.sleep(60)
' &
FT_PIDS+=($!)
F2=$T/small.jsonl
start_run d2 -i a0 --config $T/small.conf --flow-table-size 64 --flow-log $F2 ||
	fail small_start "$(cat $T/d2.err)"
# Egress packets that are not the test's (IPv6 neighbour discovery, MLD)
# may find the table full too: counted, so the overflow may hold them.
v6eg() { ft stats --json -i a0 | jq '[.[] | select(.direction == "egress" and .class == "ipv6") | .packets] | add // 0'; }
v6_before=$(v6eg)
# 100 flows of one packet each, faster than a drain
ip netns exec $A python3 -c '
import socket
for i in range(100):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("198.18.0.1", 42000 + i))
    s.sendto(b"x" * 10, ("198.18.0.2", 6000)); s.close()
'
sleep 2.5
inflows=$(jq -s '[.[] | select(.direction == "egress" and .dport == 6000) | .packets_delta] | add' $F2)
over=$(ft stats --json -i a0 | jq '[.[] | select(.direction == "egress" and .counter == "flow_overflow") | .value] | add')
v6=$(($(v6eg) - v6_before))
if [ "$inflows" -le 100 ] && [ $((inflows + over)) -ge 100 ] &&
	[ $((inflows + over)) -le $((100 + v6)) ]; then
	pass small_table_nothing_lost
else
	fail small_table_nothing_lost "$inflows in flows + $over overflow, want 100 (+ up to $v6 IPv6 packets of the interface's own)"
fi
expect small_table_overflowed "$([ "$over" -gt 0 ] && echo yes)" yes
expect small_table_evicted "$(jq -s '[.[] | select(.end_reason == "lack_of_resources")] | length > 0' $F2)" true
stop_run d2

ft_done
