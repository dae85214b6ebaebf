#!/usr/bin/env bash
# Builds ctr, makes a busybox image from Debian's busybox-static (no network),
# and runs a container from it. Run as a normal user: `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /bin/busybox ]] || ! /bin/busybox --list >/dev/null 2>&1; then
  echo "demo: /bin/busybox (static) is missing: sudo apt-get install -y busybox-static" >&2
  exit 1
fi
make --no-print-directory build

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/root"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ $applet == busybox ]] || ln -s busybox "$work/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

set -x
bin/ctr import --change 'CMD ["/bin/sh"]' "$work/busybox.tar" busybox
bin/ctr images
bin/ctr run --rm busybox sh -c 'echo "hello from a rootless container: $(id)"; cat /proc/1/cmdline; echo'
