#!/usr/bin/env python3
"""Checks scripts/bench_table.py, the generator of the README's benchmark table: the Markdown it
makes from a fixed results file, its verdicts on the goals, and the README section it rewrites.
It checks the generator, never the figures of a run."""
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "bench_table.py")
FIXTURE = os.path.join(ROOT, "tests", "bench", "fixture_results.json")
EXPECTED = os.path.join(ROOT, "tests", "bench", "fixture_table.md")

spec = importlib.util.spec_from_file_location("bench_table", SCRIPT)
bench_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_table)


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)


class Generator(unittest.TestCase):
    def test_fixture_gives_the_expected_markdown(self):
        result = run(FIXTURE)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(EXPECTED, encoding="utf-8") as f:
            self.assertEqual(result.stdout, f.read())

    def test_states_the_run_and_the_machine(self):
        text = run(FIXTURE).stdout
        self.assertIn("Run of 2026-01-02 03:04 UTC on 2 cores (Test CPU)", text)
        self.assertIn("load average 0.50 / 0.25 / n/a", text)

    def test_every_goal_is_stated_with_its_verdict(self):
        text = run(FIXTURE).stdout
        # tcp-90: kscprobe 0.111 ÷ floor 0.05 = 2.22× > 2×; blackbox 1 ÷ 0.111 = 9.01× < 10×.
        self.assertIn("| kscprobe ÷ floor |  | 2.22× |  | ≤ 2× | missed by 1.11× (2.22×) |", text)
        self.assertIn("| 9.01× | ≥ 10× | missed by 1.11× (9.01× of 10×) |", text)
        # tcp-4000: both met; blackbox ended half the offered rate: marked overloaded.
        self.assertIn("| 1.20× |  | ≤ 2× | met |", text)
        self.assertIn("0.500 (overloaded: 50 % of the offered rate ended)", text)
        # TLS: blackbox failed, so its ratios are not measured; full ÷ openssl = 1.5× > 1.2×.
        self.assertIn("failed: blackbox_exporter did not start:", text)
        self.assertIn("| ≥ 1.5× | not measured |", text)
        self.assertIn("| ≤ 1.2× | missed by 1.25× (1.50×) |", text)
        # Estate: CPU over, RSS and lag met, 10 refusals missing.
        self.assertIn("| < 10 % | missed by 1.15× (11.5 %) |", text)
        self.assertIn("| < 200 MB | met |", text)
        self.assertIn("| p99 < 50 ms | met |", text)
        self.assertIn("| every refusal seen | missed: 39 990 of 40 000 |", text)
        # The moonshot, beside the estate: due probes, lag, RSS and /metrics missed; CPU met.
        self.assertIn("| ≥ 99 % | missed: 76.17 % |", text)
        self.assertIn("| 21.70 % | 11.50 % | < 30 % | met |", text)
        self.assertIn("| 678.0 MB | 150.2 MB | < 500 MB | missed by 1.36× (678 MB) |", text)
        self.assertIn("| raw < 50 MB | missed by 6.08× (304 MB) |", text)
        # Estate by names, beside the estate by address: RSS over its goal, a timeout blamed on a
        # target where only refusals belong, the DNS server's rate and the cache's share.
        self.assertIn("| 9.50 % | 11.50 % | < 10 % | met |", text)
        self.assertIn("| 210.0 MB | 150.2 MB | < 200 MB | missed by 1.05× (210 MB) |", text)
        self.assertIn("| refused 39 000, timeout 12; 0 | refused 39 990; 0 |", text)
        self.assertIn("| missed: timeout 12 |", text)
        self.assertIn("| 99.51 % (3350.5/s, 3 skipped) | 99.95 % (3366.9/s, 0 skipped) |", text)
        self.assertIn("| 3 400/s over 59 s, busiest second 7 000 |", text)
        self.assertIn("3 385/s: 50.0 % from the cache, 1.0 % joined, 1 700 names asked/s", text)
        # Status page: size met, CPU missed; the JSON variant that did not answer has no figures.
        self.assertIn("| < 2 MB, < 100 ms CPU | CPU missed by 2.50× (250 ms) |", text)
        self.assertIn("| `/?format=json` | 0 of 5 (status 404) | n/a | n/a |", text)
        # Discovery: every device found, the churn seen, 10 diagnoses missing, the refresh's lag
        # over its goal; the refresh's own CPU is the span's net of the quiet rate (2 - 1 × 25/20).
        self.assertIn("| every device | met |", text)
        self.assertIn("| at the next discovery | met |", text)
        self.assertIn("| every one | missed: 19 990 of 20 000 |", text)
        self.assertIn("5.00 % / 8.00 % (the refresh: 0.75 s of CPU)", text)
        self.assertIn("largest ≤ 250 ms, mean 6.00 ms | p99 < 50 ms | missed by 1.20× (60.0 ms) |", text)
        self.assertIn("215.5 MB (from target files: 150.2 MB)", text)
        # The moonshot's devices from two servers: the steady peak met, the refresh's over 1.3×
        # the steady one, each server's figures, the one whose discovery failed marked.
        self.assertIn("listed by 2 fake Administration Servers (one `[[ksc]]` each", text)
        self.assertIn("| steady peak RSS (the quiet span's) | 450.0 MB | < 500 MB | met |", text)
        self.assertIn("| 630.0 MB (1.40×) | < 1.3× | missed by 1.08× (1.40×) |", text)
        self.assertIn("| `ksc-bench-1`: devices kept; discovery, first / second (seen from the server) "
                      "| 250 500; 5.10 s (5.00 s) / 3.20 s (3.10 s); 1 010 requests |  | met |", text)
        self.assertIn("3.40 s (3.30 s); 1 010 requests |  | missed: discovery failed |", text)
        self.assertIn("in 5.30 s (first, the slowest server), 3.40 s (second, the slowest server)", text)
        self.assertIn("| every device | missed: 1 of 2 servers read |", text)

    def test_verdicts(self):
        self.assertEqual(bench_table.at_most(2.0, 2.0), "met")
        self.assertEqual(bench_table.at_most(3.0, 2.0, "×"), "missed by 1.50× (3.00×)")
        self.assertEqual(bench_table.at_most(None, 2.0), "not measured")
        self.assertEqual(bench_table.at_most(float("nan"), 2.0), "not measured")
        self.assertEqual(bench_table.at_least(10.0, 10.0), "met")
        self.assertEqual(bench_table.at_least(5.0, 10.0), "missed by 2.00× (5.00× of 10×)")
        self.assertEqual(bench_table.at_least(None, 10.0), "not measured")


class Readme(unittest.TestCase):
    def write(self, text):
        handle, path = tempfile.mkstemp(suffix=".md")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        self.addCleanup(os.remove, path)
        return path

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_rewrites_only_between_the_markers_and_again_the_same(self):
        before = "# Title\n\nintro\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\nafter\n"
        path = self.write(before)
        self.assertEqual(run(FIXTURE, "--readme", path).returncode, 0)
        once = self.read(path)
        self.assertTrue(once.startswith("# Title\n\nintro\n\n<!-- bench:begin -->\nRun of "))
        self.assertTrue(once.endswith("<!-- bench:end -->\n\nafter\n"))
        self.assertNotIn("old table", once)
        with open(EXPECTED, encoding="utf-8") as f:
            self.assertIn(f.read(), once)
        self.assertEqual(run(FIXTURE, "--readme", path).returncode, 0)
        self.assertEqual(self.read(path), once)

    def test_without_markers_fails_and_leaves_the_file(self):
        before = "# Title\n\nno markers here\n"
        path = self.write(before)
        result = run(FIXTURE, "--readme", path)
        self.assertEqual(result.returncode, 1)
        self.assertIn("bench:begin", result.stderr)
        self.assertEqual(self.read(path), before)


if __name__ == "__main__":
    unittest.main()
