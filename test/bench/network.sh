#!/bin/bash
# network.sh — the networking benchmark (issue 5): throughput through a
# published port, `run --rm` with the default network, and the resident memory
# of everything that serves a detached container with one published port.
# ctr (default network: slirp4netns, ports through rootlesskit's builtin driver
# in ctr's monitor; and --network pasta, ports handled by pasta) against podman
# (slirp4netns + rootlessport). Run by hand, as root (it drops to an
# unprivileged user with /etc/subuid and /etc/subgid ranges for every command);
# it prints medians, memory figures and the ratios against the targets.
#
#   sudo test/bench/network.sh [options]
#
#   -s MB       size of the downloaded file in MB of 10^6 bytes (default 200)
#   -q N        small requests per `ab` run (default 2000)
#   -C N        concurrent connections of `ab` (default 8)
#   -r N        timed downloads and `ab` runs per configuration (default 7),
#               the configurations taking turns in a rotating order
#   -n N        timed `run --rm` runs of each command (default 30), split over
#               the rounds
#   -w N        untimed `run --rm` warm-up runs before each round (default 3)
#   -R N        rounds of the `run --rm` timing (default 3)
#   -u USER     the unprivileged user (default $CTR_TEST_USER or ctrtest)
#   -d DIR      where the work directory goes; a disk file system, not tmpfs
#               (default /var/tmp)
#   -k          keep the work directories (stores, raw results)
#   --no-podman leave podman out even when it is installed
#   --no-pasta  leave out ctr --network pasta
#   --no-thp    start the servers with transparent huge pages disabled for the
#               tools' processes (PR_SET_THP_DISABLE, inherited), so the memory
#               figures do not depend on the system's THP setting and on
#               whether huge pages happen to be free
#
# Environment: CTR (the binary, default bin/ctr of this tree: `make build`),
# PODENV (default ../shared/tools/podenv next to the tree; used for podman when
# it exists, plain runuser otherwise), BUSYBOX (a static busybox, default
# /bin/busybox from Debian's busybox-static).
#
# What it measures (see README.md, section "network.sh"):
#  1. Memory: for each configuration alone, a detached
#     `run -d -p 127.0.0.1:PORT:80 -v WWW:/www busybox httpd -f -p 80 -h /www`,
#     idle: Rss, Pss, Private, Anon (smaps_rollup) of every process that serves
#     it and is not the container's own: ctr's monitor + slirp4netns (or +
#     pasta), podman's conmon + slirp4netns + rootlessport (+ its child).
#     Target: ctr's total Rss <= 0.5 x podman's.
#  2. Throughput, the three containers running side by side: one download of
#     a SIZE MB file with curl (MB/s) and `ab -n N -c C` of a 1 KiB file
#     (requests/s), from the host to 127.0.0.1:PORT. Medians of -r runs.
#     Target: ctr >= 1.0 x podman on both. Then the memory again, after the
#     traffic.
#  3. `ctr run --rm busybox true` (the default network) vs `podman run --rm
#     busybox true` (its default network): median wall time, target ctr <=
#     0.25 x podman; `--network pasta` and `--network none` for reference.
# Every store is private to the run (graph roots on disk, run roots on tmpfs).
#
# Needs: bash 5, go, runuser, tar, curl, ss (iproute2), busybox-static,
# uidmap, slirp4netns; ab (apache2-utils); passt (for --network pasta);
# hyperfine (recommended); podman (for the comparison).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

size_mb=200
small_reqs=2000
concurrency=8
reps=7
run_runs=30
want_pasta=1
settle=3 # seconds an idle container is left alone before its memory is read

while [[ $# -gt 0 ]]; do
	case $1 in
	-s) size_mb=$2 && shift 2 ;;
	-q) small_reqs=$2 && shift 2 ;;
	-C) concurrency=$2 && shift 2 ;;
	-r) reps=$2 && shift 2 ;;
	-n) run_runs=$2 && shift 2 ;;
	-w) warmup=$2 && shift 2 ;;
	-R) rounds=$2 && shift 2 ;;
	--no-thp) no_thp=1 && shift ;;
	--no-pasta) want_pasta=0 && shift ;;
	*) common_opt "$@" && shift "$NSHIFT" ;;
	esac
done

check_counts "$size_mb" "$small_reqs" "$concurrency" "$reps" "$run_runs" "$rounds"
check_warmup
((run_runs >= rounds)) || die "-n must be at least -R"
check_user "every command"
require_commands "" go runuser tar pgrep curl ss slirp4netns
command -v ab >/dev/null || die "ab is needed for the small requests (apt-get install -y apache2-utils)"
if ((want_pasta)) && ! command -v pasta >/dev/null; then
	log "pasta is not installed (apt-get install -y passt): ctr --network pasta left out"
	want_pasta=0
fi
check_ctr_bin
check_busybox
detect_hyperfine
detect_podman
warn_other_benchmarks

# ---------------------------------------------------------------- work dirs
make_workdirs ctr-netbench
init_watch

# ppid_of PID: its parent's PID (lib.sh has the other /proc helpers).
ppid_of() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $2}'; }
# ours: processes of the benchmark user started from this run's environments
# (their XDG_RUNTIME_DIR is one of ours), podman's pause process excepted.
ours() {
	local pid
	for pid in $(pgrep -u "$bench_user" || true); do
		[[ $(argv0 "$pid") == catatonit ]] && continue
		if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -q "^XDG_RUNTIME_DIR=$shm/"; then
			echo "$pid $(argv0 "$pid")"
		fi
	done
}

# shellcheck disable=SC2317 # called by the EXIT trap (lib.sh's cleanup)
bench_cleanup() { end_containers still_alive ours; }
install_cleanup
# The busybox rootfs of run.sh, imported by both tools from one tarball.
prepare_ctr_bench

# The web content, bind-mounted by both tools at /www.
www=$work/www
mkdir -p "$www"
log "writing a $size_mb MB file of random bytes"
head -c $((size_mb * 1000000)) /dev/urandom >"$www/big.bin"
head -c 768 /dev/urandom | base64 -w 64 | sed '1i <html><body><pre>' >"$www/small.html"
echo '</pre></body></html>' >>"$www/small.html"
chmod 755 "$www"
chmod 644 "$www"/*
big_bytes=$(stat -c %s "$www/big.bin")
small_bytes=$(stat -c %s "$www/small.html")

# The HTTP clients run as the user too, in an environment of their own.
userdir "$work/client" 700
as_client() { runuser -u "$bench_user" -- env -i PATH="$user_path" HOME="$work/client" LANG=C.UTF-8 "$@"; }

# ---------------------------------------------------------------- images
import_busybox_ctr
log "ctr $ctr_version"

# Configurations: ctr (default network), ctr-pasta, podman (default network).
confs=(ctr)
((want_pasta)) && confs+=(ctr-pasta)
if [[ -z $podman_skip ]]; then
	confs+=(podman)
	setup_podman
	podman_version=$(as_podman podman "${podman_store[@]}" info --format '{{.Version.Version}}, {{.Host.OCIRuntime.Name}}, network {{.Host.Slirp4NetNS.Executable}}')
	log "podman $podman_version$(via_podenv)"
fi

# tool_cmd CONF: sets CMD to the tool's command with its store options, NET
# to the network options of the configuration and TIMEOUT0 to what makes `rm
# -f` kill at once (podman waits for the stop timeout otherwise).
tool_cmd() {
	case $1 in
	ctr*) CMD=("$ctr" "${ctr_store[@]}") TIMEOUT0=() ;;
	podman*) CMD=(podman "${podman_store[@]}") TIMEOUT0=(-t 0) ;;
	esac
	NET=()
	case $1 in
	*-pasta) NET=(--network pasta) ;;
	*-none) NET=(--network none) ;;
	esac
}

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# free_port: a TCP port nobody listens on (each server listens before the
# next one asks).
free_port() {
	local p
	for ((p = 20000 + RANDOM % 20000; p < 65000; p++)); do
		ss -Htln "sport = :$p" | grep -q . && continue
		echo "$p"
		return
	done
	die "no free port"
}

# ---------------------------------------------------------------- servers
declare -A cid port
# start_server CONF: a detached httpd container with one published port.
start_server() {
	local conf=$1 p id i
	p=$(free_port)
	tool_cmd "$conf"
	id=$(in_env "$conf" "${nothp[@]}" "${CMD[@]}" run -d "${NET[@]}" -p "127.0.0.1:$p:80" -v "$www:/www" busybox httpd -f -p 80 -h /www) ||
		die "$conf: run -d failed"
	id=${id##*$'\n'}
	cid[$conf]=$id port[$conf]=$p
	for ((i = 0; i < 100; i++)); do
		curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$p/small.html" && break
		sleep 0.1
	done
	((i < 100)) || die "$conf: no answer on 127.0.0.1:$p after 10 s"
	for pid in $(serving_pids "$conf"); do watch_pid "$pid"; done
}
stop_server() {
	tool_cmd "$1"
	in_env "$1" "${CMD[@]}" rm -f "${TIMEOUT0[@]}" "${cid[$1]}" >/dev/null || die "$1: rm -f failed"
}

# serving_pids CONF: the processes that serve the container of CONF and are
# not the container's own (those share its PID namespace): the monitor (or
# conmon) and its descendants, processes whose command line names the
# container (pasta: its PID file is in the container's directory) or its
# network namespace (podman's slirp4netns), processes inside its network
# namespace (rootlessport-child) and their parents (rootlessport).
serving_pids() {
	local conf=$1 mon init key="" pid p cmd cpidns cnetns
	tool_cmd "$conf"
	read -r mon init <<<"$(in_env "$conf" "${CMD[@]}" inspect --format '{{.State.ConmonPid}} {{.State.Pid}}' "${cid[$conf]}")"
	[[ $mon =~ ^[1-9][0-9]*$ && $init =~ ^[1-9][0-9]*$ ]] || die "$conf: no monitor or container PID from inspect"
	[[ $conf == podman* ]] && key=$(in_env "$conf" "${CMD[@]}" inspect --format '{{.NetworkSettings.SandboxKey}}' "${cid[$conf]}")
	cpidns=$(readlink "/proc/$init/ns/pid") cnetns=$(readlink "/proc/$init/ns/net")
	local -A set=()
	for pid in $(pgrep -u "$bench_user"); do
		[[ $(readlink "/proc/$pid/ns/pid" 2>/dev/null) == "$cpidns" ]] && continue
		p=$pid
		while [[ -n $p && $p -gt 1 ]]; do
			[[ $p == "$mon" ]] && set[$pid]=1 && break
			p=$(ppid_of "$p")
		done
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
		[[ $cmd == *"${cid[$conf]}"* || (-n $key && $cmd == *"$key"*) ]] && set[$pid]=1
		if [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$cnetns" ]]; then
			set[$pid]=1
			p=$(ppid_of "$pid")
			[[ -n $p && $p -gt 1 ]] && set[$p]=1
		fi
	done
	echo "${!set[@]}"
}

# memory CONF OUT: per-process "NAME PID RSS PSS PRIVATE ANON ANONHUGE"
# lines (KiB, smaps_rollup: PRIVATE = Private_Clean + Private_Dirty, ANON =
# Anonymous, ANONHUGE = AnonHugePages) into OUT, and the totals as the last
# line ("total - RSS PSS PRIVATE ANON ANONHUGE").
memory() {
	local conf=$1 out=$2 pid pids r p v a h tr=0 tp=0 tv=0 ta=0 th=0
	: >"$out"
	pids=$(serving_pids "$conf")
	[[ -n $pids ]] || die "$conf: no process serves the container?"
	for pid in $pids; do
		read -r r p v a h <<<"$(smaps "$pid")"
		[[ -n $h ]] || die "$conf: no smaps_rollup for $pid"
		echo "$(argv0 "$pid") $pid $r $p $v $a $h" >>"$out"
		tr=$((tr + r)) tp=$((tp + p)) tv=$((tv + v)) ta=$((ta + a)) th=$((th + h))
	done
	sort -o "$out" "$out"
	echo "total - $tr $tp $tv $ta $th" >>"$out"
}
mem_total() { awk '$1 == "total" {print $3, $4, $5, $6, $7}' "$1"; }

# download CONF: MB/s (10^6 bytes) of one download of big.bin.
download() {
	local out code size t
	out=$(as_client curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
		"http://127.0.0.1:${port[$1]}/big.bin") || die "$1: download failed"
	read -r code size t <<<"$out"
	[[ $code == 200 && $size == "$big_bytes" ]] || die "$1: download got HTTP $code, $size of $big_bytes bytes"
	awk -v s="$size" -v t="$t" 'BEGIN { printf "%.1f", s / t / 1e6 }'
}
# small CONF N: requests/s of `ab -n N -c C` on small.html.
small() {
	local out rps failed non2xx complete
	out=$(as_client ab -q -n "$2" -c "$concurrency" "http://127.0.0.1:${port[$1]}/small.html" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "$1: ab failed"
	}
	rps=$(awk '/^Requests per second:/ {print $4}' <<<"$out")
	complete=$(awk '/^Complete requests:/ {print $3}' <<<"$out")
	failed=$(awk '/^Failed requests:/ {print $3}' <<<"$out")
	non2xx=$(awk '/^Non-2xx responses:/ {print $3}' <<<"$out")
	[[ $complete == "$2" && $failed == 0 && -z $non2xx && -n $rps ]] || {
		printf '%s\n' "$out" >&2
		die "$1: ab: $complete complete, $failed failed, ${non2xx:-0} non-2xx"
	}
	printf '%s\n' "$out" >>"$res/ab-$1.txt"
	echo "$rps"
}

# ---------------------------------------------------------------- 1. memory, idle
declare -A leaked
for conf in "${confs[@]}"; do
	log "$conf: idle memory of a detached httpd with one published port"
	start_server "$conf"
	sleep "$settle"
	memory "$conf" "$res/mem-idle-$conf.txt"
	stop_server "$conf"
	sleep 2
	leaked[$conf]=$(still_alive)
	: >"$watched"
done

# ---------------------------------------------------------------- 2. throughput
for conf in "${confs[@]}"; do
	start_server "$conf"
	log "$conf: listening on 127.0.0.1:${port[$conf]}; warm-up: one download, ab -n 200"
	download "$conf" >/dev/null
	small "$conf" 200 >/dev/null
done
declare -A dl rps
for ((r = 0; r < reps; r++)); do
	for ((k = 0; k < ${#confs[@]}; k++)); do
		conf=${confs[$(((k + r) % ${#confs[@]}))]}
		d=$(download "$conf")
		q=$(small "$conf" "$small_reqs")
		log "round $((r + 1))/$reps: $conf: $d MB/s, $q requests/s"
		dl[$conf]+="$d " rps[$conf]+="$q "
	done
done
sleep "$settle"
for conf in "${confs[@]}"; do
	memory "$conf" "$res/mem-busy-$conf.txt"
done
for conf in "${confs[@]}"; do stop_server "$conf"; done
sleep 2
leaked[servers]=$(still_alive)
: >"$watched"

# ---------------------------------------------------------------- 3. run --rm
# The commands take turns in rounds (lib.sh's bench_rounds).
run_confs=(ctr)
[[ -z $podman_skip ]] && run_confs+=(podman)
((want_pasta)) && run_confs+=(ctr-pasta)
run_confs+=(ctr-none)
for conf in "${run_confs[@]}"; do
	tool_cmd "$conf"
	bench_cmd[run-$conf]="${CMD[*]} run --rm ${NET[*]:+${NET[*]} }busybox true"
	# shellcheck disable=SC2086 # a command line without spaces in its words
	in_env "$conf" ${bench_cmd[run-$conf]} || die "the first $conf run --rm failed"
done
before_run=$(ours)
bench_rounds run "run --rm" "$run_runs" "${run_confs[@]}"
sleep 2
after_run=$(ours)
# Processes of ours that appeared during the run --rm loop and outlived it.
leaked[run]=$(comm -13 <(sort <<<"$before_run") <(sort <<<"$after_run") | sed '/^$/d')

# ---------------------------------------------------------------- report
label() {
	case $1 in
	ctr) echo "ctr (slirp4netns, port in the monitor)" ;;
	ctr-pasta) echo "ctr --network pasta" ;;
	ctr-none) echo "ctr --network none" ;;
	podman) echo "podman (slirp4netns + rootlessport)" ;;
	esac
}
echo
report_header network
echo
echo "1. memory of the processes serving one idle detached httpd container with one -p (KiB, smaps_rollup)"
thp_note
printf '  %-38s %-18s %8s %8s %8s %8s %8s\n' configuration process Rss Pss Private Anon AnonHuge
for conf in "${confs[@]}"; do
	first=1
	while read -r name pid r p v a h; do
		[[ $name == total ]] && continue
		if ((first)); then c=$(label "$conf"); else c=""; fi
		first=0
		printf '  %-38s %-18s %8s %8s %8s %8s %8s\n' "$c" "$name" "$r" "$p" "$v" "$a" "$h"
	done <"$res/mem-idle-$conf.txt"
	read -r r p v a h <<<"$(mem_total "$res/mem-idle-$conf.txt")"
	printf '  %-38s %-18s %8s %8s %8s %8s %8s   (%s MiB Rss)\n' "" "= total" "$r" "$p" "$v" "$a" "$h" "$(mb "$r")"
done
if [[ -z $podman_skip ]]; then
	read -r pr pp _ <<<"$(mem_total "$res/mem-idle-podman.txt")"
	for conf in "${confs[@]}"; do
		[[ $conf == podman ]] && continue
		read -r cr cp _ <<<"$(mem_total "$res/mem-idle-$conf.txt")"
		x=$(ratio "$cr" "$pr")
		echo "  $conf/podman: Rss $x (target <= 0.5: $(verdict "$x" 0.5)), Pss $(ratio "$cp" "$pp")"
	done
	pause=$(cat "$podman_xdg/libpod/tmp/pause.pid" 2>/dev/null || true)
	if [[ -n $pause && -r /proc/$pause/smaps_rollup ]]; then
		echo "  (not counted: podman's pause process, one per user: $(awk '/^Rss:/ {r = $2} /^Pss:/ {p = $2} END {print "Rss " r ", Pss " p " KiB"}' "/proc/$pause/smaps_rollup"))"
	fi
fi
echo "  after the traffic below (the containers side by side, so ctr's two monitors share the binary's pages):"
for conf in "${confs[@]}"; do
	read -r r p v a h <<<"$(mem_total "$res/mem-busy-$conf.txt")"
	printf '  %-38s %-18s %8s %8s %8s %8s %8s   (Rss: %s)\n' "$(label "$conf")" "total" "$r" "$p" "$v" "$a" "$h" \
		"$(awk '$1 != "total" {printf "%s%s %s", sep, $1, $3; sep = ", "}' "$res/mem-busy-$conf.txt")"
done
echo
echo "2. throughput through 127.0.0.1:PORT -> container port 80 (busybox httpd), medians of $reps"
echo "   download: curl, one $size_mb MB file; small: ab -n $small_reqs -c $concurrency, $small_bytes-byte file"
printf '  %-40s %10s %12s   %s\n' configuration "MB/s" "requests/s" "all runs (MB/s; requests/s)"
declare -A dlm rpsm
for conf in "${confs[@]}"; do
	# shellcheck disable=SC2086 # lists of numbers
	dlm[$conf]=$(median ${dl[$conf]}) rpsm[$conf]=$(median ${rps[$conf]})
	printf '  %-40s %10s %12s   %s; %s\n' "$(label "$conf")" "${dlm[$conf]}" "${rpsm[$conf]}" "${dl[$conf]% }" "${rps[$conf]% }"
done
if [[ -z $podman_skip ]]; then
	for conf in "${confs[@]}"; do
		[[ $conf == podman ]] && continue
		x=$(ratio "${dlm[$conf]}" "${dlm[podman]}") y=$(ratio "${rpsm[$conf]}" "${rpsm[podman]}")
		echo "  $conf/podman: download $x (target >= 1.0: $(verdict "$x" 1.0 ge)), small requests $y (target >= 1.0: $(verdict "$y" 1.0 ge))"
	done
fi
echo
echo "3. run --rm busybox true; $(timer_desc), $rounds rounds, the commands rotating, $warmup warm-up runs before each round"
timing_header 10 ""
declare -A run_med
for conf in "${run_confs[@]}"; do
	# shellcheck disable=SC2086 # a list of file names without spaces
	stats ${files[run-$conf]}
	run_med[$conf]=$S_MED
	c=${bench_cmd[run-$conf]}
	c=${c//$work/WORK} c=${c//$shm/SHM}
	timing_row 10 "$conf" "$c"
done
if [[ -n ${run_med[podman]:-} ]]; then
	x=$(ratio "${run_med[ctr]}" "${run_med[podman]}")
	echo "  ctr/podman (default networks) = $x   (target <= 0.25: $(verdict "$x" 0.25))"
	for conf in ctr-pasta ctr-none; do
		[[ -n ${run_med[$conf]:-} ]] && echo "  $conf/podman = $(ratio "${run_med[$conf]}" "${run_med[podman]}")"
	done
fi
echo "  (WORK = $work, SHM = $shm; cpu = user + system time of the command and the descendants it waited for)"
echo
any=0
for k in "${confs[@]}" servers run; do
	[[ -n ${leaked[$k]:-} ]] || continue
	any=1
	case $k in
	servers) what="the throughput containers" ;;
	run) what="the run --rm loop" ;;
	*) what="the idle $k container" ;;
	esac
	echo "  LEAK after $what: still alive 2 s later (killed at exit):"
	print_procs <<<"${leaked[$k]}"
done
((any)) || echo "  no leaked process: every monitor, network helper and container process ended with its container"
