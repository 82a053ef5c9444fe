#include "daemon/metric_outputs.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
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

bool write_file_atomically(const std::string& path, const std::string& content,
                           std::string* error) {
  std::string tmp = path + ".tmp." + std::to_string(platform::process_id());
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      return false;
    }
    bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
    ok = (std::fflush(f) == 0) && ok;
    ok = platform::sync_file(f) && ok;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      std::remove(tmp.c_str());
      return false;
    }
  }
  // std::filesystem::rename replaces an existing file on Windows too (std::rename does not).
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    *error = "cannot rename " + tmp + " to " + path + ": " + ec.message();
    std::remove(tmp.c_str());
    return false;
  }
  return true;
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
  Impl(asio::any_io_executor e, MetricOutputOptions o, std::function<std::string()> r)
      : ex(e),
        options(std::move(o)),
        render(std::move(r)),
        textfile_timer(e),
        push_timer(e),
        resolver(e, options.resolver) {}

  void schedule_textfile() {
    textfile_timer.expires_after(options.textfile_interval);
    textfile_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      self->write_textfile();
      self->schedule_textfile();
    });
  }

  void write_textfile() {
    std::string error;
    if (!write_file_atomically(options.textfile_path, render(), &error)) {
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
    req.body() = render();
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
  std::function<std::string()> render;
  asio::steady_timer textfile_timer, push_timer;
  std::string host, port, target;
  bool stopped = false, pushing = false, textfile_failing = false, push_failing = false;
  std::uint64_t pushes = 0;
  PushStatus status;
  NameResolver resolver;
};

MetricOutputs::MetricOutputs(asio::any_io_executor ex, MetricOutputOptions options,
                             std::function<std::string()> render)
    : impl_(std::make_shared<Impl>(ex, std::move(options), std::move(render))) {}

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
}

PushStatus MetricOutputs::push_status() const { return impl_->status; }

void MetricOutputs::flush_textfile() {
  if (!impl_->options.textfile_path.empty()) impl_->write_textfile();
}

}  // namespace kscprobe
