#include "ui/run_table_model.h"

#include <QDateTime>
#include <QFont>
#include <QStringList>

#include <iterator>

#include "ui/run_list_model.h"
#include "core/tasks/task_catalog.h"

namespace distill::ui {
namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

QString param(const RunRecord& run, const char* key) {
  auto it = run.params.find(key);
  return it == run.params.end() ? QString() : toQ(it->second);
}

// "mlp 1200x1200", "cnn 32-64", "resnet": the architecture in a few characters.
QString architecture(const RunRecord& run, const std::string& role) {
  const QString arch = param(run, (role + ".arch").c_str());
  if (arch.isEmpty()) return QString();
  QString detail = param(run, (role + (arch == QLatin1String("cnn") ? ".channels" : ".hidden")).c_str());
  detail.remove(QLatin1Char('[')).remove(QLatin1Char(']')).remove(QLatin1Char(' '));
  detail.replace(QLatin1Char(','), arch == QLatin1String("cnn") ? QLatin1Char('-') : QLatin1Char('x'));
  return detail.isEmpty() ? arch : arch + QLatin1Char(' ') + detail;
}

std::optional<double> finalMetric(const RunRecord& run, const std::string& key) {
  auto it = run.final_metrics.find(key);
  if (it == run.final_metrics.end()) return std::nullopt;
  return it->second;
}

}  // namespace

RunTableModel::RunTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void RunTableModel::setRuns(std::vector<RunRecord> runs, std::map<int64_t, double> best_student_acc) {
  beginResetModel();
  runs_ = std::move(runs);
  best_student_acc_ = std::move(best_student_acc);
  endResetModel();
}

const RunRecord* RunTableModel::runAt(int row) const {
  return row >= 0 && row < static_cast<int>(runs_.size()) ? &runs_[static_cast<size_t>(row)] : nullptr;
}

int RunTableModel::rowOf(qint64 run_id) const {
  for (size_t i = 0; i < runs_.size(); ++i)
    if (runs_[i].id == run_id) return static_cast<int>(i);
  return -1;
}

int RunTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}

int RunTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunTableModel::data(const QModelIndex& index, int role) const {
  const RunRecord* run = runAt(index.row());
  if (!run) return {};
  if (role == kRunIdRole) return QVariant::fromValue<qint64>(run->id);
  const auto metric = [&](std::optional<double> value) -> QVariant {
    if (role == kSortRole) return value ? QVariant(*value) : QVariant(-1e300);
    if (role == Qt::DisplayRole) return value ? QVariant(QString::number(*value, 'f', 4)) : QVariant(QStringLiteral("-"));
    if (role == Qt::TextAlignmentRole) return QVariant(int(Qt::AlignRight | Qt::AlignVCenter));
    return {};
  };
  const auto number_param = [&](const char* key) -> QVariant {
    const QString text = param(*run, key);
    if (role == kSortRole) {
      bool ok = false;
      const double value = text.toDouble(&ok);
      return ok ? QVariant(value) : QVariant(text);
    }
    if (role == Qt::DisplayRole) return text;
    if (role == Qt::TextAlignmentRole) return QVariant(int(Qt::AlignRight | Qt::AlignVCenter));
    return {};
  };
  switch (index.column()) {
    case Starred:
      if (role == Qt::DisplayRole) return run->starred ? QStringLiteral("\u2605") : QString();
      if (role == kSortRole) return run->starred ? 1 : 0;
      if (role == Qt::ToolTipRole) return run->starred ? tr("Starred") : QString();
      if (role == Qt::TextAlignmentRole) return int(Qt::AlignCenter);
      if (role == Qt::ForegroundRole) return QColor(0xE0, 0xA0, 0x00);
      return {};
    case Id:
      if (role == Qt::DisplayRole || role == kSortRole) return QVariant::fromValue<qint64>(run->id);
      if (role == Qt::TextAlignmentRole) return int(Qt::AlignRight | Qt::AlignVCenter);
      return {};
    case Name:
      if (role == Qt::DisplayRole || role == kSortRole) return toQ(run->name);
      if (role == Qt::ToolTipRole) return run->notes.empty() ? toQ(run->name) : toQ(run->name + "\n\n" + run->notes);
      return {};
    case Status:
      if (role == Qt::DisplayRole || role == kSortRole) return QString::fromLatin1(statusName(run->status));
      if (role == Qt::DecorationRole) return RunListModel::statusIcon(run->status);
      if (role == Qt::ToolTipRole && !run->error.empty()) return toQ(run->error);
      return {};
    case Started:
      if (role == kSortRole) return toQ(run->created_at);
      if (role == Qt::DisplayRole) {
        const QDateTime utc = QDateTime::fromString(toQ(run->created_at), Qt::ISODateWithMs);
        return utc.isValid() ? utc.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : toQ(run->created_at);
      }
      return {};
    case Duration:
      if (role == kSortRole) return run->finished_at.empty() ? -1.0 : run->duration_s;
      if (role == Qt::DisplayRole) {
        if (run->finished_at.empty()) return QStringLiteral("-");
        const int s = static_cast<int>(run->duration_s + 0.5);
        return s >= 3600 ? QStringLiteral("%1h%2m").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'))
                         : QStringLiteral("%1m%2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
      }
      if (role == Qt::TextAlignmentRole) return int(Qt::AlignRight | Qt::AlignVCenter);
      return {};
    case Task:
      if (role == Qt::DisplayRole || role == kSortRole) return toQ(taskOfRun(run->params));
      return {};
    case Dataset:
      if (role == Qt::DisplayRole || role == kSortRole) return param(*run, "dataset.name");
      return {};
    case Teacher:
      if (role == Qt::DisplayRole || role == kSortRole) {
        const QString source = param(*run, "teacher.source");
        if (!source.isEmpty() && source != QLatin1String("train")) return source;
        return architecture(*run, "teacher");
      }
      return {};
    case Student:
      if (role == Qt::DisplayRole || role == kSortRole) return architecture(*run, "student");
      return {};
    case Method:
      if (role == Qt::DisplayRole || role == kSortRole) return param(*run, "distill.method");
      return {};
    case Temperature: return number_param("distill.temperature");
    case Alpha: return number_param("distill.alpha");
    case Seed: return number_param("seed");
    // The headline metrics the run's task declares (accuracy, agreement and KL for images).
    case StudentAcc: return metric(finalMetric(*run, taskDisplay(taskOfRun(run->params)).student_quality));
    case BestStudentAcc: {
      auto it = best_student_acc_.find(run->id);
      return metric(it == best_student_acc_.end() ? std::nullopt : std::optional<double>(it->second));
    }
    case Agreement: return metric(finalMetric(*run, taskDisplay(taskOfRun(run->params)).agreement));
    case Kl: return metric(finalMetric(*run, taskDisplay(taskOfRun(run->params)).divergence));
    case Tags:
      if (role == Qt::DisplayRole || role == kSortRole) {
        QStringList tags;
        for (const auto& t : run->tags) tags << toQ(t);
        return tags.join(QStringLiteral(", "));
      }
      return {};
    default: return {};
  }
}

QVariant RunTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  static const char* const kTitles[] = {"\u2605", "#", "Name", "Status", "Started", "Duration", "Task", "Dataset",
                                        "Teacher", "Student", "Method", "T", "\u03b1", "Seed", "Student acc/ppl",
                                        "Best acc/ppl", "Agreement", "KL", "Tags"};
  static const char* const kTips[] = {"starred", "run id", "run name", "status", "start time (local)",
                                      "wall-clock duration", "task (image classifier or language model)", "dataset", "teacher architecture or source",
                                      "student architecture", "distillation method", "distillation temperature",
                                      "weight of the distillation term", "seed",
                                      "final student test accuracy (images) or validation perplexity (language models)",
                                      "best student test accuracy, or lowest validation perplexity", "final top-1 agreement with the teacher",
                                      "final predictive KL(teacher || student)", "tags"};
  static_assert(std::size(kTitles) == ColumnCount && std::size(kTips) == ColumnCount, "a title and a tip per column");
  if (section < 0 || section >= ColumnCount) return {};
  if (role == Qt::DisplayRole) return QString::fromUtf8(kTitles[section]);
  if (role == Qt::ToolTipRole) return QString::fromUtf8(kTips[section]);
  return {};
}

RunFilterProxy::RunFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(RunTableModel::kSortRole);
  setDynamicSortFilter(true);
}

QString RunFilterProxy::setQuery(const QString& text) {
  auto* model = qobject_cast<RunTableModel*>(sourceModel());
  const auto fields = model ? queryFields(model->runs()) : std::set<std::string>();
  try {
    query_ = RunQuery::parse(text.toStdString(), model ? &fields : nullptr);
  } catch (const QueryError& e) {
    return QString::fromStdString(e.what());
  }
  invalidateFilter();
  return QString();
}

bool RunFilterProxy::filterAcceptsRow(int source_row, const QModelIndex&) const {
  auto* model = qobject_cast<RunTableModel*>(sourceModel());
  const RunRecord* run = model ? model->runAt(source_row) : nullptr;
  return run && query_.matches(*run);
}

}  // namespace distill::ui
