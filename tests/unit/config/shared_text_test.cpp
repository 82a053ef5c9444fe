#include "config/shared_text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kscprobe {
namespace {

TEST(SharedText, HoldsItsTextAndComparesByIt) {
  SharedText a("pc-0001.corp.example");
  EXPECT_EQ(a.view(), "pc-0001.corp.example");
  EXPECT_EQ(a.size(), 20u);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, "pc-0001.corp.example");
  EXPECT_EQ(a, SharedText(std::string("pc-0001.corp.example")));
  EXPECT_FALSE(a == SharedText("pc-0002.corp.example"));
  EXPECT_LT(a, SharedText("pc-0002.corp.example"));
  EXPECT_EQ("cannot resolve " + a, "cannot resolve pc-0001.corp.example");
  EXPECT_EQ(a.find('.'), 7u);
  EXPECT_EQ(std::hash<SharedText>()(a), std::hash<std::string_view>()("pc-0001.corp.example"));
  const std::string s = a;
  EXPECT_EQ(s, "pc-0001.corp.example");
}

TEST(SharedText, EmptyHoldsNothing) {
  SharedText none, blank("");
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(blank.empty());
  EXPECT_EQ(none, blank);
  EXPECT_EQ(none.view(), "");
  EXPECT_EQ(none.str(), "");
}

TEST(SharedText, CopiesShareOneTextAndOutliveTheOriginal) {
  std::vector<SharedText> copies;
  {
    SharedText original("10.104.12.34");
    for (int i = 0; i < 4; ++i) copies.push_back(original);
    for (const SharedText& c : copies) EXPECT_TRUE(c.same_copy(original));
    SharedText moved(std::move(original));
    EXPECT_TRUE(original.empty());  // NOLINT(bugprone-use-after-move): a moved-from text is empty
    EXPECT_TRUE(moved.same_copy(copies[0]));
    moved = copies[1];  // assigning its own text
    EXPECT_EQ(moved, "10.104.12.34");
    moved = SharedText("other");
    EXPECT_EQ(moved, "other");
  }
  for (const SharedText& c : copies) EXPECT_EQ(c, "10.104.12.34");
  copies[0] = copies[0];  // self-assignment keeps the text
  EXPECT_EQ(copies[0], "10.104.12.34");
}

// Plans are read from other threads (renders, the status page) while copies come and go.
TEST(SharedText, CopiesOnManyThreadsKeepTheCountRight) {
  SharedText shared("agent-000123.corp.example");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&shared] {
      for (int i = 0; i < 20000; ++i) {
        SharedText copy = shared;
        SharedText moved = std::move(copy);
        if (moved.size() != 25) std::abort();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(shared, "agent-000123.corp.example");
}

}  // namespace
}  // namespace kscprobe
