#include "daemon/metric_outputs.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "daemon/logging.hpp"
#include "platform/platform.hpp"

namespace kscprobe {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(platform::process_id())) {}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (!file_) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(tmp_.c_str());
}

bool AtomicFile::open(std::string* error) {
  discard();
  write_errno_ = 0;
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_) {
    *error = "cannot write " + tmp_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void AtomicFile::write(std::string_view piece) {
  if (!file_ || write_errno_ != 0 || piece.empty()) return;
  if (std::fwrite(piece.data(), 1, piece.size(), file_) != piece.size())
    write_errno_ = errno != 0 ? errno : EIO;
}

bool AtomicFile::commit(std::string* error) {
  if (!file_) {
    *error = "cannot write " + tmp_ + ": not open";
    return false;
  }
  bool ok = write_errno_ == 0;
  int err = write_errno_;
  if (ok && std::fflush(file_) != 0) ok = false, err = errno;
  if (ok && !platform::sync_file(file_)) ok = false, err = errno;
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (ok && closed != 0) ok = false, err = errno;
  if (!ok) {
    *error = "cannot write " + tmp_ + ": " + std::strerror(err);
    std::remove(tmp_.c_str());
    return false;
  }
  // std::filesystem::rename replaces an existing file on Windows too (std::rename does not).
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    *error = "cannot rename " + tmp_ + " to " + path_ + ": " + ec.message();
    std::remove(tmp_.c_str());
    return false;
  }
  return true;
}

bool write_file_atomically(const std::string& path, const std::string& content,
                           std::string* error) {
  AtomicFile file(path);
  if (!file.open(error)) return false;
  file.write(content);
  return file.commit(error);
}

bool parse_push_url(const std::string& url, std::string* host, std::string* port,
                    std::string* prefix, std::string* error) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    *error =
        "push URL \"" + url + "\" must start with http:// (put a TLS proxy in front for https)";
    return false;
  }
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  *prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix->empty() && prefix->back() == '/') prefix->pop_back();
  std::string h = authority, p = "80";
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      *error = "push URL \"" + url + "\" has an unclosed [";
      return false;
    }
    h = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      p = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    h = authority.substr(0, colon);
    p = authority.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.find_first_not_of("0123456789") != std::string::npos) {
    *error = "push URL \"" + url + "\" needs a host and a numeric port";
    return false;
  }
  *host = h;
  *port = p;
  return true;
}

struct MetricOutputs::Impl : std::enable_shared_from_this<MetricOutputs::Impl> {
  Impl(asio::any_io_executor e, MetricOutputOptions o, MetricText t)
      : ex(e),
        options(std::move(o)),
        text(std::move(t)),
        textfile_timer(e),
        push_timer(e),
        resolver(e, options.resolver) {}

  void schedule_textfile() {
    textfile_timer.expires_after(options.textfile_interval);
    textfile_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      if (!self->writing) asio::co_spawn(self->ex, self->write_textfile_pieces(), asio::detached);
      self->schedule_textfile();
    });
  }

  // A reload can abandon a render: the file is then written again, a few times at most.
  static constexpr int kAttempts = 3;

  // The periodic write: the text in pieces into the temporary file, the loop running between
  // them. One at a time (`writing`); a tick that finds one still going is skipped.
  asio::awaitable<void> write_textfile_pieces() {
    auto self = shared_from_this();
    writing = true;
    std::string error;
    bool written = false;
    for (int attempt = 0; attempt < kAttempts && !written && !stopped; ++attempt) {
      auto file = std::make_shared<AtomicFile>(options.textfile_path);
      if (!file->open(&error)) break;
      const bool whole = co_await text.pieces([&file](std::string& piece) { file->write(piece); });
      if (!whole) {
        error = "the configuration was reloaded during every render";
        continue;
      }
      // The commit syncs tens of megabytes to disk, which can take a second on a busy disk:
      // on the disk thread, so that no probe starts late meanwhile (the benchmark's estate
      // with the textfile on saw the lag's p99 at 128 ms, largest near a second, with it on
      // the loop).
      auto failure = std::make_shared<std::string>();
      if (disk) {
        written = co_await asio::co_spawn(disk->get_executor(),
                                          commit_on_disk(file, failure, options.before_commit),
                                          asio::use_awaitable);
      } else {
        written = file->commit(failure.get());  // shutting down: no disk thread any more
      }
      if (!written) {
        error = *failure;
        break;
      }
    }
    writing = false;
    if (!stopped || written) report_textfile(written, error);
  }

  // A named coroutine rather than a lambda with captures in the co_await expression: GCC 12
  // destroyed that lambda's captures a second time after the await (valgrind: invalid free).
  static asio::awaitable<bool> commit_on_disk(std::shared_ptr<AtomicFile> file,
                                              std::shared_ptr<std::string> failure,
                                              std::function<void()> before) {
    if (before) before();
    co_return file->commit(failure.get());
  }

  // At shutdown: whole, within the call, after the periodic write's commit (if one is on the
  // disk thread) is done.
  void write_textfile() {
    finish_disk();
    std::string error;
    report_textfile(write_file_atomically(options.textfile_path, text.whole(), &error), error);
  }

  void report_textfile(bool written, const std::string& error) {
    if (!written) {
      if (!textfile_failing) log::error("cannot write the metrics textfile", {{"error", error}});
      textfile_failing = true;
    } else if (textfile_failing) {
      log::info("metrics textfile written again", {{"path", options.textfile_path}});
      textfile_failing = false;
    }
  }

  void schedule_push() {
    push_timer.expires_after(options.push_interval);
    push_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      if (!self->pushing) asio::co_spawn(self->ex, self->push(), asio::detached);
      self->schedule_push();
    });
  }

  asio::awaitable<void> push() {
    auto self = shared_from_this();
    pushing = true;
    std::string error;
    const bool pushed = co_await push_once(&error);
    pushing = false;
    ++status.attempts;
    if (!pushed) ++status.failures;
    status.last_error = pushed ? std::string() : error;
    if (!pushed) {
      if (!push_failing)
        log::error("push to the Pushgateway failed", {{"url", options.push_url}, {"error", error}});
      push_failing = true;
    } else if (push_failing) {
      log::info("push to the Pushgateway works again", {{"url", options.push_url}});
      push_failing = false;
    }
  }

  // One push; false with the reason in *error when it failed (CONTRIBUTING.md: an action that
  // can fail returns bool with an error sentence).
  asio::awaitable<bool> push_once(std::string* error) {
    auto fail = [error](std::string why) {
      *error = std::move(why);
      return false;
    };
    // The text first, in pieces (the loop runs between them), then the exchange within its
    // deadline.
    std::string body;
    bool whole = false;
    for (int attempt = 0; attempt < kAttempts && !whole; ++attempt) {
      body.clear();
      whole = co_await text.pieces([&body](std::string& piece) { body += piece; });
    }
    if (!whole) co_return fail("the configuration was reloaded during every render");
    // One deadline for the whole push, the lookup included: a stalled DNS server once left
    // the first push waiting for ever, and with it every later one (`pushing` stayed set).
    const auto deadline = NameResolver::Clock::now() + options.push_timeout;
    LookupResult found = co_await resolver.lookup(host, deadline);
    if (found.status != LookupStatus::ok) {
      co_return fail(
          "resolve " + host + ": " +
          (found.status == LookupStatus::timeout
               ? "no answer within " + std::to_string(options.push_timeout.count()) + "ms"
               : found.detail));
    }
    const auto port_number = static_cast<std::uint16_t>(std::stoul(port));
    std::vector<asio::ip::tcp::endpoint> endpoints;
    for (const auto& address : found.addresses) endpoints.emplace_back(address, port_number);
    beast::tcp_stream stream(ex);
    stream.expires_at(deadline);
    auto [cec, ep] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (cec) co_return fail("connect: " + cec.message());
    http::request<http::string_body> req{http::verb::put, target, 11};
    req.set(http::field::host, host + ":" + port);
    req.set(http::field::user_agent, std::string("kscprobe/") + KSCPROBE_VERSION);
    req.set(http::field::content_type, "text/plain; version=0.0.4");
    req.body() = std::move(body);
    req.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    if (wec) co_return fail("send: " + wec.message());
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    auto [rdec, rn] =
        co_await http::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
    if (rdec) co_return fail("response: " + rdec.message());
    unsigned status = parser.get().result_int();
    if (status / 100 != 2)
      co_return fail("HTTP " + std::to_string(status) + ": " + parser.get().body().substr(0, 200));
    ++pushes;
    co_return true;
  }

  asio::any_io_executor ex;
  MetricOutputOptions options;
  MetricText text;
  asio::steady_timer textfile_timer, push_timer;
  std::string host, port, target;
  // Waits for a commit on the disk thread, and ends the thread (shutdown).
  void finish_disk() {
    if (!disk) return;
    disk->join();
    disk.reset();
  }

  // The periodic textfile write's commit runs here (one thread, made by start()).
  std::unique_ptr<asio::thread_pool> disk;
  bool stopped = false, pushing = false, writing = false, textfile_failing = false,
       push_failing = false;
  std::uint64_t pushes = 0;
  PushStatus status;
  NameResolver resolver;
};

MetricOutputs::MetricOutputs(asio::any_io_executor ex, MetricOutputOptions options, MetricText text)
    : impl_(std::make_shared<Impl>(ex, std::move(options), std::move(text))) {}

MetricOutputs::~MetricOutputs() { stop(); }

bool MetricOutputs::start(std::string* error) {
  auto& im = *impl_;
  if (!im.options.textfile_path.empty()) {
    auto dir = std::filesystem::path(im.options.textfile_path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      *error = "--write-textfile: directory \"" + dir.string() + "\" does not exist";
      return false;
    }
    if (im.options.textfile_interval.count() <= 0) {
      *error = "--write-textfile.interval must be positive";
      return false;
    }
    im.write_textfile();
    im.disk = std::make_unique<asio::thread_pool>(1);
    im.schedule_textfile();
  }
  if (!im.options.push_url.empty()) {
    std::string prefix;
    if (!parse_push_url(im.options.push_url, &im.host, &im.port, &prefix, error)) return false;
    if (im.port.size() > 5 || std::stoul(im.port) > 65535) {
      *error = "push URL \"" + im.options.push_url + "\" has a port above 65535";
      return false;
    }
    if (im.options.push_interval.count() <= 0) {
      *error = "--push.interval must be positive";
      return false;
    }
    if (im.options.push_timeout.count() <= 0) {
      *error = "the push timeout must be positive";
      return false;
    }
    std::string instance = im.options.push_instance;
    if (instance.empty()) {
      boost::system::error_code ec;
      instance = asio::ip::host_name(ec);
    }
    auto segment = [](const std::string& s) {
      std::string out;
      for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
          out += static_cast<char>(c);
        else {
          char b[4];
          std::snprintf(b, sizeof b, "%%%02X", c);
          out += b;
        }
      }
      return out;
    };
    im.target =
        prefix + "/metrics/job/" + segment(im.options.push_job) + "/instance/" + segment(instance);
    asio::co_spawn(im.ex, im.push(), asio::detached);
    im.schedule_push();
  }
  return true;
}

void MetricOutputs::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->textfile_timer.cancel();
  impl_->push_timer.cancel();
  impl_->finish_disk();
}

PushStatus MetricOutputs::push_status() const { return impl_->status; }

void MetricOutputs::flush_textfile() {
  if (!impl_->options.textfile_path.empty()) impl_->write_textfile();
}

}  // namespace kscprobe
