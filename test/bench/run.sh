#!/bin/bash
# run.sh — the `ctr run` benchmark (issue 3): a container started in the
# foreground, ctr against podman and against the bare-namespace lower bound.
# Run by hand, as root (it drops to an unprivileged user with /etc/subuid and
# /etc/subgid ranges for every measured command); it prints medians, ratios
# and the peak RSS of ctr's processes.
#
#   sudo test/bench/run.sh [options]
#
#   -n N        timed runs of each command (default 30), split over the rounds
#   -w N        untimed warm-up runs of each command before each round (default 3)
#   -R N        rounds (default 3): the tools take turns, in a rotating order,
#               so that load from elsewhere on the machine hits all of them
#   -p N        runs of each profile measurement (default 10)
#   -u USER     the unprivileged user (default $CTR_TEST_USER or ctrtest)
#   -d DIR      where the work directory goes; it must be a disk file system,
#               not tmpfs (default /var/tmp)
#   -k          keep the work directories (stores, raw timings, traces)
#   --no-podman leave podman out even when it is installed
#   --no-rss    skip the peak-RSS measurement
#   --profile   also profile ctr's run path (see README.md): binary start,
#               user-namespace entry, run cost inside the namespace, store on
#               tmpfs vs disk, package init, a phase timeline from kernel
#               tracepoints, a syscall summary (perf trace)
#   --profile-only   only the profile
#
# Environment: CTR (the binary, default bin/ctr of this tree: `make build`),
# PODENV (default ../shared/tools/podenv next to the tree; used for podman when
# it exists, plain runuser otherwise), BUSYBOX (a static busybox, default
# /bin/busybox from Debian's busybox-static).
#
# What it measures (see README.md, section "run.sh"):
#  1. `ctr run --rm --network none busybox true` vs
#     `podman run --rm --network none busybox true` (native overlay) vs
#     `unshare -Urmpf --mount-proc chroot ROOTFS /bin/true`, where ROOTFS is
#     the busybox rootfs that both tools import as their `busybox` image.
#     Median wall time of N runs each (hyperfine -N when installed, else a
#     bash loop), ratios ctr/podman (target <= 0.15) and ctr/unshare.
#     Graph roots on disk (-d), run roots on tmpfs, as on a workstation
#     ($XDG_RUNTIME_DIR); every store is private to this run.
#  2. Peak RSS: ru_maxrss of the whole `ctr run` process tree (wait4), and,
#     when tracefs has kmem:rss_stat, the exact peak of each process: the ctr
#     host process, ctr-userns and the container init before it execs.
# Times are taken inside the user's environment: neither runuser nor podenv's
# namespace setup is timed.
#
# Needs: bash 5, go, runuser, unshare, chroot, tar, busybox-static, uidmap;
# hyperfine (recommended), podman (for the comparison), perf (for --profile).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

runs=30
profile_runs=10
want_rss=1
want_bench=1
want_profile=0
tracefs=/sys/kernel/tracing

while [[ $# -gt 0 ]]; do
	case $1 in
	-n) runs=$2 && shift 2 ;;
	-w) warmup=$2 && shift 2 ;;
	-R) rounds=$2 && shift 2 ;;
	-p) profile_runs=$2 && shift 2 ;;
	--no-rss) want_rss=0 && shift ;;
	--profile) want_profile=1 && shift ;;
	--profile-only) want_profile=1 want_bench=0 want_rss=0 && shift ;;
	*) common_opt "$@" && shift "$NSHIFT" ;;
	esac
done

check_counts "$runs" "$rounds" "$profile_runs"
check_warmup
((runs >= rounds)) || die "-n must be at least -R"
check_user "every measured command"
require_commands "" go runuser unshare chroot tar
check_ctr_bin
check_busybox
detect_hyperfine
detect_podman

# ---------------------------------------------------------------- work dirs
make_workdirs ctr-runbench
trace_inst=""

# shellcheck disable=SC2317 # called by the EXIT trap (lib.sh's cleanup)
bench_cleanup() {
	if [[ -n $trace_inst && -d $trace_inst ]]; then
		echo 0 >"$trace_inst/tracing_on" 2>/dev/null || true
		echo >"$trace_inst/set_event" 2>/dev/null || true
		rmdir "$trace_inst" 2>/dev/null || true
	fi
}
install_cleanup
# The busybox rootfs, which ctr and podman import and unshare chroots into;
# ctr's environment: graph root on disk, run root on tmpfs; podman's (below)
# the same split, its pause process in our private runtime dir.
prepare_ctr_bench

# ---------------------------------------------------------------- images
import_busybox_ctr
ctr_cmd=("$ctr" "${ctr_store[@]}" run --rm --network none busybox true)
as_ctr "${ctr_cmd[@]}" || die "the first ctr run failed"
log "ctr $ctr_version ($(ctr_driver) driver)"

podman_cmd=()
if ((want_bench)) && [[ -z $podman_skip ]]; then
	setup_podman
	podman_cmd=(podman "${podman_store[@]}" run --rm --network none busybox true)
	as_podman "${podman_cmd[@]}" || die "the first podman run failed"
	log "podman $(as_podman podman "${podman_store[@]}" info --format '{{.Version.Version}}, {{.Host.OCIRuntime.Name}}, {{.Store.GraphDriverName}} driver, cgroups {{.Host.CgroupManager}}')$(via_podenv)"
fi
unshare_cmd=(unshare -Urmpf --mount-proc chroot "$rootfs" /bin/true)
as_ctr "${unshare_cmd[@]}" || die "the unshare baseline failed"

# ---------------------------------------------------------------- timing
# The three commands take turns in rounds (lib.sh's bench_rounds), with a
# `sync` before each so that no run pays for earlier writeback.
if ((want_bench)); then
	tools=(ctr)
	[[ -z $podman_skip ]] && tools+=(podman)
	tools+=(unshare)
	bench_cmd[run-ctr]="${ctr_cmd[*]}"
	bench_cmd[run-podman]="${podman_cmd[*]}"
	bench_cmd[run-unshare]="${unshare_cmd[*]}"
	sync_rounds=1
	bench_rounds run "" "$runs" "${tools[@]}"
fi

# ---------------------------------------------------------------- tracing
# traced OUT EVENT... -- CMD...: run CMD (as root; it drops to the user
# itself) with the tracefs EVENTs recorded for it and its descendants, in a
# private tracefs instance; the text trace goes to OUT.
traced() {
	local out=$1 ev
	shift
	local events=()
	while [[ $1 != -- ]]; do events+=("$1") && shift; done
	shift
	trace_inst=$tracefs/instances/ctr-runbench-$$
	mkdir "$trace_inst"
	echo 0 >"$trace_inst/tracing_on"
	echo 16384 >"$trace_inst/buffer_size_kb"
	echo 1 >"$trace_inst/options/event-fork"
	echo 1 >"$trace_inst/options/record-tgid"
	for ev in "${events[@]}"; do
		echo 1 >"$trace_inst/events/$ev/enable"
	done
	(
		echo "$BASHPID" >"$trace_inst/set_event_pid"
		echo 1 >"$trace_inst/tracing_on"
		"$@"
	) >/dev/null
	echo 0 >"$trace_inst/tracing_on"
	cat "$trace_inst/trace" >"$out"
	echo >"$trace_inst/set_event"
	rmdir "$trace_inst"
	trace_inst=""
	local written
	written=$(sed -n 's/^# entries-in-buffer\/entries-written: \([0-9]*\)\/\([0-9]*\).*/\1 \2/p' "$out")
	if [[ -n $written && ${written% *} != "${written#* }" ]]; then
		log "warning: the trace buffer overflowed ($written entries kept/written): figures from $out are incomplete"
	fi
}
can_trace() { [[ -d $tracefs/instances && -e $tracefs/events/$1 ]]; }

# ctr_loop N CMD...: a shell script that runs CMD N times.
ctr_loop() {
	local n=$1 i
	shift
	printf '#!/bin/sh\nset -e\n'
	for ((i = 0; i < n; i++)); do printf '%s\n' "$*"; done
}

rss_tree="" rss_trace=""
if ((want_rss)); then
	log "peak RSS: ru_maxrss of the ctr process tree, 10 runs"
	rss_tree=$(as_ctr "$runbench" maxrss -n 10 -- "${ctr_cmd[@]}")
	if can_trace kmem/rss_stat; then
		log "peak RSS per process: kmem:rss_stat trace of 5 runs"
		ctr_loop 5 "${ctr_cmd[*]}" >"$work/bin/rss-loop.sh"
		chmod 755 "$work/bin/rss-loop.sh"
		traced "$res/rss.trace" kmem/rss_stat sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit \
			-- as_ctr /bin/sh "$work/bin/rss-loop.sh"
		rss_trace=$("$runbench" trace -ctr "$ctr" "$res/rss.trace" | sed -n '/peak RSS per address space/,$p')
	else
		log "no tracefs with kmem:rss_stat: per-process peak RSS skipped"
	fi
fi

# ---------------------------------------------------------------- report
if ((want_bench)); then
	echo
	echo "ctr run benchmark: $(nproc) CPUs, $(uname -r), user $bench_user, graph roots on $fstype ($base_dir), run roots on tmpfs"
	echo "  $runs timed runs per command in $rounds rounds, $warmup warm-up runs before each round; $(timer_desc)"
	echo
	timing_header 8 tool
	declare -A med
	for tool in ctr podman unshare; do
		[[ -n ${files[run-$tool]:-} ]] || continue
		# shellcheck disable=SC2086 # a list of file names without spaces
		stats ${files[run-$tool]}
		med[$tool]=$S_MED
		c=${bench_cmd[run-$tool]}
		timing_row 8 "$tool" "${c//$work/WORK}"
	done
	echo "  (WORK = $work; cpu = user + system time of the command and its descendants, hyperfine's mean)"
	echo
	if [[ -n ${med[podman]:-} ]]; then
		r=$(ratio "${med[ctr]}" "${med[podman]}")
		verdict=$(awk -v r="$r" 'BEGIN { print (r <= 0.15) ? "meets" : "MISSES" }')
		echo "  ctr/podman  = $r   (target <= 0.15: $verdict)"
	else
		echo "  ctr/podman  = -   (${podman_skip:-podman not measured})"
	fi
	echo "  ctr/unshare = $(ratio "${med[ctr]}" "${med[unshare]}")"
fi
if ((want_rss)); then
	echo
	read -r rss_med rss_max _ <<<"$rss_tree"
	echo "  peak RSS of the whole ctr process tree (ru_maxrss from wait4: the largest of ctr, ctr-userns,"
	echo "  newuidmap/newgidmap, ctr-init before and after its exec): median $rss_med KiB, max $rss_max KiB of 10 runs"
	[[ -z $rss_trace ]] || printf '%s\n' "$rss_trace"
fi

# ---------------------------------------------------------------- profile
if ((want_profile)); then
	echo
	echo "profile of ctr's run path ($profile_runs runs of each run measurement, 20 of the others)"
	FILES=()
	# A floor: the start of a small static Go binary (runbench does nothing).
	timed ctr "$res/prof-gonop" 20 3 "$runbench" nop
	stats "${FILES[@]}" && p_nop=$S_MED
	FILES=()
	timed ctr "$res/prof-version" 20 3 "$ctr" version
	stats "${FILES[@]}" && p_version=$S_MED
	FILES=()
	timed ctr "$res/prof-unshare" 20 3 "$ctr" "${ctr_store[@]}" unshare /bin/true
	stats "${FILES[@]}" && p_unshare=$S_MED
	FILES=()
	timed ctr "$res/prof-run" "$profile_runs" 3 "${ctr_cmd[@]}"
	stats "${FILES[@]}" && p_run=$S_MED
	ctr_loop 10 "${ctr_cmd[*]}" >"$work/bin/loop10.sh"
	chmod 755 "$work/bin/loop10.sh"
	FILES=()
	timed ctr "$res/prof-loop-ns" 5 1 "$ctr" "${ctr_store[@]}" unshare /bin/sh "$work/bin/loop10.sh"
	stats "${FILES[@]}" && p_loop_ns=$S_MED
	FILES=()
	timed ctr "$res/prof-loop-host" 5 1 /bin/sh "$work/bin/loop10.sh"
	stats "${FILES[@]}" && p_loop_host=$S_MED
	printf '  %-70s %9s\n' "what (median wall time)" ms
	printf '  %-70s %9s\n' "small static Go binary that does nothing (runbench nop)" "$(ms "$p_nop")"
	printf '  %-70s %9s\n' "(a) ctr version: binary start (runtime, package init, cobra)" "$(ms "$p_version")"
	printf '  %-70s %9s\n' "(b) ctr unshare /bin/true: (a) + user-namespace entry + exec" "$(ms "$p_unshare")"
	printf '  %-70s %9s\n' "ctr run --rm --network none busybox true" "$(ms "$p_run")"
	# Differences of medians: under load they can come out negative.
	diffms() { awk -v d="$1" 'BEGIN { if (d < 0) printf "%.1f (noise: load?)", d; else printf "%.1f", d }'; }
	printf '  %-70s %9s\n' "(c) ctr unshare sh: 10 x ctr run inside the namespace, per run" \
		"$(diffms "$(awk -v a="$p_loop_ns" -v b="$p_unshare" 'BEGIN { print (a - b) * 100 }')")"
	printf '  %-70s %9s\n' "    sh: 10 x ctr run from the host, per run" "$(awk -v a="$p_loop_host" 'BEGIN { printf "%.1f", a * 100 }')"
	printf '  %-70s %9s\n' "    => user-namespace entry per run (host loop - namespace loop)" \
		"$(diffms "$(awk -v a="$p_loop_host" -v b="$p_loop_ns" -v u="$p_unshare" 'BEGIN { print (a - (b - u)) * 100 }')")"

	# Store location: the fsync share.
	echo
	echo "  store location ($profile_runs runs each; the image imported into each store first):"
	printf '  %-70s %9s %10s\n' "graph root + run root" "median ms" "cpu ms/run"
	for loc in disk+tmpfs disk+disk tmpfs+tmpfs; do
		case $loc in
		disk+tmpfs) st=("${ctr_store[@]}") ;;
		disk+disk)
			userdir "$work/ctr-disk" 700
			st=(--root "$work/ctr-disk/root" --runroot "$work/ctr-disk/run")
			;;
		tmpfs+tmpfs)
			userdir "$shm/ctr-tmpfs" 700
			st=(--root "$shm/ctr-tmpfs/root" --runroot "$shm/ctr-tmpfs/run")
			;;
		esac
		[[ $loc == disk+tmpfs ]] || as_ctr "$ctr" "${st[@]}" import "$work/busybox.tar" busybox >/dev/null 2>&1
		FILES=()
		timed ctr "$res/prof-store-$loc" "$profile_runs" 3 "$ctr" "${st[@]}" run --rm --network none busybox true
		stats "${FILES[@]}"
		printf '  %-70s %9s %10s\n' "$loc" "$(ms "$S_MED")" "$(ms "$S_CPU")"
	done

	# Package init cost, paid by each of the three ctr processes.
	echo
	echo "  (e) GODEBUG=inittrace=1 ctr version, 10 runs (ctr, ctr-userns and ctr-init each run every package init):"
	for ((i = 0; i < 10; i++)); do
		as_ctr env GODEBUG=inittrace=1 "$ctr" version >/dev/null 2>"$res/inittrace-$i.txt" || true
	done
	"$runbench" inittrace "$res"/inittrace-*.txt || true

	# Phase timeline from kernel tracepoints: cheap events only (no rss_stat).
	if can_trace sched/sched_process_exec; then
		echo
		echo "  phase timeline (tracefs: sched fork/exec/exit and some syscalls; $profile_runs runs):"
		ctr_loop "$profile_runs" "${ctr_cmd[*]}" >"$work/bin/trace-loop.sh"
		chmod 755 "$work/bin/trace-loop.sh"
		evs=(sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit)
		for sc in fsync fdatasync sync syncfs sync_file_range mount umount fsmount move_mount open_tree pivot_root \
			renameat renameat2 unlinkat mkdirat execve clone clone3 seccomp; do
			for dir in enter exit; do
				[[ -e $tracefs/events/syscalls/sys_${dir}_$sc ]] && evs+=("syscalls/sys_${dir}_$sc")
			done
		done
		traced "$res/phases.trace" "${evs[@]}" -- as_ctr /bin/sh "$work/bin/trace-loop.sh"
		"$runbench" trace -ctr "$ctr" "$res/phases.trace" | sed '/peak RSS per address space/,$d'
	fi

	# Syscall summary per process (perf trace reads tracepoints: no ptrace,
	# so newuidmap keeps its setuid bit).
	if command -v perf >/dev/null && perf trace -s -o /dev/null -- true >/dev/null 2>&1; then
		echo
		echo "  (d) perf trace -s of one run: time in syscalls by command name (ctr = host, exe = ctr-userns,"
		echo "      true = ctr-init, named after its last exec); waits (futex, epoll, nanosleep, wait*, recvmsg) left out:"
		perf trace -s -o "$res/perf-trace.txt" -- runuser -u "$bench_user" -- env -i PATH="$user_path" HOME="$ctr_home" \
			XDG_RUNTIME_DIR="$ctr_xdg" "${ctr_cmd[@]}" >/dev/null 2>&1 || log "perf trace failed"
		awk '
			/^ [^ ].* \([0-9]+\), [0-9]+ events/ { comm = $1; next }
			comm != "" && $1 ~ /^[a-z_0-9]+$/ && $2 ~ /^[0-9]+$/ && NF >= 8 {
				if ($1 ~ /^(futex|epoll_pwait|epoll_wait|nanosleep|clock_nanosleep|wait4|waitid|recvmsg|sched_yield|poll|ppoll|select|pselect6|rt_sigsuspend)$/) next
				t[comm " " $1] += $4; n[comm " " $1] += $2; tot[comm] += $4
			}
			END { for (k in t) { split(k, a, " "); printf "%s %s %d %.3f %.3f\n", a[1], a[2], n[k], t[k], tot[a[1]] } }
		' "$res/perf-trace.txt" | sort -k1,1 -k4,4gr | awk '
			$1 != last {
				if (last != "") print line
				last = $1; c = 0; line = sprintf("    %-10s %7.2f ms:", $1, $5)
			}
			c++ < 6 { line = line sprintf(" %s %.2f (%d)", $2, $4, $3) }
			END { if (last != "") print line }
		' | sort -k2,2gr
	fi
fi
