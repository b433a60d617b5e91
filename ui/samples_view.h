// The Samples page: what a language-model run's models wrote. At each evaluation the trainer
// has both models complete a few fixed validation prompts, greedy and sampled, with each
// token's probability under the model that wrote it and (for the student's texts) under the
// teacher (core/run_records.h, GeneratedText). The page shows, for the run selected in the
// Runs page (else the one displayed), each prompt in grey with the teacher's completion beside
// the student's:
//   - the teacher's from its latest evaluation (it is frozen while the student trains), the
//     student's from the evaluation the slider points at, so moving the slider shows the
//     student's text turning into the teacher's;
//   - each student token shaded by how unlikely the teacher finds it (its probability under
//     the teacher below 10%, darker below 1%); hovering any token gives its probabilities;
//   - Greedy or Sampled completions; Training texts: the latest sequences a sequence-level or
//     on-policy run trained on, with the model that wrote them.
// A live run's evaluation texts arrive through addTexts() (the run's mailbox, each tick) and
// the slider follows them while it is at the newest evaluation; its training texts are read
// from the store every few seconds while that view is open.
//
// Thread contract: a widget; GUI thread only. It reads through the window's store connection.
#pragma once

#include <QString>
#include <QTextBrowser>
#include <QTimer>
#include <QWidget>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/run_records.h"

class QComboBox;
class QLabel;
class QSlider;
class QStackedWidget;

namespace distill {
class RunStore;
}

namespace distill::ui {

// A student token is marked where the teacher's probability of it is below these.
inline constexpr double kTeacherUnlikely = 0.10;
inline constexpr double kTeacherVeryUnlikely = 0.01;

// One piece of a completion as the page shows it: one token, or the tokens a byte-level model
// split one character over (each stored as U+FFFD), joined back into the character.
struct TextPiece {
  QString text;
  double p = 0.0;   // the writer's probability of the piece: the product over its tokens
  double q = -1.0;  // the other model's (the student's texts only); negative: not computed
  int tokens = 1;
};

// The pieces of a completion, from its per-token JSON aligned with its decoded text. Without
// token JSON (or with JSON it cannot read) the whole completion is one piece without
// probabilities (p and q negative).
std::vector<TextPiece> completionPieces(const GeneratedText& text);
// 0: the teacher finds the student's piece likely enough (or q is unknown); 1: q below
// kTeacherUnlikely; 2: below kTeacherVeryUnlikely.
int unlikelyLevel(double q);
// "41.2%", "4.12%", "0.500%": a probability in percent with three significant digits.
QString percentText(double probability);
// The tooltip of a piece written by `role`: its text, then "student 41.2% · teacher 0.83%"
// (a teacher's piece: its own probability only).
QString pieceToolTip(const TextPiece& piece, const std::string& role);
// "student phase, step 400 (epoch 2.00)"
QString pointLabel(const std::string& phase, int64_t step, double epoch);

// The text area: a QTextBrowser whose tooltips name the character under the mouse. (Qt's own
// lookup takes the format before the nearest cursor position, which on one-character tokens
// is the previous token's whenever the mouse is on a character's left half.)
class SampleText : public QTextBrowser {
  Q_OBJECT
 public:
  using QTextBrowser::QTextBrowser;
  // The tooltip of the character at `viewport_pos`; empty over blank space.
  QString toolTipAt(const QPoint& viewport_pos) const;

 protected:
  bool viewportEvent(QEvent* event) override;
};

class SamplesView : public QWidget {
  Q_OBJECT
 public:
  explicit SamplesView(QWidget* parent = nullptr);

  void setStore(RunStore* store);  // the window's read connection; nullptr clears the page
  // Shows run `run_id` read from the store (0 clears the page). Showing the same run again
  // reads it again and keeps the evaluation and the view chosen.
  void setRun(qint64 run_id);
  qint64 runId() const { return run_id_; }
  // The run this window trains (0: none): its training texts are re-read while shown.
  void setLiveRun(qint64 run_id);
  // Evaluation texts of run `run_id` as they arrive (ignored unless it is the run shown).
  void addTexts(qint64 run_id, const std::vector<GeneratedText>& texts);

  enum class Mode { Evaluations, Training };
  void setMode(Mode mode);
  void setSampled(bool sampled);
  // The evaluations the slider moves through (the student's; the teacher's while the run
  // has none) and the one shown.
  int evaluationCount() const { return static_cast<int>(slider_points_.size()); }
  int evaluation() const;
  void setEvaluation(int index);

  QSlider* slider() const { return slider_; }
  QLabel* evaluationLabel() const { return point_label_; }
  QLabel* titleLabel() const { return title_; }
  QLabel* messageLabel() const { return message_; }
  QLabel* summaryLabel() const { return summary_; }
  QComboBox* decodingBox() const { return decoding_box_; }
  QComboBox* modeBox() const { return mode_box_; }
  SampleText* textView() const { return text_; }
  // Whether the page shows texts (else its message).
  bool showsTexts() const;

 signals:
  void shown(qint64 run_id);  // after each redraw of the texts (tests wait on it)

 protected:
  void changeEvent(QEvent* event) override;  // a palette change redraws the shading
  void showEvent(QShowEvent* event) override;

 private:
  struct Point {  // one evaluation: its texts by (role, decoding, prompt)
    std::string phase;
    int64_t step = 0;
    double epoch = 0.0;
    std::vector<GeneratedText> texts;
  };
  struct PointKey {
    std::string phase;
    int64_t step = 0;
  };
  // Reads the run from the store; `keep`: stays on the evaluation shown (unless the newest).
  void load(bool keep = false);
  void merge(const GeneratedText& text);
  // The evaluation shown, unless it is the newest (which the slider follows).
  std::optional<PointKey> shownPoint() const;
  void updateSlider(const std::optional<PointKey>& keep);
  void showMessage(const QString& message);
  void render();
  void renderEvaluation();
  void renderTraining();
  void reloadTraining();

  RunStore* store_ = nullptr;
  qint64 run_id_ = 0;
  qint64 live_run_id_ = 0;
  std::string task_;
  std::string eval_prompts_;  // the run's generation.eval_prompts, as stored
  bool run_running_ = false;
  std::vector<Point> points_;       // every evaluation with texts, in the order written
  std::vector<int> slider_points_;  // the indices in points_ the slider moves through
  std::vector<GeneratedText> training_;  // the latest generated training texts, newest first
  bool has_training_ = false;
  bool dirty_ = false;  // texts changed while the page was hidden
  QTimer training_timer_;

  QLabel* title_ = nullptr;
  QComboBox* mode_box_ = nullptr;
  QComboBox* decoding_box_ = nullptr;
  QWidget* slider_row_ = nullptr;
  QSlider* slider_ = nullptr;
  QLabel* point_label_ = nullptr;
  QLabel* count_label_ = nullptr;
  QLabel* legend_ = nullptr;
  QLabel* summary_ = nullptr;
  QStackedWidget* body_ = nullptr;
  QLabel* message_ = nullptr;
  SampleText* text_ = nullptr;
};

}  // namespace distill::ui
