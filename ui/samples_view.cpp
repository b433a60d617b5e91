#include "ui/samples_view.h"

#include <QAbstractTextDocumentLayout>
#include <QComboBox>
#include <QEvent>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QScrollBar>
#include <QSlider>
#include <QStackedWidget>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextTable>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/metrics/metric_info.h"
#include "core/store/run_store.h"
#include "core/tasks/task_catalog.h"
#include "ui/token_style.h"

namespace distill::ui {

namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
// Generated training sequences the Training view shows (the newest).
constexpr size_t kTrainingTexts = 16;

// A token's text in a tooltip: quoted, whitespace you can see.
QString quotedToken(const QString& text) {
  QString shown = text;
  shown.replace(u'\n', QStringLiteral("\\n")).replace(u'\t', QStringLiteral("\\t")).replace(u'\r', QStringLiteral("\\r"));
  return QStringLiteral("\u201C%1\u201D").arg(shown);
}

QString roleName(const std::string& role) {
  return role == "teacher" ? QObject::tr("teacher") : role == "student" ? QObject::tr("student") : toQ(role);
}

bool isRole(const GeneratedText& text, const std::string& role, const std::string& decoding) {
  return text.role == role && text.decoding == decoding;
}

}  // namespace

std::vector<TextPiece> completionPieces(const GeneratedText& text) {
  const std::string& completion = text.completion;
  std::vector<TextPiece> whole{{QString::fromStdString(completion), -1.0, -1.0, 0}};
  if (text.tokens_json.empty()) return whole;
  QJsonParseError error;
  const QJsonDocument json = QJsonDocument::fromJson(QByteArray::fromStdString(text.tokens_json), &error);
  if (error.error != QJsonParseError::NoError || !json.isArray()) return whole;
  struct Token {
    std::string t;
    double p, q;
  };
  std::vector<Token> tokens;
  for (const QJsonValue& value : json.array()) {
    const QJsonObject object = value.toObject();
    tokens.push_back({object.value(QStringLiteral("t")).toString().toStdString(),
                      object.value(QStringLiteral("p")).toDouble(-1.0), object.value(QStringLiteral("q")).toDouble(-1.0)});
  }

  // Each token's text is where it stands in the completion, except tokens holding U+FFFD: a
  // byte-level model writes a character of several bytes as several tokens, each of which
  // alone decodes to U+FFFD. Such a run of tokens is the completion's text up to where the
  // next whole token stands (for byte tokens, an ASCII byte outside any split character),
  // and its probability is the product of theirs: the probability of the character.
  std::vector<TextPiece> pieces;
  size_t at = 0;
  size_t i = 0;
  auto add = [&](const std::string& piece_text, size_t from, size_t to) {
    TextPiece piece{QString::fromStdString(piece_text), 1.0, 1.0, static_cast<int>(to - from)};
    for (size_t k = from; k < to; ++k) {
      piece.p = tokens[k].p < 0 || piece.p < 0 ? -1.0 : piece.p * tokens[k].p;
      piece.q = tokens[k].q < 0 || piece.q < 0 ? -1.0 : piece.q * tokens[k].q;
    }
    pieces.push_back(piece);
  };
  while (i < tokens.size()) {
    const std::string& t = tokens[i].t;
    const bool split = t.find(kReplacement) != std::string::npos;
    if (!split && completion.compare(at, t.size(), t) == 0) {
      add(t, i, i + 1);
      at += t.size();
      ++i;
      continue;
    }
    size_t j = i;
    while (j < tokens.size() && tokens[j].t.find(kReplacement) != std::string::npos) ++j;
    size_t end = std::string::npos;
    if (split && j == tokens.size()) end = completion.size();
    else if (split && !tokens[j].t.empty()) end = completion.find(tokens[j].t, at);
    if (end == std::string::npos || end <= at) break;  // not aligned: the rest as the tokens say
    add(completion.substr(at, end - at), i, j);
    at = end;
    i = j;
  }
  for (; i < tokens.size(); ++i) add(tokens[i].t, i, i + 1);
  return pieces;
}

int unlikelyLevel(double q) {
  if (q < 0) return 0;
  if (q < kTeacherVeryUnlikely) return 2;
  if (q < kTeacherUnlikely) return 1;
  return 0;
}

QString percentText(double probability) {
  const double percent = 100.0 * probability;
  if (percent >= 99.95 || percent == 0.0) return QStringLiteral("%1%").arg(percent, 0, 'f', 0);
  const int digits = percent >= 10 ? 1 : std::max(0, 2 - static_cast<int>(std::floor(std::log10(percent))));
  return QStringLiteral("%1%").arg(percent, 0, 'f', std::min(digits, 6));
}

namespace {
// "10%", "1%": the marking thresholds as the legend and the summary name them.
QString thresholdText(double probability) { return QString::number(100.0 * probability, 'g', 3) + '%'; }
}  // namespace

QString pieceToolTip(const TextPiece& piece, const std::string& role) {
  QString tip = quotedToken(piece.text);
  if (piece.tokens > 1) tip += QObject::tr(" (%1 tokens)").arg(piece.tokens);
  if (piece.p < 0) return tip;
  tip += '\n' + QObject::tr("%1 %2").arg(roleName(role), percentText(piece.p));
  if (piece.q >= 0) {
    const std::string other = role == "student" ? "teacher" : "student";
    tip += QStringLiteral(" \u00B7 ") + QObject::tr("%1 %2").arg(roleName(other), percentText(piece.q));
  }
  return tip;
}

QString pointLabel(const std::string& phase, int64_t step, double epoch) {
  return QObject::tr("%1 phase, step %2 (epoch %3)").arg(roleName(phase)).arg(step).arg(epoch, 0, 'f', 2);
}

// ---- the text area --------------------------------------------------------------------

QString SampleText::toolTipAt(const QPoint& viewport_pos) const {
  const QPointF at(viewport_pos.x() + horizontalScrollBar()->value(), viewport_pos.y() + verticalScrollBar()->value());
  // ExactHit: the character under the point, whichever half of it (or -1 over blank space).
  const int position = document()->documentLayout()->hitTest(at, Qt::ExactHit);
  if (position < 0) return QString();
  const QTextBlock block = document()->findBlock(position);
  for (auto it = block.begin(); !it.atEnd(); ++it) {
    const QTextFragment fragment = it.fragment();
    if (fragment.contains(position)) return fragment.charFormat().toolTip();
  }
  return QString();
}

bool SampleText::viewportEvent(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const QString tip = toolTipAt(help->pos());
    if (tip.isEmpty()) {
      QToolTip::hideText();
      event->ignore();
    } else {
      QToolTip::showText(help->globalPos(), tip, viewport());
    }
    return true;
  }
  return QTextBrowser::viewportEvent(event);
}

// ---- the page -------------------------------------------------------------------------

SamplesView::SamplesView(QWidget* parent) : QWidget(parent) {
  title_ = new QLabel;
  title_->setObjectName(QStringLiteral("samplesTitle"));
  title_->setWordWrap(true);
  QFont title_font = title_->font();
  title_font.setBold(true);
  title_->setFont(title_font);
  mode_box_ = new QComboBox;
  mode_box_->setObjectName(QStringLiteral("samplesMode"));
  mode_box_->addItems({tr("Evaluation prompts"), tr("Training texts")});
  mode_box_->setToolTip(tr("Evaluation prompts: the fixed prompts both models complete at each evaluation. Training "
                           "texts: the latest sequences the student trained on, written by the teacher (sequence-level) "
                           "or by the student itself (on-policy)"));
  decoding_box_ = new QComboBox;
  decoding_box_->setObjectName(QStringLiteral("samplesDecoding"));
  decoding_box_->addItems({tr("Greedy"), tr("Sampled")});
  decoding_box_->setToolTip(tr("Greedy: each model's most likely token at every step. Sampled: drawn with the run's "
                               "sampling temperature and top-p, from the same seed at every evaluation"));
  auto* header = new QHBoxLayout;
  header->addWidget(title_, 1);
  header->addWidget(mode_box_);
  header->addWidget(decoding_box_);

  slider_ = new QSlider(Qt::Horizontal);
  slider_->setObjectName(QStringLiteral("samplesSlider"));
  slider_->setPageStep(1);
  slider_->setTickPosition(QSlider::TicksBelow);
  slider_->setToolTip(tr("The evaluation whose texts are shown (the teacher's stay at its last evaluation: it does "
                         "not change while the student trains)"));
  point_label_ = new QLabel;
  point_label_->setObjectName(QStringLiteral("samplesPoint"));
  count_label_ = new QLabel;
  count_label_->setObjectName(QStringLiteral("samplesCount"));
  // Two lines, so that the page reads at its 1280x720 width (about 630 pixels): where the
  // slider is and how many evaluations there are, then the slider across the page.
  slider_row_ = new QWidget;
  auto* slider_layout = new QGridLayout(slider_row_);
  slider_layout->setContentsMargins(0, 0, 0, 0);
  slider_layout->setVerticalSpacing(0);
  slider_layout->addWidget(point_label_, 0, 0);
  slider_layout->addWidget(count_label_, 0, 1, Qt::AlignRight);
  slider_layout->addWidget(slider_, 1, 0, 1, 2);
  slider_layout->setColumnStretch(0, 1);

  legend_ = new QLabel;
  legend_->setObjectName(QStringLiteral("samplesLegend"));
  legend_->setToolTip(tr("The student's tokens shaded by the teacher's probability of them (the teacher's probability "
                         "of the student's token given the same text before it). Hover any token for its probabilities."));
  summary_ = new QLabel;
  summary_->setObjectName(QStringLiteral("samplesSummary"));
  summary_->setToolTip(tr("Of the student's tokens shown, how many the teacher finds unlikely"));
  summary_->setMinimumWidth(40);  // on a narrow page it is cut, not the page widened
  auto* legend_row = new QHBoxLayout;
  legend_row->addWidget(legend_);
  legend_row->addStretch(1);
  legend_row->addWidget(summary_);

  message_ = new QLabel;
  message_->setObjectName(QStringLiteral("samplesMessage"));
  message_->setAlignment(Qt::AlignCenter);
  message_->setWordWrap(true);
  text_ = new SampleText;
  text_->setObjectName(QStringLiteral("samplesText"));
  text_->setOpenLinks(false);
  text_->document()->setDocumentMargin(6);
  body_ = new QStackedWidget;
  body_->addWidget(message_);
  body_->addWidget(text_);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addLayout(header);
  layout->addWidget(slider_row_);
  layout->addLayout(legend_row);
  layout->addWidget(body_, 1);

  training_timer_.setInterval(3000);
  connect(&training_timer_, &QTimer::timeout, this, [this] {
    if (isVisible()) reloadTraining();
    render();  // stops the timer once the page is hidden or the run has ended
  });
  connect(slider_, &QSlider::valueChanged, this, [this] { render(); });
  connect(decoding_box_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { render(); });
  connect(mode_box_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    if (mode_box_->currentIndex() == 1) reloadTraining();
    render();
  });
  setRun(0);
}

void SamplesView::setStore(RunStore* store) {
  store_ = store;
  run_id_ = -1;  // the same id names another run in another database
  setRun(0);
}

void SamplesView::setRun(qint64 run_id) {
  const bool same = run_id == run_id_;
  run_id_ = run_id;
  load(same);
}

void SamplesView::setLiveRun(qint64 run_id) {
  live_run_id_ = run_id;
  if (run_id != 0 && run_id == run_id_) load(/*keep=*/true);  // a resume dropped texts after its checkpoint
  render();
}

void SamplesView::setMode(Mode mode) { mode_box_->setCurrentIndex(mode == Mode::Training ? 1 : 0); }
void SamplesView::setSampled(bool sampled) { decoding_box_->setCurrentIndex(sampled ? 1 : 0); }

int SamplesView::evaluation() const { return slider_points_.empty() ? -1 : slider_->value(); }

void SamplesView::setEvaluation(int index) { slider_->setValue(index); }

bool SamplesView::showsTexts() const { return body_->currentWidget() == text_; }

std::optional<SamplesView::PointKey> SamplesView::shownPoint() const {
  if (slider_points_.empty() || slider_->value() == slider_->maximum()) return std::nullopt;
  const Point& shown = points_[static_cast<size_t>(slider_points_[static_cast<size_t>(slider_->value())])];
  return PointKey{shown.phase, shown.step};
}

void SamplesView::load(bool keep) {
  const std::optional<PointKey> shown = keep ? shownPoint() : std::nullopt;
  points_.clear();
  training_.clear();
  has_training_ = false;
  task_.clear();
  eval_prompts_.clear();
  run_running_ = false;
  if (store_ && run_id_ > 0) {
    try {
      if (const auto run = store_->getRun(run_id_)) {
        task_ = taskOfRun(run->params);
        run_running_ = run->status == RunStatus::Running;
        const auto prompts = run->params.find("generation.eval_prompts");
        if (prompts != run->params.end()) eval_prompts_ = prompts->second;
        title_->setText(tr("Run %1 \"%2\"").arg(run_id_).arg(toQ(run->name)));
        if (task_ == "lm") {
          GeneratedFilter filter;
          filter.purpose = "eval";
          for (const auto& text : store_->generatedTexts(run_id_, filter)) merge(text);
          has_training_ = !store_->generatedPoints(run_id_, "train").empty();
        }
      } else {
        title_->setText(tr("Run %1 is not in this database").arg(run_id_));
      }
    } catch (const std::exception& error) {
      title_->setText(tr("Cannot read run %1: %2").arg(run_id_).arg(QString::fromUtf8(error.what())));
    }
  } else {
    title_->setText(tr("Samples"));
  }
  if (has_training_ && points_.empty()) mode_box_->setCurrentIndex(1);
  if (mode_box_->currentIndex() == 1) reloadTraining();
  updateSlider(shown);
  render();
}

// Adds or replaces a text in its evaluation: a live text the store had already given, or one
// written again after a resume, takes the place of the older copy.
void SamplesView::merge(const GeneratedText& text) {
  auto point = std::find_if(points_.rbegin(), points_.rend(),
                            [&](const Point& p) { return p.phase == text.phase && p.step == text.step; });
  if (point == points_.rend()) {
    points_.push_back({text.phase, text.step, text.epoch, {}});
    point = points_.rbegin();
  }
  for (auto& old : point->texts)
    if (old.role == text.role && old.decoding == text.decoding && old.prompt_index == text.prompt_index) {
      old = text;
      return;
    }
  point->texts.push_back(text);
}

void SamplesView::addTexts(qint64 run_id, const std::vector<GeneratedText>& texts) {
  if (run_id != run_id_ || texts.empty() || task_ != "lm") return;
  const std::optional<PointKey> shown = shownPoint();
  for (const auto& text : texts)
    if (text.purpose == "eval") merge(text);
  updateSlider(shown);
  if (!has_training_ && store_) {  // a sequence-level or on-policy run's first generated batch
    try {
      has_training_ = !store_->generatedPoints(run_id_, "train").empty();
    } catch (const std::exception&) {
      // asked again at the next evaluation
    }
  }
  if (isVisible()) {
    render();
  } else {
    dirty_ = true;
  }
}

// The slider moves through the student's evaluations, or the teacher's while there are none
// (a live run's teacher phase, a teacher-only run); it stays on `keep` where that is one of
// them, else goes to the newest.
void SamplesView::updateSlider(const std::optional<PointKey>& keep) {
  slider_points_.clear();
  for (const std::string phase : {"student", "teacher"}) {
    for (size_t i = 0; i < points_.size(); ++i)
      if (points_[i].phase == phase) slider_points_.push_back(static_cast<int>(i));
    if (!slider_points_.empty()) break;
  }
  int value = static_cast<int>(slider_points_.size()) - 1;
  for (size_t i = 0; i < slider_points_.size() && keep; ++i) {
    const Point& point = points_[static_cast<size_t>(slider_points_[i])];
    if (point.phase == keep->phase && point.step == keep->step) value = static_cast<int>(i);
  }
  const QSignalBlocker block(slider_);
  slider_->setRange(0, std::max(0, static_cast<int>(slider_points_.size()) - 1));
  slider_->setValue(std::max(0, value));
  slider_->setEnabled(slider_points_.size() > 1);
}

void SamplesView::reloadTraining() {
  if (!store_ || run_id_ <= 0 || task_ != "lm") return;
  try {
    const auto points = store_->generatedPoints(run_id_, "train");
    has_training_ = !points.empty();
    std::vector<GeneratedText> latest;
    for (auto point = points.rbegin(); point != points.rend() && latest.size() < kTrainingTexts; ++point) {
      GeneratedFilter filter;
      filter.purpose = "train";
      filter.phase = point->phase;
      filter.step = point->step;
      const auto texts = store_->generatedTexts(run_id_, filter);
      for (auto text = texts.rbegin(); text != texts.rend() && latest.size() < kTrainingTexts; ++text)
        latest.push_back(*text);
    }
    std::reverse(latest.begin(), latest.end());  // within the view: oldest of the latest first
    training_ = std::move(latest);
  } catch (const std::exception&) {
    // A busy or changed file: the texts shown stay until the next read.
  }
}

void SamplesView::showMessage(const QString& message) {
  message_->setText(message);
  body_->setCurrentWidget(message_);
  slider_row_->setVisible(false);
  legend_->setVisible(false);
  summary_->clear();
}

void SamplesView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (dirty_) render();
}

void SamplesView::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange) render();
}

void SamplesView::render() {
  dirty_ = false;
  const bool training = mode_box_->currentIndex() == 1;
  const bool live = run_id_ > 0 && run_id_ == live_run_id_;
  if (training && live && isVisible()) {
    if (!training_timer_.isActive()) training_timer_.start();
  } else {
    training_timer_.stop();
  }
  mode_box_->setVisible(has_training_);
  decoding_box_->setVisible(task_ == "lm" && !training);
  if (run_id_ <= 0 || !store_) {
    showMessage(tr("Select a run in the Runs page (or start one) to read what its teacher and student wrote."));
    return;
  }
  if (task_.empty()) {
    showMessage(title_->text());
    return;
  }
  if (task_ != "lm") {
    const QString runs = task_ == "image" ? tr("Image runs") : tr("Runs of task \u201C%1\u201D").arg(toQ(task_));
    showMessage(tr("%1 have no generated text. Language-model runs (task: lm) store what their models write at each "
                   "evaluation.")
                    .arg(runs));
    return;
  }
  if (training) {
    if (training_.empty()) {
      showMessage(tr("This run stored no training texts yet."));
      return;
    }
    renderTraining();
  } else {
    if (points_.empty()) {
      if (eval_prompts_ == "0")
        showMessage(tr("This run stored no samples (generation.eval_prompts: 0)."));
      else if (run_running_ || live)
        showMessage(tr("No samples yet: both models complete the run's fixed prompts at each evaluation, the first "
                       "one before training starts."));
      else
        showMessage(tr("This run stored no samples: it ended before its first evaluation, or a workbench that did "
                       "not keep them ran it."));
      return;
    }
    renderEvaluation();
  }
  body_->setCurrentWidget(text_);
  emit shown(run_id_);
}

namespace {

// Writes `text` at the cursor, token by token: each piece with its tooltip, a student's
// piece shaded by how unlikely the teacher finds it.
// How many of the student's pieces (with the teacher's probability) are at each level.
struct MarkCounts {
  int all = 0;
  int level[3] = {0, 0, 0};
};

void writeCompletion(QTextCursor& cursor, const GeneratedText& text, const QPalette& palette, MarkCounts* counts) {
  for (const TextPiece& piece : completionPieces(text)) {
    QTextCharFormat format;
    format.setToolTip(pieceToolTip(piece, text.role));
    if (text.role == "student" && piece.q >= 0) {
      const int level = unlikelyLevel(piece.q);
      if (level > 0) format.setBackground(markColor(level, palette));
      if (counts) {
        counts->all += 1;
        counts->level[level] += 1;
      }
    }
    cursor.insertText(visibleText(piece.text), format);
  }
}

void writePrompt(QTextCursor& cursor, const std::string& prompt, const QPalette& palette) {
  QTextCharFormat format;
  format.setForeground(greyText(palette));
  format.setToolTip(QObject::tr("the prompt"));
  cursor.insertText(visibleText(toQ(prompt)), format);
}

QTextTable* makeTable(QTextCursor& cursor, int rows, const QVector<QTextLength>& widths, const QPalette& palette) {
  QTextTableFormat format;
  format.setCellPadding(5);
  format.setCellSpacing(0);
  format.setBorder(1);
  format.setBorderCollapse(true);
  format.setBorderStyle(QTextFrameFormat::BorderStyle_Solid);  // the default (outset) hid its lines on white
  format.setBorderBrush(blend(palette.color(QPalette::Text), palette.color(QPalette::Base), 0.18));
  format.setWidth(QTextLength(QTextLength::PercentageLength, 100));
  format.setColumnWidthConstraints(widths);
  format.setHeaderRowCount(1);
  return cursor.insertTable(rows, widths.size(), format);
}

void writeHeader(QTextTable* table, int column, const QString& who, const QColor& colour, const QString& where,
                 const QPalette& palette) {
  QTextCursor cell = table->cellAt(0, column).firstCursorPosition();
  QTextCharFormat bold;
  bold.setFontWeight(QFont::Bold);
  bold.setForeground(colour);
  cell.insertText(who, bold);
  if (!where.isEmpty()) {
    QTextCharFormat grey;
    grey.setForeground(greyText(palette));
    cell.insertText(QStringLiteral("  ") + where, grey);
  }
}

}  // namespace

void SamplesView::renderEvaluation() {
  const std::string decoding = decoding_box_->currentIndex() == 1 ? "sampled" : "greedy";
  const int index = std::clamp(slider_->value(), 0, static_cast<int>(slider_points_.size()) - 1);
  const size_t shown = static_cast<size_t>(slider_points_[static_cast<size_t>(index)]);
  const Point& point = points_[shown];
  // The teacher's texts: its latest evaluation at or before the one shown.
  const Point* teacher = nullptr;
  for (size_t i = 0; i <= shown; ++i)
    for (const auto& text : points_[i].texts)
      if (text.role == "teacher") teacher = &points_[i];
  const Point* student = nullptr;
  for (const auto& text : point.texts)
    if (text.role == "student") student = &point;

  slider_row_->setVisible(true);
  point_label_->setText(pointLabel(point.phase, point.step, point.epoch));
  count_label_->setText(tr("evaluation %1 of %2").arg(index + 1).arg(slider_points_.size()));
  const QPalette& palette = this->palette();
  legend_->setVisible(true);
  legend_->setText(tr("Student tokens unlikely for the teacher: <span style=\"background-color:%1\">&nbsp;below "
                      "%3&nbsp;</span> <span style=\"background-color:%2\">&nbsp;below %4&nbsp;</span>")
                       .arg(markColor(1, palette).name(), markColor(2, palette).name(), thresholdText(kTeacherUnlikely),
                            thresholdText(kTeacherVeryUnlikely)));

  std::set<int64_t> prompts;
  for (const Point* p : {teacher, student})
    if (p)
      for (const auto& text : p->texts)
        if (text.decoding == decoding) prompts.insert(text.prompt_index);

  const int scroll = text_->verticalScrollBar()->value();
  QTextDocument* document = text_->document();
  document->clear();
  QTextCursor cursor(document);
  const QVector<QTextLength> widths = {QTextLength(QTextLength::FixedLength, 22),
                                       QTextLength(QTextLength::PercentageLength, 49),
                                       QTextLength(QTextLength::PercentageLength, 49)};
  QTextTable* table = makeTable(cursor, 1 + std::max<int>(1, static_cast<int>(prompts.size())), widths, palette);
  // Where each column's texts come from; the phase goes without saying unless it is not the
  // model's own (none today: a model writes its texts in its own phase).
  auto where = [this](const Point* p, const std::string& role) {
    if (!p) return QString();
    if (p->phase != role) return pointLabel(p->phase, p->step, p->epoch);
    return tr("step %1 (epoch %2)").arg(p->step).arg(p->epoch, 0, 'f', 2);
  };
  writeHeader(table, 1, tr("Teacher"), QColor(QLatin1String(kTeacherColorHex)), where(teacher, "teacher"), palette);
  writeHeader(table, 2, tr("Student"), QColor(QLatin1String(kStudentColorHex)), where(student, "student"), palette);

  MarkCounts counts;
  int row = 1;
  QTextCharFormat grey;
  grey.setForeground(greyText(palette));
  for (const int64_t prompt : prompts) {
    QTextCursor number = table->cellAt(row, 0).firstCursorPosition();
    number.insertText(QString::number(prompt + 1), grey);
    for (const auto& [column, who] : {std::pair<int, const Point*>{1, teacher}, {2, student}}) {
      QTextCursor cell = table->cellAt(row, column).firstCursorPosition();
      const std::string role = column == 1 ? "teacher" : "student";
      const GeneratedText* text = nullptr;
      if (who)
        for (const auto& t : who->texts)
          if (isRole(t, role, decoding) && t.prompt_index == prompt) text = &t;
      if (!text) {
        cell.insertText(column == 2 && !student ? tr("(the student has not been evaluated yet)") : tr("(none)"), grey);
        continue;
      }
      writePrompt(cell, text->prompt, palette);
      writeCompletion(cell, *text, palette, column == 2 ? &counts : nullptr);
    }
    ++row;
  }
  if (prompts.empty())
    table->cellAt(1, 1).firstCursorPosition().insertText(tr("(no %1 texts at this evaluation)").arg(toQ(decoding)), grey);
  text_->verticalScrollBar()->setValue(scroll);

  if (counts.all > 0) {
    summary_->setText(tr("%1 of %2 below %3, %4 below %5")
                          .arg(counts.level[1] + counts.level[2])
                          .arg(counts.all)
                          .arg(thresholdText(kTeacherUnlikely))
                          .arg(counts.level[2])
                          .arg(thresholdText(kTeacherVeryUnlikely)));
  } else {
    summary_->clear();
  }
}

void SamplesView::renderTraining() {
  slider_row_->setVisible(false);
  legend_->setVisible(false);
  summary_->setText(tr("the latest %1 generated training sequences").arg(training_.size()));
  const QPalette& palette = this->palette();
  const int scroll = text_->verticalScrollBar()->value();
  QTextDocument* document = text_->document();
  document->clear();
  QTextCursor cursor(document);
  const QVector<QTextLength> widths = {QTextLength(QTextLength::PercentageLength, 24),
                                       QTextLength(QTextLength::PercentageLength, 76)};
  QTextTable* table = makeTable(cursor, 1 + static_cast<int>(training_.size()), widths, palette);
  writeHeader(table, 0, tr("Written by"), palette.color(QPalette::Text), QString(), palette);
  writeHeader(table, 1, tr("Prompt from the corpus, then the generated text"), palette.color(QPalette::Text), QString(),
              palette);
  QTextCharFormat grey;
  grey.setForeground(greyText(palette));
  for (size_t i = 0; i < training_.size(); ++i) {
    const GeneratedText& text = training_[i];
    const int row = static_cast<int>(i) + 1;
    QTextCursor who = table->cellAt(row, 0).firstCursorPosition();
    QTextCharFormat role;
    role.setFontWeight(QFont::Bold);
    role.setForeground(QColor(QLatin1String(text.role == "teacher" ? kTeacherColorHex : kStudentColorHex)));
    who.insertText(text.role == "teacher" ? tr("teacher (sequence-level)") : tr("student (on-policy)"), role);
    who.insertText(QString(QChar::LineSeparator) + tr("%1 phase, step %2, row %3, %4")
                                                      .arg(roleName(text.phase))
                                                      .arg(text.step)
                                                      .arg(text.prompt_index)
                                                      .arg(toQ(text.decoding)),
                   grey);
    QTextCursor cell = table->cellAt(row, 1).firstCursorPosition();
    writePrompt(cell, text.prompt, palette);
    writeCompletion(cell, text, palette, nullptr);
  }
  text_->verticalScrollBar()->setValue(scroll);
}

}  // namespace distill::ui
