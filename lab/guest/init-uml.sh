#!/bin/sh
# PID 1 of the UML guest, stage 1. The kernel mounted the host's "/" through hostfs; every write
# there would land on the host. Build a copy-on-write root instead: overlayfs with the host's
# tree as the read-only lower layer and a guest tmpfs as the upper layer. Only the lab folder is
# bound through read-write. Then pivot into it and run stage 2.
# Kernel arguments of the form KEY=VALUE arrive here as environment variables (ND_*).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

fail() {
	echo "lab init: $*" >&2
	# PID 1 must never exit (the kernel would panic): power off and wait for it.
	echo o >/proc/sysrq-trigger
	sleep 120
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
insmod "$ND_UML_MODULES/kernel/fs/overlayfs/overlay.ko" || fail "insmod overlay"

root=$ND_LAB_DIR/guestroot
mount -t tmpfs -o size=2g,mode=0755 ndroot "$root" || fail "tmpfs on $root"
mkdir -p "$root/upper" "$root/work" "$root/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$root/upper,workdir=$root/work" "$root/merged" ||
	fail "overlay root"
mount --bind "$ND_LAB_DIR" "$root/merged$ND_LAB_DIR" || fail "bind $ND_LAB_DIR"
for d in dev proc sys; do
	mount --move "/$d" "$root/merged/$d" || fail "move /$d"
done
cd "$root/merged" || fail "cd $root/merged"
mkdir -p oldroot
pivot_root . oldroot || fail "pivot_root"
# shellcheck disable=SC2093 # exec replaces PID 1's program; the line after it runs only if exec fails
exec chroot . /bin/sh "$ND_REPO/lab/guest/stage2.sh"
fail "exec stage 2"
