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
repo=$(cd "$here/../.." && pwd)

runs=30
warmup=3
rounds=3
profile_runs=10
bench_user=${CTR_TEST_USER:-ctrtest}
base_dir=/var/tmp
keep=0
want_podman=1
want_rss=1
want_bench=1
want_profile=0
ctr_bin=${CTR:-$repo/bin/ctr}
podenv=${PODENV:-$(cd "$repo/.." && pwd)/shared/tools/podenv}
busybox=${BUSYBOX:-/bin/busybox}
tracefs=/sys/kernel/tracing
user_path=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
	exit "${1:-2}"
}

while [[ $# -gt 0 ]]; do
	case $1 in
	-n) runs=$2 && shift 2 ;;
	-w) warmup=$2 && shift 2 ;;
	-R) rounds=$2 && shift 2 ;;
	-p) profile_runs=$2 && shift 2 ;;
	-u) bench_user=$2 && shift 2 ;;
	-d) base_dir=$2 && shift 2 ;;
	-k) keep=1 && shift ;;
	--no-podman) want_podman=0 && shift ;;
	--no-rss) want_rss=0 && shift ;;
	--profile) want_profile=1 && shift ;;
	--profile-only) want_profile=1 want_bench=0 want_rss=0 && shift ;;
	-h | --help) usage 0 ;;
	*)
		echo "run.sh: unknown option $1" >&2
		usage 2
		;;
	esac
done

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	echo "run.sh: $*" >&2
	exit 1
}

for n in "$runs" "$rounds" "$profile_runs"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "counts must be positive numbers, not $n"
done
[[ $warmup =~ ^[0-9]+$ ]] || die "-w wants a number, not $warmup"
((runs >= rounds)) || die "-n must be at least -R"
[[ $(id -u) -eq 0 ]] || die "run as root: the script drops to the user $bench_user for every measured command"
((BASH_VERSINFO[0] >= 5)) || die "bash 5 or later is needed"
id "$bench_user" >/dev/null 2>&1 || die "no user $bench_user (create it with subordinate IDs, or pass -u USER)"
grep -q "^$bench_user:" /etc/subuid || log "warning: $bench_user has no /etc/subuid range: ctr will use a single-ID mapping"
for c in go runuser unshare chroot tar; do
	command -v "$c" >/dev/null || die "$c is needed"
done
[[ -x $ctr_bin ]] || die "no ctr binary at $ctr_bin: run \`make build\` in $repo or set CTR"
if [[ ! -x $busybox ]] || ! "$busybox" --list >/dev/null 2>&1; then
	die "no busybox at $busybox (apt-get install busybox-static)"
fi
if LC_ALL=C ldd "$busybox" 2>&1 | grep -q '=>'; then
	die "$busybox is dynamically linked: a static busybox is needed (busybox-static)"
fi
have_hyperfine=0
command -v hyperfine >/dev/null && have_hyperfine=1
((have_hyperfine)) || log "hyperfine is not installed (apt-get install -y hyperfine): timing with a bash loop"

podman_skip=""
if ((!want_podman)); then
	podman_skip="--no-podman given"
elif ! command -v podman >/dev/null; then
	podman_skip="podman is not installed (apt-get install -y podman to compare)"
fi
use_podenv=0
[[ -z $podman_skip && -x $podenv ]] && use_podenv=1

bench_uid=$(id -u "$bench_user")
bench_gid=$(id -g "$bench_user")

# ---------------------------------------------------------------- work dirs
mkdir -p "$base_dir"
work=$(mktemp -d "$base_dir/ctr-runbench.XXXXXX")
shm=$(mktemp -d /dev/shm/ctr-runbench.XXXXXX)
chmod 755 "$work" "$shm"
trace_inst=""
podman_xdg=""

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $trace_inst && -d $trace_inst ]]; then
		echo 0 >"$trace_inst/tracing_on" 2>/dev/null || true
		echo >"$trace_inst/set_event" 2>/dev/null || true
		rmdir "$trace_inst" 2>/dev/null || true
	fi
	# podman's pause process for this run (its runtime dir is ours alone).
	if [[ -n $podman_xdg && -s $podman_xdg/libpod/tmp/pause.pid ]]; then
		kill -KILL "$(cat "$podman_xdg/libpod/tmp/pause.pid")" 2>/dev/null || true
	fi
	if ((keep)); then
		log "kept $work and $shm"
	else
		rm -rf "$work" "$shm"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $work != *[[:space:]]* ]] || die "the work directory must not contain spaces: $work"

# userdir DIR [MODE]: a directory owned by the benchmark user.
userdir() {
	mkdir -p "$1"
	chown "$bench_uid:$bench_gid" "$1"
	chmod "${2:-755}" "$1"
}

fstype=$(stat -f -c %T "$work")
[[ $fstype != tmpfs ]] || log "warning: $work is on tmpfs: disk-backed stores are what users have; use -d"

mkdir -p "$work/bin"
cp "$ctr_bin" "$work/bin/ctr" # a private copy: a rebuild during the run changes nothing
ctr=$work/bin/ctr
log "building runbench"
(cd "$repo" && go build -o "$work/bin/runbench" ./test/bench/cmd/runbench)
runbench=$work/bin/runbench
# loop.sh OUT RUNS CMD...: the timing fallback without hyperfine; appends
# "WALL_SECONDS" per run to OUT.
cat >"$work/bin/loop.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
out=$1 runs=$2
shift 2
for ((i = 0; i < runs; i++)); do
	t=${EPOCHREALTIME/[.,]/}
	"$@" >/dev/null
	d=$((10#${EPOCHREALTIME/[.,]/} - 10#$t))
	printf '%d.%06d\n' $((d / 1000000)) $((d % 1000000)) >>"$out"
done
EOF
chmod 755 "$work/bin"/*
userdir "$work/results"
res=$work/results

# The busybox rootfs: the static busybox and its applet links. ctr and podman
# import the same tarball; unshare chroots into the directory.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root" "$rootfs/proc" "$rootfs/dev" "$rootfs/sys"
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[[ $applet == busybox || -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -cf "$work/busybox.tar" .
chmod 644 "$work/busybox.tar"

# as_user HOME RUNTIME_DIR CMD...: run CMD as the benchmark user with a clean
# environment.
as_user() {
	local home=$1 run=$2
	shift 2
	runuser -u "$bench_user" -- env -i PATH="$user_path" HOME="$home" XDG_RUNTIME_DIR="$run" \
		USER="$bench_user" LOGNAME="$bench_user" LANG=C.UTF-8 "$@"
}

# ctr's environment: home and graph root on disk, runtime dir and run root on
# tmpfs (a workstation's /run/user/UID is tmpfs; this machine's /run is not).
userdir "$work/ctr"
userdir "$work/ctr/home" 700
userdir "$shm/ctr-xdg" 700
ctr_home=$work/ctr/home ctr_xdg=$shm/ctr-xdg
ctr_store=(--root "$work/ctr/root" --runroot "$shm/ctr-xdg/ctr")
as_ctr() { as_user "$ctr_home" "$ctr_xdg" "$@"; }

# podman's: the same split; its pause process lives in our private runtime dir.
podman_home=$work/podman/home
podman_xdg=$shm/podman-xdg
podman_store=(--root "$work/podman/root" --runroot "$podman_xdg/containers" --storage-driver overlay)
as_podman() {
	if ((use_podenv)); then
		"$podenv" -u "$bench_user" -H "$podman_home" -r "$podman_xdg" -- "$@"
	else
		as_user "$podman_home" "$podman_xdg" "$@"
	fi
}

# ---------------------------------------------------------------- images
log "importing the busybox rootfs into ctr's store"
as_ctr "$ctr" "${ctr_store[@]}" import --change 'CMD ["/bin/sh"]' "$work/busybox.tar" busybox >/dev/null 2>&1
ctr_cmd=("$ctr" "${ctr_store[@]}" run --rm --network none busybox true)
as_ctr "${ctr_cmd[@]}" || die "the first ctr run failed"
log "ctr $(as_ctr "$ctr" version | awk '/^Version/ {print $2}') ($(as_ctr "$ctr" "${ctr_store[@]}" info --format '{{.Store.GraphDriverName}}' 2>/dev/null || echo '?') driver)"

podman_cmd=()
if ((want_bench)) && [[ -z $podman_skip ]]; then
	userdir "$work/podman"
	userdir "$podman_home" 700
	userdir "$podman_xdg" 700
	# podman joins the pause process named in $XDG_RUNTIME_DIR/libpod/tmp:
	# ours is new, so no older one is joined, and another pause process of
	# the same user (which may hold someone's running containers) is left
	# alone. Only pause processes of earlier runs of this script (killed
	# runs leave them) are ended.
	for pid in $(pgrep -u "$bench_user" -x catatonit || true); do
		if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -q '^XDG_RUNTIME_DIR=/dev/shm/ctr-runbench\.'; then
			log "killing a pause process left by an earlier run.sh: $pid"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	log "importing the busybox rootfs into podman's store"
	# The first call starts podman's pause process in podenv's namespace.
	if ! as_podman podman "${podman_store[@]}" import --change 'CMD ["/bin/sh"]' "$work/busybox.tar" busybox \
		>/dev/null 2>"$res/podman-import.err"; then
		cat "$res/podman-import.err" >&2
		die "podman import failed"
	fi
	podman_cmd=(podman "${podman_store[@]}" run --rm --network none busybox true)
	as_podman "${podman_cmd[@]}" || die "the first podman run failed"
	log "podman $(as_podman podman "${podman_store[@]}" info --format '{{.Version.Version}}, {{.Host.OCIRuntime.Name}}, {{.Store.GraphDriverName}} driver, cgroups {{.Host.CgroupManager}}')$( ((use_podenv)) && echo " (via $podenv)")"
fi
unshare_cmd=(unshare -Urmpf --mount-proc chroot "$rootfs" /bin/true)
as_ctr "${unshare_cmd[@]}" || die "the unshare baseline failed"

# ---------------------------------------------------------------- timing
# timed TOOL OUT RUNS WARMUP CMD...: time CMD as the user in TOOL's
# environment; OUT.json gets hyperfine's results (OUT.txt the times without
# hyperfine) and its name is appended to FILES.
FILES=()
timed() {
	local tool=$1 out=$2 n=$3 w=$4
	shift 4
	local env_fn=as_ctr
	[[ $tool == podman ]] && env_fn=as_podman
	if ((have_hyperfine)); then
		if ! "$env_fn" hyperfine -N --style basic -w "$w" -r "$n" --export-json "$out.json" -- "$*" >"$out.log" 2>&1; then
			cat "$out.log" >&2
			log "the failing command once more, with its output:"
			"$env_fn" "$@" || true
			die "$tool: timing failed"
		fi
		FILES+=("$out.json")
	else
		local i
		for ((i = 0; i < w; i++)); do "$env_fn" "$@" >/dev/null; done
		"$env_fn" "$work/bin/loop.sh" "$out.txt" "$n" "$@" || die "$tool: timing failed"
		FILES+=("$out.txt")
	fi
}

# stats FILES...: sets S_RUNS S_MED S_MIN S_MAX S_MEAN S_CPU (seconds).
stats() {
	local out
	out=$("$runbench" stats "$@") || die "no statistics from $*"
	read -r S_RUNS S_MED S_MIN S_MAX S_MEAN S_CPU <<<"$out"
}

ms() { awk -v s="$1" 'BEGIN { if (s == "NaN" || s == "nan") print "-"; else printf "%.1f", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

declare -A files
if ((want_bench)); then
	tools=(ctr)
	[[ -z $podman_skip ]] && tools+=(podman)
	tools+=(unshare)
	per_round=$(((runs + rounds - 1) / rounds))
	for ((r = 0; r < rounds; r++)); do
		n=$per_round
		((r == rounds - 1)) && n=$((runs - per_round * (rounds - 1)))
		((n > 0)) || continue
		for ((k = 0; k < ${#tools[@]}; k++)); do
			tool=${tools[$(((k + r) % ${#tools[@]}))]}
			log "round $((r + 1))/$rounds: $tool, $n runs after $warmup warm-up"
			sync # no run pays for earlier writeback
			FILES=()
			case $tool in
			ctr) timed ctr "$res/run-ctr-$r" "$n" "$warmup" "${ctr_cmd[@]}" ;;
			podman) timed podman "$res/run-podman-$r" "$n" "$warmup" "${podman_cmd[@]}" ;;
			unshare) timed unshare "$res/run-unshare-$r" "$n" "$warmup" "${unshare_cmd[@]}" ;;
			esac
			files[$tool]+="${FILES[*]} "
		done
	done
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
	echo "  $runs timed runs per command in $rounds rounds, $warmup warm-up runs before each round; $( ((have_hyperfine)) && echo "hyperfine $(hyperfine --version | awk '{print $2}') -N" || echo "bash loop")"
	echo
	printf '  %-8s %5s %9s %9s %9s %9s %10s   %s\n' tool runs "median ms" "min ms" "max ms" "mean ms" "cpu ms/run" command
	declare -A med
	for tool in ctr podman unshare; do
		[[ -n ${files[$tool]:-} ]] || continue
		# shellcheck disable=SC2086 # a list of file names without spaces
		stats ${files[$tool]}
		med[$tool]=$S_MED
		case $tool in
		ctr) c="${ctr_cmd[*]}" ;;
		podman) c="${podman_cmd[*]}" ;;
		unshare) c="${unshare_cmd[*]}" ;;
		esac
		printf '  %-8s %5s %9s %9s %9s %9s %10s   %s\n' "$tool" "$S_RUNS" "$(ms "$S_MED")" "$(ms "$S_MIN")" "$(ms "$S_MAX")" \
			"$(ms "$S_MEAN")" "$(ms "$S_CPU")" "${c//$work/WORK}"
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
