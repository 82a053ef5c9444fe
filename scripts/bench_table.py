#!/usr/bin/env python3
"""Turns the benchmark's results (kscprobe_bench --results, JSON) into Markdown tables with the
goals of issue 11 beside the measured values, each marked met or missed by how much.

  bench_table.py RESULTS.json                  the Markdown on standard output
  bench_table.py RESULTS.json --output FILE    ... into FILE
  bench_table.py RESULTS.json --readme README  ... between <!-- bench:begin --> and
                                               <!-- bench:end --> of README, the rest untouched

Standard library only: scripts/bench.sh runs it right after the benchmark.

The results file (schema 1; a figure that was not measured is null):
  date, quick, run_seconds, network; machine {cores, cpu_model, kernel, load_average [3]};
  versions {kscprobe, blackbox_exporter, openssl}
  tcp [ {name, rate_per_s, targets, refused_targets, dropped_targets, interval_s, timeout_s,
         window_s, warmup_s, floor, kscprobe, blackbox} ]
  tls [ {name, rate_per_s, targets, interval_s, timeout_s, window_s, warmup_s,
         kscprobe (sessions resumed), kscprobe_full, blackbox, openssl_s_time} ]
    each prober: {ok, error | window_s, probes_per_s (ended, any outcome), succeeded_per_s,
    refused_per_s, timed_out_per_s, failed_per_s, cpu_s, cpu_percent, cpu_ms_per_probe, skipped,
    peak_rss_mb, vm_hwm_mb, estate_per_s, resumed_share, scrapes_in_window, scrape_cpu_s,
    bench_cores, other_cores, steal_cores}; the floor also grid_ms
  estate {ok, agents, refused_agents, distribution_points, servers, interval_s, window_s,
    warmup_s, ready_s, checks, targets, probes_per_s, failed_probes, skipped, cpu_s, cpu_percent,
    scrapes_in_window, scrape_cpu_s, metrics_gzip_bytes, metrics_bytes, metrics_series,
    expected_refused_checks, refused_checks_seen, refused_checks_all_roles, refusals_per_s,
    failure_info_refused_series, due_share, failures_by_reason {reason: probes}, local_errors,
    lag, peak_rss_mb, peak_rss_with_status_page_mb, rss_samples, vm_hwm_mb, status_page {html,
    json}}
  estate_names: as estate (no status_page), every target named by a host name, plus names,
    dns_delay_ms, dns_ttl_s, resolver {dns_queries_per_s, dns_queries_peak_second, dns_seconds,
    lookups_per_s, cache_share, joined_share, names_asked_per_s, queue_full}
  moonshot: as estate (no status_page), five times its agents by default
  estate_textfile: as estate (no status_page), with --write-textfile on, plus textfile_bytes,
    textfile_age_s (the file's age at the window's end)
  discovery {ok, error | agents, refused_agents, distribution_points, servers, interval_s,
    refresh_s, warmup_s, span_s, churn, ready_s, first_discovery_s, first_discovery_server_s,
    second_discovery_s, second_discovery_server_s, requests, largest_page, success,
    discovered_agents, discovered_distribution_points, checks, targets, churn_seen,
    agent_stopped, expected_agent_stopped, quiet_s, quiet_cpu_s, refresh_span_s, refresh_cpu_s,
    lag_quiet, lag_refresh, peak_rss_before_refresh_mb, steady_peak_rss_mb (the quiet span's),
    refresh_peak_rss_mb (the span of the refresh's), peak_rss_mb, vm_hwm_mb, metrics_bytes,
    metrics_gzip_bytes, metrics_series, ksc_servers, per_server [ {name, first_discovery_s,
    first_discovery_server_s, second_discovery_s, second_discovery_server_s,
    discovered_agents, discovered_distribution_points, requests, success} ]}
  moonshot_discovery: as discovery, the moonshot's devices dealt among five servers
    lag: {p50_ms, p50_bucket_le_ms, p99_ms, p99_bucket_le_ms, max_bucket_le_ms, mean_ms, starts}
    status page: {path, fetches, ok, last_status, bytes, cpu_ms_per_render (median CPU of the
    daemon across one fetch, probing during it included: an upper bound), cpu_ms_per_render_net,
    cpu_ms_max_fetch, wall_s_max, seconds, lag}
"""
import argparse
import json
import math
import sys

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

# The goals on the honest path (issue 11, section 2 and 4).
TCP_FLOOR_MAX = 2.0  # kscprobe ≤ 2× the floor measured the same way
TCP_BLACKBOX_MIN = 10.0  # ≥ 10× cheaper than blackbox_exporter
TLS_FULL_BLACKBOX_MIN = 1.5  # full handshakes ≥ 1.5× cheaper than blackbox_exporter
TLS_FULL_OPENSSL_MAX = 1.2  # within 1.2× of openssl s_time -new
TLS_RESUMED_BLACKBOX_MIN = 4.0  # resumed ≥ 4× cheaper than blackbox_exporter
ESTATE_CPU_MAX = 10.0  # % of a core, gzip scrapes included
ESTATE_RSS_MAX = 200.0  # MB, peak
ESTATE_LAG_P99_MAX = 50.0  # ms
# The moonshot: five times the estate (issue 19, section 2).
MOONSHOT_DUE_MIN = 0.99  # share of due probes run in the window
MOONSHOT_CPU_MAX = 30.0  # % of a core, gzip scrapes included
MOONSHOT_RSS_MAX = 500.0  # MB, peak
MOONSHOT_METRICS_MAX = 50e6  # bytes of /metrics text at the default detail
MOONSHOT_REFRESH_RSS_MAX = 1.3  # a discovery refresh's peak over the steady peak
PAGE_BYTES_MAX = 2e6
PAGE_CPU_MAX = 100.0  # ms per render
# A prober that ends fewer probes than this share of the offered rate did not keep up.
SUSTAINED = 0.9


def num(value):
    """A measured number, or None when it was not measured (null, missing, not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def fmt(value, digits=1, unit=""):
    value = num(value)
    if value is None:
        return "n/a"
    if digits == 0:
        text = f"{value:,.0f}".replace(",", " ")
    else:
        text = f"{value:.{digits}f}"
    return text + unit


def ms(value):
    """CPU milliseconds per probe with enough digits for both 0.02 and 2."""
    value = num(value)
    if value is None:
        return "n/a"
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}"


def times(value):
    """A ratio, with two decimals below 10 so that one near a goal is told apart from it."""
    value = num(value)
    if value is None:
        return "n/a"
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def ratio(a, b):
    a, b = num(a), num(b)
    if a is None or b is None or b <= 0:
        return None
    return a / b


def at_most(value, limit, unit=""):
    """Verdict of a goal `value ≤ limit`."""
    value = num(value)
    if value is None:
        return "not measured"
    if value <= limit:
        return "met"
    shown = times(value) if unit == "×" else f"{fmt(value, 1 if value < 100 else 0)}{unit}"
    return f"missed by {value / limit:.2f}× ({shown})"


def at_least(value, limit):
    """Verdict of a goal `value ≥ limit` (value > 0)."""
    value = num(value)
    if value is None:
        return "not measured"
    if value >= limit:
        return "met"
    return f"missed by {limit / value:.2f}× ({times(value)} of {limit:g}×)"


def prober(result):
    """Text of a prober that failed, else None."""
    if not isinstance(result, dict):
        return "not run"
    if not result.get("ok"):
        return "failed: " + str(result.get("error", "")).strip().splitlines()[0][:80] \
            if str(result.get("error", "")).strip() else "failed"
    return None


def cost(result, offered):
    """CPU ms per probe, marked when the prober did not keep up with the offered rate."""
    failed = prober(result)
    if failed:
        return failed
    text = ms(result.get("cpu_ms_per_probe"))
    rate = num(result.get("probes_per_s"))
    if offered and rate is not None and rate < SUSTAINED * offered:
        text += f" (overloaded: {100 * rate / offered:.0f} % of the offered rate ended)"
    return text


def cell(result, key, digits=1, unit=""):
    failed = prober(result)
    return failed if failed else fmt(result.get(key), digits, unit)


def rates_cell(result):
    failed = prober(result)
    if failed:
        return failed
    text = f"{fmt(result.get('probes_per_s'))} ({fmt(result.get('succeeded_per_s'))} ok"
    refused, timed_out = num(result.get("refused_per_s")), num(result.get("timed_out_per_s"))
    if refused is not None and timed_out is not None:
        text += f", {fmt(refused)} refused, {fmt(timed_out)} timed out"
    else:
        text += f", {fmt(result.get('failed_per_s'))} failed"
    return text + ")"


def value_of(result, key):
    return None if prober(result) else num(result.get(key))


def row(cells):
    return "| " + " | ".join(cells) + " |"


def header(results):
    machine = results.get("machine", {})
    load = machine.get("load_average") or []
    load_text = " / ".join(fmt(v, 2) for v in load[:3]) if load else "n/a"
    versions = results.get("versions", {})
    lines = [
        f"Run of {results.get('date', 'n/a')}"
        + (" (--quick: a smoke run, not figures to quote)" if results.get("quick") else "")
        + f" on {fmt(machine.get('cores'), 0)} cores ({machine.get('cpu_model', 'n/a')}), "
        f"load average {load_text} at its start, in {fmt(results.get('run_seconds'), 0)} s. "
        f"{versions.get('kscprobe', 'kscprobe')}; {versions.get('blackbox_exporter', '')}; "
        f"{versions.get('openssl', '')}.",
        "",
        f"Network: {results.get('network', 'n/a')}. CPU is each prober's own (/proc; the "
        "floor's thread), over the window, per probe that ended whatever its outcome; kscprobe's "
        "windows include its gzip scrapes of /metrics every 15 s.",
    ]
    return lines


def tcp_section(scenarios):
    out = [
        "",
        "TCP connect, 5 % of the targets refused (RST) and 5 % dropped:",
        "",
        row(["scenario", "figure", "floor", "kscprobe", "blackbox_exporter", "goal", "result"]),
        row(["---"] * 7),
    ]
    for s in scenarios:
        offered = num(s.get("rate_per_s"))
        name = (
            f"{fmt(offered, 0)}/s: {fmt(s.get('targets'), 0)} targets @ {fmt(s.get('interval_s'), 0)} s, "
            f"timeout {fmt(s.get('timeout_s'), 1)} s"
        )
        floor, k, b = s.get("floor"), s.get("kscprobe"), s.get("blackbox")
        out.append(row([name, "probes/s ended", rates_cell(floor), rates_cell(k), rates_cell(b), "", ""]))
        out.append(row(["", "CPU ms per probe", cost(floor, offered), cost(k, offered), cost(b, offered), "", ""]))
        out.append(row(["", "CPU, % of a core", cell(floor, "cpu_percent", 2, " %"),
                        cell(k, "cpu_percent", 2, " %"), cell(b, "cpu_percent", 2, " %"), "", ""]))
        out.append(row(["", "peak RSS", "", cell(k, "peak_rss_mb", 1, " MB"),
                        cell(b, "peak_rss_mb", 1, " MB"), "", ""]))
        k_floor = ratio(value_of(k, "cpu_ms_per_probe"), value_of(floor, "cpu_ms_per_probe"))
        out.append(row(["", "kscprobe ÷ floor", "", times(k_floor), "", f"≤ {TCP_FLOOR_MAX:g}×",
                        at_most(k_floor, TCP_FLOOR_MAX, "×")]))
        b_k = ratio(value_of(b, "cpu_ms_per_probe"), value_of(k, "cpu_ms_per_probe"))
        out.append(row(["", "blackbox_exporter ÷ kscprobe", "", "", times(b_k),
                        f"≥ {TCP_BLACKBOX_MIN:g}×", at_least(b_k, TCP_BLACKBOX_MIN)]))
    return out


def tls_section(scenarios):
    out = [
        "",
        "TLS handshake (ECDSA P-256), every target answering; `tls_full_handshake_interval = \"0s\"` "
        "makes kscprobe do a full handshake every time, like blackbox_exporter:",
        "",
        row(["scenario", "figure", "kscprobe, full", "kscprobe, resumed (default)",
             "blackbox_exporter", "openssl s_time -new", "goal", "result"]),
        row(["---"] * 8),
    ]
    for s in scenarios:
        offered = num(s.get("rate_per_s"))
        name = f"{fmt(offered, 0)}/s: {fmt(s.get('targets'), 0)} targets @ {fmt(s.get('interval_s'), 0)} s"
        full, res, b, o = s.get("kscprobe_full"), s.get("kscprobe"), s.get("blackbox"), s.get("openssl_s_time")
        out.append(row([name, "handshakes/s", cell(full, "probes_per_s"), cell(res, "probes_per_s"),
                        cell(b, "probes_per_s"),
                        cell(o, "probes_per_s") + ("" if prober(o) else " (back to back)"), "", ""]))
        out.append(row(["", "CPU ms per handshake", cost(full, offered), cost(res, offered),
                        cost(b, offered), cost(o, None), "", ""]))
        def share(r):
            v = value_of(r, "resumed_share")
            return "n/a" if v is None else f"{100 * v:.0f} %"
        out.append(row(["", "resumed (seen by the estate)", share(full), share(res), share(b), share(o), "", ""]))
        out.append(row(["", "peak RSS", cell(full, "peak_rss_mb", 1, " MB"), cell(res, "peak_rss_mb", 1, " MB"),
                        cell(b, "peak_rss_mb", 1, " MB"), "", "", ""]))
        b_full = ratio(value_of(b, "cpu_ms_per_probe"), value_of(full, "cpu_ms_per_probe"))
        out.append(row(["", "blackbox_exporter ÷ kscprobe full", times(b_full), "", "", "",
                        f"≥ {TLS_FULL_BLACKBOX_MIN:g}×", at_least(b_full, TLS_FULL_BLACKBOX_MIN)]))
        full_o = ratio(value_of(full, "cpu_ms_per_probe"), value_of(o, "cpu_ms_per_probe"))
        out.append(row(["", "kscprobe full ÷ openssl s_time", times(full_o), "", "", "",
                        f"≤ {TLS_FULL_OPENSSL_MAX:g}×", at_most(full_o, TLS_FULL_OPENSSL_MAX, "×")]))
        b_res = ratio(value_of(b, "cpu_ms_per_probe"), value_of(res, "cpu_ms_per_probe"))
        out.append(row(["", "blackbox_exporter ÷ kscprobe resumed", "", times(b_res), "", "",
                        f"≥ {TLS_RESUMED_BLACKBOX_MIN:g}×", at_least(b_res, TLS_RESUMED_BLACKBOX_MIN)]))
    return out


def lag_text(lag):
    lag = lag or {}
    def one(q):
        v, le = num(lag.get(f"{q}_ms")), num(lag.get(f"{q}_bucket_le_ms"))
        if v is None:
            return "n/a"
        return f"{v:.1f} ms" + (f" (≤ {le:g} ms bucket)" if le is not None else "")
    text = f"p50 {one('p50')}, p99 {one('p99')}"
    largest = num(lag.get("max_bucket_le_ms"))
    if largest is not None:
        text += f", largest ≤ {largest:g} ms"
    return text + f", mean {fmt(lag.get('mean_ms'), 2, ' ms')}"


def estate_section(e):
    if not isinstance(e, dict):
        return []
    name = (
        f"{fmt(e.get('agents'), 0)} agents ({fmt(e.get('refused_agents'), 0)} refuse UDP), "
        f"{fmt(e.get('distribution_points'), 0)} DPs, {fmt(e.get('servers'), 0)} servers @ "
        f"{fmt(e.get('interval_s'), 0)} s"
    )
    out = ["", f"The estate: {name}; window {fmt(e.get('window_s'), 0)} s after "
           f"{fmt(e.get('warmup_s'), 0)} s of warm-up:", ""]
    out += [row(["figure", "kscprobe", "goal", "result"]), row(["---"] * 4)]
    if not e.get("ok"):
        out.append(row(["all", "failed: " + str(e.get("error", "")).strip()[:100], "", "missed"]))
        return out
    lag = e.get("lag") or {}
    expected, seen = num(e.get("expected_refused_checks")), num(e.get("refused_checks_seen"))
    if expected is None or seen is None:
        refused_verdict = "not measured"
    elif seen == expected:
        refused_verdict = "met"
    else:
        refused_verdict = f"missed: {fmt(seen, 0)} of {fmt(expected, 0)}"
    out += [
        row(["checks (targets)", f"{fmt(e.get('checks'), 0)} ({fmt(e.get('targets'), 0)})", "", ""]),
        row(["probes/s", f"{fmt(e.get('probes_per_s'))} ({fmt(e.get('skipped'), 0)} skipped)", "", ""]),
        row(["CPU, % of a core, with a gzip scrape every 15 s",
             f"{fmt(e.get('cpu_percent'), 2, ' %')} ({fmt(e.get('scrapes_in_window'), 0)} scrapes, "
             f"{fmt(e.get('scrape_cpu_s'), 3, ' s')} CPU)",
             f"< {ESTATE_CPU_MAX:g} %", at_most(e.get("cpu_percent"), ESTATE_CPU_MAX, " %")]),
        row(["peak RSS (sampled every 200 ms through warm-up and window)",
             fmt(e.get("peak_rss_mb"), 1, " MB")
             + (f" ({fmt(e.get('peak_rss_with_status_page_mb'), 1, ' MB')} while the status page "
                "was fetched)" if num(e.get("peak_rss_with_status_page_mb")) is not None else ""),
             f"< {ESTATE_RSS_MAX:g} MB", at_most(e.get("peak_rss_mb"), ESTATE_RSS_MAX, " MB")]),
        row(["scheduler lag", lag_text(lag), f"p99 < {ESTATE_LAG_P99_MAX:g} ms",
             at_most(lag.get("p99_ms"), ESTATE_LAG_P99_MAX, " ms")]),
        row(["agent checks refused (ICMP port unreachable)",
             f"{fmt(seen, 0)} seen, {fmt(expected, 0)} expected", "every refusal seen", refused_verdict]),
        row(["/metrics: gzip / raw, series",
             f"{fmt(num(e.get('metrics_gzip_bytes')) and e['metrics_gzip_bytes'] / 1e6, 1, ' MB')} / "
             f"{fmt(num(e.get('metrics_bytes')) and e['metrics_bytes'] / 1e6, 1, ' MB')}, "
             f"{fmt(e.get('metrics_series'), 0)}", "", ""]),
    ]
    return out


def percent(value, digits=1):
    v = num(value)
    return "n/a" if v is None else f"{100 * v:.{digits}f} %"


def reasons_text(e):
    reasons = e.get("failures_by_reason")
    if not isinstance(reasons, dict):
        return "n/a"
    if not reasons:
        return "none"
    return ", ".join(f"{k} {fmt(v, 0)}" for k, v in sorted(reasons.items()))


def due_text(e):
    """The share of due probes that ran, the rate and the skipped ones; n/a without a run."""
    if not e:
        return "n/a"
    return (f"{percent(e.get('due_share'), 2)} ({fmt(e.get('probes_per_s'))}/s, "
            f"{fmt(e.get('skipped'), 0)} skipped)")


def failures_text(e):
    """The failed probes of the window by reason, then the local faults; n/a without a run."""
    return f"{reasons_text(e)}; {fmt(e.get('local_errors'), 0)}" if e else "n/a"


def names_section(n, estate):
    """The estate with every target named by a host name, beside the estate by address of the
    same run (issue 22, section 4)."""
    if not isinstance(n, dict):
        return []
    out = ["", f"The same estate with every target named by a host name ({fmt(n.get('names'), 0)} "
           "names: a<N>.estate.test, dp<N>..., ksc<N>...) that a DNS server in the estate's namespace "
           f"answers after {fmt(n.get('dns_delay_ms'), 0)} ms with a TTL of "
           f"{fmt(n.get('dns_ttl_s'), 0)} s, asked through the prober's resolv.conf; beside it, the "
           "estate by address of the same run:", ""]
    out += [row(["figure", "by names", "by address", "goal", "result"]), row(["---"] * 5)]
    if not n.get("ok"):
        out.append(row(["all", "failed: " + str(n.get("error", "")).strip()[:100], "", "", "missed"]))
        return out
    a = estate if isinstance(estate, dict) and estate.get("ok") else {}

    def refusals(e):
        return f"{fmt(e.get('refused_checks_seen'), 0)} of {fmt(e.get('expected_refused_checks'), 0)}" \
            if e else "n/a"

    expected, seen = num(n.get("expected_refused_checks")), num(n.get("refused_checks_seen"))
    refused_verdict = "not measured" if expected is None or seen is None else (
        "met" if seen == expected else f"missed: {fmt(seen, 0)} of {fmt(expected, 0)}")
    reasons = n.get("failures_by_reason")
    blamed = sorted(k for k in (reasons or {}) if k != "refused")
    local = num(n.get("local_errors"))
    if not isinstance(reasons, dict) or local is None:
        blame_verdict = "not measured"
    elif blamed or local:
        blame_verdict = "missed: " + ", ".join(
            [f"{k} {fmt(reasons[k], 0)}" for k in blamed] + ([f"{fmt(local, 0)} local faults"] if local else []))
    else:
        blame_verdict = "met"
    lag = n.get("lag") or {}
    r = n.get("resolver") or {}
    out += [
        row(["due probes run", due_text(n), due_text(a), "", ""]),
        row(["CPU, % of a core, with a gzip scrape every 15 s", fmt(n.get("cpu_percent"), 2, " %"),
             fmt(a.get("cpu_percent"), 2, " %") if a else "n/a", f"< {ESTATE_CPU_MAX:g} %",
             at_most(n.get("cpu_percent"), ESTATE_CPU_MAX, " %")]),
        row(["peak RSS (sampled every 200 ms through warm-up and window)",
             fmt(n.get("peak_rss_mb"), 1, " MB"), fmt(a.get("peak_rss_mb"), 1, " MB") if a else "n/a",
             f"< {ESTATE_RSS_MAX:g} MB", at_most(n.get("peak_rss_mb"), ESTATE_RSS_MAX, " MB")]),
        row(["scheduler lag", lag_text(lag), lag_text(a.get("lag")) if a else "n/a",
             f"p99 < {ESTATE_LAG_P99_MAX:g} ms", at_most(lag.get("p99_ms"), ESTATE_LAG_P99_MAX, " ms")]),
        row(["agent checks refused (ICMP port unreachable)", refusals(n), refusals(a),
             "every refusal seen", refused_verdict]),
        row(["failed probes in the window by reason; local faults", failures_text(n), failures_text(a),
             "refused only (no target here drops or lacks a name)", blame_verdict]),
        row(["queries the DNS server received (A; AAAA too when the prober has a routable IPv6 address)",
             f"{fmt(r.get('dns_queries_per_s'), 0)}/s over {fmt(r.get('dns_seconds'), 0)} s, busiest "
             f"second {fmt(r.get('dns_queries_peak_second'), 0)}", "", "", ""]),
        row(["lookups (`kscprobe_resolver_lookups_total`)",
             f"{fmt(r.get('lookups_per_s'), 0)}/s: {percent(r.get('cache_share'))} from the cache, "
             f"{percent(r.get('joined_share'))} joined, {fmt(r.get('names_asked_per_s'), 0)} names "
             f"asked/s, {fmt(r.get('queue_full'), 0)} refused (queue full)", "", "", ""]),
    ]
    return out


def moonshot_section(m, estate):
    """Five times the estate by address, beside the estate of the same run (issue 19)."""
    if not isinstance(m, dict):
        return []
    out = ["", f"Five times the estate (the moonshot): {fmt(m.get('agents'), 0)} agents "
           f"({fmt(m.get('refused_agents'), 0)} refuse UDP), {fmt(m.get('distribution_points'), 0)} "
           f"DPs, {fmt(m.get('servers'), 0)} servers @ {fmt(m.get('interval_s'), 0)} s, by address; "
           "beside it, the estate of the same run:", ""]
    out += [row(["figure", "moonshot", "estate", "goal", "result"]), row(["---"] * 5)]
    if not m.get("ok"):
        out.append(row(["all", "failed: " + str(m.get("error", "")).strip()[:100], "", "", "missed"]))
        return out
    a = estate if isinstance(estate, dict) and estate.get("ok") else {}

    share = num(m.get("due_share"))
    due_verdict = "not measured" if share is None else (
        "met" if share >= MOONSHOT_DUE_MIN else f"missed: {percent(share, 2)}")

    def metrics(e):
        if not e:
            return "n/a"
        return (f"{fmt(num(e.get('metrics_gzip_bytes')) and e['metrics_gzip_bytes'] / 1e6, 1, ' MB')} / "
                f"{fmt(num(e.get('metrics_bytes')) and e['metrics_bytes'] / 1e6, 1, ' MB')}, "
                f"{fmt(e.get('metrics_series'), 0)}")

    raw = num(m.get("metrics_bytes"))
    lag = m.get("lag") or {}
    out += [
        row(["checks (targets)", f"{fmt(m.get('checks'), 0)} ({fmt(m.get('targets'), 0)})",
             f"{fmt(a.get('checks'), 0)} ({fmt(a.get('targets'), 0)})" if a else "n/a", "", ""]),
        row(["due probes run", due_text(m), due_text(a), f"≥ {100 * MOONSHOT_DUE_MIN:g} %", due_verdict]),
        row(["scheduler lag", lag_text(lag), lag_text(a.get("lag")) if a else "n/a",
             f"p99 < {ESTATE_LAG_P99_MAX:g} ms", at_most(lag.get("p99_ms"), ESTATE_LAG_P99_MAX, " ms")]),
        row(["CPU, % of a core, with a gzip scrape every 15 s", fmt(m.get("cpu_percent"), 2, " %"),
             fmt(a.get("cpu_percent"), 2, " %") if a else "n/a", f"< {MOONSHOT_CPU_MAX:g} %",
             at_most(m.get("cpu_percent"), MOONSHOT_CPU_MAX, " %")]),
        row(["peak RSS (sampled every 200 ms through warm-up and window)",
             fmt(m.get("peak_rss_mb"), 1, " MB"), fmt(a.get("peak_rss_mb"), 1, " MB") if a else "n/a",
             f"< {MOONSHOT_RSS_MAX:g} MB", at_most(m.get("peak_rss_mb"), MOONSHOT_RSS_MAX, " MB")]),
        row(["failed probes in the window by reason; local faults", failures_text(m),
             failures_text(a), "", ""]),
        row(["/metrics: gzip / raw, series", metrics(m), metrics(a),
             f"raw < {MOONSHOT_METRICS_MAX / 1e6:g} MB",
             at_most(raw / 1e6 if raw is not None else None, MOONSHOT_METRICS_MAX / 1e6, " MB")]),
    ]
    return out


def textfile_section(t, estate):
    """The estate by address with the textfile output on, beside the estate of the same run
    (issue 21: the textfile writes in pieces, and the lag keeps its goal)."""
    if not isinstance(t, dict):
        return []
    out = ["", "The same estate by address with the textfile output on (`--write-textfile`: the "
           "whole exposition written every 15 s, in pieces, while it probes); beside it, the "
           "estate without it, of the same run:", ""]
    out += [row(["figure", "textfile on", "without", "goal", "result"]), row(["---"] * 5)]
    if not t.get("ok"):
        out.append(row(["all", "failed: " + str(t.get("error", "")).strip()[:100], "", "", "missed"]))
        return out
    a = estate if isinstance(estate, dict) and estate.get("ok") else {}
    lag = t.get("lag") or {}
    age = num(t.get("textfile_age_s"))
    size = num(t.get("textfile_bytes"))
    out += [
        row(["scheduler lag", lag_text(lag), lag_text(a.get("lag")) if a else "n/a",
             f"p99 < {ESTATE_LAG_P99_MAX:g} ms", at_most(lag.get("p99_ms"), ESTATE_LAG_P99_MAX, " ms")]),
        row(["probes/s", f"{fmt(t.get('probes_per_s'))} ({fmt(t.get('skipped'), 0)} skipped)",
             f"{fmt(a.get('probes_per_s'))} ({fmt(a.get('skipped'), 0)} skipped)" if a else "n/a", "", ""]),
        row(["CPU, % of a core, with a gzip scrape every 15 s", fmt(t.get("cpu_percent"), 2, " %"),
             fmt(a.get("cpu_percent"), 2, " %") if a else "n/a", "", ""]),
        row(["peak RSS (sampled every 200 ms through warm-up and window)",
             fmt(t.get("peak_rss_mb"), 1, " MB"), fmt(a.get("peak_rss_mb"), 1, " MB") if a else "n/a",
             "", ""]),
        row(["the textfile at the window's end",
             "missing" if size is None else f"{fmt(size / 1e6, 1, ' MB')}, written {fmt(age, 1, ' s')} before",
             "", "written within 2 periods (30 s)",
             "not measured" if age is None else ("met" if age < 30 else f"missed: {fmt(age, 1, ' s')}")]),
    ]
    return out


def page_section(e):
    page = (e or {}).get("status_page") if isinstance(e, dict) else None
    if not isinstance(page, dict):
        return []
    out = ["", "The status page at that estate, fetched repeatedly while it probes:", "",
           row(["page", "answers", "size", "CPU per render (median fetch)", "scheduler lag meanwhile",
                "goal", "result"]),
           row(["---"] * 7)]
    for key, goal in (("html", True), ("json", False)):
        p = page.get(key)
        if not isinstance(p, dict):
            continue
        size, cpu = num(p.get("bytes")), num(p.get("cpu_ms_per_render"))
        answers = f"{fmt(p.get('ok'), 0)} of {fmt(p.get('fetches'), 0)} (status {fmt(p.get('last_status'), 0)})"
        size_text = "n/a" if size is None else f"{size / 1e6:.2f} MB"
        goal_text = verdict = ""
        if goal:
            goal_text = f"< {PAGE_BYTES_MAX / 1e6:g} MB, < {PAGE_CPU_MAX:g} ms CPU"
            parts = [at_most(size and size / 1e6, PAGE_BYTES_MAX / 1e6, " MB"),
                     at_most(cpu, PAGE_CPU_MAX, " ms")]
            verdict = "met" if parts == ["met", "met"] else "; ".join(
                f"{what} {v}" for what, v in zip(("size", "CPU"), parts) if v != "met")
        out.append(row([f"`{p.get('path', key)}`", answers, size_text, fmt(cpu, 1, " ms"),
                        lag_text(p.get("lag")), goal_text, verdict]))
    return out


def discovery_section(d, estate, what="The same estate"):
    """The estate read from KSC instead of target files, and a refresh while it probes; with
    more than one server, each server's figures and the moonshot's memory goals."""
    if not isinstance(d, dict):
        return []
    devices = (num(d.get("agents")) or 0) + (num(d.get("distribution_points")) or 0)
    kscs = num(d.get("ksc_servers")) or 1
    listed_by = ("a fake Administration Server" if kscs == 1 else
                 f"{fmt(kscs, 0)} fake Administration Servers (one `[[ksc]]` each, the devices dealt "
                 "among them in turn)")
    out = ["", f"{what} learnt from KSC: {fmt(d.get('agents'), 0)} agents "
           f"({fmt(d.get('refused_agents'), 0)} refuse UDP and last connected 3 h ago) and "
           f"{fmt(d.get('distribution_points'), 0)} DPs listed by {listed_by} "
           f"across the veth (OpenAPI over TLS, 500 devices asked per chunk), {fmt(d.get('servers'), 0)} servers "
           f"as [[target]] @ {fmt(d.get('interval_s'), 0)} s; `refresh = "
           f"\"{fmt(d.get('refresh_s'), 0)}s\"`. A quiet span of {fmt(d.get('span_s'), 0)} s, then "
           f"{fmt(d.get('churn'), 0)} devices replaced in KSC, then a span of the same length "
           "holding the next discovery and the plan composed again:", ""]
    out += [row(["figure", "kscprobe", "goal", "result"]), row(["---"] * 4)]
    if not d.get("ok"):
        out.append(row(["all", "failed: " + str(d.get("error", "")).strip()[:100], "", "missed"]))
        return out
    found = (num(d.get("discovered_agents")) or 0) + (num(d.get("discovered_distribution_points")) or 0)
    read = num(d.get("success"))
    found_verdict = "met" if found == devices and read == kscs else (
        f"missed: {fmt(found, 0)} of {fmt(devices, 0)}" if found != devices else
        f"missed: {fmt(read, 0)} of {fmt(kscs, 0)} servers read")
    churn_verdict = "met" if d.get("churn_seen") is True else "missed"
    stopped, expected = num(d.get("agent_stopped")), num(d.get("expected_agent_stopped"))
    stopped_verdict = "not measured" if stopped is None or expected is None else (
        "met" if stopped == expected else f"missed: {fmt(stopped, 0)} of {fmt(expected, 0)}")
    quiet_s, refresh_s = num(d.get("quiet_s")), num(d.get("refresh_span_s"))
    quiet_cpu, refresh_cpu = num(d.get("quiet_cpu_s")), num(d.get("refresh_cpu_s"))
    def share(cpu, span):
        return "n/a" if cpu is None or not span else f"{100 * cpu / span:.2f} %"
    extra = None
    if None not in (quiet_s, refresh_s, quiet_cpu, refresh_cpu) and quiet_s > 0:
        extra = refresh_cpu - quiet_cpu * refresh_s / quiet_s
    lag_refresh = d.get("lag_refresh") or {}
    estate_rss = num((estate or {}).get("peak_rss_mb")) if isinstance(estate, dict) else None
    # The servers are read at once: with several, the discovery took as long as the slowest one.
    per_server = d.get("per_server") or []
    def longest(key):
        if kscs == 1 or not per_server:
            return d.get(key)
        values = [num(one.get(key)) for one in per_server]
        return None if None in values else max(values)
    slowest = "" if kscs == 1 else ", the slowest server"
    out += [
        row(["devices found (agents + DPs)",
             f"{fmt(found, 0)} of {fmt(devices, 0)}, in {fmt(longest('first_discovery_s'), 2, ' s')} "
             f"(first{slowest}), {fmt(longest('second_discovery_s'), 2, ' s')} (second{slowest}); "
             f"{fmt(d.get('requests'), 0)} requests, ≤ {fmt(d.get('largest_page'), 0)} devices each",
             "every device", found_verdict]),
        row(["checks (targets)", f"{fmt(d.get('checks'), 0)} ({fmt(d.get('targets'), 0)})", "", ""]),
        row(["devices KSC dropped and added before the second discovery",
             "dropped ones gone, added ones present" if d.get("churn_seen") is True else "not seen",
             "at the next discovery", churn_verdict]),
        row(["`agent_stopped` diagnoses", f"{fmt(stopped, 0)} of {fmt(expected, 0)} refusing agents",
             "every one", stopped_verdict]),
        row(["CPU, % of a core: quiet span / span with the refresh",
             f"{share(quiet_cpu, quiet_s)} / {share(refresh_cpu, refresh_s)}"
             + ("" if extra is None else f" (the refresh: {extra:.2f} s of CPU)"), "", ""]),
        row(["scheduler lag, quiet span", lag_text(d.get("lag_quiet")), "", ""]),
        row(["scheduler lag, span with the refresh", lag_text(lag_refresh),
             f"p99 < {ESTATE_LAG_P99_MAX:g} ms", at_most(lag_refresh.get("p99_ms"), ESTATE_LAG_P99_MAX, " ms")]),
        row(["peak RSS through the first discovery and warm-up",
             fmt(d.get("peak_rss_before_refresh_mb"), 1, " MB")
             + ("" if estate_rss is None else f" (from target files: {fmt(estate_rss, 1, ' MB')})"),
             "", ""]),
        row(["peak RSS with the refresh (sampled every 200 ms; VmHWM)",
             f"{fmt(d.get('peak_rss_mb'), 1, ' MB')} ({fmt(d.get('vm_hwm_mb'), 1, ' MB')})", "", ""]),
        row(["/metrics: gzip / raw, series",
             f"{fmt(num(d.get('metrics_gzip_bytes')) and d['metrics_gzip_bytes'] / 1e6, 1, ' MB')} / "
             f"{fmt(num(d.get('metrics_bytes')) and d['metrics_bytes'] / 1e6, 1, ' MB')}, "
             f"{fmt(d.get('metrics_series'), 0)}", "", ""]),
    ]
    if kscs > 1:
        steady, refresh = num(d.get("steady_peak_rss_mb")), num(d.get("refresh_peak_rss_mb"))
        over = None if not steady or refresh is None else refresh / steady
        out += [
            row(["steady peak RSS (the quiet span's)", fmt(steady, 1, " MB"),
                 f"< {MOONSHOT_RSS_MAX:g} MB", at_most(steady, MOONSHOT_RSS_MAX, " MB")]),
            row(["peak RSS in the span of the refresh, over the steady peak",
                 f"{fmt(refresh, 1, ' MB')} ({'n/a' if over is None else f'{over:.2f}×'})",
                 f"< {MOONSHOT_REFRESH_RSS_MAX:g}×",
                 at_most(over, MOONSHOT_REFRESH_RSS_MAX, "×")]),
        ]
        for one in per_server:
            kept = (num(one.get("discovered_agents")) or 0) + \
                (num(one.get("discovered_distribution_points")) or 0)
            out.append(row([
                f"`{one.get('name')}`: devices kept; discovery, first / second (seen from the server)",
                f"{fmt(kept, 0)}; {fmt(one.get('first_discovery_s'), 2, ' s')} "
                f"({fmt(one.get('first_discovery_server_s'), 2, ' s')}) / "
                f"{fmt(one.get('second_discovery_s'), 2, ' s')} "
                f"({fmt(one.get('second_discovery_server_s'), 2, ' s')}); "
                f"{fmt(one.get('requests'), 0)} requests",
                "", "met" if num(one.get("success")) == 1 else "missed: discovery failed"]))
    return out


def markdown(results):
    lines = header(results)
    lines += tcp_section(results.get("tcp") or [])
    lines += tls_section(results.get("tls") or [])
    lines += estate_section(results.get("estate"))
    lines += page_section(results.get("estate"))
    lines += names_section(results.get("estate_names"), results.get("estate"))
    lines += textfile_section(results.get("estate_textfile"), results.get("estate"))
    lines += moonshot_section(results.get("moonshot"), results.get("estate"))
    lines += discovery_section(results.get("discovery"), results.get("estate"))
    lines += discovery_section(results.get("moonshot_discovery"), results.get("moonshot"),
                               "The moonshot's devices")
    return "\n".join(lines) + "\n"


def replace_section(text, body):
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        raise ValueError(f"no {BEGIN} ... {END} section")
    return text[: begin + len(BEGIN)] + "\n" + body + text[end:]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--output", help="write the Markdown here")
    parser.add_argument("--readme", help="regenerate the bench section of this file")
    args = parser.parse_args(argv)
    with open(args.results, encoding="utf-8") as f:
        results = json.load(f)
    body = markdown(results)
    if args.readme:
        with open(args.readme, encoding="utf-8") as f:
            text = f.read()
        try:
            text = replace_section(text, body)
        except ValueError as e:
            print(f"{args.readme}: {e}", file=sys.stderr)
            return 1
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(body)
    if not args.readme and not args.output:
        sys.stdout.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
