#!/usr/bin/env bash
# build-msi.sh EXE VERSION OUTDIR: builds OUTDIR/kscprobe-VERSION-x64.msi from kscprobe.wxs with
# wixl (Debian packages wixl and msitools), from the Windows kscprobe.exe EXE and the example
# configuration examples/kscprobe.example.toml. VERSION is the MSI's ProductVersion (X.Y.Z): a
# higher one upgrades a lower one in place. Prints the MSI's path.
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 EXE VERSION OUTDIR" >&2
  exit 2
fi
fail() {
  echo "build-msi.sh: $*" >&2
  exit 1
}
exe=$1 version=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ -f "$exe" ]] || fail "no $exe"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "the version must be X.Y.Z: $version"
for tool in wixl msibuild msiinfo; do
  command -v "$tool" >/dev/null || fail "$tool missing (packages wixl, msitools)"
done
mkdir -p "$3"
msi="$(cd "$3" && pwd)/kscprobe-$version-x64.msi"
# wixl 0.101 takes File/@Source relative to the current folder only.
stage=$(mktemp -d /tmp/kscprobe-msi-XXXXXX)
trap 'rm -rf "$stage"' EXIT
cp "$exe" "$stage/kscprobe.exe"
cp "$root/examples/kscprobe.example.toml" "$stage/"
(cd "$stage" && timeout 120 wixl -a x64 -D Version="$version" -o "$msi" "$here/kscprobe.wxs") \
  || fail "wixl"

# What wixl 0.101 cannot write, set in its tables afterwards:
# - the configuration's component: Permanent (16: uninstall leaves it) and NeverOverwrite (128: an
#   existing kscprobe.toml is never replaced, on upgrade or reinstall), besides 64-bit (256);
# - the properties given on the command line reach the install's server side
#   (Property/@Secure): SecureCustomProperties, after the ones wixl lists for MajorUpgrade;
# - the registry searches read the 64-bit registry, where the 64-bit component wrote the
#   remembered properties (RegLocator type 2, raw value, | 16, msidbLocatorType64bit);
# - EventMessageFile is REG_EXPAND_SZ, as `kscprobe service install` writes it (a "#%" value):
#   wixl 0.101 writes Type="expandable" as a plain string.
q() { printf 'UPDATE `%s` SET %s WHERE %s' "$@"; }
secure=$(msiinfo export "$msi" Property | tr -d '\r' | awk -F'\t' '$1 == "SecureCustomProperties" { print $2 }')
[[ -n "$secure" ]] || fail "no SecureCustomProperties in wixl's output"
timeout 60 msibuild "$msi" \
  -q "$(q Component '`Attributes` = 400' "\`Component\` = 'Configuration'")" \
  -q "$(q Property "\`Value\` = '$secure;CONFIG_FILE;LISTEN_ADDRESS;FIREWALL_PORT'" "\`Property\` = 'SecureCustomProperties'")" \
  -q "$(q RegLocator '`Type` = 18' "\`Key\` = 'SOFTWARE\\kscprobe'")" \
  -q "$(q Registry "\`Value\` = '#%[#kscprobe.exe]'" "\`Name\` = 'EventMessageFile'")" \
  || fail "msibuild"
# (Each table is read whole before grep: with pipefail, grep -q stopping early would fail the
# pipeline with msiinfo's SIGPIPE.)
table() { msiinfo export "$msi" "$1" | tr -d '\r'; }
grep -qP '^Configuration\t.*\t400\t' <<<"$(table Component)" || fail "component attributes not set"
[[ $(grep -cP '\tSOFTWARE\\kscprobe\t\w+\t18$' <<<"$(table RegLocator)") == 3 ]] \
  || fail "RegLocator types not set"
grep -qP '\tEventMessageFile\t#%\[#kscprobe\.exe\]\t' <<<"$(table Registry)" \
  || fail "EventMessageFile not REG_EXPAND_SZ"
echo "$msi"
