#!/usr/bin/env bash
# Checks what users deploy next to kscprobe (monitoring/) with the real tools:
#   - the alert rules parse (promtool check rules) and pass their unit tests (promtool test rules);
#   - the example Prometheus configuration is valid (promtool check config);
#   - the Grafana dashboard is valid JSON with the structure Grafana needs, and every PromQL
#     expression in it (panels, annotations, variable selectors) parses: they are written into a
#     temporary rules file as recording rules and checked with promtool.
# Needs promtool (package prometheus) and jq (scripts/packages/test-monitoring.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

rules=monitoring/prometheus/kscprobe-alerts.yml
tests=monitoring/prometheus/kscprobe-alerts.test.yml
config=monitoring/prometheus/prometheus.example.yml
dashboard=monitoring/grafana/kscprobe-overview.json

for tool in promtool jq; do
  command -v "$tool" >/dev/null || { echo "10-monitoring: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every promtool call is bounded: a hung tool fails the stage instead of the whole run.
pt() { timeout 120 promtool "$@"; }

echo "--- promtool check rules $rules"
pt check rules "$rules"

echo "--- promtool test rules $tests"
pt test rules "$tests"

echo "--- promtool check config $config"
pt check config "$config"

echo "--- dashboard $dashboard"
jq empty "$dashboard" || { echo "not valid JSON: $dashboard" >&2; exit 1; }

# Structure: what Grafana needs to import the dashboard and what the issue asks of it.
problems=$(jq -r '
  def panels: .panels[] | (., (.panels // [])[]);
  [
    (if (.schemaVersion // 0) < 36 then "schemaVersion missing or older than 36" else empty end),
    (if (.uid // "") == "" then "no uid" else empty end),
    (if (.title // "") == "" then "no title" else empty end),
    (["datasource", "site", "role", "target"] - [.templating.list[].name]
      | if length > 0 then "missing template variables: \(join(", "))" else empty end),
    ([panels | .id] | group_by(.) | map(select(length > 1) | .[0])
      | if length > 0 then "duplicate panel ids: \(map(tostring) | join(", "))" else empty end),
    (panels | select(.gridPos == null) | "panel \(.id) \"\(.title)\" has no gridPos"),
    (panels | select(.type != "row")
      | select((.datasource.uid // "") != "${datasource}")
      | "panel \(.id) \"\(.title)\" does not use the ${datasource} variable"),
    (panels | select(.type != "row") | select((.targets // []) | length == 0)
      | "panel \(.id) \"\(.title)\" has no query"),
    (panels | .targets[]? | select((.expr // "") == "")
      | "a query of refId \(.refId) has no expr")
  ] | .[]' "$dashboard")
if [[ -n "$problems" ]]; then
  echo "$problems" >&2
  exit 1
fi

# Every PromQL expression: panel and annotation "expr" fields, plus the selector inside each
# label_values(SELECTOR, label) variable query. Grafana's own variables are replaced by values
# of the right kind; anything left starting with "$" is an unknown variable and fails the check.
jq -r '
  [ (.. | objects | select(has("expr")) | .expr),
    (.templating.list[] | select(.type == "query")
      | (.query.query // .query // "")
      | capture("^label_values\\((?<sel>.*),\\s*[a-zA-Z_][a-zA-Z0-9_]*\\)$").sel) ]
  | to_entries[]
  | (.value
      | gsub("\\$__rate_interval|\\$\\{__rate_interval\\}"; "5m")
      | gsub("\\$__range|\\$\\{__range\\}"; "1h")
      | gsub("\\$__interval|\\$\\{__interval\\}"; "1m")
      | gsub("\\$\\{?(site|role|target|datasource)\\}?"; ".*")) as $e
  | "      - record: dashboard_expr_\(.key)\n        expr: |\n"
    + ($e | split("\n") | map("          " + .) | join("\n"))
' "$dashboard" >"$work/exprs.txt"

count=$(grep -c 'record: dashboard_expr_' "$work/exprs.txt" || true)
if ((count < 10)); then
  echo "only $count PromQL expressions found in $dashboard" >&2
  exit 1
fi
if grep -n '\$' "$work/exprs.txt" | grep -v '^\s*$' >&2; then
  echo "unknown Grafana variables left in the expressions above" >&2
  exit 1
fi
{
  echo "groups:"
  echo "  - name: dashboard-expressions"
  echo "    rules:"
  cat "$work/exprs.txt"
} >"$work/dashboard-rules.yml"
echo "--- promtool check rules on the dashboard's $count PromQL expressions"
pt check rules "$work/dashboard-rules.yml" || {
  echo "a dashboard expression does not parse; the generated file:" >&2
  cat -n "$work/dashboard-rules.yml" >&2
  exit 1
}
echo "10-monitoring: rules, rule tests, example config and dashboard are valid"
