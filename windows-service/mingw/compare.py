#!/usr/bin/env python3
"""Compares the verdicts of the Linux and the Windows build of kscprobe on the same estate.

  compare.py once LINUX.txt WINDOWS.txt [--explained CHECK LINUX WINDOWS WHY ...]
      two `kscprobe --once` tables: per (target, check), RESULT, REASON and the certificate's
      expiry date must be the same.
  compare.py metrics LINUX.prom WINDOWS.prom [--explained CHECK LINUX WINDOWS WHY ...]
      two /metrics scrapes: kscprobe_probe_success, kscprobe_probe_failure_info and
      kscprobe_agent_diagnosis must have the same series and values.

Prints the table of verdicts (Linux | Windows | same?) and exits 1 if a difference is not
explained: --explained CHECK LINUX WINDOWS WHY accepts, on every check named CHECK, the verdict
LINUX on Linux with WINDOWS on Windows (as the table prints them), and prints WHY
(windows-service/README.md says why each one is). An explanation that no difference needs is an
error too, so the list cannot go stale.
"""
import re
import sys


def parse_once(path):
    lines = [l.rstrip("\r\n") for l in open(path, encoding="utf-8", errors="replace")]
    header = next(i for i, l in enumerate(lines) if l.startswith("TARGET "))
    names = ["TARGET", "ROLE", "CHECK", "ADDRESS", "PORT", "TRANSPORT", "RESULT", "LATENCY",
             "REASON", "CERT EXPIRY", "DETAIL"]
    starts = [lines[header].index(n) for n in names]
    rows = {}
    for line in lines[header + 1:]:
        if not line.strip():
            break
        cols = {}
        for k, n in enumerate(names):
            end = starts[k + 1] if k + 1 < len(names) else len(line)
            cols[n] = line[starts[k]:end].strip()
        expiry = cols["CERT EXPIRY"].split(" ")[0]
        # Certificates issued by the simulator at its start: the date, not the day count (which
        # depends on the hour of the run).
        rows[(cols["TARGET"], cols["CHECK"])] = (
            cols["RESULT"], cols["REASON"], expiry, cols["DETAIL"])
    if not rows:
        sys.exit(f"compare: no rows in {path}")
    return rows


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
FAMILIES = ("kscprobe_probe_success", "kscprobe_probe_failure_info", "kscprobe_agent_diagnosis")


def parse_metrics(path):
    """{(target, check): {family: value-or-reason}} for the compared families."""
    out = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        m = SAMPLE.match(line)
        if not m or m.group(1) not in FAMILIES:
            continue
        labels = dict(LABEL.findall(m.group(3) or ""))
        family = m.group(1)
        if family == "kscprobe_agent_diagnosis":
            device = labels.get("target") or ",".join(
                f"{k}={v}" for k, v in sorted(labels.items()) if k != "diagnosis")
            key = (device, "agent_diagnosis")
            value = labels.get("diagnosis", "?")
        elif family == "kscprobe_probe_failure_info":
            key = (labels.get("target", "?"), labels.get("check", "?"))
            value = labels.get("reason", "?")
        else:
            key = (labels.get("target", "?"), labels.get("check", "?"))
            value = "ok" if m.group(4) == "1" else "FAIL"
        out.setdefault(key, {})[family] = value
    if not out:
        sys.exit(f"compare: no kscprobe_probe_success series in {path}")
    return out


def verdict_once(row):
    return "missing" if row is None else f"{row[0]} {row[1]} {row[2]}".strip()


def verdict_metrics(row):
    if row is None:
        return "missing"
    if "kscprobe_agent_diagnosis" in row:
        return row["kscprobe_agent_diagnosis"]
    return f"{row.get('kscprobe_probe_success', '?')} {row.get('kscprobe_probe_failure_info', '-')}"


def main(argv):
    if len(argv) < 3 or argv[0] not in ("once", "metrics"):
        sys.exit(__doc__)
    mode, linux_path, windows_path = argv[0], argv[1], argv[2]
    explained = {}
    rest = argv[3:]
    while rest:
        if rest[0] != "--explained" or len(rest) < 5:
            sys.exit(__doc__)
        explained[(rest[1], rest[2], rest[3])] = rest[4]
        rest = rest[5:]
    parse, verdict = (parse_once, verdict_once) if mode == "once" else (parse_metrics,
                                                                       verdict_metrics)
    linux, windows = parse(linux_path), parse(windows_path)
    keys = sorted(set(linux) | set(windows))
    used = set()
    rows = [("TARGET", "CHECK", "LINUX", "WINDOWS (wine)", "")]
    bad = 0
    for key in keys:
        lv, wv = verdict(linux.get(key)), verdict(windows.get(key))
        if lv == wv:
            mark = "same"
        elif (key[1], lv, wv) in explained:
            mark = "explained: " + explained[(key[1], lv, wv)]
            used.add((key[1], lv, wv))
        else:
            mark = "DIFFERS"
            bad += 1
        rows.append((key[0], key[1], lv, wv, mark))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  " + "  ".join(r[i].ljust(width[i]) for i in range(4)) + "  " + r[4])
    same = sum(1 for r in rows[1:] if r[4] == "same")
    print(f"{mode}: {same} of {len(keys)} verdicts the same, {len(keys) - same - bad} explained, "
          f"{bad} unexplained")
    stale = sorted(set(explained) - used)
    if stale:
        print("compare: explained differences that did not occur: " +
              "; ".join(f"{c}: {l} / {w}" for c, l, w in stale))
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
