// The Fidelity page: where and how a run's student differs from its teacher. For the run
// selected in the Runs page (finished or live), on the run's test split:
//   - the agreement matrix (rows the teacher's prediction, columns the student's) as a heatmap
//     with counts and row percentages, class names on the axes;
//   - per-class bars: teacher accuracy, student accuracy, agreement;
//   - the reliability diagram of both models with their expected calibration error;
//   - the disagreement gallery: every test image where the two disagree, with its true label
//     and both top-3, sortable by the teacher's confidence; clicking one shows both full
//     distributions.
// For a language-model run the page shows LmFidelityPanel instead (ui/lm_fidelity_panel.h):
// agreement and KL per token by position, confidence and frequency, reliability, and the
// contexts where the two disagree most.
// The models are rebuilt from the run's checkpoints (core/fidelity/run_fidelity.h) on a worker
// thread; a newer request supersedes an older one (a generation counter drops stale results).
// With "Follow evaluations" on, a live run is re-analysed after each evaluation (a second
// later, when the epoch's checkpoint is written), from its latest student checkpoint.
//
// Thread contract: a widget; GUI thread only. The worker touches no widget; its result comes
// back through a queued call.
#pragma once

#include <QString>
#include <QTimer>
#include <QWidget>

#include <memory>

#include "core/fidelity/run_fidelity.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QListWidget;
class QListWidgetItem;
class QPushButton;
class QScrollArea;
class QSplitter;
class QStackedWidget;
class QThread;

namespace distill::ui {

class LmFidelityPanel;
class MirrorDialog;

// The gallery's tiles: the image at kGalleryIcon pixels, three caption lines under it.
inline constexpr int kGalleryIcon = 84;
inline constexpr int kGalleryTileWidth = 190;
// From this page width on, two charts stand side by side; below it, one under another.
inline constexpr int kSideBySideWidth = 1000;
// "#412 true: Shirt\nteacher: Shirt 91%\nstudent: T-shirt/top 55%": a tile's caption.
QString galleryCaption(const Disagreement& d, const std::vector<std::string>& names);

class FidelityView : public QWidget {
  Q_OBJECT
 public:
  explicit FidelityView(QWidget* parent = nullptr);
  ~FidelityView() override;

  void setDatabasePath(const QString& path);
  // While a run trains in this process the mirror test waits: its reference models would
  // reseed the global generator the run's dropout draws from (core/fidelity/mirror.h).
  void setRunActive(bool active);
  // Analyses run `run_id` on a worker thread (0 clears the page).
  void setRun(qint64 run_id);
  qint64 runId() const { return run_id_; }
  // A run stored an evaluation: re-analysed when it is the one shown and following is on.
  void runEvaluated(qint64 run_id);
  // Shows an analysis (the worker's results come through here).
  void showAnalysis(const RunFidelity& result);
  const RunFidelity* analysis() const { return current_.get(); }
  bool busy() const { return worker_ != nullptr; }

  enum class GallerySort { TeacherMostConfident, TeacherLeastConfident, ImageIndex };
  void setGallerySort(GallerySort sort);
  // Shows both full distributions of the gallery's entry `row` (as a click does).
  void selectDisagreement(int row);

  QCustomPlot* matrixPlot() const { return matrix_plot_; }
  QCustomPlot* classPlot() const { return class_plot_; }
  QCustomPlot* reliabilityPlot() const { return reliability_plot_; }
  QCustomPlot* distributionPlot() const { return distribution_plot_; }
  QListWidget* gallery() const { return gallery_; }
  QComboBox* sortBox() const { return sort_box_; }
  QLabel* summaryLabel() const { return summary_; }
  QLabel* statusLabel() const { return status_; }
  QCheckBox* followBox() const { return follow_; }
  MirrorDialog* mirrorDialog() const { return mirror_; }
  // The language-model page (shown for runs of task lm).
  LmFidelityPanel* lmPanel() const { return lm_panel_; }
  // Whether the language-model page is the one shown.
  bool showingLm() const;

 public slots:
  void refresh();
  void openMirrorTest();

 signals:
  void analysisShown(qint64 run_id);
  void analysisFailed(qint64 run_id, QString message);

 protected:
  void resizeEvent(QResizeEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;  // the charts' resizes refit titles

 private:
  void arrangeCharts();
  void startAnalysis();
  void onAnalysisDone(quint64 generation, qint64 run_id, std::shared_ptr<RunFidelity> result, QString error);
  void drawMatrix();
  void drawClasses();
  void drawReliability();
  void fillGallery();
  void showDistributions(int disagreement);

  QString database_path_;
  qint64 run_id_ = 0;
  quint64 generation_ = 0;
  QThread* worker_ = nullptr;
  bool rerun_ = false;  // another analysis was asked for while one was running
  std::unique_ptr<RunFidelity> current_;
  GallerySort sort_ = GallerySort::TeacherMostConfident;
  // An evaluation's checkpoint is written just after it: follow a second later, coalesced.
  QTimer follow_timer_;

  QLabel* title_ = nullptr;
  QLabel* summary_ = nullptr;
  QLabel* status_ = nullptr;
  QCheckBox* follow_ = nullptr;
  QPushButton* refresh_button_ = nullptr;
  QPushButton* mirror_button_ = nullptr;
  QCustomPlot* matrix_plot_ = nullptr;
  QCustomPlot* class_plot_ = nullptr;
  QCustomPlot* reliability_plot_ = nullptr;
  QCustomPlot* distribution_plot_ = nullptr;
  QSplitter* top_split_ = nullptr;     // matrix | per class
  QSplitter* bottom_split_ = nullptr;  // reliability | gallery
  QSplitter* charts_split_ = nullptr;  // top over bottom, in the scroll area
  QLabel* detail_image_ = nullptr;
  QListWidget* gallery_ = nullptr;
  QComboBox* sort_box_ = nullptr;
  MirrorDialog* mirror_ = nullptr;
  QStackedWidget* pages_ = nullptr;  // the image charts' scroll area | the language-model panel's
  QScrollArea* image_page_ = nullptr;
  QScrollArea* lm_page_ = nullptr;
  LmFidelityPanel* lm_panel_ = nullptr;
};

}  // namespace distill::ui
