#!/usr/bin/env bash
# systemd integration: the units pass `systemd-analyze verify`, the service's hardening rates
# "OK" or better with `systemd-analyze security --offline` (also with the raw-socket ICMP drop-in
# example applied, which must parse cleanly and take effect), `cmake --install` lays out every
# file, and the .deb built by CPack installs, configures and removes cleanly (dpkg -i/-r/-P),
# with lintian reporting no error. The .rpm built by CPack from the same install rules holds the
# same files, passes rpmlint (systemd/rpm/kscprobe.rpmlintrc says why each filtered warning does
# not apply), and installs, upgrades (keeping an edited configuration) and erases cleanly
# (rpm -i/-U/-e, scriptlets included). The packages are installed into a scratch root, never into
# this machine: an overlay of / (writes go to a temporary directory) in a mount namespace of its
# own, with dpkg --root or rpm --root, so the maintainer scripts run chrooted there; a kscprobe
# already installed here is removed from the copy first and stays untouched on the machine.
# rpm --nodeps: the scratch root's rpm database lists none of the Debian packages that provide
# the libraries and systemd. Every check runs: a
# missing tool is installed (scripts/install-deps.sh --test), and a tool still missing fails the
# stage. The notify/watchdog/socket-activation protocol itself is tested by ctest
# (integration.SdNotify*, integration.SocketActivation*).
#   KSCPROBE_BUILD_DIR   build tree to use (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=(timeout 120)
fail() {
  echo "30-systemd: FAIL: $*" >&2
  exit 1
}

# --- the package's install, remove and purge, inside the scratch root ---------------------------
# Runs as `unshare --mount ... 30-systemd.sh --scratch-root DEB DIR`: the mounts made here vanish
# with the namespace.
if [[ "${1:-}" == --scratch-root ]]; then
  deb=$2
  root=$3/root
  mkdir -p "$3/upper" "$3/overlay-work" "$root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$3/upper,workdir=$3/overlay-work" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  # An empty /run: no /run/systemd/system, so the maintainer scripts do not talk to a service
  # manager (they would reach this machine's).
  mount -t tmpfs tmpfs "$root/run"
  mount -t tmpfs tmpfs "$root/tmp"
  in_root() { "${limit[@]}" chroot "$root" "$@"; }
  pkg() { "${limit[@]}" dpkg --root="$root" --force-unsafe-io "$@"; }
  if pkg -s kscprobe >/dev/null 2>&1; then
    echo "kscprobe is installed on this machine: purged from the scratch root first"
    pkg -P kscprobe >/dev/null || fail "dpkg -P of the installed kscprobe in the scratch root"
  fi
  [[ ! -e "$root/usr/bin/kscprobe" ]] || fail "/usr/bin/kscprobe left in the scratch root"
  pkg -i "$deb" >/dev/null || fail "dpkg -i"
  in_root getent passwd kscprobe >/dev/null || fail "no kscprobe user after install"
  perms=$(in_root stat -c '%a %U %G' /etc/kscprobe/kscprobe.toml)
  [[ "$perms" == "640 root kscprobe" ]] || fail "config permissions: $perms"
  in_root /usr/bin/kscprobe --config.check --config.file=/etc/kscprobe/kscprobe.toml \
    || fail "installed config does not load"
  in_root systemd-analyze verify --man=no /usr/lib/systemd/system/kscprobe.service \
    || fail "systemd-analyze verify on the installed unit"
  [[ -L "$root/etc/systemd/system/multi-user.target.wants/kscprobe.service" ]] \
    || fail "service not enabled by postinst"
  page=$(in_root man -w kscprobe 2>/dev/null) || fail "man page not found"
  [[ "$page" == /usr/share/man/man8/kscprobe.8.gz ]] || fail "man -w kscprobe gives $page"
  in_root man -l -Tutf8 "$page" 2>/dev/null | grep -q 'kscprobe' || fail "man page does not render"
  pkg -r kscprobe >/dev/null || fail "dpkg -r"
  [[ ! -e "$root/usr/bin/kscprobe" && ! -e "$root/usr/lib/systemd/system/kscprobe.service" ]] \
    || fail "files left after dpkg -r"
  [[ -e "$root/etc/kscprobe/kscprobe.toml" ]] || fail "dpkg -r removed a conffile (only purge should)"
  pkg -P kscprobe >/dev/null || fail "dpkg -P"
  [[ ! -e "$root/etc/kscprobe" ]] || fail "/etc/kscprobe left after purge: $(ls -A "$root/etc/kscprobe")"
  [[ ! -e "$root/etc/systemd/system/multi-user.target.wants/kscprobe.service" ]] \
    || fail "enablement symlink left after purge"
  exit 0
fi

# --- the RPM's install, upgrade and erase, inside the scratch root -------------------------------
# Runs as `unshare --mount ... 30-systemd.sh --scratch-root-rpm RPM NEXT_RPM DIR`.
if [[ "${1:-}" == --scratch-root-rpm ]]; then
  rpm1=$2
  rpm2=$3
  root=$4/root
  mkdir -p "$4/upper" "$4/overlay-work" "$root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$4/upper,workdir=$4/overlay-work" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  # No /run/systemd/system: the scriptlets do not talk to this machine's service manager.
  mount -t tmpfs tmpfs "$root/run"
  mount -t tmpfs tmpfs "$root/tmp"
  in_root() { "${limit[@]}" chroot "$root" "$@"; }
  rpmr() { "${limit[@]}" rpm --root="$root" "$@"; }
  # --force-debian: Debian's rpm otherwise warns that packages should go through alien.
  rpmw() { rpmr --force-debian "$@"; }
  rpmr --initdb || fail "rpm --initdb"
  if rpmr -q kscprobe >/dev/null 2>&1; then
    echo "kscprobe is in this machine's rpm database: erased from the scratch root first"
    rpmw -e --nodeps kscprobe || fail "rpm -e of the installed kscprobe in the scratch root"
  fi
  if [[ -e "$root/usr/bin/kscprobe" ]]; then
    # A .deb-installed kscprobe (the machine's) would clash with the RPM's files.
    "${limit[@]}" dpkg --root="$root" --force-unsafe-io -P kscprobe >/dev/null || fail "dpkg -P in the scratch root"
  fi
  [[ ! -e "$root/usr/bin/kscprobe" ]] || fail "/usr/bin/kscprobe left in the scratch root"
  rpmw -i --nodeps "$rpm1" || fail "rpm -i"
  in_root getent passwd kscprobe >/dev/null || fail "no kscprobe user after rpm -i"
  perms=$(in_root stat -c '%a %U %G' /etc/kscprobe /etc/kscprobe/kscprobe.toml | xargs)
  [[ "$perms" == "750 root kscprobe 640 root kscprobe" ]] || fail "rpm: /etc/kscprobe permissions: $perms"
  in_root /usr/bin/kscprobe --config.check --config.file=/etc/kscprobe/kscprobe.toml >/dev/null \
    || fail "rpm: installed config does not load"
  [[ -L "$root/etc/systemd/system/multi-user.target.wants/kscprobe.service" ]] \
    || fail "rpm: service not enabled by %post"
  verify=$(rpmr -V --nodeps kscprobe) || { echo "$verify"; fail "rpm -V after install: files differ from the package"; }
  printf '\n# edited\n' >>"$root/etc/kscprobe/kscprobe.toml"
  edited=$(md5sum <"$root/etc/kscprobe/kscprobe.toml")
  rpmw -U --nodeps "$rpm2" || fail "rpm -U"
  [[ "$(rpmr -q kscprobe)" == "$(rpm -qp "$rpm2")" ]] || fail "rpm -U: $(rpmr -q kscprobe) installed"
  [[ "$(md5sum <"$root/etc/kscprobe/kscprobe.toml")" == "$edited" ]] || fail "rpm -U replaced the edited config"
  [[ -L "$root/etc/systemd/system/multi-user.target.wants/kscprobe.service" ]] \
    || fail "rpm -U: service no longer enabled"
  rpmw -e kscprobe || fail "rpm -e"
  [[ ! -e "$root/usr/bin/kscprobe" && ! -e "$root/usr/lib/systemd/system/kscprobe.service" ]] \
    || fail "files left after rpm -e"
  [[ ! -e "$root/etc/systemd/system/multi-user.target.wants/kscprobe.service" ]] \
    || fail "enablement symlink left after rpm -e"
  # rpm has no purge: an edited config is kept as .rpmsave, an untouched one goes.
  [[ "$(md5sum <"$root/etc/kscprobe/kscprobe.toml.rpmsave")" == "$edited" ]] \
    || fail "rpm -e did not keep the edited config as kscprobe.toml.rpmsave"
  [[ ! -e "$root/etc/kscprobe/kscprobe.example.toml" ]] || fail "rpm -e left the untouched example"
  in_root getent passwd kscprobe >/dev/null || fail "rpm -e removed the kscprobe account (it stays, as with the .deb)"
  exit 0
fi

# Every tool the stage runs; missing ones are installed from scripts/packages/test*.txt.
tools=(cmake cpack dpkg dpkg-deb lintian man systemd-analyze systemd-sysusers deb-systemd-helper
  unshare chroot mount rpm rpmbuild rpmlint)
missing_tools() { for t in "${tools[@]}"; do command -v "$t" >/dev/null || echo "$t"; done; }
if [[ -n "$(missing_tools)" ]]; then
  echo "--- installing the missing tools: $(missing_tools | xargs)"
  scripts/install-deps.sh --test || fail "scripts/install-deps.sh --test"
fi
[[ -z "$(missing_tools)" ]] || fail "missing after install-deps: $(missing_tools | xargs)"
[[ $(id -u) -eq 0 ]] || fail "needs root (the scratch root is an overlay mount)"
build=${KSCPROBE_BUILD_DIR:-build}
work=$(mktemp -d /tmp/kscprobe-systemd-XXXXXX)
trap 'rm -rf "$work"' EXIT

[[ -x "$build/kscprobe" ]] || fail "no $build/kscprobe (build first)"

echo "--- cmake --install (DESTDIR, prefix /usr)"
DESTDIR="$work/root" "${limit[@]}" cmake --install "$build" --prefix /usr >/dev/null
for f in usr/bin/kscprobe usr/lib/systemd/system/kscprobe.service \
  usr/lib/systemd/system/kscprobe.socket usr/lib/sysusers.d/kscprobe.conf \
  usr/lib/tmpfiles.d/kscprobe.conf usr/share/man/man8/kscprobe.8.gz \
  etc/kscprobe/kscprobe.toml etc/kscprobe/kscprobe.example.toml etc/default/kscprobe \
  usr/share/doc/kscprobe/examples/icmp-raw.conf; do
  [[ -e "$work/root/$f" ]] || fail "cmake --install did not install /$f"
done
grep -q '^ExecStart=/usr/bin/kscprobe --config.file=/etc/kscprobe/kscprobe.toml' \
  "$work/root/usr/lib/systemd/system/kscprobe.service" || fail "ExecStart does not use the prefix"
for cfg in kscprobe.toml kscprobe.example.toml; do
  "${limit[@]}" "$work/root/usr/bin/kscprobe" --config.check \
    --config.file="$work/root/etc/kscprobe/$cfg" || fail "installed $cfg does not load"
done

echo "--- systemd-analyze verify"
# verify checks that ExecStart= exists: the staged units are verified with the staged binary's
# path (the installed ones are verified again after dpkg -i below).
mkdir -p "$work/verify"
sed "s|/usr/bin/kscprobe|$work/root/usr/bin/kscprobe|g" \
  "$work/root/usr/lib/systemd/system/kscprobe.service" >"$work/verify/kscprobe.service"
cp "$work/root/usr/lib/systemd/system/kscprobe.socket" "$work/verify/"
"${limit[@]}" systemd-analyze verify --man=no "$work/verify/kscprobe.service" \
  "$work/verify/kscprobe.socket" || fail "systemd-analyze verify"

echo "--- systemd-analyze security --offline"
security_report() {  # unit file; prints the report, fails unless it rates OK or SAFE (<= 1.9)
  local report line score
  report=$("${limit[@]}" systemd-analyze security --offline=yes --no-pager "$1" 2>&1) || true
  line=$(grep 'Overall exposure level' <<<"$report" || true)
  [[ -n "$line" ]] || { echo "$report" >&2; fail "no security rating for $1"; }
  score=$(sed -E 's/.*: ([0-9.]+) .*/\1/' <<<"$line")
  # systemd's scale: <= 1.9 OK (or SAFE below 1.0); 2.0-4.9 MEDIUM; above that EXPOSED/UNSAFE.
  grep -Eq ' (OK|SAFE) ' <<<"$line" || fail "rating is not OK or SAFE: $line"
  awk -v s="$score" 'BEGIN { exit !(s <= 1.9) }' || fail "exposure $score above 1.9: $1"
  echo "$report"
}
# Each setting is a line "MARK NAME ...": ✓ passed, ✗ failed ("+" and "-" in a non-UTF-8 locale).
settings() {  # report passed|failed: the names of the settings with that mark
  local mark='✓' ascii='+'
  if [[ "$2" == failed ]]; then mark='✗' ascii='-'; fi
  awk -v m="$mark" -v a="$ascii" '($1 == m || $1 == a) && NF > 2 { print $2 }' <<<"$1"
}
report=$(security_report "$work/verify/kscprobe.service")
grep 'Overall exposure level' <<<"$report"
# As shipped the daemon holds no capability at all, ICMP or not.
net_caps='CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)'
settings "$report" passed | grep -Fqx "$net_caps" \
  || fail "the shipped unit grants a networking capability"

echo "--- the raw-socket ICMP drop-in (examples/icmp-raw.conf)"
# verify and security read drop-ins from <unit>.d/ beside the unit file. verify exits 0 even when
# a drop-in has unknown keys or bad values (it only warns), so any message about it fails here.
mkdir -p "$work/verify-icmp/kscprobe.service.d"
cp "$work/verify/kscprobe.service" "$work/verify-icmp/"
cp "$work/root/usr/share/doc/kscprobe/examples/icmp-raw.conf" \
  "$work/verify-icmp/kscprobe.service.d/icmp-raw.conf"
out=$("${limit[@]}" systemd-analyze verify --man=no "$work/verify-icmp/kscprobe.service" 2>&1) \
  || { echo "$out" >&2; fail "systemd-analyze verify with the drop-in"; }
if grep -q 'icmp-raw.conf' <<<"$out"; then
  echo "$out" >&2
  fail "systemd-analyze verify complains about the drop-in"
fi
report=$(security_report "$work/verify-icmp/kscprobe.service")
grep 'Overall exposure level' <<<"$report"
# The drop-in must take effect: CAP_NET_RAW as an ambient capability, outside a private user
# namespace (where it would not count for the host's network), and no other capability.
failed=$(settings "$report" failed)
for want in AmbientCapabilities= "$net_caps" PrivateUsers=; do
  grep -Fqx "$want" <<<"$failed" || { echo "$report" >&2; fail "drop-in not applied: $want"; }
done
others=$(grep '^CapabilityBoundingSet=' <<<"$failed" | grep -Fvx "$net_caps" || true)
[[ -z "$others" ]] || fail "the drop-in grants more than CAP_NET_RAW: $others"

echo "--- cpack .deb"
"${limit[@]}" cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg" >/dev/null \
  || fail "cpack"
deb=$(ls "$work"/pkg/kscprobe_*.deb)
echo "$(basename "$deb")"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/contents"
for f in ./usr/bin/kscprobe ./usr/lib/systemd/system/kscprobe.service ./etc/kscprobe/kscprobe.toml \
  ./usr/share/doc/kscprobe/examples/icmp-raw.conf; do
  grep -qx "$f" "$work/contents" || fail "$f missing from the package"
done
dpkg-deb -I "$deb" conffiles | grep -q /etc/kscprobe/kscprobe.toml || fail "config is no conffile"

echo "--- lintian"
# Errors fail the stage; warnings are printed. Tags that do not apply to a CPack build:
# no Debian changelog policy for a local package, no license declared by the project yet.
out=$("${limit[@]}" lintian --tag-display-limit 0 \
  --suppress-tags copyright-without-copyright-notice,unknown-copyright-format-uri,copyright-has-url-from-dh_make-boilerplate \
  "$deb" 2>&1) || true
[[ -n "$out" ]] && echo "$out"
if grep -q '^E: ' <<<"$out"; then fail "lintian errors"; fi

echo "--- dpkg -i / -r / -P in a scratch root"
host_before=$(ls -l /usr/bin/kscprobe /etc/kscprobe 2>&1 || true)
"${limit[@]}" unshare --mount --propagation private bash "$0" --scratch-root "$deb" \
  "$work/scratch" || fail "package test in the scratch root"
[[ "$(ls -l /usr/bin/kscprobe /etc/kscprobe 2>&1 || true)" == "$host_before" ]] \
  || fail "the package test changed this machine"
echo "--- cpack .rpm"
for rel in 1 2; do
  "${limit[@]}" cpack --config "$build/CPackConfig.cmake" -G RPM -B "$work/rpm$rel" \
    -D CPACK_RPM_PACKAGE_RELEASE=$rel >"$work/cpack-rpm$rel.log" 2>&1 \
    || { cat "$work/cpack-rpm$rel.log"; fail "cpack -G RPM"; }
done
rpm=$(ls "$work"/rpm1/kscprobe-*-1.x86_64.rpm)
rpm_next=$(ls "$work"/rpm2/kscprobe-*-2.x86_64.rpm)
echo "$(basename "$rpm") ($(stat -c %s "$rpm") bytes; $(basename "$deb"): $(stat -c %s "$deb") bytes)"
# The same files as the .deb (directories aside: each format owns its own).
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" | awk '$1 !~ /^d/ {print $2}' | sort \
  >"$work/rpm-files"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print substr($6, 2)}' | sort >"$work/deb-files"
diff "$work/deb-files" "$work/rpm-files" || fail "the .rpm and the .deb do not hold the same files"
grep -qx /usr/bin/kscprobe "$work/rpm-files" || fail "no /usr/bin/kscprobe in the .rpm"
[[ "$(rpm -qcp "$rpm" | sort)" == "$(sort systemd/debian/conffiles)" ]] \
  || fail "the .rpm's config files are not the .deb's conffiles: $(rpm -qcp "$rpm" | xargs)"
flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm")
grep -qx 'cn /etc/kscprobe/kscprobe.toml' <<<"$flags" || fail "kscprobe.toml is not %config(noreplace)"
modes=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm")
grep -qx -- '-rw-r----- root kscprobe /etc/kscprobe/kscprobe.toml' <<<"$modes" || fail "rpm: config mode: $modes"
grep -qx 'drwxr-x--- root kscprobe /etc/kscprobe' <<<"$modes" || fail "rpm: /etc/kscprobe mode: $modes"
scripts=$(rpm -qp --scripts "$rpm")
for want in 'systemd-sysusers --replace=/usr/lib/sysusers.d/kscprobe.conf' 'u kscprobe -' \
  'systemctl enable kscprobe.service' 'systemctl try-restart kscprobe.service' \
  'systemctl stop kscprobe.socket kscprobe.service'; do
  grep -qF -- "$want" <<<"$scripts" || fail "the .rpm's scriptlets lack: $want"
done

echo "--- rpmlint"
# Errors fail the stage; warnings are printed. The filters and why: systemd/rpm/kscprobe.rpmlintrc.
out=$("${limit[@]}" rpmlint -r systemd/rpm/kscprobe.rpmlintrc "$rpm" 2>&1) || true
echo "$out"
grep -Eq '[0-9]+ packages and [0-9]+ specfiles checked' <<<"$out" || fail "rpmlint did not run"
grep -Eq ' 0 errors, ' <<<"$out" || fail "rpmlint errors"

echo "--- rpm -i / -U / -e in a scratch root"
"${limit[@]}" unshare --mount --propagation private bash "$0" --scratch-root-rpm "$rpm" \
  "$rpm_next" "$work/scratch-rpm" || fail "rpm test in the scratch root"
[[ "$(ls -l /usr/bin/kscprobe /etc/kscprobe 2>&1 || true)" == "$host_before" ]] \
  || fail "the rpm test changed this machine"
echo "30-systemd: all checks passed"
