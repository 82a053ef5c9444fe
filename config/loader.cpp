#include "config/loader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/load/walk.hpp"

namespace kscprobe {

namespace load {

namespace {

constexpr std::string_view kTopKeys[] = {"daemon",       "target",  "web", "probe",
                                         "target_files", "metrics", "ksc"};

}  // namespace

LoadResult Loader::load(std::string_view text) {
  LoadResult result;
  Config config;
  config.source = source_;
#if TOML_EXCEPTIONS
  try {
    toml::table root = toml::parse(text, std::string_view(source_));
    load_root(root, config);
  } catch (const toml::parse_error& e) {
    error(e.source(), std::string(e.description()));
  }
#else
  toml::parse_result parsed = toml::parse(text, std::string_view(source_));
  if (!parsed) {
    error(parsed.error().source(), std::string(parsed.error().description()));
  } else {
    load_root(parsed.table(), config);
  }
#endif
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
  result.errors = std::move(errors_);
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

void Loader::load_root(const toml::table& root, Config& config) {
  reject_unknown_keys(root, kTopKeys, "");
  daemon_interval_ = Effective{config.daemon.interval, true, "default"};
  daemon_timeout_ = Effective{config.daemon.timeout, true, "default"};
  if (const toml::node* d = root.get("daemon")) {
    if (const auto* t = d->as_table()) {
      load_daemon(*t, config.daemon);
    } else {
      error(d->source(), "daemon must be a table ([daemon]), not " + std::string(type_name(*d)));
    }
  }
  if (const toml::node* w = root.get("web")) {
    if (const auto* t = w->as_table()) {
      load_web(*t, config.web);
    } else {
      error(w->source(), "web must be a table ([web]), not " + std::string(type_name(*w)));
    }
  }
  if (const toml::node* m = root.get("metrics")) {
    if (const auto* t = m->as_table()) {
      load_metrics(*t, config.metrics);
    } else {
      error(m->source(), "metrics must be a table ([metrics]), not " + std::string(type_name(*m)));
    }
  }
  if (const toml::node* p = root.get("probe")) {
    if (const auto* t = p->as_table()) {
      load_probe(*t, config.probe);
    } else {
      error(p->source(), "probe must be a table ([probe]), not " + std::string(type_name(*p)));
    }
  }
  if (const toml::node* f = root.get("target_files")) {
    const auto* arr = f->as_array();
    if (!arr) {
      error(f->source(),
            "target_files must be an array of file patterns like "
            "[\"targets/*.json\"], not " +
                std::string(type_name(*f)));
    } else {
      for (const auto& item : *arr) {
        auto v = string_value(item, "target_files entry", "");
        if (!v) continue;
        if (v->empty()) {
          error(item.source(), "target_files entries must not be empty");
          continue;
        }
        std::filesystem::path path(*v);
        if (path.is_relative() && !base_dir_.empty()) path = base_dir_ / path;
        config.target_files.patterns.push_back(path.string());
      }
    }
  }
  config.target_files.refresh = target_files_refresh_;
  if (const toml::node* k = root.get("ksc")) load_ksc_sections(*k, config);
  if (const toml::node* targets = root.get("target")) {
    const auto* arr = targets->as_array();
    if (!arr) {
      error(targets->source(), "target must be an array of tables ([[target]]), not " +
                                   std::string(type_name(*targets)));
      return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& item = (*arr)[i];
      if (const auto* t = item.as_table()) {
        config.targets.push_back(load_target(*t, i + 1));
      } else {
        error(item.source(), "target #" + std::to_string(i + 1) + " must be a table, not " +
                                 std::string(type_name(item)));
      }
    }
  }
}

}  // namespace load

std::string LoadResult::error_text() const {
  std::string out;
  for (const auto& e : errors) {
    out += e.format();
    out += '\n';
  }
  return out;
}

LoadResult load_config_string(std::string_view toml_text, std::string source_name) {
  return load::Loader(std::move(source_name), {}).load(toml_text);
}

LoadResult load_config_file(const std::string& path) {
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  std::error_code ec;
  if (!file || std::filesystem::is_directory(path, ec)) {
    int err = errno;
    LoadResult result;
    std::string why = std::filesystem::is_directory(path, ec) ? "is a directory"
                      : err                                   ? std::strerror(err)
                                                              : "unreadable";
    result.errors.push_back(ConfigError{SourcePos{path, 0, 0}, "cannot read config file: " + why});
    return result;
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    LoadResult result;
    result.errors.push_back(ConfigError{SourcePos{path, 0, 0}, "cannot read config file"});
    return result;
  }
  std::filesystem::path base = std::filesystem::path(path).parent_path();
  if (base.empty()) base = ".";
  return load::Loader(path, base).load(text.str());
}

}  // namespace kscprobe
