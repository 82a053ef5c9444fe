#include "platform/enum_table.hpp"

#include <gtest/gtest.h>

#include <set>

#include "collectors/probe_result.hpp"
#include "collectors/resolver_cache.hpp"
#include "config/catalog.hpp"
#include "config/config.hpp"
#include "daemon/discovery/ksc_client.hpp"

namespace kscprobe {
namespace {

// Every table: each name parses back to its value, and no two values share a name (a label
// value that two values share would merge two series).
template <class E, std::size_t N>
void expect_round_trip(const EnumTable<E, N>& table, std::string_view what) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < N; ++i) {
    const E value = static_cast<E>(i);
    const std::string_view name = table.name(value);
    EXPECT_FALSE(name.empty()) << what << " " << i;
    EXPECT_TRUE(seen.insert(name).second) << what << ": " << name << " twice";
    EXPECT_EQ(table.parse(name), std::optional<E>(value)) << what << ": " << name;
  }
  EXPECT_EQ(table.parse("no such name"), std::nullopt) << what;
  EXPECT_EQ(table.name(static_cast<E>(N)), "unknown") << what;
}

TEST(EnumTable, EveryTableRoundTrips) {
  expect_round_trip(kRoles, "role");
  expect_round_trip(kTransports, "transport");
  expect_round_trip(kEngines, "engine");
  expect_round_trip(kReasons, "reason");
  expect_round_trip(kLocalFaults, "local fault");
  expect_round_trip(kPhases, "phase");
  expect_round_trip(kDetails, "detail");
  expect_round_trip(kLookupStatuses, "lookup status");
  expect_round_trip(ksc::kErrorKinds, "discovery error");
}

// The names the metrics and the configuration have always used: a change here is a change of
// label values, which dashboards and alerts read.
TEST(EnumTable, NamesAreTheLabelValuesOfTheMetrics) {
  EXPECT_EQ(kRoles.joined(), "server, distribution_point, agent, web_console, ios_mdm, database");
  EXPECT_EQ(kTransports.joined("|"), "tcp|tls|udp|http|https|icmp");
  EXPECT_EQ(kReasons.joined(" "),
            "none resolve refused timeout unreachable reset tls http_status protocol");
  EXPECT_EQ(kLocalFaults.joined(" "),
            "none fd_limit port_range buffers memory icmp_permission resolver_queue");
  EXPECT_EQ(kPhases.joined(" "), "resolve connect tls request");
  EXPECT_EQ(kDetails.joined(), "full, basic, aggregate");
  EXPECT_EQ(all_role_names(), kRoles.joined());
  EXPECT_EQ(kReasonCount, 9);
  EXPECT_EQ(kRoleCount, 6);
}

}  // namespace
}  // namespace kscprobe
