#!/usr/bin/env bash
# Least privilege (docs/security.md): every command under a reduced
# capability set (uid 0, bounding set cut with setpriv, so nothing is
# gained at exec). With the set docs/security.md gives, each command does
# its whole job and leaves nothing behind; with one capability missing it
# fails up front with one line that names that capability, exit status
# non-zero, nothing attached and nothing pinned; it never crashes and
# never reports success for work it could not do. The read-only commands
# need no capability at all: the pins' permissions (0700 root) guard them.
. "$(dirname "$0")/../lib.sh"
ft_require_root
ft_require_cmd jq setpriv
[ -x "$FT_BIN" ] || ft_skip_all "flowtap is not built (make)"

ns=ftt-$$-cap
ft_netns_add "$ns" || {
	ft_fail setup "cannot create a namespace"
	exit 1
}
ft_on_exit "ft_flowtap $ns detach --all; tc -n $ns qdisc del dev cap0 clsact"
ip -n "$ns" link add cap0 type veth peer name cap1 &&
	ip -n "$ns" link set cap0 up && ip -n "$ns" link set cap1 up || {
	ft_fail setup "cannot create a veth pair"
	exit 1
}
FS=$(ft_bpffs "$ns")

# The sets: what flowtap needs (docs/security.md), and the issue's first
# guess without CAP_SYS_ADMIN.
FULL=+bpf,+perfmon,+net_admin,+sys_admin
NOSYS=+bpf,+perfmon,+net_admin

# capft CAPS ARGS...: flowtap ARGS as uid 0 with only CAPS; output in OUT/ERR, status in RC.
capft() {
	local caps=$1
	shift
	ft_ns "$ns" setpriv --bounding-set="-all${caps:+,$caps}" --inh-caps=-all --ambient-caps=-all \
		"$FT_BIN" "$@" >"$FT_TMP/out" 2>"$FT_TMP/err"
	RC=$?
	OUT=$(cat "$FT_TMP/out")
	ERR=$(cat "$FT_TMP/err")
}

# capft_bg CAPS ARGS...: the same in the background; $! is flowtap's PID
# (ip, env and setpriv exec each other), output in run.out / run.err.
capft_bg() {
	local caps=$1
	shift
	ip netns exec "$ns" env FLOWTAP_PIN_ROOT="$FS/flowtap" LIBXDP_BPFFS="$FS" \
		setpriv --bounding-set="-all${caps:+,$caps}" --inh-caps=-all --ambient-caps=-all \
		"$FT_BIN" "$@" >"$FT_TMP/run.out" 2>"$FT_TMP/run.err" &
}

# What is really attached, asked as full root.
attached() {
	local x
	x=$(ip -n "$ns" link show | grep -c 'prog/xdp')
	echo "xdp=$x tc=$(tc -n "$ns" filter show dev cap0 ingress | grep -c 'handle 0xf10')$(
		tc -n "$ns" filter show dev cap1 ingress | grep -c 'handle 0xf10')"
}

clean() {
	ft_flowtap "$ns" detach --all >/dev/null 2>&1
	tc -n "$ns" qdisc del dev cap0 clsact 2>/dev/null
	tc -n "$ns" qdisc del dev cap1 clsact 2>/dev/null
	ip -n "$ns" link set cap0 xdp off 2>/dev/null
	ip -n "$ns" link set cap1 xdp off 2>/dev/null
	rm -rf "${FS:?}/flowtap" "$FS/xdp"
}

NONE="xdp=0 tc=00"

# step NAME WANT CAPS ARGS...: flowtap ARGS under CAPS must do its job
# (exit 0, then "$(attached)" equals WANT) or, only when CAPS lacks
# CAP_SYS_ADMIN, refuse up front: one line naming CAP_SYS_ADMIN, non-zero,
# nothing changed.
step() {
	local name=$1 want=$2 caps=$3 before
	shift 3
	before=$(attached)
	capft "$caps" "$@"
	if [ "$RC" = 0 ]; then
		ft_expect "$name" "$(attached)" "$want"
	elif [[ $caps != *sys_admin* && $RC -lt 128 && $ERR == *CAP_SYS_ADMIN* &&
		$(printf '%s\n' "$ERR" | grep -c .) == 1 ]]; then
		ft_expect "$name" "$(attached)" "$before"
	else
		ft_fail "$name" "exit $RC, attached $(attached) (want $want): $(echo $ERR | head -c 300)"
	fi
}

# full_cycle NAME CAPS: attach (TC and XDP), status, stats, detach,
# detach --all, and run start/stop under CAPS.
full_cycle() {
	local name=$1 caps=$2
	clean
	step "$name/attach_tc" "xdp=0 tc=10" "$caps" attach cap0 --tc
	ft_flowtap "$ns" attach cap0 --tc >/dev/null 2>&1
	step "$name/attach_xdp" "xdp=1 tc=10" "$caps" attach cap1 --xdp --mode skb
	ft_flowtap "$ns" attach cap1 --xdp --mode skb >/dev/null 2>&1
	capft "$caps" status --json
	if [ "$RC" != 0 ] && [[ $caps != *sys_admin* && $ERR == *CAP_SYS_ADMIN* ]]; then
		ft_pass "$name/status"
	else
		ft_expect "$name/status" "$RC/$(echo "$OUT" | jq -r '[.[].iface] | sort | join(" ")' 2>/dev/null)" "0/cap0 cap1"
	fi
	capft "$caps" stats --json
	ft_expect "$name/stats" "$RC" 0
	step "$name/detach" "xdp=1 tc=00" "$caps" detach cap0
	step "$name/detach_all" "$NONE" "$caps" detach --all
	# Whatever is still attached must still be reachable through its pins.
	if [ "$(attached)" != "$NONE" ] && [ ! -e "$FS/flowtap/progs" ]; then
		ft_fail "$name/no_orphans" "programs still attached ($(attached)) but their pins are gone"
	else
		ft_pass "$name/no_orphans"
	fi
	clean
	capft_bg "$caps" run -i cap0 --interval 1
	local pid=$!
	for _ in $(seq 50); do
		[ "$(attached)" != "$NONE" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	kill -TERM $pid 2>/dev/null
	wait $pid
	RC=$?
	ERR=$(cat "$FT_TMP/run.err")
	if [ $RC != 0 ] && [[ $caps != *sys_admin* && $ERR == *CAP_SYS_ADMIN* ]]; then
		ft_expect "$name/run_start_stop" "$(attached)" "$NONE"
	else
		ft_expect "$name/run_start_stop" "$RC/$(attached)" "0/$NONE"
	fi
}

full_cycle with_sys_admin "$FULL"
# Without CAP_SYS_ADMIN the kernel refuses BPF_PROG_GET_FD_BY_ID, which
# status and detach use to recognise flowtap's programs: each command
# must then either still work or say so, never crash, never claim "not
# attached" for what is attached, never leave programs without pins.
full_cycle without_sys_admin "$NOSYS"

# One capability missing (and no CAP_SYS_ADMIN, which the kernel takes in
# place of CAP_BPF and CAP_PERFMON): refused up front, the capability named.
for missing in bpf perfmon net_admin; do
	caps=$(echo ",$NOSYS," | sed "s/,+$missing,/,/; s/^,//; s/,$//")
	want=CAP_$(echo $missing | tr a-z A-Z)
	for hook in --tc --xdp; do
		clean
		if [ $hook = --tc ]; then capft "$caps" attach cap0 --tc; else
			capft "$caps" attach cap0 --xdp --mode skb
		fi
		nl=$(printf '%s\n' "$ERR" | grep -c .)
		left="$(attached)/$(ls "$FS" | grep -v '\.debug$' | tr '\n' ' ')"
		if [ "$RC" = 0 ] || [ "$RC" -ge 128 ]; then
			ft_fail "no_${missing}/attach${hook#-}" "exit $RC: $ERR"
		elif [ "$nl" != 1 ] || [[ $ERR != *"$want"* ]]; then
			ft_fail "no_${missing}/attach${hook#-}" "want one line naming $want, got: $ERR"
		else
			ft_expect "no_${missing}/attach${hook#-}" "$left" "$NONE/"
		fi
	done
	clean
	capft_bg "$caps" run -i cap0 --interval 1
	pid=$!
	sleep 2
	if kill -0 $pid 2>/dev/null; then
		kill -TERM $pid
		wait $pid
		ft_fail "no_${missing}/run" "ran without $want"
	else
		wait $pid
		rc=$?
		ERR=$(cat "$FT_TMP/run.err")
		if [ "$(printf '%s\n' "$ERR" | grep -c .)" != 1 ] || [[ $ERR != *"$want"* ]] || [ $rc = 0 ]; then
			ft_fail "no_${missing}/run" "exit $rc, want one line naming $want, got: $ERR"
		else
			ft_expect "no_${missing}/run" "$(attached)/$(ls "$FS" | grep -v '\.debug$' | tr '\n' ' ')" "$NONE/"
		fi
	fi
done

# Read-only commands need no capability; the pins' modes are the guard.
clean
ft_flowtap "$ns" attach cap0 --tc >/dev/null
for cmd in stats flows; do
	capft "" $cmd --json
	ft_expect "no_caps/$cmd" "$RC" 0
done
ft_expect pin_dir_mode "$(stat -c %a "$FS/flowtap")" 700
ft_expect pin_modes "$(find "$FS/flowtap" -type f -perm /077 | wc -l)" 0
clean
ft_done
