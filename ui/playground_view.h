// The Playground page: type a prompt and have both models of a language-model run continue it.
// The run is the one selected in the Runs page (else the one displayed), finished or still
// training (its latest checkpoints). Temperature, top-p, max tokens and the seed are the
// sampler's (core/tasks/lm/generate.h); the teacher's completion (orange) stands beside the
// student's (blue), each token shaded by how unlikely the other model finds it (below 10%,
// darker below 1%: the Samples page's marks), and hovering a token gives its probability under
// both models.
//
// The work (loading both checkpoints, generating, scoring) runs in core/tasks/lm/playground.h on
// a QThread of its own with its own database connection, so the window keeps answering: the
// result comes back queued to the GUI thread, tagged with a ticket, and a result for a run or a
// request that is no longer the page's is dropped. Stop sets the request's atomic flag, which the
// core reads before each token (a queued slot could not reach a busy worker): the completion
// ends within a token's time, what was written so far is shown, and the page is ready again.
//
// Thread contract: a widget; GUI thread only. It reads the run's name and task through the
// window's store connection; the worker opens its own (store->path()).
#pragma once

#include <QString>
#include <QWidget>

#include <atomic>
#include <memory>
#include <string>

#include "core/tasks/lm/playground.h"

class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QThread;

namespace distill {
class RunStore;
}

namespace distill::ui {

class SampleText;

class PlaygroundView : public QWidget {
  Q_OBJECT
 public:
  explicit PlaygroundView(QWidget* parent = nullptr);
  ~PlaygroundView() override;  // stops a generation in flight and waits for it (a token's time)

  void setStore(RunStore* store);  // the window's read connection; nullptr clears the page
  // Follows run `run_id` (0: none). A different run clears the completions shown.
  void setRun(qint64 run_id);
  qint64 runId() const { return run_id_; }

  // Starts a generation with the page's prompt and settings (the Generate button); ignored
  // while one is running or when the run cannot generate (the page says why).
  void generate();
  bool busy() const { return worker_ != nullptr; }
  // Ends the generation in flight at its next token (the Stop button); its partial completions
  // are shown when it is done. Nothing to do when none is running.
  void stop();

  QPlainTextEdit* promptEdit() const { return prompt_; }
  QDoubleSpinBox* temperatureBox() const { return temperature_; }
  QDoubleSpinBox* topPBox() const { return top_p_; }
  QSpinBox* maxTokensBox() const { return max_tokens_; }
  QSpinBox* seedBox() const { return seed_; }
  QPushButton* generateButton() const { return generate_button_; }
  QPushButton* stopButton() const { return stop_button_; }
  QLabel* titleLabel() const { return title_; }
  QLabel* statusLabel() const { return status_; }
  QLabel* messageLabel() const { return message_; }
  SampleText* teacherText() const { return teacher_text_; }
  SampleText* studentText() const { return student_text_; }
  bool showsCompletions() const;  // else the page shows its message
  // The last completions shown (empty before the first).
  const PlaygroundResult& result() const { return result_; }

 signals:
  void generated(qint64 run_id);             // completions shown
  void failed(qint64 run_id, QString error);  // the error is on the page too

 protected:
  void changeEvent(QEvent* event) override;  // a palette change redraws the shading
  bool eventFilter(QObject* watched, QEvent* event) override;  // Ctrl+Enter in the prompt generates

 private:
  void onDone(quint64 ticket, qint64 run_id, std::shared_ptr<PlaygroundResult> result, QString error);
  void showMessage(const QString& message);
  void render();
  void updateControls();

  RunStore* store_ = nullptr;
  qint64 run_id_ = 0;
  bool can_generate_ = false;  // the run is a language-model run
  quint64 ticket_ = 0;         // the request the page waits for; older results are dropped
  QThread* worker_ = nullptr;
  std::shared_ptr<std::atomic<bool>> stop_flag_;  // the running request's; the worker holds it too
  PlaygroundResult result_;
  bool has_result_ = false;

  QLabel* title_ = nullptr;
  QPlainTextEdit* prompt_ = nullptr;
  QDoubleSpinBox* temperature_ = nullptr;
  QDoubleSpinBox* top_p_ = nullptr;
  QSpinBox* max_tokens_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QPushButton* generate_button_ = nullptr;
  QPushButton* stop_button_ = nullptr;
  QLabel* status_ = nullptr;
  QLabel* legend_ = nullptr;
  QStackedWidget* body_ = nullptr;
  QLabel* message_ = nullptr;
  QLabel* teacher_header_ = nullptr;
  QLabel* student_header_ = nullptr;
  SampleText* teacher_text_ = nullptr;
  SampleText* student_text_ = nullptr;
};

}  // namespace distill::ui
