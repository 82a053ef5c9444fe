// The status page's query string: read into a StatusQuery, written back into links.
#include "daemon/web/status_query.hpp"

#include <gtest/gtest.h>

#include "tests/support/plan_builder.hpp"

using namespace kscprobe;

namespace {

std::optional<StatusQuery> parse(std::string_view q, const Plan* plan = nullptr,
                                 std::string* error = nullptr) {
  StatusQuery out;
  std::string e;
  if (!parse_status_query(q, plan, &out, error ? error : &e)) return std::nullopt;
  return out;
}

}  // namespace

TEST(StatusQuery, NothingAskedIsTheDefaultPage) {
  const auto q = parse("");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->format, StatusFormat::html);
  EXPECT_EQ(q->state, StateFilter::any);
  EXPECT_FALSE(q->role || q->reason || q->diagnosis);
  EXPECT_EQ(q->offset, 0u);
  EXPECT_EQ(q->limit, kStatusDefaultLimit);
  EXPECT_EQ(q->to_query_string(), "");
  EXPECT_EQ(page_link(*q, 0), "/");
  EXPECT_EQ(page_link(*q, 400), "/?offset=400");
}

// Empty values are a submitted form's untouched fields: no filter, and no error for a value
// that would be out of its set.
TEST(StatusQuery, AnEmptyValueSetsNoFilter) {
  const auto q = parse("format=&role=&state=&reason=&diagnosis=&offset=&limit=&label.site=");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->to_query_string(), "");
  EXPECT_TRUE(q->labels.empty());
}

// Links carry the same query whatever order it came in: one canonical form.
TEST(StatusQuery, LinksAreCanonical) {
  const auto q = parse("offset=20&label.zone=b&limit=10&state=expiring&format=text&role=agent");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->to_query_string(),
            "?format=text&role=agent&state=expiring&label.zone=b&limit=10&"
            "offset=20");
  EXPECT_EQ(page_link(*q, 0), "/?format=text&role=agent&state=expiring&label.zone=b&limit=10");
}

TEST(StatusQuery, EveryStateReadsBackAsItIsWritten) {
  for (StateFilter s : kStateFilters) {
    const std::string name(to_string(s));
    const auto q = parse("state=" + name);
    ASSERT_TRUE(q) << name;
    EXPECT_EQ(q->state, s);
    EXPECT_EQ(q->to_query_string(), "?state=" + name);
  }
  EXPECT_EQ(to_string(StateFilter::any), "");
}

TEST(StatusQuery, LimitAndOffsetHaveBounds) {
  EXPECT_EQ(parse("limit=0")->limit, 0u);
  EXPECT_EQ(parse("limit=1000")->limit, kStatusMaxLimit);
  EXPECT_FALSE(parse("limit=1001"));
  EXPECT_FALSE(parse("limit=+5"));
  EXPECT_FALSE(parse("limit=5x"));
  EXPECT_EQ(parse("offset=1000000000")->offset, 1'000'000'000u);
  std::string error;
  EXPECT_FALSE(parse("offset=1000000001", nullptr, &error));
  EXPECT_EQ(error, "offset must be a number from 0 to 1000000000");
}

// A label's plain name is a filter only when the plan knows the label (aggregated, or carried by
// a target); `label.NAME` always is.
TEST(StatusQuery, PlainLabelNamesNeedThePlanToKnowThem) {
  auto plan = test::PlanBuilder()
                  .target("pc-1", Role::agent, "10.0.0.1", {{"zone", "a"}})
                  .check("agents_tcp", Transport::tcp, 14000)
                  .build();
  plan->metrics.aggregate_labels = {"site"};
  std::string error;
  EXPECT_FALSE(parse("zone=a", nullptr, &error));
  EXPECT_NE(error.find("unknown query parameter 'zone'"), std::string::npos) << error;
  const auto zone = parse("zone=a", plan.get());
  ASSERT_TRUE(zone);
  EXPECT_EQ(zone->labels, (std::vector<std::pair<std::string, std::string>>{{"zone", "a"}}));
  EXPECT_EQ(zone->to_query_string(), "?label.zone=a");
  ASSERT_TRUE(parse("site=paris", plan.get()));  // aggregated, though no target carries it
  ASSERT_TRUE(parse("label.room=12", plan.get()));
  EXPECT_FALSE(parse("room=12", plan.get()));
  EXPECT_FALSE(parse("zone=a&label.zone=b", plan.get(), &error));
  EXPECT_EQ(error, "query parameter 'zone' given twice");
}

// What the reader of a 400 needs: the parameter at fault and what is allowed instead.
TEST(StatusQuery, ErrorsNameTheParameterAndTheChoices) {
  std::string error;
  EXPECT_FALSE(parse("state=sideways", nullptr, &error));
  EXPECT_EQ(error, "unknown state 'sideways' (up, down, pending, filtered, expiring)");
  EXPECT_FALSE(parse("format=csv", nullptr, &error));
  EXPECT_EQ(error, "unknown format 'csv' (html, json, text)");
  EXPECT_FALSE(parse("sort=name", nullptr, &error));
  EXPECT_EQ(error,
            "unknown query parameter 'sort' (filters: role, check, state, reason, target, "
            "diagnosis, label.NAME or a label's name; also format, offset, limit)");
}
