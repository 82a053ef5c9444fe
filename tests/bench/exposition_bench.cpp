// The exposition of the benchmark's 100 000-agent estate written two ways, on the same plan and
// results: by kscprobe's own writer (MetricsRenderer, as /metrics runs it) and through
// prometheus-cpp's Registry and TextSerializer (exposition_promcpp.hpp, when CMake found the
// library). Also the two small parts of the exposition that do not grow with the estate: the
// daemon's own families, and a /probe answer.
//
// Each way runs in a process of its own (this program again, with --child=MODE), so its peak
// memory is its own: the estate is composed and its results recorded first, then the high-water
// mark is reset (/proc/self/clear_refs) and what follows is measured above the resident size at
// that point. CPU time is this thread's (the renders run on it alone); per scrape, the median of
// --renders. It writes its figures to a JSON file (--results) and asserts nothing.
//
//   kscprobe_exposition_bench [--renders=N] [--results=FILE] [--agents=N] [--config-append=TOML]
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/exposition/metrics_renderer.hpp"
#include "daemon/exposition/probe_answer.hpp"
#include "platform/platform.hpp"
#include "tests/bench/exposition_estate.hpp"
#include "tests/bench/json_out.hpp"
#include "tests/bench/proc_usage.hpp"
#include "tests/support/exposition.hpp"
#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
#include "tests/bench/exposition_promcpp.hpp"
#endif

namespace kscprobe::bench {
namespace {

struct Options {
  int renders = 7;
  int small_iterations = 2000;  // per timed sample of the small parts
  std::string results = "build/bench/exposition.json";
  std::string workdir;
  std::string child;  // the mode this process runs, when it is a child
  std::string dump;   // a folder for both texts of the comparison
  bool compare_only = false;
  EstateShape shape;
};

#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
constexpr bool kHavePromCpp = true;
#else
constexpr bool kHavePromCpp = false;
#endif

const char* const kInstallHint =
    "prometheus-cpp was not found when this build was configured: install it (Debian 12: "
    "apt-get install prometheus-cpp-dev), run cmake again and rebuild "
    "kscprobe_exposition_bench";

// ---------------------------------------------------------------------------------------------
// Measuring

double cpu_now() { return platform::thread_cpu_seconds(); }

/// This thread's system CPU time: the kernel's share of a render (page faults of fresh memory).
double sys_now() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double mib(long kib) { return static_cast<double>(kib) / 1024; }

/// The resident size once freed memory went back to the system, and the high-water mark reset
/// to it: what is measured next is counted from here.
long start_memory() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
  return read_usage(getpid()).rss_kib;
}

/// The high-water mark reset to the resident size now (freed memory given back first), the base
/// unchanged: a peak of what follows alone.
void reset_peak() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

/// Peak resident size since start_memory or reset_peak, above `base_kib`.
long peak_above(long base_kib) { return read_usage(getpid()).hwm_kib - base_kib; }

/// Resident size now (freed memory given back first) above `base_kib`.
long held_above(long base_kib) {
  malloc_trim(0);
  return read_usage(getpid()).rss_kib - base_kib;
}

/// A stream that counts what is written and keeps nothing: the text handed on piece by piece.
class CountingBuf : public std::streambuf {
 public:
  std::size_t bytes = 0;

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) ++bytes;
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<std::size_t>(n);
    return n;
  }
};

/// What a child reports: `key=value` pairs on one line that starts with "RESULT".
class Report {
 public:
  Report& num(const std::string& key, double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.9g", v);
    text_ += " " + key + "=" + buffer;
    return *this;
  }
  void print() const {
    std::printf("RESULT%s\n", text_.c_str());
    std::fflush(stdout);
  }

 private:
  std::string text_;
};

// ---------------------------------------------------------------------------------------------
// The children: one way of writing each

std::unique_ptr<ExpositionEstate> estate_or_exit(const Options& o, Report& report) {
  const double t0 = cpu_now();
  std::string error;
  auto e = make_estate(o.shape, o.workdir, &error);
  if (!e) {
    std::fprintf(stderr, "the estate's configuration failed:\n%s", error.c_str());
    std::exit(2);
  }
  report.num("setup_cpu_s", cpu_now() - t0)
      .num("checks", static_cast<double>(e->plan->checks.size()))
      .num("targets", static_cast<double>(e->plan->targets.size()));
  return e;
}

/// /metrics as the daemon renders it: the whole text (MetricsEndpoint::render), or 1 MB pieces
/// that the gzip worker would take, here dropped (MetricsEndpoint::gzip_streamed).
void child_ours(const Options& o, bool pieces) {
  Report report;
  auto e = estate_or_exit(o, report);
  const long base = start_memory();
  MetricsRenderer renderer;
  MetricsRenderer::Source src;
  src.table = e->table.get();
  src.scheduler = e->scheduler.get();
  std::vector<double> cpu, sys;
  double first = NAN;
  long first_peak = 0;
  std::size_t bytes = 0, series = 0;
  // The first render builds the label cache; the next ones are the scrapes measured.
  for (int k = 0; k <= o.renders; ++k) {
    const double s0 = sys_now();
    const double t0 = cpu_now();
    std::size_t size = 0;
    std::string out;
    if (pieces) {
      MetricsRenderer::Chunks chunks;
      chunks.flush = [&](std::string& text) {
        size += text.size();
        text = std::string();
        text.reserve(chunks.bytes + chunks.bytes / 8);
      };
      write_self_metrics(*e, out);
      renderer.render(src, out, &chunks);
      chunks.flush(out);
    } else {
      out.reserve(renderer.last_bytes() + renderer.last_bytes() / 16);
      write_self_metrics(*e, out);
      renderer.render(src, out);
      size = out.size();
    }
    const double used = cpu_now() - t0;
    renderer.set_last_render(used, size);
    if (k == 0) {
      first = used;
    } else {
      cpu.push_back(used);
      sys.push_back(sys_now() - s0);
    }
    bytes = size;
    if (!pieces && k == o.renders) series = test::series_count(out);  // after the timing
    if (k == 0) {
      first_peak = peak_above(base);
      out = std::string();
      reset_peak();
    }
  }
  const long peak = peak_above(base);
  report.num("first_cpu_s", first)
      .num("sys_s", median(sys))
      .num("first_peak_mib", mib(first_peak))
      .num("cpu_s", median(cpu))
      .num("cpu_min_s", *std::min_element(cpu.begin(), cpu.end()))
      .num("cpu_max_s", *std::max_element(cpu.begin(), cpu.end()))
      .num("bytes", static_cast<double>(bytes))
      .num("peak_mib", mib(peak))
      .num("held_mib", mib(held_above(base)));
  if (series) report.num("series", static_cast<double>(series));
  report.print();
}

#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
/// /metrics through prometheus-cpp: the registry built once, then per scrape every value set
/// from the table, Registry::Collect() and TextSerializer, into one string (Serializer::
/// Serialize, what prometheus-cpp's own Exposer answers with) or into a stream that keeps
/// nothing (the text handed on as it is written).
void child_promcpp(const Options& o, bool stream) {
  Report report;
  auto e = estate_or_exit(o, report);
  const long base = start_memory();
  const double t0 = cpu_now();
  PromEstateExporter exporter(*e);
  exporter.update(0, 0);
  const double build = cpu_now() - t0;
  const long built = read_usage(getpid()).rss_kib - base;
  const long build_peak = peak_above(base);
  reset_peak();
  std::vector<double> update, collect, serialize, total, sys;
  double last_cpu = 0;
  std::size_t last_bytes = 0, series = 0;
  for (int k = 0; k < o.renders; ++k) {
    const double s0 = sys_now();
    const double a = cpu_now();
    exporter.update(last_cpu, last_bytes);
    const double b = cpu_now();
    double c = 0, d = 0;
    std::string text;
    {
      const std::vector<prometheus::MetricFamily> families = exporter.collect();
      c = cpu_now();
      if (stream) {
        CountingBuf buf;
        std::ostream out(&buf);
        promcpp_serialize(out, families);
        last_bytes = buf.bytes;
      } else {
        text = promcpp_serialize(families);
        last_bytes = text.size();
      }
      d = cpu_now();
    }  // the collected families freed: part of the scrape
    const double end = cpu_now();
    update.push_back(b - a);
    collect.push_back(c - b);
    serialize.push_back(d - c);
    total.push_back(end - a);
    sys.push_back(sys_now() - s0);
    last_cpu = end - a;
    if (!stream && k + 1 == o.renders) series = test::series_count(text);  // after the timing
  }
  const long peak = peak_above(base);
  report.num("build_cpu_s", build)
      .num("built_mib", mib(built))
      .num("build_peak_mib", mib(build_peak))
      .num("update_cpu_s", median(update))
      .num("collect_cpu_s", median(collect))
      .num("serialize_cpu_s", median(serialize))
      .num("cpu_s", median(total))
      .num("sys_s", median(sys))
      .num("cpu_min_s", *std::min_element(total.begin(), total.end()))
      .num("cpu_max_s", *std::max_element(total.begin(), total.end()))
      .num("bytes", static_cast<double>(last_bytes))
      .num("peak_mib", mib(peak))
      .num("held_mib", mib(held_above(base)));
  if (series) report.num("series", static_cast<double>(series));
  report.print();
}
#endif

/// The small parts: `render` writes one answer into its string, --renders times
/// --small-iterations renders; CPU per render (the median) and peak memory.
template <class Render>
void child_small(const Options& o, Render&& render) {
  Report report;
  std::string out;
  render(out);  // the first one apart: what it sets up once
  const std::size_t series = test::series_count(out);
  const std::size_t bytes = out.size();
  const long base = start_memory();
  std::vector<double> per;
  for (int s = 0; s < o.renders; ++s) {
    const double t0 = cpu_now();
    for (int k = 0; k < o.small_iterations; ++k) {
      out.clear();
      render(out);
    }
    per.push_back((cpu_now() - t0) / o.small_iterations);
  }
  report.num("cpu_s", median(per))
      .num("series", static_cast<double>(series))
      .num("bytes", static_cast<double>(bytes))
      .num("peak_kib", static_cast<double>(peak_above(base)));
  report.print();
}

void run_child(const Options& o) {
  const std::string& m = o.child;
  if (m == "estate-ours") return child_ours(o, false);
  if (m == "estate-ours-pieces") return child_ours(o, true);
  if (m == "self-ours" || m == "self-promcpp" || m == "probe-ours" || m == "probe-promcpp") {
    Report ignored;
    auto e = estate_or_exit(o, ignored);
    MetricsRenderer renderer;
    MetricsRenderer::Source src;  // no table: the daemon's own families only
    src.scheduler = e->scheduler.get();
    const ProbeCase probe = make_probe_case(*e);
    if (m == "self-ours") {
      return child_small(o, [&](std::string& out) {
        write_self_metrics(*e, out);
        renderer.render(src, out);
      });
    }
    if (m == "probe-ours") {
      return child_small(o, [&](std::string& out) {
        exposition::write_probe_answer(probe.checks, probe.results, out);
      });
    }
#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
    if (m == "self-promcpp") {
      prometheus::Registry registry;
      PromSelfMetrics self(registry);
      return child_small(o, [&](std::string& out) {
        self.update(*e, 0, 0);
        out = promcpp_serialize(registry.Collect());
      });
    }
    if (m == "probe-promcpp") {
      return child_small(
          o, [&](std::string& out) { out = promcpp_probe_body(probe.checks, probe.results); });
    }
#endif
  }
#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
  if (m == "estate-promcpp") return child_promcpp(o, false);
  if (m == "estate-promcpp-stream") return child_promcpp(o, true);
#endif
  std::fprintf(stderr, "unknown or unavailable mode %s\n", m.c_str());
  std::exit(2);
}

// ---------------------------------------------------------------------------------------------
// The parent: the series of both, then each child in turn

std::string self_exe() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

using Figures = std::map<std::string, double>;

std::optional<Figures> run_mode(const Options& o, const std::string& mode) {
  std::string command =
      quote(self_exe()) + " --child=" + mode + " --renders=" + std::to_string(o.renders) +
      " --small-iterations=" + std::to_string(o.small_iterations) +
      " --workdir=" + quote(o.workdir) + " --agents=" + std::to_string(o.shape.agents) +
      " --config-append=" + quote(o.shape.config_append);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string text;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) text += buffer;
  const int status = pclose(pipe);
  std::optional<Figures> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("RESULT", 0) != 0) continue;
    out.emplace();
    std::istringstream words(line.substr(6));
    for (std::string word; words >> word;) {
      const auto eq = word.find('=');
      if (eq != std::string::npos)
        (*out)[word.substr(0, eq)] = std::strtod(word.c_str() + eq + 1, nullptr);
    }
  }
  if (status != 0) std::printf("  %s: exited with status %d\n", mode.c_str(), status);
  return out;
}

#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
/// A sample's identity whatever the order of its labels, and `le` read as a number (the two
/// writers print bounds alike only by chance).
std::string series_key(const test::Sample& s) {
  std::vector<std::pair<std::string, std::string>> labels = s.labels;
  for (auto& [k, v] : labels) {
    if (k == "le") {
      char buffer[40];
      std::snprintf(buffer, sizeof buffer, "%.17g", std::strtod(v.c_str(), nullptr));
      v = buffer;
    }
  }
  std::sort(labels.begin(), labels.end());
  std::string key = s.name;
  for (const auto& [k, v] : labels) key += '\0' + k + '\0' + v;
  return key;
}

std::string printable(std::string key) {
  std::replace(key.begin(), key.end(), '\0', ' ');
  return key;
}
#endif

struct Comparison {
  std::size_t ours = 0, theirs = 0, only_ours = 0, only_theirs = 0, values_differ = 0;
  std::size_t ours_bytes = 0, theirs_bytes = 0;
  std::vector<std::string> examples;
};

/// Both writers once on the same estate: their series, as sets, and their values.
Comparison compare(const Options& o) {
  Comparison c;
  std::string error;
  auto e = make_estate(o.shape, o.workdir, &error);
  if (!e) {
    std::fprintf(stderr, "the estate's configuration failed:\n%s", error.c_str());
    std::exit(2);
  }
  std::string ours;
  write_self_metrics(*e, ours);
  MetricsRenderer renderer;
  MetricsRenderer::Source src;
  src.table = e->table.get();
  src.scheduler = e->scheduler.get();
  renderer.render(src, ours);
  if (!o.dump.empty()) std::ofstream(o.dump + "/kscprobe.prom") << ours;
  c.ours = test::series_count(ours);
  c.ours_bytes = ours.size();
#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
  std::string theirs;
  {
    PromEstateExporter exporter(*e);
    exporter.update(0, 0);
    theirs = promcpp_serialize(exporter.collect());
  }
  if (!o.dump.empty()) std::ofstream(o.dump + "/prometheus-cpp.prom") << theirs;
  c.theirs = test::series_count(theirs);
  c.theirs_bytes = theirs.size();
  std::unordered_map<std::string, double> mine;
  std::string malformed;
  for (const auto& s : test::parse_samples(ours, &malformed)) mine.emplace(series_key(s), s.value);
  if (!malformed.empty()) c.examples.push_back("kscprobe's text: malformed line " + malformed);
  // The render's own figures differ by nature (the previous render's CPU time and size).
  auto own = [](const std::string& key) { return key.rfind("kscprobe_metrics_render_", 0) == 0; };
  malformed.clear();
  for (const auto& s : test::parse_samples(theirs, &malformed)) {
    const std::string key = series_key(s);
    auto it = mine.find(key);
    if (it == mine.end()) {
      if (++c.only_theirs <= 3) c.examples.push_back("only prometheus-cpp: " + printable(key));
      continue;
    }
    const double a = it->second, b = s.value;
    if (!own(key) &&
        !(a == b || std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b)))) {
      if (++c.values_differ <= 3) {
        char buffer[80];
        std::snprintf(buffer, sizeof buffer, ": %.17g against %.17g", a, b);
        c.examples.push_back("value differs: " + printable(key) + buffer);
      }
    }
    mine.erase(it);
  }
  if (!malformed.empty())
    c.examples.push_back("prometheus-cpp's text: malformed line " + malformed);
  c.only_ours = mine.size();
  for (const auto& [key, v] : mine) {
    if (c.examples.size() >= 9) break;
    c.examples.push_back("only kscprobe: " + printable(key));
  }
#endif
  return c;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " / " + b + " / " + c;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string ms(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, s < 0.01 ? "%.3f ms" : "%.0f ms", s * 1e3);
  return buffer;
}
std::string us(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f µs", s * 1e6);
  return buffer;
}
std::string mb(double m) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f MiB", m);
  return buffer;
}

double get(const std::optional<Figures>& f, const char* key) {
  if (!f) return NAN;
  auto it = f->find(key);
  return it == f->end() ? NAN : it->second;
}

JsonObject json_of(const std::optional<Figures>& f) {
  JsonObject o;
  if (!f) return o.flag("ok", false);
  o.flag("ok", true);
  for (const auto& [k, v] : *f) o.num(k, v);
  return o;
}

int run_parent(const Options& o) {
  std::printf("kscprobe exposition benchmark, %s, %u cores (%s), load average %s\n",
              now_utc().c_str(), std::thread::hardware_concurrency(), cpu_model().c_str(),
              load_average().c_str());
  std::printf(
      "estate: %d agents (a fifth refuse UDP), %d DPs, %d servers @ %d s, %d rounds of "
      "results; %d renders per side\n",
      o.shape.agents, o.shape.distribution_points, o.shape.servers, o.shape.interval_s,
      o.shape.rounds, o.renders);
#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
  std::printf("prometheus-cpp %s\n", promcpp_version());
#else
  std::printf("%s; only kscprobe's writer is measured.\n", kInstallHint);
#endif
  std::fflush(stdout);
  JsonObject run;
  run.str("date", now_utc())
      .num("cores", std::thread::hardware_concurrency())
      .str("cpu", cpu_model())
      .str("load_average_before", load_average())
      .num("renders", o.renders)
      .num("agents", o.shape.agents)
      .str("config_append", o.shape.config_append)
#ifdef KSCPROBE_HAVE_PROMETHEUS_CPP
      .str("prometheus_cpp", promcpp_version())
#endif
      ;

  // The series of both writers, compared.
  const Comparison c = compare(o);
  std::printf("\nseries: kscprobe %zu (%.1f MB)", c.ours, static_cast<double>(c.ours_bytes) / 1e6);
  JsonObject series;
  series.num("kscprobe", static_cast<double>(c.ours))
      .num("kscprobe_bytes", static_cast<double>(c.ours_bytes));
  if (kHavePromCpp) {
    std::printf(
        ", prometheus-cpp %zu (%.1f MB); only in kscprobe's: %zu, only in "
        "prometheus-cpp's: %zu, values that differ: %zu\n",
        c.theirs, static_cast<double>(c.theirs_bytes) / 1e6, c.only_ours, c.only_theirs,
        c.values_differ);
    for (const auto& ex : c.examples) std::printf("  %s\n", ex.c_str());
    series.num("prometheus_cpp", static_cast<double>(c.theirs))
        .num("prometheus_cpp_bytes", static_cast<double>(c.theirs_bytes))
        .num("only_kscprobe", static_cast<double>(c.only_ours))
        .num("only_prometheus_cpp", static_cast<double>(c.only_theirs))
        .num("values_differ", static_cast<double>(c.values_differ));
  } else {
    std::printf("\n");
  }
  std::fflush(stdout);
  if (o.compare_only) return c.only_ours + c.only_theirs + c.values_differ == 0 ? 0 : 1;

  std::vector<std::string> modes = {"estate-ours", "estate-ours-pieces"};
  if (kHavePromCpp) modes.insert(modes.end(), {"estate-promcpp", "estate-promcpp-stream"});
  modes.insert(modes.end(), {"self-ours", "probe-ours"});
  if (kHavePromCpp) modes.insert(modes.end(), {"self-promcpp", "probe-promcpp"});
  std::map<std::string, std::optional<Figures>> figures;
  for (const auto& mode : modes) {
    std::printf("  running %s...\n", mode.c_str());
    std::fflush(stdout);
    figures[mode] = run_mode(o, mode);
  }

  const auto& ours = figures["estate-ours"];
  const auto& pieces = figures["estate-ours-pieces"];
  std::printf(
      "\n/metrics of the estate: CPU per scrape (median of %d), peak memory per scrape and "
      "memory held between scrapes, above the composed estate; once: the first render (kscprobe: "
      "its label cache built) or the registry's build (prometheus-cpp), with its CPU and peak\n",
      o.renders);
  const char* row = "  %-40s %-22s %-15s %-11s %s\n";
  std::printf(row, "writer", "CPU per scrape", "peak per scrape", "held", "once");
  auto cpu = [](const std::optional<Figures>& f) {
    return ms(get(f, "cpu_s")) + " (" + ms(get(f, "sys_s")) + " sys)";
  };
  auto once = [](const std::optional<Figures>& f, const char* cpu, const char* peak) {
    return ms(get(f, cpu)) + ", peak " + mb(get(f, peak));
  };
  std::printf(row, "kscprobe, whole text (plain /metrics)", cpu(ours).c_str(),
              mb(get(ours, "peak_mib")).c_str(), mb(get(ours, "held_mib")).c_str(),
              once(ours, "first_cpu_s", "first_peak_mib").c_str());
  std::printf(row, "kscprobe, 1 MB pieces (gzip /metrics)", cpu(pieces).c_str(),
              mb(get(pieces, "peak_mib")).c_str(), mb(get(pieces, "held_mib")).c_str(),
              once(pieces, "first_cpu_s", "first_peak_mib").c_str());
  if (kHavePromCpp) {
    for (const char* mode : {"estate-promcpp", "estate-promcpp-stream"}) {
      const auto& f = figures[mode];
      std::printf(row,
                  std::string(mode) == "estate-promcpp" ? "prometheus-cpp, one string (Exposer)"
                                                        : "prometheus-cpp, to a stream",
                  cpu(f).c_str(), mb(get(f, "peak_mib")).c_str(), mb(get(f, "held_mib")).c_str(),
                  once(f, "build_cpu_s", "build_peak_mib").c_str());
      std::printf("  %-42s update %s, Collect %s, Serialize %s\n", "",
                  ms(get(f, "update_cpu_s")).c_str(), ms(get(f, "collect_cpu_s")).c_str(),
                  ms(get(f, "serialize_cpu_s")).c_str());
    }
    const auto& p = figures["estate-promcpp"];
    const auto& ps = figures["estate-promcpp-stream"];
    std::printf(
        "  prometheus-cpp ÷ kscprobe: whole text %.1f× the CPU, %.1f× the peak; in pieces (to a "
        "stream) %.1f× the CPU, %.1f× the peak\n",
        get(p, "cpu_s") / get(ours, "cpu_s"), get(p, "peak_mib") / get(ours, "peak_mib"),
        get(ps, "cpu_s") / get(pieces, "cpu_s"), get(ps, "peak_mib") / get(pieces, "peak_mib"));
  }
  std::printf("\nsmall parts, CPU per render (median of %d × %d) and peak memory:\n", o.renders,
              o.small_iterations);
  for (const char* part : {"self", "probe"}) {
    const auto& a = figures[std::string(part) + "-ours"];
    std::printf("  %-44s kscprobe %s, %.0f series, peak %.0f KiB",
                std::string(part) == "self" ? "the daemon's own families (/metrics without a plan)"
                                            : "/probe of a server (10 checks)",
                us(get(a, "cpu_s")).c_str(), get(a, "series"), get(a, "peak_kib"));
    if (kHavePromCpp) {
      const auto& b = figures[std::string(part) + "-promcpp"];
      std::printf("; prometheus-cpp %s, %.0f series, peak %.0f KiB (%.1f× the CPU)",
                  us(get(b, "cpu_s")).c_str(), get(b, "series"), get(b, "peak_kib"),
                  get(b, "cpu_s") / get(a, "cpu_s"));
    }
    std::printf("\n");
  }

  JsonObject modes_json;
  for (const auto& [mode, f] : figures) modes_json.obj(mode, json_of(f));
  run.str("load_average_after", load_average());
  JsonObject root;
  root.obj("run", run).obj("series", series).obj("modes", modes_json);
  std::filesystem::path path(o.results);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream(o.results) << root.text() << "\n";
  std::printf("\nload average at the end %s; results: %s\n", load_average().c_str(),
              o.results.c_str());
  return 0;
}

bool starts(const std::string& arg, const char* prefix, std::string* value) {
  const std::size_t n = std::strlen(prefix);
  if (arg.compare(0, n, prefix) != 0) return false;
  *value = arg.substr(n);
  return true;
}

}  // namespace
}  // namespace kscprobe::bench

int main(int argc, char** argv) {
  using namespace kscprobe::bench;
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string v;
    if (starts(arg, "--renders=", &v)) {
      o.renders = std::max(5, std::atoi(v.c_str()));
    } else if (starts(arg, "--small-iterations=", &v)) {
      o.small_iterations = std::max(1, std::atoi(v.c_str()));
    } else if (starts(arg, "--results=", &v)) {
      o.results = v;
    } else if (starts(arg, "--workdir=", &v)) {
      o.workdir = v;
    } else if (starts(arg, "--agents=", &v)) {
      o.shape.agents = std::max(1, std::atoi(v.c_str()));
    } else if (starts(arg, "--config-append=", &v)) {
      o.shape.config_append = v;
    } else if (arg == "--compare-only") {
      o.compare_only = true;
    } else if (starts(arg, "--dump=", &v)) {
      o.dump = v;
    } else if (starts(arg, "--child=", &v)) {
      o.child = v;
    } else {
      std::printf(
          "usage: kscprobe_exposition_bench [--renders=N (at least 5, default 7)] "
          "[--small-iterations=N] [--results=FILE (default build/bench/exposition.json)] "
          "[--agents=N (default 100000)] [--config-append=TOML] [--workdir=DIR] "
          "[--dump=DIR (both texts of the comparison)] [--compare-only]\n"
          "The estate's /metrics written by kscprobe's MetricsRenderer and through "
          "prometheus-cpp's Registry and TextSerializer: series, CPU per scrape, peak memory.\n");
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  if (!o.child.empty()) {
    run_child(o);
    return 0;
  }
  bool own_workdir = false;
  if (o.workdir.empty()) {
    std::string dir =
        std::filesystem::temp_directory_path().string() + "/kscprobe-exposition-XXXXXX";
    if (!mkdtemp(dir.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    o.workdir = dir;
    own_workdir = true;
  }
  const int rc = run_parent(o);
  if (own_workdir) {
    std::error_code ec;
    std::filesystem::remove_all(o.workdir, ec);
  }
  return rc;
}
