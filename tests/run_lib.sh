# shellcheck shell=bash
# The set-up shared by the run_*.sh tests of `flowtap run`, sourced after
# lib.sh: namespaces A and B joined by a0/b0, flowtap in A on its own bpffs,
# a daemon started in a private mount namespace (with an optional /dev/log
# datagram listener), UDP senders and JSON/syslog sums.
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

# jsum FILE JQ-SELECT FIELD: sum of FIELD over the matching records.
jsum() { jq -s "[.[] | select($2) | .$3] | add // 0" "$1" 2>/dev/null; }

# slsum PATTERN KEY: sum of KEY=n over syslog lines matching PATTERN.
slsum() {
	grep -E "$1" $T/syslog.txt | grep -oE " $2=[0-9]+" | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}

