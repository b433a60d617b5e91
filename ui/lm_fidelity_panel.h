// The Fidelity page for a language-model run (the FidelityView shows it in place of the image
// charts when the analysed run's task is lm): on the run's validation text, token by token,
//   - agreement and KL by position in the context (with both models' accuracy): does the
//     student copy the teacher better with more context?
//   - agreement and KL by the teacher's confidence (its top-1 probability in tenths);
//   - agreement and both accuracies by the true next token's training frequency, frequent to
//     rare;
//   - the reliability diagram of both models per token (10 bins) with their ECE;
//   - the contexts where the two disagree most (largest KL): the text with the true next token
//     highlighted, and both top-5 next tokens as bars.
// Teacher orange, student blue, agreement purple, KL red, as in the live charts. Each chart
// exports as PNG, PDF or SVG (its context menu, savePlot); "Save report…" writes one HTML file
// with the numbers, the four charts as SVG and the contexts.
//
// Thread contract: a widget; GUI thread only. It only shows a finished analysis
// (core/fidelity/run_fidelity.h); computing one is the FidelityView's worker's job.
#pragma once

#include <QString>
#include <QWidget>

#include <vector>

#include "core/fidelity/run_fidelity.h"

class QCustomPlot;
class QPushButton;
class QSplitter;
class QTextBrowser;

namespace distill::ui {

// The disagreements as rich text (Qt's subset of HTML, also valid in a browser): per context
// its place, KL and the teacher's confidence, the text with the true next token highlighted,
// and both top-5 lists with a bar per probability. At most `limit` of them.
QString lmContextsHtml(const LmFidelityAnalysis& analysis, int limit);
// The summary line of an lm analysis (rich text): accuracies, agreement, KL, perplexities, ECE.
QString lmSummaryHtml(const LmFidelityAnalysis& analysis);

class LmFidelityPanel : public QWidget {
  Q_OBJECT
 public:
  explicit LmFidelityPanel(QWidget* parent = nullptr);

  // Draws a task-lm analysis; clear() empties the charts and the contexts.
  void showAnalysis(const RunFidelity& result);
  void clear();
  bool hasAnalysis() const { return has_analysis_; }

  QCustomPlot* positionPlot() const { return position_plot_; }
  QCustomPlot* confidencePlot() const { return confidence_plot_; }
  QCustomPlot* frequencyPlot() const { return frequency_plot_; }
  QCustomPlot* reliabilityPlot() const { return reliability_plot_; }
  std::vector<QCustomPlot*> plots() const { return {position_plot_, confidence_plot_, frequency_plot_, reliability_plot_}; }
  QTextBrowser* contexts() const { return contexts_; }
  QPushButton* reportButton() const { return report_button_; }

  // The whole analysis as one self-contained HTML file (the charts inline as SVG).
  QString reportHtml() const;
  // Writes reportHtml() to `path`. Throws ExportError (ui/figure.h) naming the path.
  void saveReport(const QString& path) const;

 signals:
  // A chart or the report was written (the window's status line says where).
  void exported(const QString& path);

 protected:
  void resizeEvent(QResizeEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;  // the charts' resizes refit titles

 private:
  void arrange();
  void drawPosition();
  void drawConfidence();
  void drawFrequency();
  void drawReliability();
  void exportPlotInteractive(QCustomPlot* plot);
  void saveReportInteractive();

  RunFidelity current_;
  bool has_analysis_ = false;
  QCustomPlot* position_plot_ = nullptr;
  QCustomPlot* confidence_plot_ = nullptr;
  QCustomPlot* frequency_plot_ = nullptr;
  QCustomPlot* reliability_plot_ = nullptr;
  QTextBrowser* contexts_ = nullptr;
  QPushButton* report_button_ = nullptr;
  QSplitter* charts_top_ = nullptr;     // position | confidence
  QSplitter* charts_bottom_ = nullptr;  // frequency | reliability
  QSplitter* main_split_ = nullptr;     // charts | contexts
  int arrangement_ = -1;                // arrange(): 0 contexts beside, 1 under, 2 one column
};

}  // namespace distill::ui
