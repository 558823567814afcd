/*
 * The init of a QEMU machine's initramfs (busybox sh), and what it needs to know: the devices and shares the
 * host attaches, in the order qemu-machine.ts attaches them.
 *
 *   /dev/vda … /dev/vd<N>   the root's read-only erofs layer images, highest first (`pn.layers=N`)
 *   next disk              the instance's writable ext4 (the overlay's upper and work dirs, kept across boots)
 *   next disks (optional)  the object stores (`pn.objects=N`, read-only): ext4 images holding
 *                          objects/<2 hex>/<62 hex> with fs-verity enabled; the root is then the composefs-style
 *                          overlay: `pn.layers` is the erofs metadata image alone, its files redirecting to the
 *                          objects, mounted with verity=require (the stores stay visible read-only at
 *                          /opt/powernode/objects/<n>)
 *   9p `pnlink`            the keeper's link directory (read-write), mounted by systemd at /run/powernode
 *   9p `pnrt`, `pnmods`, `pnlibs`, `pnagent`
 *                          Node.js and package.json, node_modules, libs, apps/agent, read-only, under /opt/powernode
 *
 *   next disk (optional)   the root's compiled AppArmor policy (`pn.apparmor=1`, read-only ext4, made by
 *                          `pn.mode=apparmor`): copied into the root's /var/cache/apparmor before systemd
 *                          starts, so apparmor.service loads it instead of compiling every profile again
 *
 * `pn.mode=verity` is another job: every disk attached is an object store to enable fs-verity on (the host
 * kernel cannot), after which the machine powers off; see qemu-machine.ts.
 * `pn.mode=apparmor` composes the root as a boot would (no instance disk: the upper is a tmpfs), compiles its
 * AppArmor profiles with the root's own apparmor_parser (without loading them) into the last disk attached,
 * an empty ext4, and powers off. Nothing of the root runs but the parser.
 *
 * Otherwise it switches to systemd. Network: QEMU's user-mode network, the guest at 10.0.2.15, the host at 10.0.2.2.
 * The units it writes (the link mount, the exec channel, the agent's ordering after the link) go to the
 * instance's upper, rewritten every boot, so the composed root and its hash are the same as on nspawn.
 */

/** The guest's side of the exec channel (hostfwd from the host's loopback). */
export const GUEST_EXEC_PORT = 7070;

export function guestInitScript(): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "powernode-init: $*"; echo o > /proc/sysrq-trigger; poweroff -f; }
for m in $(cat /modules.order); do insmod /lib/modules/$m 2>/dev/null; done
LAYERS=0; OBJECTS=0; APPARMOR=0; MODE=boot
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    pn.layers=*) LAYERS=\${arg#pn.layers=} ;;
    pn.objects=*) OBJECTS=\${arg#pn.objects=} ;;
    pn.apparmor=*) APPARMOR=\${arg#pn.apparmor=} ;;
    pn.mode=*) MODE=\${arg#pn.mode=} ;;
  esac
done
for i in $(seq 1 50); do [ -b /dev/vda ] && break; sleep 0.1; done
disk() { echo /dev/vd$(echo abcdefghijklmnopqrstuvwxyz | cut -c$1); }
if [ "$MODE" = verity ]; then
  i=1
  while [ -b $(disk $i) ]; do
    mkdir -p /mnt/$i
    if mount -t ext4 $(disk $i) /mnt/$i && /bin/pn-verity-enable /mnt/$i/objects && umount /mnt/$i; then
      echo "powernode-verity: store $i enabled"
    else
      echo "powernode-verity: store $i failed"
    fi
    i=$((i + 1))
  done
  sync
  poweroff -f
fi
echo "powernode-init: $LAYERS layer(s), $OBJECTS object store(s)"
LOWER=""
i=1
while [ $i -le $LAYERS ]; do
  mkdir -p /layers/$i
  mount -t erofs -o ro $(disk $i) /layers/$i || fail "cannot mount layer $i ($(disk $i))"
  LOWER="$LOWER\${LOWER:+:}/layers/$i"
  i=$((i + 1))
done
if [ "$MODE" = apparmor ]; then
  mount -t tmpfs -o mode=0755 tmpfs /upper
else
  mount -t ext4 $(disk $i) /upper || fail "cannot mount the instance disk $(disk $i)"
  i=$((i + 1))
fi
mkdir -p /upper/upper /upper/work
rm -rf /upper/work/*
if [ "$OBJECTS" -gt 0 ]; then
  DATA=""
  j=1
  while [ $j -le $OBJECTS ]; do
    mkdir -p /objects/$j
    mount -t ext4 -o ro $(disk $i) /objects/$j || fail "cannot mount object store $j ($(disk $i))"
    DATA="$DATA::/objects/$j"
    i=$((i + 1))
    j=$((j + 1))
  done
  # Each object's fs-verity digest is what the metadata image demands; a missing or altered object fails to read.
  mount -t overlay overlay -o "lowerdir=$LOWER$DATA,upperdir=/upper/upper,workdir=/upper/work,metacopy=on,redirect_dir=on,verity=require" /newroot \\
    || fail "cannot mount the verified root"
else
  mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=/upper/upper,workdir=/upper/work" /newroot || fail "cannot mount the root"
fi
if [ "$MODE" = apparmor ]; then
  # The policy compiled for this kernel's AppArmor features, as apparmor.service at boot would.
  mount -t proc proc /newroot/proc && mount -t sysfs sysfs /newroot/sys && mount -t securityfs securityfs /newroot/sys/kernel/security \
    || fail "cannot mount proc, sysfs and securityfs in the root"
  mkdir -p /out && mount -t ext4 $(disk $i) /out || fail "cannot mount the policy disk $(disk $i)"
  mkdir -p /newroot/run/pn-apparmor
  if chroot /newroot /usr/sbin/apparmor_parser --quiet --skip-kernel-load --skip-read-cache --write-cache --cache-loc=/run/pn-apparmor -- /etc/apparmor.d \
    && mkdir -p /out/cache && cp -a /newroot/run/pn-apparmor/. /out/cache/ && umount /out; then
    echo "powernode-apparmor: compiled"
  else
    echo "powernode-apparmor: failed"
  fi
  sync
  poweroff -f
fi
if [ "$APPARMOR" = 1 ]; then
  # Every boot: the policy of the root booted now replaces whatever an earlier generation's boot left there
  # (the layer images date every profile 0, so the parser cannot tell an earlier generation's cache by its time).
  mkdir -p /apparmor /newroot/var/cache/apparmor
  mount -t ext4 -o ro $(disk $i) /apparmor && cp -R /apparmor/cache/. /newroot/var/cache/apparmor/ || echo "powernode-init: no compiled AppArmor policy"
  umount /apparmor 2>/dev/null
  i=$((i + 1))
fi
mount -t tmpfs -o mode=0755,size=1m tmpfs /newroot/opt 2>/dev/null || { mkdir -p /newroot/opt && mount -t tmpfs -o mode=0755,size=1m tmpfs /newroot/opt; }
R=/newroot/opt/powernode
mkdir -p $R/.rt $R/app/node_modules $R/app/libs $R/app/apps/agent
share() { mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose "$1" "$2" || fail "cannot mount share $1"; }
share pnrt $R/.rt
share pnmods $R/app/node_modules
share pnlibs $R/app/libs
share pnagent $R/app/apps/agent
j=1
while [ $j -le $OBJECTS ]; do
  # Kept visible (read-only) for the agent, which names the file behind an object the kernel refused.
  mkdir -p $R/objects/$j
  mount --move /objects/$j $R/objects/$j
  j=$((j + 1))
done
ln -s .rt/node $R/node
ln -s ../.rt/package.json $R/app/package.json
mount -o remount,ro /newroot/opt
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
U=/newroot/etc/systemd/system
mkdir -p $U/multi-user.target.wants $U/powernode-agent.service.d
cat > $U/run-powernode.mount <<'UNIT'
[Unit]
Description=The keeper's link directory (9p)
DefaultDependencies=no
Before=local-fs.target
[Mount]
What=pnlink
Where=/run/powernode
Type=9p
Options=trans=virtio,version=9p2000.L,msize=262144
[Install]
WantedBy=local-fs.target
UNIT
ln -sf ../run-powernode.mount $U/multi-user.target.wants/run-powernode.mount
cat > $U/powernode-agent.service.d/link.conf <<'UNIT'
[Unit]
Requires=run-powernode.mount
After=run-powernode.mount network.target
UNIT
cat > $U/powernode-exec.service <<'UNIT'
[Unit]
Description=Powernode exec channel (commands the host runs in this machine)
# Up as soon as its token's share is: the host asks it how the boot goes, and Node.js takes seconds to start
# under TCG, better spent while sysinit.target's units run than after them.
DefaultDependencies=no
Requires=run-powernode.mount
After=run-powernode.mount
Conflicts=shutdown.target
Before=shutdown.target
[Service]
ExecStart=/opt/powernode/node --max-old-space-size=24 /opt/powernode/app/apps/agent/dist/guest-exec-server.js
Restart=always
RestartSec=1
[Install]
WantedBy=multi-user.target
UNIT
ln -sf ../powernode-exec.service $U/multi-user.target.wants/powernode-exec.service
echo "powernode-init: root composed, starting systemd"
mount --move /dev /newroot/dev 2>/dev/null
umount /sys /proc 2>/dev/null
exec switch_root /newroot /lib/systemd/systemd
`;
}
