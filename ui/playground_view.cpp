#include "ui/playground_view.h"

#include <QDoubleSpinBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QKeyEvent>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTextCursor>
#include <QThread>
#include <QVBoxLayout>

#include "core/metrics/metric_info.h"
#include "core/store/run_store.h"
#include "core/tasks/task_catalog.h"
#include "ui/samples_view.h"
#include "ui/token_style.h"

namespace distill::ui {

namespace {

QString toQ(const std::string& text) { return QString::fromStdString(text); }

// The completion as the Samples page reads a stored one, so that a character a byte-level model
// wrote as several tokens is one piece with the product of their probabilities.
GeneratedText asGeneratedText(const PlaygroundCompletion& completion) {
  GeneratedText text;
  text.role = completion.role;
  text.completion = completion.text;
  QJsonArray tokens;
  for (const PlaygroundToken& token : completion.tokens)
    tokens.append(QJsonObject{{"t", toQ(token.text)}, {"p", token.p}, {"q", token.q}});
  text.tokens_json = QJsonDocument(tokens).toJson(QJsonDocument::Compact).toStdString();
  return text;
}

}  // namespace

PlaygroundView::PlaygroundView(QWidget* parent) : QWidget(parent) {
  title_ = new QLabel;
  title_->setObjectName(QStringLiteral("playgroundTitle"));
  QFont bold = title_->font();
  bold.setBold(true);
  title_->setFont(bold);

  prompt_ = new QPlainTextEdit;
  prompt_->setObjectName(QStringLiteral("playgroundPrompt"));
  prompt_->setPlaceholderText(tr("The text both models continue (empty: the start of a document). Ctrl+Enter generates."));
  prompt_->setTabChangesFocus(true);
  prompt_->setFixedHeight(prompt_->fontMetrics().lineSpacing() * 3 + 14);
  prompt_->installEventFilter(this);  // Ctrl+Enter (the text box would take it as a line break)

  temperature_ = new QDoubleSpinBox;
  temperature_->setObjectName(QStringLiteral("playgroundTemperature"));
  temperature_->setRange(0.0, 5.0);
  temperature_->setSingleStep(0.1);
  temperature_->setDecimals(2);
  temperature_->setValue(0.8);
  temperature_->setToolTip(tr("Sampling temperature; 0 takes the most likely token (greedy)"));
  top_p_ = new QDoubleSpinBox;
  top_p_->setObjectName(QStringLiteral("playgroundTopP"));
  top_p_->setRange(0.01, 1.0);
  top_p_->setSingleStep(0.05);
  top_p_->setDecimals(2);
  top_p_->setValue(0.95);
  top_p_->setToolTip(tr("Nucleus sampling: draw from the smallest set of most likely tokens with this probability"));
  max_tokens_ = new QSpinBox;
  max_tokens_->setObjectName(QStringLiteral("playgroundMaxTokens"));
  max_tokens_->setRange(1, 4096);
  max_tokens_->setValue(64);
  max_tokens_->setToolTip(tr("New tokens at most; fewer when the model's context fills"));
  seed_ = new QSpinBox;
  seed_->setObjectName(QStringLiteral("playgroundSeed"));
  seed_->setRange(0, 1'000'000'000);
  seed_->setToolTip(tr("Seed of the sampler: the same seed and settings give the same text"));
  generate_button_ = new QPushButton(tr("Generate"));
  generate_button_->setObjectName(QStringLiteral("playgroundGenerate"));
  generate_button_->setDefault(true);
  connect(generate_button_, &QPushButton::clicked, this, &PlaygroundView::generate);
  stop_button_ = new QPushButton(tr("Stop"));
  stop_button_->setObjectName(QStringLiteral("playgroundStop"));
  stop_button_->setToolTip(tr("End the completion being written at its next token; what was written is shown"));
  connect(stop_button_, &QPushButton::clicked, this, &PlaygroundView::stop);

  auto* settings = new QHBoxLayout;
  settings->addWidget(new QLabel(tr("Temperature")));
  settings->addWidget(temperature_);
  settings->addSpacing(8);
  settings->addWidget(new QLabel(tr("Top-p")));
  settings->addWidget(top_p_);
  settings->addSpacing(8);
  settings->addWidget(new QLabel(tr("Max tokens")));
  settings->addWidget(max_tokens_);
  settings->addSpacing(8);
  settings->addWidget(new QLabel(tr("Seed")));
  settings->addWidget(seed_);
  settings->addStretch(1);

  status_ = new QLabel;
  status_->setObjectName(QStringLiteral("playgroundStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  legend_ = new QLabel;
  legend_->setWordWrap(true);

  message_ = new QLabel;
  message_->setObjectName(QStringLiteral("playgroundMessage"));
  message_->setAlignment(Qt::AlignCenter);
  message_->setWordWrap(true);
  message_->setMargin(24);

  auto column = [](QLabel*& header, SampleText*& text, const QString& name) {
    auto* widget = new QWidget;
    auto* layout = new QVBoxLayout(widget);
    layout->setContentsMargins(0, 0, 0, 0);
    header = new QLabel;
    header->setWordWrap(true);
    text = new SampleText;
    text->setObjectName(name);
    text->setReadOnly(true);
    text->setOpenLinks(false);
    layout->addWidget(header);
    layout->addWidget(text, 1);
    return widget;
  };
  auto* splitter = new QSplitter(Qt::Horizontal);
  splitter->addWidget(column(teacher_header_, teacher_text_, QStringLiteral("playgroundTeacherText")));
  splitter->addWidget(column(student_header_, student_text_, QStringLiteral("playgroundStudentText")));
  splitter->setChildrenCollapsible(false);

  body_ = new QStackedWidget;
  body_->addWidget(message_);
  body_->addWidget(splitter);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(title_);
  // Generate and Stop beside the prompt, not at the end of the settings row: that row would be
  // the widest of the window's pages and the window would no longer fit a 1280-pixel screen.
  auto* buttons = new QVBoxLayout;
  buttons->addWidget(generate_button_);
  buttons->addWidget(stop_button_);
  buttons->addStretch(1);
  auto* prompt_row = new QHBoxLayout;
  prompt_row->addWidget(prompt_, 1);
  prompt_row->addLayout(buttons);
  layout->addLayout(prompt_row);
  layout->addLayout(settings);
  layout->addWidget(status_);
  layout->addWidget(legend_);
  layout->addWidget(body_, 1);
  render();
}

PlaygroundView::~PlaygroundView() {
  if (worker_) {
    stop_flag_->store(true);  // the worker ends at its next token; its result is dropped with the page
    worker_->wait();
    delete worker_;
  }
}

void PlaygroundView::setStore(RunStore* store) {
  store_ = store;
  run_id_ = -1;  // read the run again from the new store
  setRun(0);
}

void PlaygroundView::setRun(qint64 run_id) {
  if (run_id == run_id_) return;
  run_id_ = run_id;
  ++ticket_;  // a result for the previous run is dropped
  if (worker_) stop_flag_->store(true);  // and need not be finished
  has_result_ = false;
  result_ = {};
  can_generate_ = false;
  title_->clear();
  status_->clear();
  if (store_ && run_id_ > 0) {
    try {
      if (const auto run = store_->getRun(run_id_)) {
        const std::string task = taskOfRun(run->params);
        can_generate_ = task == "lm";
        title_->setText(tr("Run %1 \u201C%2\u201D%3")
                            .arg(run_id_)
                            .arg(toQ(run->name))
                            .arg(run->status == RunStatus::Running ? tr(" (training: its latest checkpoints)") : QString()));
        if (!can_generate_) {
          const QString runs = task == "image" ? tr("Image runs") : tr("Runs of task \u201C%1\u201D").arg(toQ(task));
          showMessage(tr("%1 have no language model to write with. The Playground continues a prompt with the teacher "
                         "and the student of a language-model run (task: lm): select one in the Runs page.")
                          .arg(runs));
          updateControls();
          return;
        }
      } else {
        showMessage(tr("Run %1 is not in this database.").arg(run_id_));
      }
    } catch (const std::exception& e) {
      showMessage(tr("Cannot read run %1: %2").arg(run_id_).arg(toQ(e.what())));
    }
  }
  if (can_generate_ || run_id_ <= 0 || !store_) render();
  updateControls();
}

bool PlaygroundView::showsCompletions() const { return body_->currentIndex() == 1; }

void PlaygroundView::generate() {
  if (worker_ || !can_generate_ || !store_ || run_id_ <= 0) return;
  PlaygroundOptions options;
  options.temperature = temperature_->value();
  options.top_p = top_p_->value();
  options.max_tokens = max_tokens_->value();
  options.seed = static_cast<uint64_t>(seed_->value());
  const std::string prompt = prompt_->toPlainText().toStdString();
  const std::string database = store_->path();
  const quint64 ticket = ++ticket_;
  const qint64 run_id = run_id_;
  stop_flag_ = std::make_shared<std::atomic<bool>>(false);
  const std::shared_ptr<std::atomic<bool>> stop_flag = stop_flag_;
  status_->setText(tr("Generating: loading run %1's teacher and student from their checkpoints, then writing\u2026")
                       .arg(run_id));
  worker_ = QThread::create([this, ticket, run_id, database, prompt, options, stop_flag]() mutable {
    auto result = std::make_shared<PlaygroundResult>();
    QString error;
    options.stop = stop_flag.get();
    try {
      *result = completeWithBoth(database, run_id, prompt, options);
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(
        this, [this, ticket, run_id, result, error] { onDone(ticket, run_id, result, error); }, Qt::QueuedConnection);
  });
  worker_->setObjectName(QStringLiteral("playground worker"));
  worker_->start();
  updateControls();
}

void PlaygroundView::stop() {
  if (!worker_ || stop_flag_->load()) return;
  stop_flag_->store(true);
  status_->setText(tr("Stopping…"));
  updateControls();
}

void PlaygroundView::onDone(quint64 ticket, qint64 run_id, std::shared_ptr<PlaygroundResult> result, QString error) {
  worker_->wait();
  worker_->deleteLater();
  worker_ = nullptr;
  updateControls();
  if (ticket != ticket_ || run_id != run_id_) return;  // another run or request since
  if (!error.isEmpty()) {
    status_->setText(tr("Cannot generate with run %1: %2").arg(run_id).arg(error));
    emit failed(run_id, error);
    return;
  }
  if (result->stopped && result->completions.empty()) {
    status_->setText(tr("Stopped before either model wrote a token."));  // the last completions stay
    return;
  }
  result_ = *result;
  has_result_ = true;
  QStringList parts;
  for (const PlaygroundCompletion& completion : result_.completions)
    parts << tr("%1 wrote %2 tokens in %3%4")
                 .arg(completion.role == "teacher" ? tr("the teacher") : tr("the student"))
                 .arg(completion.tokens.size())
                 .arg(completion.seconds < 1 ? tr("%1 ms").arg(qRound(completion.seconds * 1000))
                                             : tr("%1 s").arg(completion.seconds, 0, 'f', 2))
                 .arg(completion.context_full ? tr(" (its context is full)")
                      : completion.stopped    ? tr(" (stopped)")
                                              : QString());
  if (result_.stopped && result_.completions.size() < 2) parts << tr("the student did not begin (stopped)");
  QString status = parts.join(QStringLiteral("; ")) + '.';
  if (!status.isEmpty()) status[0] = status[0].toUpper();
  if (result_.prompt_changed)
    status += ' ' + tr("Characters the run's vocabulary lacks were left out of the prompt.");
  status_->setText(status);
  render();
  emit generated(run_id);
}

void PlaygroundView::showMessage(const QString& message) {
  message_->setText(message);
  body_->setCurrentIndex(0);
  legend_->hide();
}

void PlaygroundView::updateControls() {
  generate_button_->setEnabled(can_generate_ && !worker_);
  generate_button_->setText(worker_ ? tr("Generating\u2026") : tr("Generate"));
  stop_button_->setEnabled(worker_ && !stop_flag_->load());
}

void PlaygroundView::render() {
  if (!store_ || run_id_ <= 0) {
    showMessage(tr("Select a language-model run in the Runs page (or start one) to continue a prompt with its teacher "
                   "and student."));
    return;
  }
  if (!can_generate_) return;  // setRun's message (an image run, an unknown one) stays
  if (!has_result_) {
    showMessage(tr("Type a prompt above and press Generate: the run's teacher and student each continue it, side by "
                   "side, with the tokens where they disagree marked."));
    return;
  }
  const QPalette palette = this->palette();
  const QColor mild = markColor(1, palette), strong = markColor(2, palette);
  legend_->setText(tr("Shaded: a token the other model gives under 10% (<span style=\"background:%1\">&nbsp;10%&nbsp;"
                      "</span>), under 1% (<span style=\"background:%2\">&nbsp;1%&nbsp;</span>). Hover a token for its "
                      "probability under both models. The prompt is grey.")
                       .arg(mild.name(), strong.name()));
  legend_->show();
  // A stopped request may bring the teacher's completion alone: no old student text beside it.
  for (SampleText* view : {teacher_text_, student_text_}) view->clear();
  for (QLabel* header : {teacher_header_, student_header_}) header->clear();
  for (const PlaygroundCompletion& completion : result_.completions) {
    const bool teacher = completion.role == "teacher";
    SampleText* view = teacher ? teacher_text_ : student_text_;
    QLabel* header = teacher ? teacher_header_ : student_header_;
    const QColor colour(QLatin1String(teacher ? kTeacherColorHex : kStudentColorHex));
    view->clear();
    QTextCursor cursor(view->document());
    QTextCharFormat prompt_format;
    prompt_format.setForeground(greyText(palette));
    prompt_format.setToolTip(tr("the prompt"));
    cursor.insertText(visibleText(toQ(result_.prompt)), prompt_format);
    int marked = 0, pieces = 0;
    for (const TextPiece& piece : completionPieces(asGeneratedText(completion))) {
      QTextCharFormat format;
      format.setToolTip(pieceToolTip(piece, completion.role));
      const int level = unlikelyLevel(piece.q);
      if (level > 0) {
        format.setBackground(markColor(level, palette));
        ++marked;
      }
      ++pieces;
      cursor.insertText(visibleText(piece.text), format);
    }
    const QString other = teacher ? tr("the student") : tr("the teacher");
    header->setText(tr("<b style=\"color:%1\">%2</b> <span style=\"color:%3\">\u00B7 %4 of %5 tokens unlikely for "
                       "%6</span>")
                        .arg(colour.name(), teacher ? tr("Teacher") : tr("Student"), greyText(palette).name())
                        .arg(marked)
                        .arg(pieces)
                        .arg(other));
    header->setToolTip(toQ(completion.model));
    view->moveCursor(QTextCursor::Start);
  }
  body_->setCurrentIndex(1);
}

bool PlaygroundView::eventFilter(QObject* watched, QEvent* event) {
  if (watched == prompt_ && event->type() == QEvent::KeyPress) {
    const auto* key = static_cast<QKeyEvent*>(event);
    if ((key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter) && (key->modifiers() & Qt::ControlModifier)) {
      generate();
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

void PlaygroundView::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange && has_result_) render();
}

}  // namespace distill::ui
