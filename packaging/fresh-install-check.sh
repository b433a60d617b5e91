#!/usr/bin/env bash
# Installs a built .deb into a fresh, minimal Debian 12 system (a debootstrap --variant=minbase
# chroot: no compiler, no Qt, no LibTorch, nothing of the build machine) with apt, as a user's
# machine would, and runs both programs there. Proves that the package's Depends and
# Recommends bring everything the programs need at run time.
#   packaging/fresh-install-check.sh path/to/distill-workbench_*.deb [CHROOT_DIR]
# Needs root, debootstrap and network access to deb.debian.org; reuses the host's apt cache
# (hard links) so that packages already downloaded are not fetched again.
set -euo pipefail
deb=$(readlink -f "$1")
root=${2:-/tmp/distill-fresh-bookworm}
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
step() { echo "== fresh-install [$(( $(date +%s) - start )) s]: $*"; }

if [ ! -x "$root/usr/bin/apt-get" ]; then
  step "debootstrap --variant=minbase bookworm $root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log"; exit 1; }
fi
cat >"$root/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
cp -al /var/cache/apt/archives/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
cp "$deb" "$root/tmp/"
name=$(basename "$deb")

step "apt-get install ./$name in the chroot"
chroot "$root" apt-get update -qq
chroot "$root" apt-get install -y -qq --reinstall "/tmp/$name" >"$root.install.log" 2>&1 || { tail -30 "$root.install.log"; exit 1; }
echo "packages set up: $(grep -c "^Setting up " "$root.install.log" || true)"

# A real machine has /proc (the programs find their files from /proc/self/exe); mount it when
# allowed, and without it the programs must still find the package's files.
mounted_proc=0
if [ ! -e "$root/proc/self/exe" ] && mount -t proc proc "$root/proc" 2>/dev/null; then mounted_proc=1; fi
trap '[ "$mounted_proc" = 1 ] && umount "$root/proc" || true' EXIT
echo "/proc in the chroot: $([ -e "$root/proc/self/exe" ] && echo mounted || echo absent)"

step "distill --version; distill run quick-smoke (a subset)"
chroot "$root" /usr/bin/distill --version
chroot "$root" /usr/bin/distill run quick-smoke --db /tmp/runs.db --quiet \
  --set dataset.limit_train=1024 --set dataset.limit_test=512 --set teacher.hidden=[64] --set student.hidden=[32]

step "distill-workbench --smoke-test (offscreen)"
chroot "$root" env HOME=/tmp QT_QPA_PLATFORM=offscreen /usr/bin/distill-workbench --smoke-test --db /tmp/runs.db

step "apt-get remove distill-workbench"
chroot "$root" apt-get remove -y -qq distill-workbench >/dev/null
step "fresh-install check passed"
