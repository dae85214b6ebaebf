# shellcheck shell=bash
# lib.sh — the code the benchmarks pull.sh, run.sh, lifecycle.sh and
# network.sh share. Not run by itself: each script sources it right after
# `set -euo pipefail`:
#
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   . "$here/lib.sh"
#
# Sourcing sets repo, prog (the script's name, for messages) and the shared
# defaults (bench_user, base_dir, keep, want_podman, warmup, rounds, no_thp,
# ctr_bin, podenv, busybox, user_path), which the script's options may change.
# Then, roughly in the order a script uses them:
#
#   options, checks  usage, common_opt (-u -d -k --no-podman -h), log, die,
#                    check_counts, check_warmup, check_user, require_commands,
#                    check_ctr_bin, check_busybox, detect_hyperfine,
#                    detect_podman, via_podenv, warn_other_benchmarks
#   work dirs        make_workdirs, install_cleanup (the EXIT trap: the
#                    script's bench_cleanup, podman's pause process, the
#                    directories), check_work_path, check_fstype, userdir,
#                    copy_ctr, build_helper, setup_bin (ctr, runbench, nothp,
#                    loop.sh, $res), make_busybox_tar, prepare_ctr_bench
#   environments     as_user, setup_ctr_env + as_ctr, as_podman, in_env,
#                    import_busybox_ctr, ctr_driver, setup_podman
#   processes        init_watch, watch_pid, still_alive, starttime, argv0,
#                    remove_all, end_containers, print_procs
#   timing, figures  timed, bench_rounds, stats, ms, ratio, verdict, mb, smaps,
#                    timer_desc, timing_header, timing_row, report_header,
#                    thp_note
#
# pull.sh uses only the option, check, work-dir and environment helpers (it
# times with timeit.sh and has its own stores).
# The variables below are read by the scripts that source this file:
# shellcheck disable=SC2034

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
script=${BASH_SOURCE[-1]} # the benchmark that sourced this file
prog=${script##*/}

bench_user=${CTR_TEST_USER:-ctrtest}
base_dir=/var/tmp
keep=0
want_podman=1
warmup=3
rounds=3
no_thp=0
ctr_bin=${CTR:-$repo/bin/ctr}
podenv=${PODENV:-$(cd "$repo/.." && pwd)/shared/tools/podenv}
busybox=${BUSYBOX:-/bin/busybox}
user_path=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

# Set by the functions below; empty until then (the EXIT trap tests them).
work="" shm="" ctr="" ctr_home="" ctr_xdg="" podman_home="" podman_xdg="" watched=""
ctr_store=() podman_store=()
keep_dirs=() # removed at exit unless -k
temp_dirs=() # removed at exit in any case

# ---------------------------------------------------------------- options, checks
# usage [STATUS]: the script's header comment, then exit.
usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$script"
	exit "${1:-2}"
}

# common_opt ARGS...: the options every script takes (-u, -d, -k,
# --no-podman, -h); sets NSHIFT to the number of arguments used. Anything
# else is a usage error.
common_opt() {
	case $1 in
	-u) bench_user=$2 NSHIFT=2 ;;
	-d) base_dir=$2 NSHIFT=2 ;;
	-k) keep=1 NSHIFT=1 ;;
	--no-podman) want_podman=0 NSHIFT=1 ;;
	-h | --help) usage 0 ;;
	*)
		echo "$prog: unknown option $1" >&2
		usage 2
		;;
	esac
}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	echo "$prog: $*" >&2
	exit 1
}

# check_counts N...: each N must be a positive number.
check_counts() {
	local n
	for n in "$@"; do
		[[ $n =~ ^[1-9][0-9]*$ ]] || die "counts must be positive numbers, not $n"
	done
}
check_warmup() {
	[[ $warmup =~ ^[0-9]+$ ]] || die "-w wants a number, not $warmup"
}

# check_user WHAT: root, bash 5 and the benchmark user ("the script drops to
# the user U for WHAT"); sets bench_uid and bench_gid.
check_user() {
	[[ $(id -u) -eq 0 ]] || die "run as root: the script drops to the user $bench_user for $1"
	((BASH_VERSINFO[0] >= 5)) || die "bash 5 or later is needed"
	id "$bench_user" >/dev/null 2>&1 || die "no user $bench_user (create it with subordinate IDs, or pass -u USER)"
	grep -q "^$bench_user:" /etc/subuid || log "warning: $bench_user has no /etc/subuid range: ctr will use a single-ID mapping"
	bench_uid=$(id -u "$bench_user")
	bench_gid=$(id -g "$bench_user")
}

# require_commands HINT CMD...: each CMD must be installed; HINT, if not
# empty, goes into the error message.
require_commands() {
	local hint=$1 c
	shift
	for c in "$@"; do
		command -v "$c" >/dev/null || die "$c is needed${hint:+ ($hint)}"
	done
}

check_ctr_bin() {
	[[ -x $ctr_bin ]] || die "no ctr binary at $ctr_bin: run \`make build\` in $repo or set CTR"
}

# check_busybox: $busybox must be a static busybox.
check_busybox() {
	if [[ ! -x $busybox ]] || ! "$busybox" --list >/dev/null 2>&1; then
		die "no busybox at $busybox (apt-get install busybox-static)"
	fi
	if LC_ALL=C ldd "$busybox" 2>&1 | grep -q '=>'; then
		die "$busybox is dynamically linked: a static busybox is needed (busybox-static)"
	fi
}

# detect_hyperfine: sets have_hyperfine (else timed uses loop.sh).
detect_hyperfine() {
	have_hyperfine=0
	if command -v hyperfine >/dev/null; then
		have_hyperfine=1
	else
		log "hyperfine is not installed (apt-get install -y hyperfine): timing with a bash loop"
	fi
}

# detect_podman: sets podman_skip (why podman is left out, empty if it is
# not) and use_podenv (1: podman runs through $podenv, else plain runuser).
detect_podman() {
	podman_skip=""
	if ((!want_podman)); then
		podman_skip="--no-podman given"
	elif ! command -v podman >/dev/null; then
		podman_skip="podman is not installed (apt-get install -y podman to compare)"
	fi
	use_podenv=0
	if [[ -z $podman_skip && -x $podenv ]]; then
		use_podenv=1
	fi
}
# via_podenv: " (via PODENV)" when podman runs through podenv.
via_podenv() {
	if ((use_podenv)); then echo " (via $podenv)"; fi
}

# warn_other_benchmarks: a warning when another of the benchmarks is running.
warn_other_benchmarks() {
	local others=() b re
	for b in pull run lifecycle network; do
		[[ $b.sh == "$prog" ]] || others+=("$b")
	done
	re="test/bench/($(
		IFS='|'
		echo "${others[*]}"
	))\.sh"
	if pgrep -f "$re" >/dev/null; then
		log "warning: another benchmark is running ($(pgrep -af "$re" | head -1)): figures may be noisy"
	fi
}

# ---------------------------------------------------------------- work dirs
# make_workdirs NAME [no-shm]: the work directory $work, NAME.XXXXXX under
# $base_dir (disk: graph roots, results), and unless no-shm $shm, NAME.XXXXXX
# under /dev/shm (tmpfs: run roots, runtime dirs). Both are kept with -k.
make_workdirs() {
	bench_name=$1
	mkdir -p "$base_dir"
	work=$(mktemp -d "$base_dir/$1.XXXXXX")
	keep_dirs=("$work")
	if [[ ${2:-} != no-shm ]]; then
		shm=$(mktemp -d "/dev/shm/$1.XXXXXX")
		keep_dirs+=("$shm")
	fi
	chmod 755 "${keep_dirs[@]}"
}

# cleanup, the EXIT trap: the script's bench_cleanup (when it defines one),
# then podman's pause process of this run (its runtime dir is ours alone),
# then the directories.
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local rc=$? kept d
	trap - EXIT INT TERM
	if declare -F bench_cleanup >/dev/null; then
		bench_cleanup
	fi
	if [[ -n $podman_xdg && -s $podman_xdg/libpod/tmp/pause.pid ]]; then
		kill -KILL "$(cat "$podman_xdg/libpod/tmp/pause.pid")" 2>/dev/null || true
	fi
	if ((keep)); then
		kept=${keep_dirs[0]}
		for d in "${keep_dirs[@]:1}"; do kept+=" and $d"; done
		log "kept $kept"
	else
		rm -rf "${keep_dirs[@]}"
	fi
	rm -rf "${temp_dirs[@]}"
	exit "$rc"
}
install_cleanup() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

check_work_path() {
	[[ $work != *[[:space:]]* ]] || die "the work directory must not contain spaces: $work"
}

# check_fstype: sets fstype, the file system of $work.
check_fstype() {
	fstype=$(stat -f -c %T "$work")
	[[ $fstype != tmpfs ]] || log "warning: $work is on tmpfs: disk-backed stores are what users have; use -d"
}

# userdir DIR [MODE]: a directory owned by the benchmark user.
userdir() {
	mkdir -p "$1"
	chown "$bench_uid:$bench_gid" "$1"
	chmod "${2:-755}" "$1"
}

# copy_ctr: $work/bin/ctr and ctr-monitor, private copies: a rebuild during
# the run changes nothing. ctr-monitor must sit next to ctr, or ctr serves
# as its own monitor (and init) at several times the memory.
copy_ctr() {
	mkdir -p "$work/bin"
	cp "$ctr_bin" "$work/bin/ctr"
	local monitor
	monitor=$(dirname "$ctr_bin")/ctr-monitor
	[[ -x $monitor ]] || die "$monitor not found: build both binaries (make build)"
	cp "$monitor" "$work/bin/ctr-monitor"
}

# build_helper NAME: go build of test/bench/cmd/NAME into $work/bin.
build_helper() {
	(cd "$repo" && go build -o "$work/bin/$1" "./test/bench/cmd/$1")
}

# setup_bin: $work/bin with copy_ctr, runbench (statistics, ru_maxrss,
# traces; sets runbench), with --no-thp nothp (sets the array nothp to the
# prefix that starts a command without transparent huge pages, see
# cmd/nothp; empty without --no-thp) and loop.sh; the results directory $res.
setup_bin() {
	copy_ctr
	log "building runbench"
	build_helper runbench
	runbench=$work/bin/runbench
	nothp=()
	if ((no_thp)); then
		build_helper nothp
		nothp=("$work/bin/nothp")
	fi
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
}

# prepare_ctr_bench: what run.sh, lifecycle.sh and network.sh set up once the
# EXIT trap is in place: check_work_path, check_fstype, setup_bin,
# make_busybox_tar and setup_ctr_env.
prepare_ctr_bench() {
	check_work_path
	check_fstype
	setup_bin
	make_busybox_tar
	setup_ctr_env
}

# make_busybox_tar: the busybox image offline: $rootfs, a directory with the
# static busybox, its applet links, /etc/passwd and /etc/group, and
# $work/busybox.tar of it, which ctr and podman import (both with CMD
# /bin/sh, as busybox); run.sh's unshare baseline chroots into $rootfs.
make_busybox_tar() {
	local applet
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
}

# ---------------------------------------------------------------- environments
# as_user HOME RUNTIME_DIR CMD...: run CMD as the benchmark user with a clean
# environment.
as_user() {
	local home=$1 run=$2
	shift 2
	runuser -u "$bench_user" -- env -i PATH="$user_path" HOME="$home" XDG_RUNTIME_DIR="$run" \
		USER="$bench_user" LOGNAME="$bench_user" LANG=C.UTF-8 "$@"
}

# setup_ctr_env: ctr's environment: home and graph root on disk, runtime dir
# and run root on tmpfs (a workstation's /run/user/UID is tmpfs; this
# machine's /run is not). Sets ctr, ctr_home, ctr_xdg and ctr_store (the
# global options for the store); as_ctr CMD... runs CMD in it.
setup_ctr_env() {
	userdir "$work/ctr"
	userdir "$work/ctr/home" 700
	userdir "$shm/ctr-xdg" 700
	ctr_home=$work/ctr/home ctr_xdg=$shm/ctr-xdg
	ctr=$work/bin/ctr
	ctr_store=(--root "$work/ctr/root" --runroot "$shm/ctr-xdg/ctr")
}
as_ctr() { as_user "$ctr_home" "$ctr_xdg" "$@"; }

# as_podman CMD...: run CMD as the benchmark user the way podman needs it
# here (through podenv when it exists), with podman_home and podman_xdg.
as_podman() {
	if ((use_podenv)); then
		"$podenv" -u "$bench_user" -H "$podman_home" -r "$podman_xdg" -- "$@"
	else
		as_user "$podman_home" "$podman_xdg" "$@"
	fi
}

# in_env TOOL CMD...: run CMD as the user in TOOL's environment: podman's for
# podman*, ctr's for anything else.
in_env() {
	local tool=$1
	shift
	case $tool in
	podman*) as_podman "$@" ;;
	*) as_ctr "$@" ;;
	esac
}

# import_busybox_ctr: imports $work/busybox.tar into ctr's store as busybox
# (CMD /bin/sh); sets ctr_version.
import_busybox_ctr() {
	log "importing the busybox rootfs into ctr's store"
	as_ctr "$ctr" "${ctr_store[@]}" import --change 'CMD ["/bin/sh"]' "$work/busybox.tar" busybox >/dev/null 2>&1 ||
		die "ctr import failed"
	ctr_version=$(as_ctr "$ctr" version | awk '/^Version/ {print $2}')
}
# ctr_driver: the storage driver of ctr's store.
ctr_driver() {
	as_ctr "$ctr" "${ctr_store[@]}" info --format '{{.Store.GraphDriverName}}' 2>/dev/null || echo '?'
}

# setup_podman: podman's environment, split like ctr's: podman_home on disk,
# podman_xdg (its runtime dir, where its pause process is named) on tmpfs,
# podman_store with native overlay like ctr (a fresh rootless podman 4.3 store
# would pick vfs); then imports $work/busybox.tar as busybox.
setup_podman() {
	local pid
	podman_home=$work/podman/home
	podman_xdg=$shm/podman-xdg
	userdir "$work/podman"
	userdir "$podman_home" 700
	userdir "$podman_xdg" 700
	podman_store=(--root "$work/podman/root" --runroot "$podman_xdg/containers" --storage-driver overlay)
	# podman joins the pause process named in $XDG_RUNTIME_DIR/libpod/tmp:
	# ours is new, so no older one is joined, and another pause process of
	# the same user (which may hold someone's running containers) is left
	# alone. Only pause processes of earlier runs of this script (killed
	# runs leave them) are ended.
	for pid in $(pgrep -u "$bench_user" -x catatonit || true); do
		if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -q "^XDG_RUNTIME_DIR=/dev/shm/$bench_name\\."; then
			log "killing a pause process left by an earlier $prog: $pid"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	log "importing the busybox rootfs into podman's store"
	# The first call starts podman's pause process (in podenv's namespace).
	if ! as_podman podman "${podman_store[@]}" import --change 'CMD ["/bin/sh"]' "$work/busybox.tar" busybox \
		>/dev/null 2>"$res/podman-import.err"; then
		cat "$res/podman-import.err" >&2
		die "podman import failed"
	fi
}

# ---------------------------------------------------------------- processes
# Every process the benchmark starts that should end with its container:
# "PID STARTTIME NAME" lines in $watched, checked after the containers are
# removed. init_watch starts the list.
init_watch() {
	watched=$shm/watched
	: >"$watched"
}
# starttime PID: the process's start time in clock ticks (field 22 of
# /proc/PID/stat), to tell a process from a later one with the same PID.
starttime() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
argv0() { tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | head -1 | sed 's,.*/,,'; }
watch_pid() { echo "$1 $(starttime "$1") $(argv0 "$1")" >>"$watched"; }
# still_alive: "PID NAME" of the watched processes that still exist (zombies
# excepted: PID 1 reaps them).
still_alive() {
	local pid st name state
	while read -r pid st name; do
		[[ -n $st && $(starttime "$pid") == "$st" ]] || continue
		state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $1}')
		[[ $state == Z || -z $state ]] && continue
		echo "$pid $name"
	done <"$watched"
}

# remove_all: remove every container of both stores (used at the end and by
# the EXIT trap).
remove_all() {
	local ids
	if [[ -n $ctr && -x $ctr ]]; then
		ids=$(as_ctr "$ctr" "${ctr_store[@]}" ps -a -q --no-trunc 2>/dev/null || true)
		# shellcheck disable=SC2086 # IDs, no spaces
		[[ -z $ids ]] || as_ctr "$ctr" "${ctr_store[@]}" rm -f $ids >/dev/null 2>&1 || log "ctr rm -f failed"
	fi
	if [[ ${#podman_store[@]} -gt 0 && -n $podman_xdg && -d $podman_xdg/libpod ]]; then
		as_podman podman "${podman_store[@]}" rm -f -t 0 -a >/dev/null 2>&1 || log "podman rm -f -a failed"
	fi
}

# end_containers LISTER...: the EXIT trap's part in scripts that start
# containers: remove_all, then a second later kill by PID anything of ours
# that is left (a bug, or an interrupted run): the processes the LISTER
# functions print ("PID NAME" lines; still_alive, for one).
end_containers() {
	local pid lister
	remove_all
	sleep 1
	for pid in $(for lister in "$@"; do "$lister"; done | awk '{print $1}'); do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# print_procs: "PID NAME" lines on stdin, printed with their command lines.
print_procs() {
	local pid name
	while read -r pid name; do
		if [[ -n $pid ]]; then
			echo "    $pid $name: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-120)"
		fi
	done
}

# ---------------------------------------------------------------- timing, figures
# timed TOOL OUT RUNS WARMUP CMD...: time CMD as the user in TOOL's
# environment (in_env): hyperfine -N when installed (OUT.json), else loop.sh
# (OUT.txt); the file's name is appended to FILES.
FILES=()
timed() {
	local tool=$1 out=$2 n=$3 w=$4
	shift 4
	if ((have_hyperfine)); then
		if ! in_env "$tool" hyperfine -N --style basic -w "$w" -r "$n" --export-json "$out.json" -- "$*" >"$out.log" 2>&1; then
			cat "$out.log" >&2
			log "the failing command once more, with its output:"
			in_env "$tool" "$@" || true
			die "$tool: timing failed"
		fi
		FILES+=("$out.json")
	else
		local i
		for ((i = 0; i < w; i++)); do in_env "$tool" "$@" >/dev/null; done
		in_env "$tool" "$work/bin/loop.sh" "$out.txt" "$n" "$@" || die "$tool: timing failed"
		FILES+=("$out.txt")
	fi
}

# bench_rounds NAME LABEL TOTAL TOOL...: time ${bench_cmd[NAME-TOOL]} (a
# command line whose words have no spaces) for every TOOL: TOTAL runs split
# over $rounds rounds; in each round the tools take turns, the first one
# rotating, each after $warmup untimed runs (and a `sync` when sync_rounds is
# 1). Results in $res/NAME-TOOL-ROUND.*, their names appended to
# files[NAME-TOOL]; LABEL (if not empty) starts the progress lines.
declare -A bench_cmd files
sync_rounds=0
bench_rounds() {
	local name=$1 label=$2 total=$3 per n r k tool
	shift 3
	local order=("$@")
	per=$(((total + rounds - 1) / rounds))
	for ((r = 0; r < rounds; r++)); do
		n=$per
		((r == rounds - 1)) && n=$((total - per * (rounds - 1)))
		((n > 0)) || continue
		for ((k = 0; k < ${#order[@]}; k++)); do
			tool=${order[$(((k + r) % ${#order[@]}))]}
			log "${label:+$label, }round $((r + 1))/$rounds: $tool, $n runs after $warmup warm-up"
			if ((sync_rounds)); then
				sync # no run pays for earlier writeback
			fi
			FILES=()
			# shellcheck disable=SC2086 # a command line without spaces in its words
			timed "$tool" "$res/$name-$tool-$r" "$n" "$warmup" ${bench_cmd[$name-$tool]}
			files[$name-$tool]+="${FILES[*]} "
		done
	done
}

# stats FILES...: sets S_RUNS S_MED S_MIN S_MAX S_MEAN S_CPU (seconds).
stats() {
	local out
	out=$("$runbench" stats "$@") || die "no statistics from $*"
	read -r S_RUNS S_MED S_MIN S_MAX S_MEAN S_CPU <<<"$out"
}

# ms SECONDS: milliseconds, one decimal ("-" for NaN).
ms() { awk -v s="$1" 'BEGIN { if (s == "NaN" || s == "nan") print "-"; else printf "%.1f", s * 1000 }'; }
# ratio A B: A/B with three decimals, "-" when there is none.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "" || b == "") print "-"; else printf "%.3f", a / b }'; }
# verdict RATIO TARGET [le|ge]: met or MISSED (RATIO <= TARGET, or >= with ge).
verdict() { awk -v r="$1" -v t="$2" -v op="${3:-le}" 'BEGIN { if (r == "-") print "-"; else if (op == "le") print (r <= t) ? "met" : "MISSED"; else print (r >= t) ? "met" : "MISSED" }'; }
# mb KIB: MiB, two decimals.
mb() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

# smaps PID: "RSS PSS PRIVATE ANON ANONHUGE" in KiB from
# /proc/PID/smaps_rollup (PRIVATE = Private_Clean + Private_Dirty; ANON =
# Anonymous, the rest of RSS is file-backed; ANONHUGE = AnonHugePages, the
# part of ANON in transparent huge pages). Fails when there is none.
smaps() {
	awk '/^Rss:/ {r = $2} /^Pss:/ {p = $2} /^Private_(Clean|Dirty):/ {v += $2} /^Anonymous:/ {a = $2}
		/^AnonHugePages:/ {h = $2} END { if (r == "") exit 1; print r, p, v, a + 0, h + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null
}

# timer_desc: what times the runs: "hyperfine VERSION -N" or "bash loop".
timer_desc() {
	if ((have_hyperfine)); then
		echo "hyperfine $(hyperfine --version | awk '{print $2}') -N"
	else
		echo "bash loop"
	fi
}

# timing_header WIDTH FIRST, timing_row WIDTH NAME COMMAND: a table of
# timings (the first column WIDTH wide); a row shows the figures of the last
# stats.
timing_header() {
	printf '  %-*s %5s %9s %9s %9s %9s %10s   %s\n' "$1" "$2" runs "median ms" "min ms" "max ms" "mean ms" "cpu ms/run" command
}
timing_row() {
	printf '  %-*s %5s %9s %9s %9s %9s %10s   %s\n' "$1" "$2" "$S_RUNS" "$(ms "$S_MED")" "$(ms "$S_MIN")" "$(ms "$S_MAX")" \
		"$(ms "$S_MEAN")" "$(ms "$S_CPU")" "$3"
}

# report_header NAME: the first lines of the report of lifecycle.sh and
# network.sh (machine, versions, stores).
report_header() {
	echo "$1 benchmark: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg), user $bench_user"
	echo "  ctr $ctr_version; ${podman_version:+podman $podman_version; }graph roots on $fstype ($base_dir), run roots on tmpfs"
}

# thp_note: the legend of the memory columns, with the system's THP setting.
thp_note() {
	echo "  (Anon: anonymous memory, the rest of Rss is file-backed; AnonHuge: the part of Anon in transparent huge"
	echo "  pages, THP $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?') here$( ((no_thp)) && echo ", but disabled for the tools' processes: --no-thp"))"
}
