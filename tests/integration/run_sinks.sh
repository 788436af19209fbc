#!/usr/bin/env bash
# flowtap run end to end on a veth pair: exact UDP counts in the JSON flow
# log and in syslog lines (a datagram listener bound over /dev/log inside a
# private mount namespace -- the host's /dev is never touched), idle end
# records, a second run refused, SIGHUP reopening the log, SIGTERM flushing
# forced records and detaching what the run attached, the terminal summary.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../run_lib.sh"

setup || { fail setup "cannot create namespaces"; exit 1; }
ft_syslog_listener || { fail setup "syslog listener"; exit 1; }
# Neighbours first: ARP and NDP are not what is counted.
ip netns exec $A ping -c1 -W2 198.18.0.2 >/dev/null
ip netns exec $A ping -6 -c1 -W2 fd00::2 >/dev/null

cat >$T/run.conf <<EOF
# short timeouts for the test
interval = 1s
idle_timeout_udp = 3s
syslog = yes
syslog_top = 5
syslog_ended = yes
syslog_facility = local3
EOF
F=$T/flows.jsonl
start_run d1 -i a0 --config $T/run.conf --flow-log $F || { fail start "$(cat $T/d1.err)"; exit 1; }
pass start

# A second run on the same datapath is refused, and changes nothing.
out=$(ft run -i a0 --interval 1 2>&1)
rc=$?
case "$rc:$out" in
1:*"already collecting"*) pass second_run_refused ;;
*) fail second_run_refused "exit $rc: $out" ;;
esac

ft_udp_send $A 198.18.0.2 40000 9999 100 100
ft_udp_send $A fd00::2 40001 9998 50 200
sleep 5 # past the 3 s idle timeout and a few intervals

sel4='.direction=="egress" and .proto=="udp" and .sport==40000 and .dport==9999'
sel6='.direction=="egress" and .family==6 and .sport==40001 and .dport==9998'
expect flowlog_udp4_exact "$(jsum $F "$sel4" packets_delta)/$(jsum $F "$sel4" bytes_delta)" 100/14200
expect flowlog_udp6_exact "$(jsum $F "$sel6" packets_delta)/$(jsum $F "$sel6" bytes_delta)" 50/13100
expect flowlog_idle_end "$(jq -sc "[.[] | select($sel4 and .end_reason != null) | [.end_reason, .packets, .bytes]]" $F)" '[["idle",100,14200]]'
expect flowlog_fields "$(jq -sc "[.[] | select($sel4)][0] | [.iface, .family, .src, .dst, .tcp_flags, .http_requests, (.first_seen > 1e9), (.last_seen >= .first_seen)]" $F)" '["a0",4,"198.18.0.1","198.18.0.2","",0,true,true]'

# syslog: ident, facility local3 (19) * 8 + info (6) = 158
expect syslog_ident "$(grep -c '^<158>.* flowtap\[[0-9]*\]: summary ' $T/syslog.txt | awk '{print ($1 > 2)}')" 1
f4='^.*: flow rank=[0-9]+ iface=a0 dir=egress proto=udp src=198\.18\.0\.1 sport=40000 dst=198\.18\.0\.2 dport=9999 '
expect syslog_top_udp4 "$(slsum "$f4" pkts)/$(slsum "$f4" bytes)" 100/14200
f6=': flow rank=[0-9]+ iface=a0 dir=egress proto=udp src=fd00::1 sport=40001 dst=fd00::2 dport=9998 '
expect syslog_top_udp6 "$(slsum "$f6" pkts)/$(slsum "$f6" bytes)" 50/13100
expect syslog_summary_udp "$(slsum ': summary ' udp_pkts)/$(slsum ': summary ' udp_bytes)" 150/27300
expect syslog_iface_udp "$(slsum ': iface iface=a0 dir=egress ' udp_pkts)" 150
e4=': end reason=idle iface=a0 dir=egress proto=udp src=198\.18\.0\.1 sport=40000 dst=198\.18\.0\.2 dport=9999 pkts=100 bytes=14200 flags=- http=0 '
expect syslog_end_line "$(grep -cE "$e4" $T/syslog.txt)" 1
expect syslog_flows_ended "$(slsum ': summary ' ended_idle | awk '{print ($1 >= 2)}')" 1

# SIGHUP reopens the flow log (after an external rotation).
mv $F $F.old
kill -HUP $(cat $T/d1.pid)
sleep 0.5
ft_udp_send $A 198.18.0.2 40002 9997 10 100
sleep 1.5
sel7='.direction=="egress" and .sport==40002 and .dport==9997'
expect sighup_reopen "$( [ -f $F ] && jsum $F "$sel7" packets_delta)" 10

# `flowtap flows` from another shell sees the cumulative counts.
expect flows_cumulative "$(ft flows --json | jq "[.[] | select($sel7) | .packets] | add")" 10

# SIGTERM: final records (forced), exit 0, nothing left attached or pinned.
pid=$(cat $T/d1.pid)
kill -TERM $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then fail sigterm_exit "still running"; else pass sigterm_exit; fi
expect sigterm_forced "$(jq -sc "[.[] | select($sel7 and .end_reason != null) | [.end_reason, .packets]]" $F)" '[["forced",10]]'
expect sigterm_total "$(jsum "$F" "$sel7" packets_delta)" 10
expect sigterm_final_summary "$(grep -c ': summary .* final=1' $T/syslog.txt)" 1
expect sigterm_detached "$(ft status --json | jq length)" 0
expect sigterm_unpinned "$(ls $BPF | grep -c flowtap)" 0
[ -s $T/d1.err ] && fail stderr_clean "$(head -3 $T/d1.err)" || pass stderr_clean

# No sink configured: the terminal summary on stdout (what `make run` shows).
start_run d2 -i a0 --interval 1 || fail human_start "$(cat $T/d2.err)"
ft_udp_send $A 198.18.0.2 40003 9996 20 100
sleep 2.2
stop_run d2
if grep -q '^--- .* flows ' $T/d2.out && grep -qE 'a0 +egress +udp +198\.18\.0\.1:40003 -> 198\.18\.0\.2:9996 +20 pkts' $T/d2.out; then
	pass human_summary
else
	fail human_summary "$(head -c 600 $T/d2.out)"
fi
expect human_detached "$(ft status --json | jq length)" 0

# Bad input: one clear line, non-zero exit, nothing attached.
out=$(ft run -i nosuch0 2>&1)
rc=$?
expect bad_iface "$rc:$out" "2:flowtap: run: no such interface 'nosuch0'"
printf 'interval = 5\nbogus = 1\n' >$T/bad.conf
out=$(ft run -i a0 --config $T/bad.conf 2>&1)
rc=$?
expect bad_config "$rc:$out" "2:flowtap: run: config $T/bad.conf:2: unknown key 'bogus'"
ln -s /etc/passwd $T/link.jsonl
out=$(ft run -i a0 --interval 1 --flow-log $T/link.jsonl 2>&1)
rc=$?
case "$rc:$out" in 1:*"$T/link.jsonl"*) pass flowlog_symlink_refused ;; *) fail flowlog_symlink_refused "$rc:$out" ;; esac
expect bad_input_nothing_attached "$(ft status --json | jq length)" 0

# An attached interface deleted while the run goes on: the run keeps going,
# the flows already counted on it are still reported and end at SIGTERM.
ip link add c0 netns $A type veth peer name d0 netns $B &&
	ip -n $A addr add 198.19.0.1/24 dev c0 && ip -n $B addr add 198.19.0.2/24 dev d0 &&
	ip -n $A link set c0 up && ip -n $B link set d0 up || fail iface_deleted "cannot create c0"
ip netns exec $A ping -c1 -W2 198.19.0.2 >/dev/null
F4=$T/flows4.jsonl
start_run d4 -i a0 -i c0 --interval 1 --flow-log $F4 || fail iface_deleted_start "$(cat $T/d4.err)"
ft_udp_send $A 198.19.0.2 40004 9995 10 100
sleep 0.3
ip -n $A link del c0
sleep 2
pid=$(cat $T/d4.pid)
kill -0 $pid 2>/dev/null && pass iface_deleted_still_running || fail iface_deleted_still_running "exited: $(cat $T/d4.err)"
stop_run d4
sel8='.direction=="egress" and .sport==40004 and .dport==9995'
expect iface_deleted_counted "$(jsum $F4 "$sel8" packets_delta)" 10
expect iface_deleted_forced "$(jq -sc "[.[] | select($sel8 and .end_reason != null) | .end_reason]" $F4)" '["forced"]'
expect iface_deleted_detached "$(ft status --json | jq length)/$(ls $BPF | grep -c flowtap)" 0/0
# --metrics: the exporter answers while the run goes on, with the
# collector's own families; a busy address is refused before attaching.
if command -v curl >/dev/null; then
	start_run d5 -i a0 --interval 1 --metrics 127.0.0.1:19477 --flow-log $T/f5.jsonl ||
		fail metrics_start "$(cat $T/d5.err)"
	ft_udp_send $A 198.18.0.2 40005 9994 5 100
	sleep 2.2
	m=$(ip netns exec $A curl -s http://127.0.0.1:19477/metrics)
	for fam in flowtap_flows_active flowtap_drain_duration_seconds_count flowtap_packets_total; do
		grep -q "^$fam" <<<"$m" && pass "metrics_$fam" || fail "metrics_$fam" "not in the exposition"
	done
	stop_run d5
	out=$(ip netns exec $A python3 -c '
import socket, subprocess, sys
s = socket.socket(); s.bind(("127.0.0.1", 19478)); s.listen(1)
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(r.returncode, r.stderr.strip())
' env FLOWTAP_PIN_ROOT=$BPF/flowtap LIBXDP_BPFFS=$BPF $FT run -i a0 --metrics 127.0.0.1:19478 2>&1)
	case "$out" in 1*"19478"*) pass metrics_busy_refused ;; *) fail metrics_busy_refused "$out" ;; esac
	expect metrics_detached "$(ft status --json | jq length)/$(ls $BPF | grep -c flowtap)" 0/0
else
	skip metrics "curl is not installed"
fi

ft_done
