#pragma once
// One table per enumeration of names the metrics, the configuration and the logs share (roles,
// transports, reasons, phases, ...): each value with its name, in the values' order. The count
// is the table's size, and a table that skips or reorders a value does not compile, so a value
// added to an enum without its name fails where the table is defined, not as a wrong label.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kscprobe {

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
class EnumTable {
 public:
  constexpr explicit EnumTable(const EnumName<E> (&rows)[N]) {
    for (std::size_t i = 0; i < N; ++i) {
      // Not a constant expression when a row is out of order: the definition does not compile.
      if (static_cast<std::size_t>(rows[i].value) != i) throw "rows must list the values in order";
      names_[i] = rows[i].name;
    }
  }
  static constexpr std::size_t size() { return N; }
  /// The value's name; "unknown" for a value outside the table.
  constexpr std::string_view name(E value) const {
    const auto i = static_cast<std::size_t>(value);
    return i < N ? names_[i] : std::string_view("unknown");
  }
  constexpr std::optional<E> parse(std::string_view name) const {
    for (std::size_t i = 0; i < N; ++i)
      if (names_[i] == name) return static_cast<E>(i);
    return std::nullopt;
  }
  /// The names in order.
  constexpr const std::array<std::string_view, N>& names() const { return names_; }
  /// The names in order, joined: "server, agent, ..." for an error message.
  std::string joined(std::string_view separator = ", ") const {
    std::string out;
    for (std::size_t i = 0; i < N; ++i) {
      if (i) out += separator;
      out += names_[i];
    }
    return out;
  }

 private:
  std::array<std::string_view, N> names_{};
};

}  // namespace kscprobe
