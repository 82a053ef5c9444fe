#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace kscprobe {

/// An immutable text held once and shared by count of references: one pointer where a
/// std::string is four, and one heap copy however many holders share it. A plan's checks hold
/// their target's address and their check id this way: at half a million agents the strings
/// were a fifth of the plan.
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::string_view text) : block_(make(text)) {}  // NOLINT(google-explicit-constructor)
  SharedText(const std::string& text)
      : SharedText(std::string_view(text)) {}  // NOLINT(google-explicit-constructor)
  SharedText(const char* text)
      : SharedText(std::string_view(text)) {}  // NOLINT(google-explicit-constructor)
  SharedText(const SharedText& o) noexcept : block_(o.block_) { retain(); }
  SharedText(SharedText&& o) noexcept : block_(o.block_) { o.block_ = nullptr; }
  SharedText& operator=(const SharedText& o) noexcept {
    SharedText copy(o);
    swap(copy);
    return *this;
  }
  SharedText& operator=(SharedText&& o) noexcept {
    SharedText moved(std::move(o));
    swap(moved);
    return *this;
  }
  ~SharedText() { release(); }

  std::string_view view() const {
    return block_ ? std::string_view(block_->text(), block_->size) : std::string_view();
  }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  operator std::string() const { return str(); }        // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(view()); }
  bool empty() const { return block_ == nullptr || block_->size == 0; }
  std::size_t size() const { return view().size(); }
  const char* data() const { return view().data(); }
  std::size_t find(char c) const { return view().find(c); }
  std::size_t find(std::string_view s) const { return view().find(s); }
  /// True when both hold the same copy (then also equal): a plan shares one per distinct text.
  bool same_copy(const SharedText& o) const { return block_ == o.block_; }

  friend bool operator==(const SharedText& a, const SharedText& b) {
    return a.block_ == b.block_ || a.view() == b.view();
  }
  friend bool operator==(const SharedText& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const SharedText& a, const char* b) { return a.view() == b; }
  friend bool operator==(const SharedText& a, const std::string& b) { return a.view() == b; }
  friend auto operator<=>(const SharedText& a, const SharedText& b) {
    return a.view() <=> b.view();
  }
  friend std::string operator+(std::string a, const SharedText& b) { return a.append(b.view()); }
  friend std::string operator+(const SharedText& a, std::string_view b) {
    return a.str().append(b);
  }
  friend std::string operator+(const SharedText& a, const char* b) { return a.str().append(b); }
  friend std::ostream& operator<<(std::ostream& os, const SharedText& t);

 private:
  struct Block {
    std::atomic<std::uint32_t> refs{1};
    std::uint32_t size = 0;
    char* text() { return reinterpret_cast<char*>(this + 1); }
    const char* text() const { return reinterpret_cast<const char*>(this + 1); }
  };
  static Block* make(std::string_view text) {
    if (text.empty()) return nullptr;
    void* raw = ::operator new(sizeof(Block) + text.size());
    auto* b = new (raw) Block;
    b->size = static_cast<std::uint32_t>(text.size());
    std::memcpy(b->text(), text.data(), text.size());
    return b;
  }
  void retain() const {
    if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void release() {
    if (block_ && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      block_->~Block();
      ::operator delete(block_);
    }
    block_ = nullptr;
  }
  void swap(SharedText& o) noexcept { std::swap(block_, o.block_); }
  Block* block_ = nullptr;
};

}  // namespace kscprobe

template <>
struct std::hash<kscprobe::SharedText> {
  std::size_t operator()(const kscprobe::SharedText& t) const noexcept {
    return std::hash<std::string_view>()(t.view());
  }
};
