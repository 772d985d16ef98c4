#!/usr/bin/env bash
# Installs a botbuilder .deb into a throwaway root and starts it exactly as the
# systemd unit's ExecStart does, as the package's dedicated user; checks /readyz.
#
# PID 1 of a build container is not systemd, so systemd cannot start the unit here.
# What stands in for it: an overlay of the host's root (writes go to a temporary
# upper directory, the host is untouched) entered with chroot, in private mount and
# network namespaces (loopback only, so port 8080 is free); `dpkg -i` runs the real
# maintainer scripts (user creation); the ExecStart= line is read from the installed
# unit and run with the unit's User=, WorkingDirectory=, UMask= and NoNewPrivileges=
# (setpriv). `systemd-analyze verify` and `security --offline` check the installed unit.
# Needs root (mount, chroot) and the host being Debian 12 or newer.
#
# Usage: packaging/smoke-deb.sh dist/botbuilder_0.1.0-1_amd64.deb
set -euo pipefail
deb="$(realpath "$1")"
work="$(mktemp -d /tmp/bb-deb-smoke.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/upper" "$work/work" "$work/root"

unshare --mount --net --propagation private -- bash -euo pipefail -c '
deb="$1"; work="$2"; root="$work/root"
ip link set lo up
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/work" "$root"
mount --rbind /proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
mount -t tmpfs tmpfs "$root/run"
# A host that already has the package or user would hide the maintainer scripts at work.
chroot "$root" sh -c "dpkg -r botbuilder >/dev/null 2>&1 || true; userdel botbuilder 2>/dev/null || true; groupdel botbuilder 2>/dev/null || true; rm -rf /var/lib/botbuilder"
cp "$deb" "$root/tmp/botbuilder.deb"

echo "== dpkg -i"
chroot "$root" dpkg -i /tmp/botbuilder.deb
chroot "$root" dpkg -L botbuilder
echo "== user, conffile, state directory"
chroot "$root" getent passwd botbuilder
chroot "$root" dpkg-query -W -f="conffiles:\${Conffiles}\n" botbuilder
chroot "$root" stat -c "%n %U:%G %a" /var/lib/botbuilder /etc/botbuilder/botbuilder.toml

unit="$(chroot "$root" sh -c "ls /usr/lib/systemd/system/botbuilder.service /lib/systemd/system/botbuilder.service 2>/dev/null | head -n1")"
echo "== unit $unit"
chroot "$root" systemd-analyze verify "$unit" && echo "systemd-analyze verify: clean"
chroot "$root" systemd-analyze security --offline=true "$unit" | tail -n1
exec_start="$(sed -n "s/^ExecStart=//p" "$root$unit")"
user="$(sed -n "s/^User=//p" "$root$unit")"
wd="$(sed -n "s/^WorkingDirectory=//p" "$root$unit")"
umask_value="$(sed -n "s/^UMask=//p" "$root$unit")"
echo "== start as $user in $wd: $exec_start"
chroot --userspec="$user:$user" "$root" env -i PATH=/usr/bin:/bin HOME="$wd" \
  setpriv --no-new-privs -- sh -c "cd $wd && umask $umask_value && exec $exec_start" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if curl -fsS http://127.0.0.1:8080/readyz > "$work/readyz.json" 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; echo "the server exited" >&2; exit 1; }
  sleep 0.2
done
echo "== /readyz"
curl -sS -o /dev/null -w "HTTP %{http_code}\n" http://127.0.0.1:8080/readyz
cat "$work/readyz.json"; echo
echo "== process and files"
# chroot, env, setpriv and sh all exec: $pid is the server itself.
ps -o user=,pid=,args= -p "$pid"
ls -la "$root/var/lib/botbuilder"
kill -TERM "$pid"; wait "$pid" || true
tail -n 3 "$work/server.log"
' bash "$deb" "$work"
