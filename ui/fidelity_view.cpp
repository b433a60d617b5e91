#include "ui/fidelity_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QResizeEvent>
#include <QScrollArea>
#include <QSplitter>
#include <QStackedWidget>
#include <QThread>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ui/fidelity_plots.h"
#include "ui/lm_fidelity_panel.h"
#include "ui/metric_charts.h"
#include "ui/mirror_dialog.h"

namespace distill::ui {

namespace {

const QColor kAgreementColor{0x6A, 0x3D, 0x9A};  // the agreement chart's purple

QString toQ(const std::string& text) { return QString::fromStdString(text); }

QSharedPointer<QCPAxisTickerText> classTicker(const std::vector<std::string>& names) {
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  for (size_t i = 0; i < names.size(); ++i) ticker->addTick(static_cast<double>(i), toQ(names[i]));
  return ticker;
}

QImage thumbnail(const std::vector<float>& pixels, const std::vector<int64_t>& shape) {
  if (shape.size() != 3 || pixels.empty()) return {};
  const int channels = static_cast<int>(shape[0]), height = static_cast<int>(shape[1]),
            width = static_cast<int>(shape[2]);
  QImage image(width, height, QImage::Format_RGB888);
  for (int y = 0; y < height; ++y) {
    uchar* line = image.scanLine(y);
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        const int channel = channels == 3 ? c : 0;
        const float value = pixels[static_cast<size_t>((channel * height + y) * width + x)];
        line[x * 3 + c] = static_cast<uchar>(std::lround(std::clamp(value, 0.0f, 1.0f) * 255.0f));
      }
  }
  return image;
}

// "Bag 76%": the answer and its probability, as the gallery's captions give them.
QString topShort(const std::vector<ClassProbability>& top, const std::vector<std::string>& names) {
  if (top.empty()) return QString();
  return QStringLiteral("%1 %2%")
      .arg(toQ(names.at(static_cast<size_t>(top.front().label))))
      .arg(100.0 * top.front().probability, 0, 'f', 0);
}

}  // namespace

QString galleryCaption(const Disagreement& d, const std::vector<std::string>& names) {
  return QObject::tr("#%1 true: %2\nteacher: %3\nstudent: %4")
      .arg(d.index)
      .arg(toQ(names.at(static_cast<size_t>(d.target))))
      .arg(topShort(d.teacher_top, names))
      .arg(topShort(d.student_top, names));
}

namespace {

QString topLine(const std::vector<ClassProbability>& top, const std::vector<std::string>& names, int count) {
  QStringList parts;
  for (int i = 0; i < std::min<int>(count, static_cast<int>(top.size())); ++i)
    parts << QStringLiteral("%1 %2").arg(toQ(names.at(static_cast<size_t>(top[i].label)))).arg(top[i].probability, 0, 'f', 2);
  return parts.join(QStringLiteral(", "));
}

}  // namespace

FidelityView::FidelityView(QWidget* parent) : QWidget(parent) {
  title_ = new QLabel(tr("Select a run in the Runs page to see where its student differs from its teacher."));
  title_->setObjectName(QStringLiteral("fidelityTitle"));
  title_->setWordWrap(true);  // a laptop's centre is narrower than the run's description
  QFont title_font = title_->font();
  title_font.setBold(true);
  title_->setFont(title_font);
  summary_ = new QLabel;
  summary_->setObjectName(QStringLiteral("fidelitySummary"));
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  status_ = new QLabel;
  status_->setObjectName(QStringLiteral("fidelityStatus"));
  status_->setWordWrap(true);
  follow_ = new QCheckBox(tr("Follow evaluations"));
  follow_->setToolTip(tr("Re-analyse a live run after each evaluation, from the checkpoint written with it"));
  follow_->setChecked(true);
  refresh_button_ = new QPushButton(tr("Refresh"));
  refresh_button_->setEnabled(false);
  mirror_button_ = new QPushButton(tr("Mirror test…"));
  mirror_button_->setObjectName(QStringLiteral("mirrorButton"));
  mirror_button_->setToolTip(tr("Does one model mirror another? Compare against independently trained models"));

  auto* header = new QHBoxLayout;
  header->addWidget(title_, 1);
  header->addWidget(follow_);
  header->addWidget(refresh_button_);
  header->addWidget(mirror_button_);

  matrix_plot_ = makeFidelityPlot(tr("Agreement matrix"), QStringLiteral("matrixPlot"));
  class_plot_ = makeFidelityPlot(tr("Per class"), QStringLiteral("classPlot"));
  reliability_plot_ = makeFidelityPlot(tr("Reliability"), QStringLiteral("reliabilityPlot"));
  distribution_plot_ = makeFidelityPlot(tr("Click an image to compare the two distributions"), QStringLiteral("distributionPlot"));
  distribution_plot_->setMinimumHeight(170);
  matrix_plot_->setMinimumSize(300, 300);
  reliability_plot_->setMinimumWidth(240);
  distribution_plot_->setMinimumWidth(200);

  gallery_ = new QListWidget;
  gallery_->setObjectName(QStringLiteral("gallery"));
  gallery_->setViewMode(QListView::IconMode);
  // Tiles large enough to see the image (a 28-pixel image at 3x) with three full caption lines.
  gallery_->setIconSize(QSize(kGalleryIcon, kGalleryIcon));
  gallery_->setGridSize(QSize(kGalleryTileWidth, kGalleryIcon + 4 * gallery_->fontMetrics().lineSpacing() + 8));
  gallery_->setMinimumHeight(kGalleryIcon + 4 * gallery_->fontMetrics().lineSpacing() + 16);
  gallery_->setSpacing(2);
  gallery_->setResizeMode(QListView::Adjust);
  gallery_->setMovement(QListView::Static);
  gallery_->setWordWrap(true);
  gallery_->setUniformItemSizes(true);
  sort_box_ = new QComboBox;
  sort_box_->setObjectName(QStringLiteral("gallerySort"));
  sort_box_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  sort_box_->setMinimumContentsLength(12);
  sort_box_->addItems({tr("teacher most confident first"), tr("teacher least confident first"), tr("image index")});
  detail_image_ = new QLabel;
  detail_image_->setFixedSize(112, 112);
  detail_image_->setAlignment(Qt::AlignCenter);

  auto* gallery_box = new QWidget;
  auto* gallery_layout = new QVBoxLayout(gallery_box);
  gallery_layout->setContentsMargins(0, 0, 0, 0);
  auto* gallery_header = new QHBoxLayout;
  auto* gallery_title = new QLabel(tr("<b>Disagreements</b>"));
  gallery_header->addWidget(gallery_title, 1);
  gallery_header->addWidget(new QLabel(tr("Sort:")));
  gallery_header->addWidget(sort_box_);
  gallery_layout->addLayout(gallery_header);
  gallery_layout->addWidget(gallery_, 1);
  auto* detail = new QHBoxLayout;
  detail->addWidget(detail_image_);
  detail->addWidget(distribution_plot_, 1);
  gallery_layout->addLayout(detail, 1);  // the clicked image's chart grows with the gallery

  top_split_ = new QSplitter(Qt::Horizontal);
  top_split_->addWidget(matrix_plot_);
  top_split_->addWidget(class_plot_);
  top_split_->setStretchFactor(0, 1);
  top_split_->setStretchFactor(1, 1);
  bottom_split_ = new QSplitter(Qt::Horizontal);
  bottom_split_->addWidget(reliability_plot_);
  bottom_split_->addWidget(gallery_box);
  bottom_split_->setStretchFactor(0, 2);
  bottom_split_->setStretchFactor(1, 3);
  charts_split_ = new QSplitter(Qt::Vertical);
  charts_split_->addWidget(top_split_);
  charts_split_->addWidget(bottom_split_);
  charts_split_->setStretchFactor(0, 1);
  charts_split_->setStretchFactor(1, 1);
  for (QCustomPlot* plot : {matrix_plot_, class_plot_, reliability_plot_, distribution_plot_}) plot->installEventFilter(this);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addLayout(header);
  layout->addWidget(summary_);
  layout->addWidget(status_);
  // Below about 900x700 the charts would squeeze past reading: the page scrolls down instead
  // (never sideways: a narrow page stacks the charts, arrangeCharts).
  auto* scroll = new QScrollArea;
  scroll->setObjectName(QStringLiteral("fidelityScroll"));
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setWidget(charts_split_);
  image_page_ = scroll;
  lm_panel_ = new LmFidelityPanel;
  lm_panel_->setObjectName(QStringLiteral("lmFidelityPanel"));
  lm_page_ = new QScrollArea;
  lm_page_->setObjectName(QStringLiteral("lmFidelityScroll"));
  lm_page_->setWidgetResizable(true);
  lm_page_->setFrameShape(QFrame::NoFrame);
  lm_page_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  lm_page_->setWidget(lm_panel_);
  pages_ = new QStackedWidget;
  pages_->addWidget(image_page_);
  pages_->addWidget(lm_page_);
  layout->addWidget(pages_, 1);
  arrangeCharts();
  connect(lm_panel_, &LmFidelityPanel::exported, this,
          [this](const QString& path) { status_->setText(tr("Saved %1").arg(QDir::toNativeSeparators(path))); });

  follow_timer_.setSingleShot(true);
  follow_timer_.setInterval(1200);
  connect(&follow_timer_, &QTimer::timeout, this, &FidelityView::refresh);
  connect(refresh_button_, &QPushButton::clicked, this, &FidelityView::refresh);
  connect(mirror_button_, &QPushButton::clicked, this, &FidelityView::openMirrorTest);
  connect(sort_box_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this](int index) { setGallerySort(static_cast<GallerySort>(index)); });
  connect(gallery_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0) showDistributions(gallery_->item(row)->data(Qt::UserRole).toInt());
  });
}

// Side by side (matrix | per class over reliability | gallery) where the page is wide enough
// for two readable charts abreast, else one under another at the page's width: at 1280x720
// the page is about 630 px wide and two 310-px charts overprinted the matrix's cells and cut
// their titles. Set from the page's own width, not the viewport's, which a vertical scroll
// bar narrows and would flip the arrangement back and forth.
void FidelityView::arrangeCharts() {
  const bool side_by_side = width() >= kSideBySideWidth;
  const Qt::Orientation orientation = side_by_side ? Qt::Horizontal : Qt::Vertical;
  if (top_split_->orientation() == orientation && charts_split_->minimumHeight() > 0) return;
  top_split_->setOrientation(orientation);
  bottom_split_->setOrientation(orientation);
  if (side_by_side) {
    top_split_->setSizes({600, 600});
    bottom_split_->setSizes({400, 800});
    // The bottom holds the gallery and the clicked image's distributions: at 5:4 the
    // distribution chart stayed at its minimum height even at 1920x1080.
    charts_split_->setSizes({460, 520});
    charts_split_->setMinimumHeight(560);
  } else {
    top_split_->setSizes({440, 300});
    bottom_split_->setSizes({340, 470});
    charts_split_->setSizes({740, 810});
    charts_split_->setMinimumHeight(1550);
  }
}

bool FidelityView::showingLm() const { return pages_->currentWidget() == lm_page_; }

void FidelityView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  arrangeCharts();
}

bool FidelityView::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Resize)
    if (auto* plot = qobject_cast<QCustomPlot*>(watched)) fitPlotTitle(plot);
  return QWidget::eventFilter(watched, event);
}

FidelityView::~FidelityView() {
  if (worker_) worker_->wait();  // the analysis cannot be interrupted; it takes seconds
}

void FidelityView::setRunActive(bool active) {
  mirror_button_->setEnabled(!active);
  mirror_button_->setToolTip(active ? tr("A run is training: the mirror test would change its result, so it waits until "
                                         "the run has finished")
                                    : tr("Does one model mirror another? Compare against independently trained models"));
}

void FidelityView::setDatabasePath(const QString& path) {
  database_path_ = path;
  setRun(0);
  if (mirror_) mirror_->setDatabasePath(path);
}

void FidelityView::setRun(qint64 run_id) {
  if (run_id == run_id_ && current_) return;
  run_id_ = run_id;
  refresh_button_->setEnabled(run_id > 0);
  if (run_id <= 0) {
    ++generation_;
    current_.reset();
    title_->setText(tr("Select a run in the Runs page to see where its student differs from its teacher."));
    summary_->clear();
    status_->clear();
    gallery_->clear();
    lm_panel_->clear();
    for (QCustomPlot* plot : {matrix_plot_, class_plot_, reliability_plot_, distribution_plot_}) {
      plot->clearPlottables();
      plot->clearItems();
      plot->replot();
    }
    return;
  }
  startAnalysis();
}

void FidelityView::refresh() {
  if (run_id_ > 0) startAnalysis();
}

void FidelityView::runEvaluated(qint64 run_id) {
  if (run_id == run_id_ && follow_->isChecked()) follow_timer_.start();
}

void FidelityView::startAnalysis() {
  ++generation_;
  status_->setText(tr("Analysing run %1 (rebuilding its teacher and student from their checkpoints)…").arg(run_id_));
  if (worker_) {
    rerun_ = true;  // started when the running one ends; its result is stale then
    return;
  }
  const quint64 generation = generation_;
  const qint64 run_id = run_id_;
  const std::string database = database_path_.toStdString();
  worker_ = QThread::create([this, generation, run_id, database] {
    auto result = std::make_shared<RunFidelity>();
    QString error;
    try {
      *result = analyzeRun(database, run_id);
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(
        this, [this, generation, run_id, result, error] { onAnalysisDone(generation, run_id, result, error); },
        Qt::QueuedConnection);
  });
  worker_->start();
}

void FidelityView::onAnalysisDone(quint64 generation, qint64 run_id, std::shared_ptr<RunFidelity> result,
                                  QString error) {
  worker_->wait();
  worker_->deleteLater();
  worker_ = nullptr;
  if (rerun_) {
    rerun_ = false;
    if (run_id_ > 0) {
      startAnalysis();
      return;
    }
  }
  if (generation != generation_) return;  // superseded
  if (!error.isEmpty()) {
    status_->setText(tr("Cannot analyse run %1: %2").arg(run_id).arg(error));
    emit analysisFailed(run_id, error);
    return;
  }
  showAnalysis(*result);
}

void FidelityView::showAnalysis(const RunFidelity& result) {
  current_ = std::make_unique<RunFidelity>(result);
  run_id_ = result.run_id;
  refresh_button_->setEnabled(true);
  if (result.task == "lm") {
    const LmFidelityAnalysis& lm = current_->lm;
    title_->setText(tr("Run %1 \"%2\" (%3): student at epoch %4, %5 validation tokens (%6 of %7 blocks of %8 %9 "
                       "tokens) of %10")
                        .arg(result.run_id)
                        .arg(toQ(result.run_name))
                        .arg(toQ(result.status))
                        .arg(result.student_epoch)
                        .arg(lm.tokens)
                        .arg(lm.blocks)
                        .arg(lm.blocks_available)
                        .arg(lm.context)
                        .arg(toQ(lm.tokenizer))
                        .arg(toQ(result.dataset)));
    summary_->setText(lmSummaryHtml(lm));
    status_->clear();
    pages_->setCurrentWidget(lm_page_);
    lm_panel_->showAnalysis(*current_);
    emit analysisShown(result.run_id);
    return;
  }
  pages_->setCurrentWidget(image_page_);
  const FidelityAnalysis& a = current_->analysis;
  title_->setText(tr("Run %1 \"%2\" (%3): student at epoch %4, %5 test images of %6")
                      .arg(result.run_id)
                      .arg(toQ(result.run_name))
                      .arg(toQ(result.status))
                      .arg(result.student_epoch)
                      .arg(a.samples)
                      .arg(toQ(result.dataset)));
  summary_->setText(tr("teacher acc <b>%1</b> · student acc <b>%2</b> · top-1 agreement <b>%3</b> · top-5 overlap "
                       "%4 · KL %5 · JS %6 · ECE teacher %7, student %8")
                        .arg(a.teacher_acc, 0, 'f', 4)
                        .arg(a.student_acc, 0, 'f', 4)
                        .arg(a.agreement, 0, 'f', 4)
                        .arg(a.top5_overlap, 0, 'f', 4)
                        .arg(a.kl, 0, 'f', 4)
                        .arg(a.js, 0, 'f', 4)
                        .arg(a.teacher_calibration.ece, 0, 'f', 4)
                        .arg(a.student_calibration.ece, 0, 'f', 4));
  status_->clear();
  drawMatrix();
  drawClasses();
  drawReliability();
  fillGallery();
  emit analysisShown(result.run_id);
}

void FidelityView::drawMatrix() {
  QCustomPlot* plot = matrix_plot_;
  plot->clearPlottables();
  plot->clearItems();
  const FidelityAnalysis& a = current_->analysis;
  const int n = static_cast<int>(a.num_classes);
  if (n == 0) return;
  auto* map = new QCPColorMap(plot->xAxis, plot->yAxis);
  map->data()->setSize(n, n);
  map->data()->setRange(QCPRange(0, n - 1), QCPRange(0, n - 1));
  // Colour: the row's share on a square-root scale, so that rare confusions stay visible next
  // to a diagonal of 95%.
  const bool annotate = n <= 20;
  QFont cell_font = plot->font();
  cell_font.setPointSizeF(n <= 10 ? 7.0 : 6.0);
  for (int t = 0; t < n; ++t) {
    int64_t row_total = 0;
    for (int s = 0; s < n; ++s) row_total += a.matrixAt(t, s);
    for (int s = 0; s < n; ++s) {
      const int64_t count = a.matrixAt(t, s);
      const double share = row_total > 0 ? static_cast<double>(count) / row_total : 0.0;
      map->data()->setCell(s, t, std::sqrt(share));
      if (!annotate || count == 0) continue;
      auto* text = new QCPItemText(plot);
      text->position->setCoords(s, t);
      text->setFont(cell_font);
      text->setText(QStringLiteral("%1\n%2%").arg(count).arg(100.0 * share, 0, 'f', share < 0.1 ? 1 : 0));
      text->setColor(std::sqrt(share) > 0.55 ? Qt::white : QColor(40, 40, 40));
      text->setClipToAxisRect(true);
    }
  }
  QCPColorGradient gradient;
  gradient.setColorStopAt(0.0, QColor(0xFF, 0xFF, 0xFF));
  gradient.setColorStopAt(0.25, QColor(0xDC, 0xE6, 0xF5));
  gradient.setColorStopAt(1.0, QColor(0x0B, 0x3C, 0x7D));
  map->setGradient(gradient);
  map->setDataRange(QCPRange(0.0, 1.0));
  map->setInterpolate(false);
  plot->xAxis->setTicker(classTicker(a.class_names));
  plot->yAxis->setTicker(classTicker(a.class_names));
  plot->xAxis->setTickLabelRotation(-35);
  plot->xAxis->setLabel(tr("student's prediction"));
  plot->yAxis->setLabel(tr("teacher's prediction"));
  plot->xAxis->setRange(-0.5, n - 0.5);
  plot->yAxis->setRange(-0.5, n - 0.5);
  plot->yAxis->setRangeReversed(true);
  plot->xAxis->grid()->setVisible(false);
  plot->yAxis->grid()->setVisible(false);
  setPlotTitle(plot, tr("Agreement matrix: counts and row % (agreement %1%)").arg(100.0 * a.agreement, 0, 'f', 1));
  plot->replot();
}

void FidelityView::drawClasses() {
  QCustomPlot* plot = class_plot_;
  plot->clearPlottables();
  plot->clearItems();
  const FidelityAnalysis& a = current_->analysis;
  const int n = static_cast<int>(a.num_classes);
  auto* group = new QCPBarsGroup(plot);
  group->setSpacing(1);
  struct Series {
    QString name;
    QColor color;
    double ClassFidelity::*value;
  };
  double lowest = 1.0;
  for (const Series& series : {Series{tr("teacher accuracy"), kTeacherColor, &ClassFidelity::teacher_acc},
                               Series{tr("student accuracy"), kStudentColor, &ClassFidelity::student_acc},
                               Series{tr("agreement"), kAgreementColor, &ClassFidelity::agreement}}) {
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setName(series.name);
    bars->setPen(Qt::NoPen);
    bars->setBrush(series.color);
    bars->setWidth(0.26);
    bars->setBarsGroup(group);
    QVector<double> keys, values;
    for (int c = 0; c < n; ++c) {
      keys << c;
      values << a.per_class[static_cast<size_t>(c)].*series.value;
      lowest = std::min(lowest, values.back());
    }
    bars->setData(keys, values, true);
  }
  plot->xAxis->setTicker(classTicker(a.class_names));
  plot->xAxis->setTickLabelRotation(-35);
  plot->xAxis->grid()->setVisible(false);
  plot->xAxis->setRange(-0.6, n - 0.4);
  // From 0: bars that start at 0.5 make a class at 60% look five times worse than one at 90%.
  Q_UNUSED(lowest);
  plot->yAxis->setRange(0.0, 1.0);
  plot->yAxis->setLabel(tr("fraction of the class"));
  legendBelow(plot);
  setPlotTitle(plot, tr("Per class: teacher accuracy, student accuracy, agreement"));
  plot->replot();
}

void FidelityView::drawReliability() {
  QCustomPlot* plot = reliability_plot_;
  plot->clearPlottables();
  plot->clearItems();
  const FidelityAnalysis& a = current_->analysis;
  plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  plot->xAxis->setTickLabelRotation(0);
  drawReliabilityDiagram(plot, a.teacher_calibration, a.student_calibration,
                         tr("confidence (top-1 probability, %1 bins)").arg(kCalibrationBins), tr("accuracy"),
                         tr("Reliability: accuracy against confidence"));
}

void FidelityView::setGallerySort(GallerySort sort) {
  sort_ = sort;
  if (sort_box_->currentIndex() != static_cast<int>(sort)) sort_box_->setCurrentIndex(static_cast<int>(sort));
  if (current_) fillGallery();
}

void FidelityView::fillGallery() {
  gallery_->clear();
  const FidelityAnalysis& a = current_->analysis;
  std::vector<int> order(a.disagreements.size());
  std::iota(order.begin(), order.end(), 0);  // as stored: the teacher's most confident first
  if (sort_ == GallerySort::TeacherLeastConfident) std::reverse(order.begin(), order.end());
  if (sort_ == GallerySort::ImageIndex)
    std::sort(order.begin(), order.end(),
              [&](int x, int y) { return a.disagreements[x].index < a.disagreements[y].index; });
  const auto& names = a.class_names;
  for (int i : order) {
    const Disagreement& d = a.disagreements[static_cast<size_t>(i)];
    auto* item = new QListWidgetItem;
    item->setText(galleryCaption(d, names));
    // The tile as large as its grid cell: without a size the delegate wraps the caption at
    // the width of the text's widest word run (119 px), which broke and elided its lines.
    item->setSizeHint(gallery_->gridSize() - QSize(4, 4));
    item->setToolTip(tr("test image %1, true label %2\nteacher: %3\nstudent: %4")
                         .arg(d.index)
                         .arg(toQ(names.at(static_cast<size_t>(d.target))))
                         .arg(topLine(d.teacher_top, names, 3))
                         .arg(topLine(d.student_top, names, 3)));
    if (static_cast<size_t>(i) < current_->disagreement_images.size()) {
      const QImage image = thumbnail(current_->disagreement_images[static_cast<size_t>(i)], current_->image_shape);
      item->setIcon(QIcon(QPixmap::fromImage(image.scaled(kGalleryIcon, kGalleryIcon, Qt::KeepAspectRatio, Qt::FastTransformation))));
    }
    item->setData(Qt::UserRole, i);
    gallery_->addItem(item);
  }
  distribution_plot_->clearPlottables();
  detail_image_->clear();
  setPlotTitle(distribution_plot_, a.disagreements.empty() ? tr("Teacher and student agree on every test image")
                                                       : tr("Click an image to compare the two distributions"));
  distribution_plot_->replot();
}

void FidelityView::selectDisagreement(int row) { gallery_->setCurrentRow(row); }

void FidelityView::showDistributions(int index) {
  if (!current_ || index < 0 || static_cast<size_t>(index) >= current_->analysis.disagreements.size()) return;
  const FidelityAnalysis& a = current_->analysis;
  const Disagreement& d = a.disagreements[static_cast<size_t>(index)];
  QCustomPlot* plot = distribution_plot_;
  plot->clearPlottables();
  auto* group = new QCPBarsGroup(plot);
  const int n = static_cast<int>(a.num_classes);
  for (const auto& [name, probs, color] :
       {std::tuple{tr("teacher"), &d.teacher_probs, kTeacherColor}, std::tuple{tr("student"), &d.student_probs, kStudentColor}}) {
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setName(name);
    bars->setPen(Qt::NoPen);
    bars->setBrush(color);
    bars->setWidth(0.38);
    bars->setBarsGroup(group);
    QVector<double> keys, values;
    for (int c = 0; c < n; ++c) {
      keys << c;
      values << static_cast<double>((*probs)[static_cast<size_t>(c)]);
    }
    bars->setData(keys, values, true);
  }
  plot->xAxis->setTicker(classTicker(a.class_names));
  plot->xAxis->setTickLabelRotation(-35);
  plot->xAxis->grid()->setVisible(false);
  plot->xAxis->setRange(-0.6, n - 0.4);
  plot->yAxis->setRange(0.0, 1.0);
  plot->yAxis->setLabel(tr("probability"));
  legendBelow(plot);
  setPlotTitle(plot, tr("Image %1, true %2: teacher %3, student %4")
                     .arg(d.index)
                     .arg(toQ(a.class_names.at(static_cast<size_t>(d.target))))
                     .arg(topLine(d.teacher_top, a.class_names, 1))
                     .arg(topLine(d.student_top, a.class_names, 1)));
  plot->replot();
  if (static_cast<size_t>(index) < current_->disagreement_images.size()) {
    const QImage image = thumbnail(current_->disagreement_images[static_cast<size_t>(index)], current_->image_shape);
    detail_image_->setPixmap(QPixmap::fromImage(image.scaled(112, 112, Qt::KeepAspectRatio, Qt::FastTransformation)));
  }
}

void FidelityView::openMirrorTest() {
  if (!mirror_) {
    mirror_ = new MirrorDialog(this);
    mirror_->setDatabasePath(database_path_);
  }
  if (run_id_ > 0) mirror_->setModels(QStringLiteral("%1:teacher").arg(run_id_), QString::number(run_id_));
  mirror_->show();
  mirror_->raise();
}

}  // namespace distill::ui
