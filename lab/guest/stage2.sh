#!/bin/sh
# PID 1, stage 2 (UML guest or native lab namespace): private /run, /tmp and /dev pieces, kernel
# modules where the kernel looks for them, then the lab agent. PID 1 never exits.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022

halt() {
	sync
	if [ "$ND_LAB_MODE" = uml ]; then
		echo o >/proc/sysrq-trigger
		sleep 120
	fi
	exit 0
}

mount -t tmpfs -o mode=0755 run /run
mkdir -p /run/netns /run/lab
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount --bind /dev/pts/ptmx /dev/ptmx
mount -t tmpfs shm /dev/shm
if [ "$ND_LAB_MODE" = uml ]; then
	# UML's devtmpfs lacks these; bash process substitution and many tools need them.
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
	umount -l /oldroot
	# The kernel's on-demand module loader runs plain modprobe: give it /lib/modules (in the
	# overlay, so the host's /lib/modules is untouched).
	mkdir -p /lib/modules
	ln -sfn "$ND_UML_MODULES" "/lib/modules/$(uname -r)"
fi
hostname guest
# bash runs the host's ~/.bashrc for every SSH command (pyenv init: seconds under UML); blank it
# and the login profiles in the lab's copy-on-write root (the host's files stay as they are).
for f in /root/.bashrc /root/.profile /root/.bash_profile /root/.bash_login; do
	if [ -e "$f" ]; then : >"$f"; fi
done
# Mount points for the per-gateway binds (libreswan lives unpacked, not installed).
mkdir -p /usr/libexec/ipsec /var/lib/ipsec/nss /etc/netns
ip link set lo up

"$ND_PYTHON" "$ND_REPO/lab/guest/agent.py" >>"$ND_LAB_DIR/agent.log" 2>&1 &
wait $!
echo "lab agent exited with status $?" >>"$ND_LAB_DIR/agent.log"
halt
