#!/bin/bash
# pull.sh — the "foundation" benchmark: pull and image listing, ctr against
# podman and against the `curl | tar xz` lower bound. Run by hand, as root (it
# drops to an unprivileged user with /etc/subuid and /etc/subgid ranges for
# every measured command); it prints a table of medians and the ratios.
#
#   sudo test/bench/pull.sh [options]
#
#   -r N        repetitions of each pull, after one untimed warm-up (default 5)
#   -i N        timed runs of each `images` (default 20)
#   -n N        small images for the `images` benchmark (default 200)
#   -u USER     the unprivileged user (default $CTR_TEST_USER or ctrtest)
#   -d DIR      where the work directory (stores, registry) goes: a disk file
#               system, not tmpfs (default /var/tmp); about 0.8 GB per
#               repetition. podman's short-lived run roots go under /tmp.
#   -k          keep the work directory (stores, registry, raw timings)
#   --no-podman leave podman out even when it is installed
#   --pull-only / --images-only   run one of the two benchmarks
#
# Environment: CTR (the binary, default bin/ctr of this tree: `make build`),
# PODENV (default ../shared/tools/podenv next to the tree; used for podman when
# it exists, plain runuser otherwise).
#
# What it measures (see README.md):
#  1. Pull of a ~100 MB (gzip) 6-layer OCI image from a local distribution
#     registry (Debian's docker-registry on a free 127.0.0.1 port), each run
#     into an empty store: `ctr pull`, `podman pull` (native overlay, its own
#     empty --root each run) and `curl | tar xz` of the layer blobs in order.
#     Tools take turns within each repetition. Targets: ctr <= 0.45 x podman,
#     ctr <= 1.0 x curl|tar.
#  2. `ctr images` vs `podman images` with the same N small images (each a
#     busybox base plus a tiny unique layer) pulled into both stores.
#     Target: ctr <= 0.3 x podman.
# Times are taken inside the user's environment by timeit.sh: neither runuser
# nor podenv's namespace setup is counted. Wall time is the figure the targets
# refer to; CPU time (user + system of the command and its children) is
# printed too, because it is far less sensitive to other load on the machine.
#
# Needs: bash 5, go, curl, tar, gzip, docker-registry, busybox-static, uidmap
# (and podman for the comparison).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

reps=5
image_runs=20
nsmall=200
do_pull=1
do_images=1
registry_bin=${DOCKER_REGISTRY:-/usr/bin/docker-registry}

while [[ $# -gt 0 ]]; do
	case $1 in
	-r) reps=$2 && shift 2 ;;
	-i) image_runs=$2 && shift 2 ;;
	-n) nsmall=$2 && shift 2 ;;
	--pull-only) do_images=0 && shift ;;
	--images-only) do_pull=0 && shift ;;
	*) common_opt "$@" && shift "$NSHIFT" ;;
	esac
done

check_counts "$reps" "$image_runs" "$nsmall"
check_user "every measured command"
require_commands "docker-registry: apt-get install docker-registry" go curl tar gzip runuser "$registry_bin"
check_ctr_bin
detect_podman

# ---------------------------------------------------------------- work dir
make_workdirs ctr-bench no-shm
# podman refuses a --runroot of 50 characters or more: its runtime state goes
# here, under /tmp like a usual XDG_RUNTIME_DIR.
short=$(mktemp -d /tmp/ctr-bench.XXXXXX)
chmod 755 "$short"
temp_dirs=("$short")
registry_pid=""

# shellcheck disable=SC2317 # called by the EXIT trap (lib.sh's cleanup)
bench_cleanup() {
	if [[ -n $registry_pid ]]; then
		kill "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
}
install_cleanup

# fresh DIR: an empty per-run directory with home/ and run/ for the user.
# Stores are never deleted during the benchmark: after a mass deletion ext4's
# inode allocator is slow for about 30 s (recently_deleted()), which made
# back-to-back runs 2-5x slower here.
fresh() {
	userdir "$1"
	userdir "$1/home" 700
	userdir "$1/run" 700
}

check_fstype
copy_ctr
cp "$here/timeit.sh" "$work/bin/timeit.sh"
cat >"$work/bin/curltar.sh" <<'EOF'
#!/bin/bash
# curltar.sh URL_PREFIX DIGESTS DEST: the lower bound of a pull. Downloads
# each layer blob in order and pipes it to `tar xz`.
set -euo pipefail
mkdir "$3"
while read -r digest; do
	curl -sSf "$1/$digest" | tar -xzf - -C "$3"
done <"$2"
EOF
chmod 755 "$work/bin"/*
userdir "$work/results"

log "building mkbigimage"
build_helper mkbigimage

# podman's environment (as_podman): its home in the work directory, its
# runtime dir (podman_xdg, set below) under $short.
podman_home=$work/podman/home

# ---------------------------------------------------------------- registry
port=$("$work/bin/mkbigimage" -freeport)
registry=127.0.0.1:$port
mkdir -p "$work/registry/data"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: $registry
EOF
"$registry_bin" serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
registry_pid=$!
# Poll /v2/ until it answers (never a fixed sleep).
deadline=$((SECONDS + 30))
until curl -sf -o /dev/null "http://$registry/v2/"; do
	kill -0 "$registry_pid" 2>/dev/null || die "the registry exited: $(cat "$work/registry/log")"
	((SECONDS < deadline)) || die "the registry did not answer on http://$registry/v2/ within 30s"
	sleep 0.02
done
log "registry on $registry"

small_args=()
if ((do_images)); then
	small_args=(-small "$nsmall" -small-repo bench/small)
fi
big_args=(-big "")
if ((do_pull)); then
	big_args=(-big bench/big:latest -digests "$work/layers.txt")
fi
log "building and pushing the benchmark images"
if ! "$work/bin/mkbigimage" -registry "$registry" "${big_args[@]}" "${small_args[@]}" 2>"$work/images.txt"; then
	cat "$work/images.txt" >&2
	die "mkbigimage failed"
fi
cat "$work/images.txt" >&2
big_ref=$registry/bench/big:latest

# podman_store DIR: sets PS to podman's global options for a store in DIR
# (the graph root in DIR, the run root under $short).
podman_store() {
	local rr=${1#"$work"/}
	rr=$short/${rr//\//-}
	userdir "$rr" 700
	PS=(--root "$1/root" --runroot "$rr")
}

# ---------------------------------------------------------------- podman setup
if [[ -z $podman_skip ]]; then
	podman_xdg=$short/xdg
	userdir "$work/podman"
	userdir "$podman_xdg" 700
	userdir "$podman_home"
	userdir "$podman_home/.config"
	userdir "$podman_home/.config/containers"
	# Native overlay, as ctr uses: without a storage.conf, Debian's podman 4.3
	# picks vfs for a rootless user, which copies every lower layer.
	printf '[storage]\ndriver = "overlay"\n' >"$podman_home/.config/containers/storage.conf"
	chown "$bench_uid:$bench_gid" "$podman_home/.config/containers/storage.conf"
	# The first call starts podman's pause process (in podenv's namespace: the
	# runtime directory is new, so no older pause process can be joined).
	userdir "$work/podman/info"
	podman_store "$work/podman/info"
	if ! podman_info=$(as_podman podman "${PS[@]}" \
		info --format '{{.Version.Version}} {{.Store.GraphDriverName}} {{.Store.GraphStatus}}' 2>"$work/podman/info.err"); then
		cat "$work/podman/info.err" >&2
		die "podman does not work for $bench_user (see above); --no-podman skips it"
	fi
	log "podman $podman_info$(via_podenv)"
else
	log "skipping podman: $podman_skip"
fi

userdir "$work/ctr"
fresh "$work/ctr/info"
ctr_driver=$(as_user "$work/ctr/info/home" "$work/ctr/info/run" "$work/bin/ctr" info 2>/dev/null |
	sed -n 's/^ *graphDriver\(Name\|Reason\): //p' | paste -sd' ' -) || true

# ---------------------------------------------------------------- helpers
# run_timed TOOL OUT RUNS DIR CMD...: time CMD as the user in TOOL's
# environment; DIR is the run's private directory (home and runtime dir for
# ctr).
run_timed() {
	local tool=$1 out=$2 runs=$3 dir=$4
	shift 4
	case $tool in
	podman) as_podman bash "$work/bin/timeit.sh" "$out" "$runs" -- "$@" ;;
	*) as_user "$dir/home" "$dir/run" bash "$work/bin/timeit.sh" "$out" "$runs" -- "$@" ;;
	esac
}

# pull_once TOOL OUT DIR
pull_once() {
	local tool=$1 out=$2 dir=$3
	fresh "$dir"
	sync # start every run with no dirty pages from the previous one
	case $tool in
	ctr) run_timed ctr "$out" 1 "$dir" "$work/bin/ctr" pull -q "$big_ref" ;;
	podman)
		podman_store "$dir"
		run_timed podman "$out" 1 "$dir" podman "${PS[@]}" pull -q --tls-verify=false "$big_ref"
		;;
	curl-tar)
		run_timed curl-tar "$out" 1 "$dir" bash "$work/bin/curltar.sh" \
			"http://$registry/v2/bench/big/blobs" "$work/layers.txt" "$dir/root"
		;;
	esac
}

# column FILE N: the Nth column of a timings file, one value a line.
column() { awk -v c="$2" '{print $c}' "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print v[(NR+1)/2]; else printf "%.6f\n", (v[NR/2]+v[NR/2+1])/2}'; }
minimum() { sort -g | head -1; }
# ratios with two decimals, n/a where there is none.
pull_ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a=="" || b=="" || b+0==0) print "n/a"; else printf "%.2f", a/b}'; }
pull_verdict() { awk -v r="$1" -v t="$2" 'BEGIN {if (r=="n/a") print "n/a"; else if (r+0 <= t+0) print "met"; else print "MISSED"}'; }

tools=(ctr)
[[ -n $podman_skip ]] || tools+=(podman)
res=$work/results
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 1. pull
if ((do_pull)); then
	pull_tools=("${tools[@]}" curl-tar)
	log "pull: one warm-up, then $reps repetitions of ${pull_tools[*]} (taking turns)"
	for tool in "${pull_tools[@]}"; do
		pull_once "$tool" "$res/pull-$tool-warmup" "$work/pull/$tool/warmup"
	done
	# Check once that each tool really produced the image.
	n=$(as_user "$work/pull/ctr/warmup/home" "$work/pull/ctr/warmup/run" "$work/bin/ctr" images -q | wc -l)
	[[ $n -eq 1 ]] || die "ctr pull left $n images, want 1"
	if [[ -z $podman_skip ]]; then
		d=$work/pull/podman/warmup
		podman_store "$d"
		n=$(as_podman podman "${PS[@]}" images -q | wc -l)
		[[ $n -eq 1 ]] || die "podman pull left $n images, want 1"
	fi
	n=$(find "$work/pull/curl-tar/warmup/root" -type f | wc -l)
	log "curl|tar extracted $n files"
	((n > 1000)) || die "curl|tar extracted only $n files"
	for ((rep = 1; rep <= reps; rep++)); do
		k=${#pull_tools[@]}
		for ((j = 0; j < k; j++)); do
			tool=${pull_tools[$(((rep + j) % k))]} # rotate who goes first
			pull_once "$tool" "$res/pull-$tool" "$work/pull/$tool/$rep"
			log "pull rep $rep $tool: $(tail -1 "$res/pull-$tool" | awk '{printf "%.2f s (cpu %.2f s)", $1, $2}')"
		done
	done
fi

# ---------------------------------------------------------------- 2. images
if ((do_images)); then
	refs=()
	for ((i = 0; i < nsmall; i++)); do
		refs+=("$(printf '%s/bench/small-%03d:latest' "$registry" "$i")")
	done
	log "images: pulling $nsmall small images into each store"
	d=$work/images/ctr
	fresh "$d"
	t0=$SECONDS
	# shellcheck disable=SC2016 # expanded by the inner shell
	as_user "$d/home" "$d/run" bash -c 'set -e; ctr=$1; shift; for r in "$@"; do "$ctr" pull -q "$r" >/dev/null; done' \
		bash "$work/bin/ctr" "${refs[@]}"
	log "ctr pulled $nsmall images in $((SECONDS - t0)) s"
	n=$(as_user "$d/home" "$d/run" "$work/bin/ctr" images -q | wc -l)
	[[ $n -eq $nsmall ]] || die "ctr images lists $n images, want $nsmall"
	if [[ -z $podman_skip ]]; then
		d=$work/images/podman
		fresh "$d"
		t0=$SECONDS
		podman_store "$d"
		as_podman podman "${PS[@]}" pull -q --tls-verify=false "${refs[@]}" >/dev/null
		log "podman pulled $nsmall images in $((SECONDS - t0)) s"
		podman_store "$d"
		n=$(as_podman podman "${PS[@]}" images -q | wc -l)
		[[ $n -eq $nsmall ]] || die "podman images lists $n images, want $nsmall"
	fi
	block=5
	log "images: 2 warm-up runs, then $image_runs timed runs each, in blocks of $block taking turns"
	for tool in "${tools[@]}"; do
		d=$work/images/$tool
		case $tool in
		ctr) run_timed ctr "$res/images-$tool-warmup" 2 "$d" "$work/bin/ctr" images ;;
		podman)
			podman_store "$d"
			run_timed podman "$res/images-$tool-warmup" 2 "$d" podman "${PS[@]}" images
			;;
		esac
	done
	for ((done_runs = 0; done_runs < image_runs; done_runs += block)); do
		b=$((image_runs - done_runs < block ? image_runs - done_runs : block))
		for tool in "${tools[@]}"; do
			d=$work/images/$tool
			case $tool in
			ctr) run_timed ctr "$res/images-$tool" "$b" "$d" "$work/bin/ctr" images ;;
			podman)
				podman_store "$d"
				run_timed podman "$res/images-$tool" "$b" "$d" podman "${PS[@]}" images
				;;
			esac
		done
	done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
declare -A med_wall med_cpu
row() { # row KEY LABEL TOOL FILE
	local k=$1 f=$4
	if [[ ! -s $f ]]; then
		printf '  %-22s %-9s %10s\n' "$2" "$3" "skipped"
		return
	fi
	med_wall[$k]=$(column "$f" 1 | median)
	med_cpu[$k]=$(column "$f" 2 | median)
	printf '  %-22s %-9s %10.3f %10.3f %10.3f %5d   %s\n' "$2" "$3" "${med_wall[$k]}" \
		"$(column "$f" 1 | minimum)" "${med_cpu[$k]}" "$(wc -l <"$f")" \
		"$(column "$f" 1 | awk '{printf "%s%.3f", (NR>1?" ":""), $1}' | cut -c1-60)"
}
ratio_row() { # ratio_row LABEL A B TARGET
	local rw rc
	rw=$(pull_ratio "${med_wall[$2]:-}" "${med_wall[$3]:-}")
	rc=$(pull_ratio "${med_cpu[$2]:-}" "${med_cpu[$3]:-}")
	printf '  %-34s %6s  <= %-5s %-7s %6s\n' "$1" "$rw" "$4" "$(pull_verdict "$rw" "$4")" "$rc"
}

echo
echo "ctr foundation benchmark — $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, load avg $load_before -> $load_after"
echo "  ctr $("$work/bin/ctr" version 2>/dev/null | sed -n "s/^Version: *//p"): ${ctr_driver:-?}"
if [[ -n $podman_skip ]]; then
	echo "  podman: skipped ($podman_skip)"
else
	echo "  podman $podman_info"
fi
sed 's/^/  /' "$work/images.txt"
echo
printf '  %-22s %-9s %10s %10s %10s %5s   %s\n' benchmark tool "median s" "min s" "cpu s" runs "wall times (s)"
if ((do_pull)); then
	for tool in ctr podman curl-tar; do row "pull/$tool" "pull, empty store" "$tool" "$res/pull-$tool"; done
fi
if ((do_images)); then
	for tool in ctr podman; do row "images/$tool" "images, $nsmall images" "$tool" "$res/images-$tool"; done
fi
echo
printf '  %-34s %6s  %-8s %-7s %6s\n' "ratio (medians)" wall target verdict cpu
if ((do_pull)); then
	ratio_row "pull: ctr / podman" pull/ctr pull/podman 0.45
	ratio_row "pull: ctr / curl|tar" pull/ctr pull/curl-tar 1.0
fi
if ((do_images)); then
	ratio_row "images: ctr / podman" images/ctr images/podman 0.3
fi
((keep)) && echo "  raw timings: $res (one 'wall cpu' line per run; stderr in *.err)"
exit 0
