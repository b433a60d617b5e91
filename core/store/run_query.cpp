#include "core/store/run_query.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

namespace distill {

QueryError::QueryError(size_t position, const std::string& message)
    : std::runtime_error("column " + std::to_string(position + 1) + ": " + message),
      position_(position),
      message_(message) {}

std::string QueryError::pointAt(const std::string& query) const {
  return query + "\n" + std::string(std::min(position_, query.size()), ' ') + "^";
}

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<double> toNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const std::string l = lower(text);
  if (l == "true" || l == "yes") return 1.0;
  if (l == "false" || l == "no") return 0.0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

// ---- tokens ------------------------------------------------------------------------------

enum class TokenKind { Word, String, Op, Open, Close, End };

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;
  size_t position = 0;
};

bool isOpChar(char c) { return c == '=' || c == '!' || c == '<' || c == '>' || c == '~' || c == ':'; }

std::vector<Token> tokenize(const std::string& text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(' || c == ')') {
      tokens.push_back({c == '(' ? TokenKind::Open : TokenKind::Close, std::string(1, c), i});
      ++i;
    } else if (c == '"' || c == '\'') {
      const size_t start = i++;
      std::string value;
      while (i < text.size() && text[i] != c) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value += text[i++];
      }
      if (i >= text.size()) throw QueryError(start, std::string("unterminated string: no closing ") + c);
      ++i;
      tokens.push_back({TokenKind::String, value, start});
    } else if (c == '&' || c == '|') {
      if (i + 1 >= text.size() || text[i + 1] != c)
        throw QueryError(i, std::string("'") + c + "' on its own: write '" + c + c + "' or '" +
                                (c == '&' ? "and" : "or") + "'");
      tokens.push_back({TokenKind::Word, c == '&' ? "and" : "or", i});
      i += 2;
    } else if (isOpChar(c)) {
      const size_t start = i;
      std::string op(1, c);
      if (i + 1 < text.size() && text[i + 1] == '=' && c != ':' && c != '~') op += '=';
      i += op.size();
      if (op == "!") {
        tokens.push_back({TokenKind::Word, "not", start});  // ! is NOT
      } else {
        if (op == "==") op = "=";
        tokens.push_back({TokenKind::Op, op, start});
      }
    } else {
      const size_t start = i;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) && text[i] != '(' &&
             text[i] != ')' && text[i] != '"' && text[i] != '\'' && !isOpChar(text[i]) && text[i] != '&' &&
             text[i] != '|')
        ++i;
      tokens.push_back({TokenKind::Word, text.substr(start, i - start), start});
    }
  }
  tokens.push_back({TokenKind::End, "", text.size()});
  return tokens;
}

const std::set<std::string> kBuiltinFields = {"id",      "name",     "status",      "notes",       "note",
                                              "starred", "star",     "created",     "created_at",  "finished",
                                              "finished_at", "duration", "duration_s", "teacher_run", "teacher_run_id",
                                              "tag",     "tags"};
const std::set<std::string> kDateFields = {"created", "created_at", "finished", "finished_at"};

// Levenshtein distance, for "did you mean".
size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

// ---- the expression ----------------------------------------------------------------------

// And and Or hold every operand of a chain ("a and b and c" is one node with three), so a
// long flat query makes a wide tree, not a deep one: only parentheses and NOT add depth, and
// the parser bounds those (kMaxQueryDepth), since evaluation recurses.
struct RunQuery::Node {
  enum class Kind { And, Or, Not, Text, Compare } kind = Kind::Text;
  std::vector<std::shared_ptr<const Node>> operands;  // And/Or: two or more; Not: one
  std::string field;                        // Compare
  std::string op;                           // Compare: = != < <= > >= ~ :
  std::string value;                        // Compare: the literal; Text: the words
  std::optional<double> number;             // the literal as a number, when it is one
};

namespace {

using Node = RunQuery::Node;
using NodePtr = std::shared_ptr<const Node>;

// Levels of parentheses and NOT together. A hand-written query uses a few; the limit keeps the
// recursive parser and evaluator far from the end of the stack (10,000 parentheses or 30,000
// '!' overflowed it) on every thread, the window's included.
constexpr int kMaxQueryDepth = 100;

class Parser {
 public:
  Parser(const std::string& text, const std::set<std::string>* known) : tokens_(tokenize(text)), known_(known) {}

  NodePtr parseAll() {
    if (peek().kind == TokenKind::End) return nullptr;
    NodePtr root = parseOr();
    if (peek().kind == TokenKind::Close) throw QueryError(peek().position, "unexpected ')': no '(' to close");
    if (peek().kind != TokenKind::End) throw QueryError(peek().position, "unexpected '" + peek().text + "'");
    return root;
  }

 private:
  const Token& peek() const { return tokens_[index_]; }
  const Token& take() { return tokens_[index_++]; }
  bool isKeyword(const Token& token, const char* word) const {
    return token.kind == TokenKind::Word && lower(token.text) == word;
  }

  NodePtr parseOr() {
    std::vector<NodePtr> operands{parseAnd()};
    while (isKeyword(peek(), "or")) {
      const Token& op = take();
      if (startsTerm(peek()) == false) throw QueryError(peek().position, "expected a term after '" + op.text + "'");
      operands.push_back(parseAnd());
    }
    return combine(Node::Kind::Or, std::move(operands));
  }

  NodePtr parseAnd() {
    std::vector<NodePtr> operands{parseNot()};
    while (true) {
      if (isKeyword(peek(), "and")) {
        const Token& op = take();
        if (!startsTerm(peek())) throw QueryError(peek().position, "expected a term after '" + op.text + "'");
        operands.push_back(parseNot());
      } else if (startsTerm(peek())) {
        operands.push_back(parseNot());  // adjacent terms: AND
      } else {
        return combine(Node::Kind::And, std::move(operands));
      }
    }
  }

  // Entered at each '(' and NOT; refuses the level past kMaxQueryDepth at that token.
  struct Nesting {
    Nesting(int& depth, const Token& token) : depth_(depth) {
      if (++depth_ > kMaxQueryDepth)
        throw QueryError(token.position, "nested too deep: at most " + std::to_string(kMaxQueryDepth) +
                                             " levels of parentheses and 'not' together");
    }
    ~Nesting() { --depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    int& depth_;
  };

  bool startsTerm(const Token& token) const {
    if (token.kind == TokenKind::String || token.kind == TokenKind::Open) return true;
    return token.kind == TokenKind::Word && !isKeyword(token, "and") && !isKeyword(token, "or");
  }

  NodePtr parseNot() {
    if (isKeyword(peek(), "not")) {
      const Nesting nesting(depth_, peek());
      const Token& op = take();
      if (!startsTerm(peek())) throw QueryError(peek().position, "expected a term after '" + op.text + "'");
      auto node = std::make_shared<Node>();
      node->kind = Node::Kind::Not;
      node->operands.push_back(parseNot());
      return node;
    }
    return parsePrimary();
  }

  NodePtr parsePrimary() {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::End:
        throw QueryError(token.position, "the query ends where a term was expected");
      case TokenKind::Close:
        throw QueryError(token.position, "unexpected ')'");
      case TokenKind::Op:
        throw QueryError(token.position, "expected a field name before '" + token.text + "'");
      case TokenKind::Open: {
        const Nesting nesting(depth_, token);
        take();
        if (peek().kind == TokenKind::Close) throw QueryError(peek().position, "empty parentheses");
        NodePtr inner = parseOr();
        if (peek().kind != TokenKind::Close)
          throw QueryError(token.position, "missing ')' to close this '('");
        take();
        return inner;
      }
      case TokenKind::String: {
        take();
        return text(token.text);
      }
      case TokenKind::Word:
        break;
    }
    take();
    if (peek().kind != TokenKind::Op) return text(token.text);
    const Token& op = take();
    const Token& value = peek();
    if (value.kind != TokenKind::Word && value.kind != TokenKind::String)
      throw QueryError(value.position, "expected a value after '" + op.text + "'");
    take();
    return compare(token, op, value);
  }

  NodePtr text(const std::string& words) {
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::Text;
    node->value = words;
    return node;
  }

  NodePtr compare(const Token& field, const Token& op, const Token& value) {
    const std::string name = field.text;
    if (known_ && !kBuiltinFields.count(lower(name)) && !known_->count(name)) {
      std::string message = "unknown field '" + name + "'";
      std::string best;
      size_t best_distance = std::max<size_t>(3, name.size() / 3) + 1;
      for (const auto& candidate : *known_) {
        const size_t d = editDistance(lower(name), lower(candidate));
        if (d < best_distance) best_distance = d, best = candidate;
      }
      if (!best.empty()) message += " (did you mean '" + best + "'?)";
      throw QueryError(field.position, message);
    }
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::Compare;
    node->field = kBuiltinFields.count(lower(name)) ? lower(name) : name;
    node->op = op.text;
    node->value = value.text;
    node->number = toNumber(value.text);
    const bool ordering = node->op == "<" || node->op == "<=" || node->op == ">" || node->op == ">=";
    if (ordering && !node->number && !kDateFields.count(node->field))
      throw QueryError(value.position, "'" + node->op + "' needs a number, got '" + value.text + "'");
    return node;
  }

  static NodePtr combine(Node::Kind kind, std::vector<NodePtr> operands) {
    if (operands.size() == 1) return std::move(operands.front());
    auto node = std::make_shared<Node>();
    node->kind = kind;
    node->operands = std::move(operands);
    return node;
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;  // current levels of '(' and NOT
  const std::set<std::string>* known_;
};

// A field's value on one run, as text (and the number it reads as, if any).
std::optional<std::string> fieldText(const RunRecord& run, const std::string& field) {
  if (field == "id") return std::to_string(run.id);
  if (field == "name") return run.name;
  if (field == "status") return std::string(statusName(run.status));
  if (field == "notes" || field == "note") return run.notes;
  if (field == "starred" || field == "star") return std::string(run.starred ? "1" : "0");
  if (field == "created" || field == "created_at") return run.created_at;
  if (field == "finished" || field == "finished_at") {
    if (run.finished_at.empty()) return std::nullopt;
    return run.finished_at;
  }
  if (field == "duration" || field == "duration_s") {
    if (run.finished_at.empty()) return std::nullopt;
    return std::to_string(run.duration_s);
  }
  if (field == "teacher_run" || field == "teacher_run_id") {
    if (!run.teacher_run_id) return std::nullopt;
    return std::to_string(*run.teacher_run_id);
  }
  if (auto it = run.params.find(field); it != run.params.end()) return it->second;
  if (auto it = run.final_metrics.find(field); it != run.final_metrics.end()) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", it->second);
    return std::string(buffer);
  }
  // A short metric name: the key whose last path part it is, preferring eval/ over others.
  std::optional<std::string> found;
  for (const auto& [key, value] : run.final_metrics) {
    const auto slash = key.rfind('/');
    if (slash == std::string::npos || key.compare(slash + 1, std::string::npos, field) != 0) continue;
    if (found && key.rfind("eval/", 0) != 0) continue;
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
    found = buffer;
  }
  return found;
}

bool compareValue(const std::string& actual, const Node& node) {
  const std::string& op = node.op;
  if (op == "~" || op == ":") return contains(actual, node.value);
  const auto actual_number = toNumber(actual);
  if (node.number && actual_number) {
    const double a = *actual_number, b = *node.number;
    if (op == "=") return a == b;
    if (op == "!=") return a != b;
    if (op == "<") return a < b;
    if (op == "<=") return a <= b;
    if (op == ">") return a > b;
    if (op == ">=") return a >= b;
    return false;
  }
  const std::string a = lower(actual), b = lower(node.value);
  if (op == "=") return a == b;
  if (op == "!=") return a != b;
  // Ordering on text: only for dates, which ISO 8601 makes comparable as strings.
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  return false;
}

bool evaluate(const Node& node, const RunRecord& run) {
  switch (node.kind) {
    case Node::Kind::And:
      return std::all_of(node.operands.begin(), node.operands.end(), [&](const NodePtr& n) { return evaluate(*n, run); });
    case Node::Kind::Or:
      return std::any_of(node.operands.begin(), node.operands.end(), [&](const NodePtr& n) { return evaluate(*n, run); });
    case Node::Kind::Not: return !evaluate(*node.operands.front(), run);
    case Node::Kind::Text: {
      if (contains(run.name, node.value) || contains(run.notes, node.value)) return true;
      return std::any_of(run.tags.begin(), run.tags.end(), [&](const std::string& tag) { return contains(tag, node.value); });
    }
    case Node::Kind::Compare: break;
  }
  if (node.field == "tag" || node.field == "tags") {
    const bool any = std::any_of(run.tags.begin(), run.tags.end(), [&](const std::string& tag) {
      if (node.op == "~") return contains(tag, node.value);
      return lower(tag) == lower(node.value);
    });
    return node.op == "!=" ? !any : any;
  }
  const auto actual = fieldText(run, node.field);
  return actual && compareValue(*actual, node);
}

}  // namespace

RunQuery::RunQuery() = default;
RunQuery::~RunQuery() = default;
RunQuery::RunQuery(RunQuery&&) noexcept = default;
RunQuery& RunQuery::operator=(RunQuery&&) noexcept = default;

RunQuery RunQuery::parse(const std::string& text, const std::set<std::string>* known_fields) {
  RunQuery query;
  query.root_ = Parser(text, known_fields).parseAll();
  return query;
}

bool RunQuery::matches(const RunRecord& run) const { return !root_ || evaluate(*root_, run); }

std::vector<RunRecord> RunQuery::filter(const std::vector<RunRecord>& runs) const {
  std::vector<RunRecord> kept;
  for (const auto& run : runs)
    if (matches(run)) kept.push_back(run);
  return kept;
}

std::set<std::string> queryFields(const std::vector<RunRecord>& runs) {
  std::set<std::string> fields(kBuiltinFields.begin(), kBuiltinFields.end());
  for (const auto& run : runs) {
    for (const auto& [key, value] : run.params) fields.insert(key);
    for (const auto& [key, value] : run.final_metrics) {
      fields.insert(key);
      const auto slash = key.rfind('/');
      if (slash != std::string::npos) fields.insert(key.substr(slash + 1));
    }
  }
  return fields;
}

}  // namespace distill
