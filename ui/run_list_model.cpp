#include "ui/run_list_model.h"

#include <QDateTime>
#include <QPainter>
#include <QPixmap>

#include "core/config/config.h"
#include "core/tasks/task_catalog.h"

namespace distill::ui {
namespace {

QString modelText(const ModelConfig& m) {
  const auto& widths = m.arch == "cnn" ? m.channels : m.hidden;
  QStringList parts;
  for (auto w : widths) parts << QString::number(w);
  return QString::fromStdString(m.arch) + (parts.isEmpty() ? QString() : QStringLiteral(" ") + parts.join(QChar(0x00D7)));
}

// The value as its declaration shows it (a percentage for fractions).
QString percent(const std::map<std::string, double>& metrics, const std::string& key) {
  auto it = metrics.find(key);
  if (it == metrics.end()) return QString();
  const MetricInfo info = metricInfo(key);
  return QString::fromStdString(formatMetricValue(info, it->second)) + (info.percent ? QStringLiteral("%") : QString());
}

}  // namespace

RunListModel::RunListModel(QObject* parent) : QAbstractTableModel(parent) {}

QIcon RunListModel::statusIcon(RunStatus status) {
  static std::map<RunStatus, QIcon> cache;
  auto it = cache.find(status);
  if (it != cache.end()) return it->second;
  QColor color;
  switch (status) {
    case RunStatus::Running: color = QColor(0x1F, 0x6F, 0xC5); break;
    case RunStatus::Completed: color = QColor(0x2E, 0x9E, 0x44); break;
    case RunStatus::Stopped: color = QColor(0xE0, 0xA0, 0x00); break;
    case RunStatus::Failed: color = QColor(0xC0, 0x39, 0x2B); break;
    case RunStatus::Interrupted: color = QColor(0x90, 0x90, 0x90); break;
  }
  QPixmap pixmap(32, 32);
  pixmap.fill(Qt::transparent);
  QPainter painter(&pixmap);
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setPen(QPen(color.darker(130), 2));
  painter.setBrush(color);
  painter.drawEllipse(QRectF(5, 5, 22, 22));
  painter.setPen(QPen(Qt::white, 3.2, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  painter.setBrush(Qt::white);
  switch (status) {  // a glyph as well as a colour, for colour-blind eyes
    case RunStatus::Running: painter.setPen(Qt::NoPen); painter.drawPolygon(QPolygonF({{13, 10}, {22, 16}, {13, 22}})); break;
    case RunStatus::Completed: painter.drawPolyline(QPolygonF({{10.5, 16.5}, {14.5, 20.5}, {21.5, 12}})); break;
    case RunStatus::Stopped: painter.setPen(Qt::NoPen); painter.drawRect(QRectF(11.5, 11.5, 9, 9)); break;
    case RunStatus::Failed: painter.drawLine(QPointF(12, 12), QPointF(20, 20)); painter.drawLine(QPointF(20, 12), QPointF(12, 20)); break;
    case RunStatus::Interrupted: painter.drawLine(QPointF(11, 16), QPointF(21, 16)); break;
  }
  painter.end();
  return cache[status] = QIcon(pixmap);
}

const RunListModel::Summary& RunListModel::summary(const RunRecord& run) const {
  auto it = summaries_.find(run.id);
  if (it != summaries_.end()) return it->second;
  Summary s;
  try {
    const ExperimentConfig config = parseConfig(run.config_yaml, "run " + std::to_string(run.id));
    s.task = config.task;
    s.dataset = QString::fromStdString(config.dataset.name);
    if (config.dataset.limit_train > 0) s.dataset += QStringLiteral(" (%1)").arg(config.dataset.limit_train);
    const QString teacher = config.teacher.source == "train" ? modelText(config.teacher.model)
                                                              : QString::fromStdString(config.teacher.source);
    s.models = teacher + QStringLiteral(" \u2192 ") + modelText(config.student);
  } catch (const std::exception&) {
    s.dataset = tr("?");  // a config from a newer workbench: still list the run
    s.task = "?";         // and say that its task is not known (its headline columns: the image task's)
  }
  return summaries_[run.id] = s;
}

void RunListModel::refresh(std::vector<RunRecord> runs) {
  bool same_rows = runs.size() == runs_.size();
  for (size_t i = 0; same_rows && i < runs.size(); ++i) same_rows = runs[i].id == runs_[i].id;
  if (same_rows) {
    runs_ = std::move(runs);
    if (!runs_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
    return;
  }
  beginResetModel();
  runs_ = std::move(runs);
  endResetModel();
}

void RunListModel::setLiveNote(qint64 run_id, const QString& note) {
  if (!note.isEmpty() && run_id == live_run_id_ && note == live_note_) return;  // the progress tick repeats it
  const qint64 previous = live_run_id_;
  live_run_id_ = note.isEmpty() ? 0 : run_id;
  live_note_ = note;
  for (qint64 id : {previous, run_id}) {
    const int row = rowOf(id);
    if (row >= 0) emit dataChanged(index(row, Status), index(row, Status));
  }
}

int RunListModel::rowOf(qint64 run_id) const {
  for (size_t i = 0; i < runs_.size(); ++i)
    if (runs_[i].id == run_id) return static_cast<int>(i);
  return -1;
}

qint64 RunListModel::runIdAt(int row) const {
  return row >= 0 && row < rowCount() ? runs_[row].id : 0;
}

const RunRecord* RunListModel::run(qint64 run_id) const {
  const int row = rowOf(run_id);
  return row < 0 ? nullptr : &runs_[row];
}

int RunListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(runs_.size()); }

int RunListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunListModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const RunRecord& run = runs_[index.row()];
  if (role == kRunIdRole) return QVariant::fromValue<qint64>(run.id);
  if (role == Qt::DecorationRole && index.column() == Status) return statusIcon(run.status);
  if (role == Qt::TextAlignmentRole && (index.column() == Agreement || index.column() == StudentAccuracy || index.column() == Id))
    return QVariant(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ToolTipRole) {
    QString tip = QStringLiteral("<b>%1</b><br>%2").arg(QString::fromStdString(run.name).toHtmlEscaped(), statusName(run.status));
    if (!run.error.empty()) tip += QStringLiteral("<br>%1").arg(QString::fromStdString(run.error).toHtmlEscaped());
    if (run.duration_s > 0) tip += QStringLiteral("<br>%1 s").arg(run.duration_s, 0, 'f', 1);
    return tip;
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case Id: return QVariant::fromValue<qint64>(run.id);
    case Name: return QString::fromStdString(run.name);
    case Status: {
      QString text = QString::fromLatin1(statusName(run.status));
      if (run.id == live_run_id_ && !live_note_.isEmpty()) text += QStringLiteral(" \u00B7 ") + live_note_;
      return text;
    }
    case Started: {
      QDateTime time = QDateTime::fromString(QString::fromStdString(run.created_at), Qt::ISODate);
      return time.isValid() ? time.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")) : QString::fromStdString(run.created_at);
    }
    case Task: return QString::fromStdString(summary(run).task);
    case Dataset: return summary(run).dataset;
    case Models: return summary(run).models;
    // The headline metrics its task declares (accuracy and top-1 agreement for images).
    case Agreement: return percent(run.final_metrics, taskDisplay(summary(run).task).agreement);
    case StudentAccuracy: return percent(run.final_metrics, taskDisplay(summary(run).task).student_quality);
  }
  return {};
}

QVariant RunListModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case Id: return tr("#");
    case Name: return tr("Name");
    case Status: return tr("Status");
    case Started: return tr("Started");
    case Task: return tr("Task");
    case Dataset: return tr("Dataset");
    case Models: return tr("Teacher \u2192 student");
    case Agreement: return tr("Agreement");
    case StudentAccuracy: return tr("Student acc/ppl");  // the task's student metric: accuracy or perplexity
  }
  return {};
}

}  // namespace distill::ui
