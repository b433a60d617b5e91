#include <gtest/gtest.h>

#include "core/store/run_query.h"

namespace distill {
namespace {

// Four runs that differ where the queries look: temperature, final agreement, tags, notes.
std::vector<RunRecord> sampleRuns() {
  auto make = [](int64_t id, const std::string& name, RunStatus status, const std::string& temperature,
                 double agreement, std::vector<std::string> tags, const std::string& notes, bool starred) {
    RunRecord run;
    run.id = id;
    run.name = name;
    run.status = status;
    run.params = {{"distill.temperature", temperature}, {"distill.alpha", "0.9"}, {"student.arch", "mlp"}};
    run.final_metrics = {{"eval/agreement", agreement}, {"eval/student_acc", agreement - 0.1}, {"train/kd_loss", 0.5}};
    run.tags = std::move(tags);
    run.notes = notes;
    run.starred = starred;
    run.created_at = "2024-05-0" + std::to_string(id) + "T10:00:00.000Z";
    return run;
  };
  return {
      make(1, "mlp kd T4", RunStatus::Completed, "4", 0.97, {"baseline"}, "", true),
      make(2, "mlp kd T2", RunStatus::Completed, "2", 0.96, {"sweep"}, "lower T", false),
      make(3, "cnn kd T4", RunStatus::Failed, "4", 0.90, {}, "diverged at epoch 3", false),
      make(4, "mlp vanilla", RunStatus::Stopped, "4", 0.93, {"baseline", "vanilla"}, "", false),
  };
}

std::vector<int64_t> ids(const std::vector<RunRecord>& runs) {
  std::vector<int64_t> out;
  for (const auto& r : runs) out.push_back(r.id);
  return out;
}

struct ValidCase {
  const char* query;
  std::vector<int64_t> expected;
};

class ValidQueries : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidQueries, SelectTheExpectedRuns) {
  const auto runs = sampleRuns();
  const auto fields = queryFields(runs);
  const auto query = RunQuery::parse(GetParam().query, &fields);
  EXPECT_EQ(ids(query.filter(runs)), GetParam().expected) << GetParam().query;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidQueries,
    ::testing::Values(
        ValidCase{"", {1, 2, 3, 4}},
        ValidCase{"   ", {1, 2, 3, 4}},
        ValidCase{"baseline", {1, 4}},                       // free text: tags
        ValidCase{"DIVERGED", {3}},                          // free text: notes, any case
        ValidCase{"mlp kd", {1, 2}},                         // adjacent words are ANDed
        ValidCase{"\"kd T4\"", {1, 3}},                      // a quoted phrase
        ValidCase{"agreement > 0.95", {1, 2}},               // short metric name
        ValidCase{"eval/agreement >= 0.96", {1, 2}},
        ValidCase{"agreement > 0.95 and distill.temperature = 4 and tag:baseline", {1}},
        ValidCase{"distill.temperature = 4.0", {1, 3, 4}},   // numbers compare as numbers
        ValidCase{"distill.temperature != 4", {2}},
        ValidCase{"status = failed or status = stopped", {3, 4}},
        ValidCase{"not tag:baseline", {2, 3}},
        ValidCase{"!starred = true", {2, 3, 4}},
        ValidCase{"starred = yes", {1}},
        ValidCase{"tag:baseline && (status = stopped || agreement > 0.965)", {1, 4}},
        ValidCase{"(tag:baseline or tag:sweep) and not name ~ vanilla", {1, 2}},
        ValidCase{"status = failed or tag:baseline and starred = 1", {1, 3}},  // AND binds tighter
        ValidCase{"name:cnn", {3}},
        ValidCase{"student.arch = MLP", {1, 2, 3, 4}},       // text compares case-insensitively
        ValidCase{"student_acc < 0.85", {3, 4}},
        ValidCase{"id <= 2", {1, 2}},
        ValidCase{"created >= 2024-05-03", {3, 4}},          // ISO dates compare as text
        ValidCase{"tag != baseline", {2, 3}},
        ValidCase{"tag ~ van", {4}}));

struct MalformedCase {
  const char* query;
  size_t position;
  const char* message;
};

class MalformedQueries : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedQueries, SayWhereTheyAreWrong) {
  const auto runs = sampleRuns();
  const auto fields = queryFields(runs);
  try {
    RunQuery::parse(GetParam().query, &fields);
    FAIL() << "accepted: " << GetParam().query;
  } catch (const QueryError& e) {
    EXPECT_EQ(e.position(), GetParam().position) << GetParam().query;
    EXPECT_EQ(e.message(), GetParam().message) << GetParam().query;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, MalformedQueries,
    ::testing::Values(
        MalformedCase{"agreement >", 11, "expected a value after '>'"},
        MalformedCase{"agreement > 0.9 and", 19, "expected a term after 'and'"},
        MalformedCase{"(tag:baseline or starred = 1", 0, "missing ')' to close this '('"},
        MalformedCase{"tag:baseline)", 12, "unexpected ')': no '(' to close"},
        MalformedCase{"> 3", 0, "expected a field name before '>'"},
        MalformedCase{"agreement > high", 12, "'>' needs a number, got 'high'"},
        MalformedCase{"name = \"open", 7, "unterminated string: no closing \""},
        MalformedCase{"distill.temprature = 4", 0, "unknown field 'distill.temprature' (did you mean 'distill.temperature'?)"},
        MalformedCase{"a & b", 2, "'&' on its own: write '&&' or 'and'"},
        MalformedCase{"()", 1, "empty parentheses"},
        MalformedCase{"not", 3, "expected a term after 'not'"},
        MalformedCase{"x or", 4, "expected a term after 'or'"}));

TEST(RunQuery, ErrorTextNamesTheColumnAndPointsAtIt) {
  try {
    RunQuery::parse("agreement > 0.9 and");
    FAIL();
  } catch (const QueryError& e) {
    EXPECT_STREQ(e.what(), "column 20: expected a term after 'and'");
    EXPECT_EQ(e.pointAt("agreement > 0.9 and"), "agreement > 0.9 and\n                   ^");
  }
}

TEST(RunQuery, WithoutKnownFieldsAnUnknownFieldMatchesNothing) {
  const auto runs = sampleRuns();
  EXPECT_TRUE(RunQuery::parse("no.such.key = 1").filter(runs).empty());
  EXPECT_TRUE(RunQuery().matches(runs[0]));
}

// 10,000 parentheses or 30,000 '!' overflowed the stack (exit 139 in `distill list --filter`).
TEST(RunQuery, DeepNestingIsRefusedWithTheLimitNotACrash) {
  const auto runs = sampleRuns();
  const std::string parens = std::string(10000, '(') + "baseline" + std::string(10000, ')');
  const std::string bangs = std::string(30000, '!') + "baseline";
  std::string nots;
  for (int i = 0; i < 20000; ++i) nots += "not (";
  for (const std::string* query : {&parens, &bangs, static_cast<const std::string*>(&nots)}) {
    try {
      RunQuery::parse(*query);
      FAIL() << "accepted " << query->size() << " bytes of nesting";
    } catch (const QueryError& e) {
      EXPECT_EQ(e.message(), "nested too deep: at most 100 levels of parentheses and 'not' together");
      EXPECT_LT(e.position(), 1000u);  // at the level past the limit, not at the end
    }
  }
  // At the limit it parses and evaluates: 100 levels, and 99 parentheses inside one NOT.
  const auto at_limit = RunQuery::parse(std::string(100, '(') + "baseline" + std::string(100, ')'));
  EXPECT_EQ(ids(at_limit.filter(runs)), (std::vector<int64_t>{1, 4}));
  const auto mixed = RunQuery::parse("not " + std::string(99, '(') + "baseline" + std::string(99, ')'));
  EXPECT_EQ(ids(mixed.filter(runs)), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ids(RunQuery::parse(std::string(100, '!') + "baseline").filter(runs)), (std::vector<int64_t>{1, 4}));
}

// Long flat chains are not nesting: 100,000 ANDed or ORed terms parse, evaluate and free.
TEST(RunQuery, LongFlatChainsAreNotLimited) {
  const auto runs = sampleRuns();
  std::string ands = "mlp", ors = "nothing";
  for (int i = 0; i < 100000; ++i) ands += " and mlp", ors += " or nothing";
  ors += " or vanilla";
  EXPECT_EQ(ids(RunQuery::parse(ands).filter(runs)), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(ids(RunQuery::parse(ors).filter(runs)), (std::vector<int64_t>{4}));
  EXPECT_EQ(ids(RunQuery::parse("mlp kd or cnn and not T4 or vanilla").filter(runs)), (std::vector<int64_t>{1, 2, 4}));
}

TEST(RunQuery, FieldsIncludeParamsMetricsAndShortNames) {
  const auto fields = queryFields(sampleRuns());
  for (const char* f : {"distill.temperature", "eval/agreement", "agreement", "kd_loss", "tag", "status"})
    EXPECT_TRUE(fields.count(f)) << f;
}

}  // namespace
}  // namespace distill
