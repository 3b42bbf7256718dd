#!/bin/sh
# PID 1 of the native lab (a kernel with ESP: no UML): started by `unshare --mount --uts --ipc
# --net --pid --fork --mount-proc`, so it already has its own network, mount and PID namespaces.
# Same copy-on-write root as under UML (overlayfs, the host's "/" as the read-only lower layer),
# then the same stage 2. Nothing is written to the host outside the lab folder.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

fail() {
	echo "lab init: $*" >&2
	exit 1
}

root=$ND_LAB_DIR/guestroot
mount -t tmpfs -o size=2g,mode=0755 ndroot "$root" || fail "tmpfs on $root"
mkdir -p "$root/upper" "$root/work" "$root/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$root/upper,workdir=$root/work" "$root/merged" ||
	fail "overlay root"
mount --bind "$ND_LAB_DIR" "$root/merged$ND_LAB_DIR" || fail "bind $ND_LAB_DIR"
mount --rbind /dev "$root/merged/dev" || fail "bind /dev"
mount -t proc proc "$root/merged/proc" || fail "mount /proc"
mount -t sysfs sysfs "$root/merged/sys" || fail "mount /sys"
cd "$root/merged" || fail "cd $root/merged"
mkdir -p oldroot
pivot_root . oldroot || fail "pivot_root"
umount -l /oldroot
exec chroot . /bin/sh "$ND_REPO/lab/guest/stage2.sh"
