#!/usr/bin/env bash
# The MSI (windows-service/msi/): built by wixl, then installed, upgraded and removed by wine's
# msiexec in a throwaway prefix:
# 1. build-msi.sh makes kscprobe-X.Y.Z-x64.msi and kscprobe-X.Y.(Z+1)-x64.msi (the second with a
#    kscprobe.exe that differs by a trailing byte, to see it replace the first); msiinfo shows the
#    tables and rows the install depends on.
# 2. msiexec /i X.Y.Z /qn CONFIG_FILE=... LISTEN_ADDRESS=127.0.0.1:PORT FIREWALL_PORT=PORT: the
#    files, the service's registration (automatic, LocalService, `service run` with the two
#    properties), the Event Log source, the remembered properties; the service is RUNNING and
#    /metrics answers on that address with the configuration's checks.
# 3. msiexec /i X.Y.(Z+1) /qn with no property: the binary is replaced, the edited
#    ProgramData\kscprobe\kscprobe.toml stays as edited, the service is registered again with the
#    same properties and runs.
# 4. msiexec /i X.Y.Z again: refused (a newer version is installed), nothing changes.
# 5. msiexec /x: the service, the Event Log source and the binary are gone; the configuration and
#    the log file stay.
# The Windows kscprobe.exe comes from KSCPROBE_WINDOWS_EXE, else build-mingw/kscprobe.exe (which
# scripts/test.d/40-windows.sh builds and proves first; run for it when it is missing).
# What wine cannot show (the restart policy, LocalService's rights, the firewall rule, Event
# Viewer) is listed in windows-service/README.md ("MSI"). KSCPROBE_45_KEEP=1 keeps the work
# folder (the prefix, the MSIs, msiexec's logs C:\install.log, upgrade.log, uninstall.log).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -z "${KSCPROBE_45_BOUNDED:-}" ]]; then
  KSCPROBE_45_BOUNDED=1 exec timeout -k 10 1800 bash "$0" "$@"
fi
fail() {
  echo "45-msi: FAIL: $*" >&2
  exit 1
}
tools=(wixl msibuild msiinfo wine wineserver wineboot curl md5sum)
missing_tools() { for t in "${tools[@]}"; do command -v "$t" >/dev/null || echo "$t"; done; }
if [[ -n "$(missing_tools)" ]]; then
  echo "--- installing the missing tools: $(missing_tools | xargs)"
  scripts/install-deps.sh --test || fail "scripts/install-deps.sh --test"
fi
[[ -z "$(missing_tools)" ]] || fail "missing after install-deps: $(missing_tools | xargs)"

started=$SECONDS
work=$(mktemp -d /tmp/kscprobe-msi-test-XXXXXX)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
cleanup() {
  timeout 20 wineserver -k >/dev/null 2>&1 || true
  if [[ -n "${KSCPROBE_45_KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "--- the Windows kscprobe.exe"
exe=${KSCPROBE_WINDOWS_EXE:-}
[[ -z "$exe" && -f build-mingw/kscprobe.exe ]] && exe=build-mingw/kscprobe.exe
if [[ -z "$exe" ]]; then
  # 40-windows.sh builds it (preset windows-mingw) and proves it; scripts/test.sh runs it first.
  echo "no build-mingw/kscprobe.exe: 40-windows.sh builds it"
  bash scripts/test.d/40-windows.sh >"$work/40.log" 2>&1 || { tail -30 "$work/40.log"; fail "40-windows.sh"; }
  exe=build-mingw/kscprobe.exe
fi
[[ -f "$exe" ]] || fail "no $exe"
echo "$exe ($(stat -c %s "$exe") bytes)"

echo "--- build the MSIs"
version=$(sed -nE 's/^project\(kscprobe VERSION ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' CMakeLists.txt)
[[ -n "$version" ]] || fail "no X.Y.Z version in CMakeLists.txt"
next="${version%.*}.$((${version##*.} + 1))"
cp "$exe" "$work/kscprobe-old.exe"
cp "$exe" "$work/kscprobe-new.exe"
# A PE file ignores bytes after its last section: the same program, another checksum.
printf 'upgrade' >>"$work/kscprobe-new.exe"
windows-service/msi/build-msi.sh "$work/kscprobe-old.exe" "$version" "$work/msi" >/dev/null \
  || fail "build-msi.sh $version"
windows-service/msi/build-msi.sh "$work/kscprobe-new.exe" "$next" "$work/msi" >/dev/null \
  || fail "build-msi.sh $next"
old_msi="$work/msi/kscprobe-$version-x64.msi"
new_msi="$work/msi/kscprobe-$next-x64.msi"
[[ -f "$old_msi" && -f "$new_msi" ]] || fail "build-msi.sh made no kscprobe-<version>-x64.msi"
echo "kscprobe-$version-x64.msi: $(stat -c %s "$old_msi") bytes (kscprobe.exe: $(stat -c %s "$exe") bytes)"

echo "--- msiinfo: tables and rows"
tables=$(msiinfo tables "$old_msi")
for t in Component File ServiceInstall ServiceControl Registry CustomAction Upgrade CreateFolder \
  AppSearch RegLocator; do
  grep -qx "$t" <<<"$tables" || fail "no $t table"
done
row() {  # row TABLE REGEX: a row of TABLE (tab-separated) matches REGEX
  local rows
  rows=$(msiinfo export "$old_msi" "$1" | tr -d '\r') || fail "msiinfo export $1"
  grep -qP "$2" <<<"$rows" || fail "$1 has no row matching $2"
}
# ServiceType 16 (own process), StartType 2 (automatic), ErrorControl 1, LocalService.
row ServiceInstall '^KscprobeService\tkscprobe\t[^\t]*\t16\t2\t1\t\t\tNT AUTHORITY\\LocalService\t\tservice run "--config\.file=\[CONFIG_FILE\]" "--web\.listen-address=\[LISTEN_ADDRESS\]" "--log\.file=\[DATADIR\]kscprobe\.log"\t'
# Events: install start (1), install and uninstall stop (2 | 32), uninstall delete (128).
row ServiceControl '^KscprobeServiceControl\tkscprobe\t163\t'
row Registry '\t2\tSYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\kscprobe\tEventMessageFile\t#%\[#kscprobe\.exe\]\tService$'
row Registry '\t2\tSYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\kscprobe\tTypesSupported\t#7\tService$'
# 64-bit | Permanent | NeverOverwrite, in ProgramData.
row Component '^Configuration\t\{[0-9A-F-]+\}\tDATADIR\t400\t\tkscprobe\.toml$'
row Component '^Service\t\{[0-9A-F-]+\}\tINSTALLDIR\t256\t\tkscprobe\.exe$'
row Directory '^INSTALLDIR\tProgramFiles64Folder\tkscprobe$'
row Directory '^DATADIR\tCommonAppDataFolder\tkscprobe$'
row CustomAction '^ServiceFailureActions\t3122\tSC_EXE\tfailure kscprobe reset= 86400 actions= restart/5000/restart/5000/restart/30000'
row CustomAction '^GrantLocalService\t3122\tICACLS_EXE\t.*/grant \*S-1-5-19:\(OI\)\(CI\)M'
row InstallExecuteSequence '^ServiceFailureActions\t[^\t]*\t580[0-9]$'
# Defaults when neither the command line nor an earlier install gave a value.
row CustomAction '^DefaultConfigFile\t51\tCONFIG_FILE\t\[CommonAppDataFolder\]kscprobe\\kscprobe\.toml\t$'
row CustomAction '^DefaultListenAddress\t51\tLISTEN_ADDRESS\t:9851\t$'
row Property '^SecureCustomProperties\t.*CONFIG_FILE;LISTEN_ADDRESS;FIREWALL_PORT'
# The remembered properties are read from the 64-bit registry (raw value | 64-bit).
row RegLocator '^SearchListenAddress\t2\tSOFTWARE\\kscprobe\tListenAddress\t18$'
row Registry '\t2\tSOFTWARE\\kscprobe\tListenAddress\t\[LISTEN_ADDRESS\]\tService$'

echo "--- wine prefix"
timeout 120 wineboot -i >/dev/null 2>&1 || fail "wineboot"
timeout 60 wineserver -w || true
# A persistent server, or wine tears the service down when msiexec returns.
timeout -k 5 600 wineserver -p >/dev/null 2>&1 &
timeout 60 wine cmd /c exit </dev/null >/dev/null 2>"$work/services.log" || true
c="$WINEPREFIX/drive_c"
w() { timeout 120 wine "$@" </dev/null 2>/dev/null; }
winpath() { echo "Z:${1//\//\\}"; }
state() { w sc query kscprobe | sed -nE 's/.*STATE +: +[0-9]+ +([A-Z_]+).*/\1/p'; }
wait_for() {  # SECONDS WANT CMD...: polls CMD until its output contains WANT
  local end=$((SECONDS + $1)) want=$2
  shift 2
  while ((SECONDS < end)); do
    [[ "$("$@" 2>/dev/null || true)" == *"$want"* ]] && return 0
    sleep 0.3
  done
  return 1
}
metrics() { curl -fsS -m 5 "http://127.0.0.1:$port/metrics"; }
svc_key='HKLM\SYSTEM\CurrentControlSet\Services\kscprobe'
eventlog_key='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\kscprobe'
pf="$c/Program Files/kscprobe"
data="$c/ProgramData/kscprobe"

port=$((20000 + RANDOM % 20000))
mkdir -p "$c/cfg"
printf '[daemon]\ninterval = "30s"\ntimeout = "5s"\n[[target]]\nname = "local"\nrole = "agent"\naddress = "127.0.0.1"\n' \
  >"$c/cfg/kscprobe.toml"

echo "--- msiexec /i kscprobe-$version-x64.msi /qn CONFIG_FILE=C:\\cfg\\kscprobe.toml LISTEN_ADDRESS=127.0.0.1:$port FIREWALL_PORT=$port"
w msiexec /i "$(winpath "$old_msi")" /qn 'CONFIG_FILE=C:\cfg\kscprobe.toml' \
  "LISTEN_ADDRESS=127.0.0.1:$port" "FIREWALL_PORT=$port" /l*v 'C:\install.log' \
  || fail "msiexec /i $version"
# The deferred actions ran (the script runs after InstallFinalize starts) and returned 0 (wine's
# log: "Return value 1"). Under wine sc.exe failure, icacls and netsh succeed without effect and
# `sc failureflag` is not implemented (its action ignores the result).
executed=$(sed -n '/Action start [0-9:]*: InstallFinalize\./,$p' "$c/install.log")
for a in ServiceFailureActions GrantLocalService FirewallRuleAdd; do
  grep -qE "Action ended [0-9:]+: $a\. Return value 1\." <<<"$executed" \
    || fail "the deferred action $a did not run or failed (C:\\install.log)"
done
cmp -s "$pf/kscprobe.exe" "$work/kscprobe-old.exe" || fail "no kscprobe.exe in Program Files\\kscprobe"
cmp -s "$data/kscprobe.toml" examples/kscprobe.example.toml \
  || fail "ProgramData\\kscprobe\\kscprobe.toml is not the example configuration"
svc=$(w reg query "$svc_key" | tr -d '\r') || fail "no service registered"
grep -qE 'ImagePath +REG_(EXPAND_)?SZ +"?C:\\Program Files\\kscprobe\\kscprobe\.exe"? service run "--config\.file=C:\\cfg\\kscprobe\.toml" "--web\.listen-address=127\.0\.0\.1:'"$port"'" "--log\.file=C:\\ProgramData\\kscprobe\\kscprobe\.log"$' <<<"$svc" \
  || { echo "$svc"; fail "the service's command line"; }
grep -qE 'Start +REG_DWORD +0x2$' <<<"$svc" || fail "the service does not start automatically"
grep -qE 'ObjectName +REG_SZ +NT AUTHORITY\\LocalService$' <<<"$svc" || fail "the service's account"
echo "service: $(grep ImagePath <<<"$svc" | sed -E 's/^ +//; s/ +/ /g')"
reg=$(w reg query "$eventlog_key" | tr -d '\r') || fail "no Event Log source"
grep -qE 'EventMessageFile +REG_EXPAND_SZ +C:\\Program Files\\kscprobe\\kscprobe\.exe$' <<<"$reg" \
  || { echo "$reg"; fail "EventMessageFile is not the installed kscprobe.exe"; }
grep -qE 'TypesSupported +REG_DWORD +0x7$' <<<"$reg" || fail "TypesSupported: $reg"
# ServiceControl starts it at install (Wait: msiexec returns once it is RUNNING).
wait_for 60 RUNNING state || fail "service not RUNNING after install: $(state)"
wait_for 30 'kscprobe_checks{role="agent"} 2' metrics || fail "/metrics on 127.0.0.1:$port has not the configured 2 checks"
grep -qF "listen_address=127.0.0.1:$port" "$data/kscprobe.log" \
  || fail "the service's log file ProgramData\\kscprobe\\kscprobe.log has no startup line"
echo "RUNNING, /metrics on 127.0.0.1:$port with the configured plan, $((SECONDS - started)) s"

echo "--- edit the configuration, then upgrade to $next with no property"
printf '\n# edited by the administrator\n' >>"$data/kscprobe.toml"
edited=$(md5sum <"$data/kscprobe.toml")
w msiexec /i "$(winpath "$new_msi")" /qn /l*v 'C:\upgrade.log' || fail "msiexec /i $next"
cmp -s "$pf/kscprobe.exe" "$work/kscprobe-new.exe" || fail "the upgrade did not replace kscprobe.exe"
[[ "$(md5sum <"$data/kscprobe.toml")" == "$edited" ]] || fail "the upgrade replaced the edited kscprobe.toml"
svc=$(w reg query "$svc_key" | tr -d '\r') || fail "no service registered after the upgrade"
grep -qF "service run \"--config.file=C:\\cfg\\kscprobe.toml\" \"--web.listen-address=127.0.0.1:$port\" \"--log.file=" <<<"$svc" \
  || { echo "$svc"; fail "the upgrade did not keep the service's properties"; }
w reg query "$eventlog_key" >/dev/null || fail "no Event Log source after the upgrade"
wait_for 60 RUNNING state || fail "service not RUNNING after the upgrade: $(state)"
wait_for 30 'kscprobe_checks{role="agent"} 2' metrics || fail "/metrics after the upgrade"
products=$(w reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s | tr -d '\r' \
  | grep -cE 'DisplayName +REG_SZ +kscprobe$' || true)
[[ "$products" == 1 ]] || fail "$products kscprobe products registered after the upgrade (want 1)"
echo "upgraded: new binary, configuration as edited, service RUNNING on the same address"

echo "--- a downgrade to $version is refused"
if w msiexec /i "$(winpath "$old_msi")" /qn; then fail "msiexec installed $version over $next"; fi
cmp -s "$pf/kscprobe.exe" "$work/kscprobe-new.exe" || fail "the refused downgrade changed kscprobe.exe"
wait_for 30 RUNNING state || fail "service not RUNNING after the refused downgrade: $(state)"

echo "--- msiexec /x"
w msiexec /x "$(winpath "$new_msi")" /qn /l*v 'C:\uninstall.log' || fail "msiexec /x"
if grep -q STATE <<<"$(w sc query kscprobe)"; then fail "service still registered after uninstall"; fi
if w reg query "$eventlog_key" >/dev/null; then fail "Event Log source left after uninstall"; fi
if w reg query 'HKLM\SOFTWARE\kscprobe' >/dev/null; then fail "HKLM\\SOFTWARE\\kscprobe left after uninstall"; fi
[[ ! -e "$pf/kscprobe.exe" ]] || fail "kscprobe.exe left after uninstall"
[[ "$(md5sum <"$data/kscprobe.toml")" == "$edited" ]] || fail "uninstall removed or changed the configuration"
[[ -s "$data/kscprobe.log" ]] || fail "uninstall removed the log file (or the service wrote none)"
if curl -fsS -m 2 "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1; then
  fail "port still answering after uninstall"
fi
if grep -E 'Unhandled|starting debugger' "$work/services.log"; then fail "a crash under wine"; fi
echo "45-msi: all checks passed in $((SECONDS - started)) s; kscprobe-$version-x64.msi is $(stat -c %s "$old_msi") bytes"
