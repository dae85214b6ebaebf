#!/bin/bash
# lifecycle.sh — the container-lifecycle benchmark (issue 4): `exec` into a
# running container, `ps -a` over 50 containers, and the resident memory of the
# process that watches each detached container (ctr's monitor, podman's
# conmon). Run by hand, as root (it drops to an unprivileged user with
# /etc/subuid and /etc/subgid ranges for every measured command); it prints
# medians, memory figures and the ratios against the targets.
#
#   sudo test/bench/lifecycle.sh [options]
#
#   -n N        timed `exec` runs of each tool (default 30), split over the rounds
#   -i N        timed `ps -a` runs of each tool (default 20), split over the rounds
#   -w N        untimed warm-up runs before each round (default 3)
#   -R N        rounds (default 3): the tools take turns, in a rotating order
#   -c N        containers in each store for `ps -a` (default 50)
#   -m N        idle detached containers for the memory scaling (default 10)
#   -u USER     the unprivileged user (default $CTR_TEST_USER or ctrtest)
#   -d DIR      where the work directory goes; a disk file system, not tmpfs
#               (default /var/tmp)
#   -k          keep the work directories (stores, raw timings)
#   --no-podman leave podman out even when it is installed
#   --no-thp    start the containers with transparent huge pages disabled for
#               the tools' processes (PR_SET_THP_DISABLE, inherited), so the
#               memory figures do not depend on the system's THP setting and
#               on whether huge pages happen to be free
#
# Environment: CTR (the binary, default bin/ctr of this tree: `make build`),
# PODENV (default ../shared/tools/podenv next to the tree; used for podman when
# it exists, plain runuser otherwise), BUSYBOX (a static busybox, default
# /bin/busybox from Debian's busybox-static).
#
# What it measures (see README.md, section "lifecycle.sh"):
#  1. `ctr exec C true` vs `podman exec C true`, C a detached busybox
#     `sleep 100000` with --network none in each tool. Median wall time,
#     ratio ctr/podman (target <= 0.15).
#  2. Memory of the process that watches a detached, idle container
#     (--network none): ctr's monitor (`ctr-monitor ID`, .State.ConmonPid) and
#     podman's conmon. Rss, Pss, Private (Private_Clean + Private_Dirty),
#     Anonymous and AnonHugePages from /proc/PID/smaps_rollup: with 1
#     container (before and after the exec runs) and per container with -m of
#     them (the monitor is the ctr binary: its text pages are shared, so Pss
#     per monitor falls as more run). Target: ctr's Rss <= 2 x conmon's.
#  3. `ctr ps -a` vs `podman ps -a` with -c containers in each store: 5
#     running, 5 created, the rest exited. Target ctr <= 0.3 x podman.
# Graph roots on disk (-d), run roots on tmpfs; every store is private to the
# run. Times are taken inside the user's environment (hyperfine -N when
# installed, else a bash loop): neither runuser nor podenv's setup is timed.
#
# Needs: bash 5, go, runuser, tar, busybox-static, uidmap; hyperfine
# (recommended), podman (for the comparison).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

exec_runs=30
ps_runs=20
ncontainers=50
nidle=10
nrunning=5
ncreated=5
settle=3 # seconds an idle container is left alone before its memory is read

while [[ $# -gt 0 ]]; do
	case $1 in
	-n) exec_runs=$2 && shift 2 ;;
	-i) ps_runs=$2 && shift 2 ;;
	-w) warmup=$2 && shift 2 ;;
	-R) rounds=$2 && shift 2 ;;
	-c) ncontainers=$2 && shift 2 ;;
	-m) nidle=$2 && shift 2 ;;
	--no-thp) no_thp=1 && shift ;;
	*) common_opt "$@" && shift "$NSHIFT" ;;
	esac
done

check_counts "$exec_runs" "$ps_runs" "$rounds" "$ncontainers" "$nidle"
check_warmup
((exec_runs >= rounds && ps_runs >= rounds)) || die "-n and -i must be at least -R"
((ncontainers >= nrunning + ncreated + (nidle > nrunning ? nidle - nrunning : 0))) ||
	die "-c must be at least $((nrunning + ncreated)) + the containers -m leaves exited"
check_user "every measured command"
require_commands "" go runuser tar pgrep
check_ctr_bin
check_busybox
detect_hyperfine
detect_podman
warn_other_benchmarks

# ---------------------------------------------------------------- work dirs
make_workdirs ctr-lcbench
init_watch

# shellcheck disable=SC2317 # called by the EXIT trap (lib.sh's cleanup)
bench_cleanup() { end_containers still_alive; }
install_cleanup
# The busybox rootfs of run.sh, imported by both tools from the same tarball.
prepare_ctr_bench

# ---------------------------------------------------------------- images
import_busybox_ctr
log "ctr $ctr_version ($(ctr_driver) driver)"

tools=(ctr)
if [[ -z $podman_skip ]]; then
	tools+=(podman)
	setup_podman
	podman_version=$(as_podman podman "${podman_store[@]}" info --format '{{.Version.Version}}, {{.Host.OCIRuntime.Name}}, {{.Store.GraphDriverName}} driver')
	log "podman $podman_version$(via_podenv)"
fi

# tool_cmd TOOL: sets CMD to the tool's command line with its store options.
tool_cmd() {
	case $1 in
	ctr) CMD=("$ctr" "${ctr_store[@]}") ;;
	podman) CMD=(podman "${podman_store[@]}") ;;
	esac
}

# start_idle TOOL: start a detached idle container; prints its ID and records
# the processes that must end with it.
start_idle() {
	local tool=$1 id pids
	tool_cmd "$tool"
	id=$(in_env "$tool" "${nothp[@]}" "${CMD[@]}" run -d --network none busybox sleep 100000) || die "$tool run -d failed"
	id=${id##*$'\n'}
	pids=$(in_env "$tool" "${CMD[@]}" inspect --format '{{.State.ConmonPid}} {{.State.Pid}}' "$id") ||
		die "$tool inspect $id failed"
	for pid in $pids; do
		[[ $pid =~ ^[1-9][0-9]*$ ]] || die "$tool inspect $id: no PID in '$pids'"
		watch_pid "$pid"
	done
	echo "$id"
}
# monitor_pid TOOL ID
monitor_pid() {
	tool_cmd "$1"
	in_env "$1" "${CMD[@]}" inspect --format '{{.State.ConmonPid}}' "$2"
}

# mem_sum PID...: "N RSS PSS PRIVATE ANON ANONHUGE" summed over the PIDs
# (lib.sh's smaps).
mem_sum() {
	local pid n=0 r=0 p=0 v=0 a=0 h=0 x1 x2 x3 x4 x5
	for pid in "$@"; do
		read -r x1 x2 x3 x4 x5 <<<"$(smaps "$pid")"
		[[ -n $x5 ]] || die "no smaps_rollup for PID $pid (gone?)"
		n=$((n + 1)) r=$((r + x1)) p=$((p + x2)) v=$((v + x3)) a=$((a + x4)) h=$((h + x5))
	done
	echo "$n $r $p $v $a $h"
}

# ---------------------------------------------------------------- timing
# bench NAME TOTAL_RUNS: time "${bench_cmd[NAME-TOOL]}" for every tool in
# rounds, the starting tool rotating; sets files[NAME-TOOL] (lib.sh's
# bench_rounds).
declare -A cid
bench() { bench_rounds "$1" "$1" "$2" "${tools[@]}"; }
# report NAME TARGET LABEL: the table rows and the ratio for one benchmark.
declare -A med
report() {
	local name=$1 target=$2 label=$3 tool c
	timing_header 8 tool
	for tool in "${tools[@]}"; do
		# shellcheck disable=SC2086 # a list of file names without spaces
		stats ${files[$name-$tool]}
		med[$name-$tool]=$S_MED
		c=${bench_cmd[$name-$tool]}
		c=${c//$work/WORK} c=${c//$shm/SHM}
		[[ -z ${cid[$tool]:-} ]] || c=${c//${cid[$tool]}/C}
		timing_row 8 "$tool" "$c"
	done
	if [[ -n ${med[$name-podman]:-} ]]; then
		r=$(ratio "${med[$name-ctr]}" "${med[$name-podman]}")
		echo "  $label ctr/podman = $r   (target <= $target: $(verdict "$r" "$target"))"
	else
		echo "  $label ctr/podman = -   (${podman_skip:-podman not measured})"
	fi
}

# ---------------------------------------------------------------- 1. exec
for tool in "${tools[@]}"; do
	log "$tool: starting the detached container C"
	cid[$tool]=$(start_idle "$tool")
	tool_cmd "$tool"
	in_env "$tool" "${CMD[@]}" exec "${cid[$tool]}" true || die "the first $tool exec failed"
done
# Its memory first, before any exec: idle since it started.
sleep "$settle"
declare -A mem1 mem1x
for tool in "${tools[@]}"; do
	mp=$(monitor_pid "$tool" "${cid[$tool]}")
	mem1[$tool]=$(mem_sum "$mp")
done

for tool in "${tools[@]}"; do
	tool_cmd "$tool"
	bench_cmd[exec-$tool]="${CMD[*]} exec ${cid[$tool]} true"
done
bench exec "$exec_runs"
sleep "$settle"
for tool in "${tools[@]}"; do
	mem1x[$tool]=$(mem_sum "$(monitor_pid "$tool" "${cid[$tool]}")")
done

# ---------------------------------------------------------------- 2. memory
declare -A memN
for tool in "${tools[@]}"; do
	log "$tool: starting $((nidle - 1)) more idle containers"
	ids=("${cid[$tool]}")
	for ((i = 1; i < nidle; i++)); do
		ids+=("$(start_idle "$tool")")
	done
	sleep "$settle"
	mps=()
	for id in "${ids[@]}"; do mps+=("$(monitor_pid "$tool" "$id")"); done
	memN[$tool]=$(mem_sum "${mps[@]}")
	printf '%s\n' "${ids[@]}" >"$res/idle-$tool.ids"
done

# ---------------------------------------------------------------- 3. ps -a
# nrunning running (the first idle ones), ncreated created, the rest exited.
declare -A states
for tool in "${tools[@]}"; do
	tool_cmd "$tool"
	mapfile -t ids <"$res/idle-$tool.ids"
	for ((i = ${#ids[@]}; i < nrunning; i++)); do
		ids+=("$(start_idle "$tool")")
	done
	if ((${#ids[@]} > nrunning)); then
		log "$tool: killing $((${#ids[@]} - nrunning)) of the idle containers"
		in_env "$tool" "${CMD[@]}" kill "${ids[@]:nrunning}" >/dev/null || die "$tool kill failed"
		in_env "$tool" "${CMD[@]}" wait "${ids[@]:nrunning}" >/dev/null || die "$tool wait failed"
	fi
	have=$(in_env "$tool" "${CMD[@]}" ps -a -q | wc -l)
	nexit=$((ncontainers - have - ncreated))
	log "$tool: creating $ncreated containers and running $nexit to completion"
	for ((i = 0; i < ncreated; i++)); do
		in_env "$tool" "${CMD[@]}" create --network none busybox true >/dev/null || die "$tool create failed"
	done
	for ((i = 0; i < nexit; i++)); do
		in_env "$tool" "${CMD[@]}" run --network none busybox true >/dev/null || die "$tool run failed"
	done
	have=$(in_env "$tool" "${CMD[@]}" ps -a -q | wc -l)
	((have == ncontainers)) || die "$tool ps -a lists $have containers, not $ncontainers"
	states[$tool]=$(in_env "$tool" "${CMD[@]}" ps -a --format '{{.State}}' | awk '{print tolower($1)}' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep = ", "}')
	bench_cmd[ps-$tool]="${CMD[*]} ps -a"
done
bench ps "$ps_runs"

# ---------------------------------------------------------------- leaks
log "removing every container"
remove_all
sleep 2
leaks=$(still_alive)

# ---------------------------------------------------------------- report
echo
report_header lifecycle
echo "  $(timer_desc), $rounds rounds, tools rotating, $warmup warm-up runs before each round"
echo
echo "1. exec into a running container (detached busybox sleep, --network none)"
report exec 0.15 "exec"
echo
echo "2. memory of the process watching an idle detached container (--network none), KiB from smaps_rollup"
thp_note
printf '  %-34s %9s %9s %9s %9s %9s\n' "" Rss Pss Private Anon AnonHuge
for tool in "${tools[@]}"; do
	name=monitor
	[[ $tool == podman ]] && name=conmon
	read -r _ r p v a h <<<"${mem1[$tool]}"
	printf '  %-34s %9s %9s %9s %9s %9s\n' "$tool $name, 1 container" "$r" "$p" "$v" "$a" "$h"
	read -r _ r p v a h <<<"${mem1x[$tool]}"
	printf '  %-34s %9s %9s %9s %9s %9s\n' "  the same after the exec runs" "$r" "$p" "$v" "$a" "$h"
	read -r n r p v a h <<<"${memN[$tool]}"
	printf '  %-34s %9s %9s %9s %9s %9s\n' "  $n containers: per $name" "$((r / n))" "$((p / n))" "$((v / n))" "$((a / n))" "$((h / n))"
	printf '  %-34s %9s %9s %9s %9s %9s\n' "  $n containers: total" "$r" "$p" "$v" "$a" "$h"
done
if [[ -n ${mem1[podman]:-} ]]; then
	read -r _ cr cp cv _ <<<"${mem1[ctr]}"
	read -r _ pr pp pv _ <<<"${mem1[podman]}"
	rr=$(ratio "$cr" "$pr")
	echo "  1 container:  ctr/podman Rss = $rr (target <= 2: $(verdict "$rr" 2)), Pss = $(ratio "$cp" "$pp"), Private = $(ratio "$cv" "$pv")"
	read -r _ cr cp cv _ <<<"${memN[ctr]}"
	read -r _ pr pp pv _ <<<"${memN[podman]}"
	echo "  $nidle containers: ctr/podman Rss = $(ratio "$cr" "$pr"), Pss = $(ratio "$cp" "$pp"), Private = $(ratio "$cv" "$pv")"
fi
echo
echo "3. ps -a with $ncontainers containers in the store"
for tool in "${tools[@]}"; do
	echo "  $tool: ${states[$tool]}"
done
report ps 0.3 "ps -a"
echo
echo "  (WORK = $work, SHM = $shm, C = the detached container; cpu = user + system time of the command and the descendants it waited for)"
if [[ -n $leaks ]]; then
	echo
	echo "  LEAK: processes still alive 2 s after every container was removed (killed at exit):"
	print_procs <<<"$leaks"
else
	echo "  no leaked process: every monitor, conmon and container process ended with its container"
fi
