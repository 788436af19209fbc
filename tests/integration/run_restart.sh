#!/usr/bin/env bash
# flowtap run survives kill -9: the datapath stays attached and pinned,
# traffic while the daemon is down is counted, the restarted daemon goes on
# from the checkpoint without loss or double counting, adopts what its
# predecessor attached and detaches it at SIGTERM. Interfaces attached
# before a run (or left with --keep) are never detached by it.
. "$(dirname "$0")/../lib.sh"
FT=${FLOWTAP:-$FT_BIN}
T=$FT_TMP
A=ftr-$$-a B=ftr-$$-b
BPF=$T/bpf-$A # namespace A's bpffs (ft_netns_add mounts it)

pass() { ft_pass "$@"; }
fail() { ft_fail "$@"; }
skip() { ft_skip "$@"; }
expect() { ft_expect "$@"; }

ft_require_root
ft_require_cmd jq python3 unshare
if $FT run --help 2>&1 | grep -q "not available"; then
	ft_skip_all "this flowtap has no run command"
fi

# Namespaces with only 198.18.0.0/15 and fd00::/8, no default route, each
# with its own bpffs; the veth ends are a0 (in A) and b0 (in B).
setup() {
	ft_netns_add $A && ft_netns_add $B || return 1
	ft_on_exit "ft detach --all"
	ip link add a0 netns $A type veth peer name b0 netns $B || return 1
	ip -n $A addr add 198.18.0.1/24 dev a0 && ip -n $B addr add 198.18.0.2/24 dev b0
	ip -n $A addr add fd00::1/64 dev a0 nodad && ip -n $B addr add fd00::2/64 dev b0 nodad
	ip -n $A link set a0 up && ip -n $B link set b0 up
}

ft() { ip netns exec $A env FLOWTAP_PIN_ROOT=$BPF/flowtap LIBXDP_BPFFS=$BPF $FT "$@"; }

# start_run TAG ARGS...: `flowtap run ARGS` in namespace A, in a private
# mount namespace with a tmpfs /dev holding the usual nodes and, when the
# test has a syslog listener, /dev/log bound to it (the host's /dev is never
# touched). The pid is in $T/TAG.pid once it is attached.
start_run() {
	local tag=$1
	shift
	ip netns exec $A unshare -m --propagation private bash -c '
		T=$1; tag=$2; shift 2
		mkdir -p $T/hostdev && mount --rbind /dev $T/hostdev &&
			mount -t tmpfs -o mode=755 tmpfs /dev || exit 97
		for n in null zero full random urandom; do
			touch /dev/$n && mount --bind $T/hostdev/$n /dev/$n
		done
		[ -S $T/devlog ] && touch /dev/log && mount --bind $T/devlog /dev/log
		echo $$ > $T/$tag.pid
		exec "$@"' sh $T $tag env FLOWTAP_PIN_ROOT=$BPF/flowtap LIBXDP_BPFFS=$BPF \
		$FT run "$@" >$T/$tag.out 2>$T/$tag.err &
	FT_PIDS+=($!)
	for _ in $(seq 50); do
		[ -s $T/$tag.pid ] && ft status --json 2>/dev/null | jq -e 'length > 0' >/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}

# stop_run TAG [SIGNAL]: signal the daemon and wait until it is gone.
stop_run() {
	local pid
	pid=$(cat $T/$1.pid)
	kill -${2:-TERM} $pid 2>/dev/null
	for _ in $(seq 100); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	wait $pid 2>/dev/null
	rm -f $T/$1.pid
}

udp_send() { # NS DST SPORT DPORT COUNT PAYLOAD-BYTES
	ip netns exec $1 python3 -c '
import socket, sys
dst, sport, dport, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
for _ in range(n):
    s.sendto(b"x" * size, (dst, dport))
' "$2" "$3" "$4" "$5" "$6"
}

# jsum FILE JQ-SELECT FIELD: sum of FIELD over the matching records.
jsum() { jq -s "[.[] | select($2) | .$3] | add // 0" "$1" 2>/dev/null; }

syslog_listener() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(65536).decode(errors="replace").rstrip("\n") + "\n")
' $T/devlog $T/syslog.txt &
	FT_PIDS+=($!)
	for _ in $(seq 30); do [ -S $T/devlog ] && return 0; sleep 0.1; done
	return 1
}

# slsum PATTERN KEY: sum of KEY=n over syslog lines matching PATTERN.
slsum() {
	grep -E "$1" $T/syslog.txt | grep -oE " $2=[0-9]+" | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}

setup || { fail setup "cannot create namespaces"; exit 1; }
ip netns exec $A ping -c1 -W2 198.18.0.2 >/dev/null

# kill_run TAG: kill -9, as a crash would.
kill_run() {
	local pid
	pid=$(cat $T/$1.pid)
	kill -9 $pid
	wait $pid 2>/dev/null # our child: reaped here, quietly
	rm -f $T/$1.pid
}
sel='.direction=="egress" and .proto=="udp" and .sport==40000 and .dport==9999'
F=$T/flows.jsonl

# --- kill -9, traffic while down, restart: no loss, no double count ---
start_run d1 -i a0 --interval 1 --flow-log $F || { fail start "$(cat $T/d1.err)"; exit 1; }
udp_send $A 198.18.0.2 40000 9999 100 100
sleep 2.5
expect before_crash "$(jsum $F "$sel" packets_delta)" 100
kill_run d1
expect crash_still_attached "$(ft status --json | jq length)" 1
udp_send $A 198.18.0.2 40000 9999 50 100 # counted by the datapath alone
start_run d2 -i a0 --interval 1 --flow-log $F || fail restart "$(cat $T/d2.err)"
sleep 2.5
udp_send $A 198.18.0.2 40000 9999 30 100
sleep 2.5
expect restart_flows_cumulative "$(ft flows --json | jq "[.[] | select($sel) | .packets] | add")" 180
expect restart_exact "$(jsum $F "$sel" packets_delta)/$(jsum $F "$sel" bytes_delta)" 180/25560
expect restart_attached_once "$(ft status --json | jq -c '[.[] | .iface]')" '["a0"]'
stop_run d2
expect restart_end_record "$(jq -sc "[.[] | select($sel and .end_reason != null) | [.end_reason, .packets]]" $F)" '[["forced",180]]'
# The restarted run adopted what its dead predecessor attached.
expect restart_detached "$(ft status --json | jq length)" 0
expect restart_unpinned "$(ls $BPF | grep -c flowtap)" 0

# --- attached before the run: used, never detached; a later run goes on
# from the checkpoint (the forced end at shutdown is not counted again) ---
ft attach a0 || fail preattach "attach failed"
F2=$T/flows2.jsonl
start_run d3 -i a0 --interval 1 --flow-log $F2 || fail preattached_start "$(cat $T/d3.err)"
udp_send $A 198.18.0.2 40000 9999 10 100
sleep 1.5
stop_run d3
expect preattached_kept "$(ft status --json | jq -c '[.[] | .iface]')" '["a0"]'
expect preattached_counts "$(jsum $F2 "$sel" packets_delta)" 10
udp_send $A 198.18.0.2 40000 9999 5 100 # while no run is there
F3=$T/flows3.jsonl
start_run d4 -i a0 --interval 1 --flow-log $F3 || fail second_start "$(cat $T/d4.err)"
sleep 1.5
stop_run d4
expect checkpoint_after_clean_stop "$(jsum $F3 "$sel" packets_delta)" 5
expect still_kept "$(ft status --json | jq length)" 1
ft detach --all
expect detach_all_cleans "$(ft status --json | jq length)/$(ls $BPF | grep -c flowtap)" 0/0

# --- --keep leaves the datapath; a later run does not take it over ---
start_run d5 -i a0 --interval 1 --keep || fail keep_start "$(cat $T/d5.err)"
sleep 0.3
stop_run d5
expect keep_attached "$(ft status --json | jq length)" 1
start_run d6 -i a0 --interval 1 --flow-log $T/f6.jsonl || fail keep_start2 "$(cat $T/d6.err)"
sleep 0.3
stop_run d6
expect keep_not_taken_over "$(ft status --json | jq length)" 1
ft detach --all
cat $T/d*.err | grep -v '^$' | head -3 | grep . && fail stderr_clean "see above" || pass stderr_clean
ft_done
