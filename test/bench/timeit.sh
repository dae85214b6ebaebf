#!/bin/bash
# timeit.sh — run a command several times and record, per run, its wall-clock
# time and the CPU time (user + system) it and all its descendants used.
#
#   timeit.sh OUT RUNS -- CMD [ARGS...]
#
# Appends one line "WALL_SECONDS CPU_SECONDS" per run to OUT. The command's
# stdout goes to /dev/null, its stderr to OUT.err. Exits non-zero (and stops)
# when a run fails.
#
# pull.sh runs this script as the benchmark user, inside the environment of the
# tool under test (runuser for ctr and curl|tar, podenv for podman), so the
# cost of switching users or setting up podenv's namespace is never timed.
# Timing uses bash builtins only ($EPOCHREALTIME and `times`): no fork is
# counted that the command itself does not make.
set -euo pipefail

if [[ $# -lt 4 || $3 != -- ]]; then
	echo "usage: timeit.sh OUT RUNS -- CMD [ARGS...]" >&2
	exit 2
fi
out=$1 runs=$2
shift 3
[[ $runs =~ ^[0-9]+$ ]] || {
	echo "timeit.sh: RUNS must be a number, not $runs" >&2
	exit 2
}
if [[ -z ${EPOCHREALTIME:-} ]]; then
	echo "timeit.sh: bash 5 or later is needed (\$EPOCHREALTIME)" >&2
	exit 2
fi

timesfile=$(mktemp)
trap 'rm -f "$timesfile"' EXIT

# child_cpu_ms sets CPU_MS to the user + system CPU time of every child this
# shell has waited for. `times` runs in this shell (no subshell: a forked
# shell would report its own, empty, children).
child_cpu_ms() {
	local shell_line child_line
	times >"$timesfile"
	{
		read -r shell_line
		read -r child_line
	} <"$timesfile"
	: "$shell_line"
	local re='^([0-9]+)m([0-9]+)[.,]([0-9]+)s ([0-9]+)m([0-9]+)[.,]([0-9]+)s$'
	[[ $child_line =~ $re ]] || {
		echo "timeit.sh: cannot parse \`times\` output: $child_line" >&2
		exit 1
	}
	local -a r=("${BASH_REMATCH[@]}")
	CPU_MS=$((((10#${r[1]} * 60 + 10#${r[2]}) * 1000 + 10#${r[3]:0:3}) + ((10#${r[4]} * 60 + 10#${r[5]}) * 1000 + 10#${r[6]:0:3})))
}

for ((i = 0; i < runs; i++)); do
	child_cpu_ms
	cpu0=$CPU_MS
	t=${EPOCHREALTIME/[.,]/}
	if ! "$@" >/dev/null 2>>"$out.err"; then
		echo "timeit.sh: run $((i + 1)) of '$*' failed; its stderr:" >&2
		tail -n 20 "$out.err" >&2
		exit 1
	fi
	wall=$((10#${EPOCHREALTIME/[.,]/} - 10#$t))
	child_cpu_ms
	cpu=$((CPU_MS - cpu0))
	printf '%d.%06d %d.%03d\n' $((wall / 1000000)) $((wall % 1000000)) $((cpu / 1000)) $((cpu % 1000)) >>"$out"
done
