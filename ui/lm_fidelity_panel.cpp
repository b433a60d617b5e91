#include "ui/lm_fidelity_panel.h"

#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QResizeEvent>
#include <QSplitter>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "ui/fidelity_plots.h"
#include "ui/figure.h"
#include "ui/metric_charts.h"

namespace distill::ui {

namespace {

const QColor kAgreementColor{0x6A, 0x3D, 0x9A};  // the live agreement chart's purple
const QColor kKlColor{0xC0, 0x39, 0x2B};         // and its KL red
const QColor kHighlight{0xFF, 0xD5, 0x4F};       // the true next token in a context
// From this panel width on, the contexts stand beside the charts; below it, under them.
constexpr int kContextsBesideWidth = 1400;
// From this width on, two charts stand abreast; below it, one under another.
constexpr int kChartsAbreastWidth = 900;
constexpr int kBarCells = 24;  // a probability of 1 as this many monospace cells

QString toQ(const std::string& text) { return QString::fromStdString(text); }

// Text for rich text: escaped, each line break shown as a grey ↵ before the break itself.
QString richText(const std::string& text) {
  QString escaped = toQ(text).toHtmlEscaped();
  escaped.replace(QLatin1Char('\n'), QStringLiteral("<span style=\"color:#999999\">\u21B5</span>\n"));
  return escaped;
}

// The highlighted token, visible even when it is white space.
QString visibleToken(const std::string& token) {
  if (token == " ") return QStringLiteral("\u2423");
  if (token == "\n\n") return QStringLiteral("\u00B6\u00B6");  // the separator between documents
  if (token == "\n") return QStringLiteral("\u21B5\n");
  if (token == "\t") return QStringLiteral("\u21E5");
  return toQ(token).toHtmlEscaped();
}

QString bar(double probability, const QColor& color) {
  const int cells = static_cast<int>(std::lround(std::clamp(probability, 0.0, 1.0) * kBarCells));
  QString spaces;
  for (int i = 0; i < cells; ++i) spaces += QStringLiteral("&nbsp;");
  return QStringLiteral("<span style=\"background-color:%1;font-family:monospace\">%2</span>")
      .arg(color.name(), spaces);
}

QString topCell(const std::vector<TokenProbability>& top, size_t row, int64_t target, const QColor& color) {
  if (row >= top.size()) return QStringLiteral("<td></td><td></td><td></td>");
  const TokenProbability& t = top[row];
  QString token = QStringLiteral("<code>%1</code>").arg(toQ(t.text).toHtmlEscaped());
  if (t.token == target) token = QStringLiteral("<b><u>%1</u></b>").arg(token);  // the true next token
  return QStringLiteral("<td>%1</td><td align=\"right\">%2</td><td>%3</td>")
      .arg(token)
      .arg(t.probability, 0, 'f', 2)
      .arg(bar(t.probability, color));
}

void styleBars(QCPBars* bars, const QString& name, const QColor& color, double width) {
  bars->setName(name);
  bars->setPen(Qt::NoPen);
  bars->setBrush(color);
  bars->setWidth(width);
}

QCPGraph* line(QCustomPlot* plot, QCPAxis* value_axis, const QString& name, const QColor& color, Qt::PenStyle style,
               QCPScatterStyle::ScatterShape shape) {
  auto* graph = plot->addGraph(plot->xAxis, value_axis);
  graph->setName(name);
  graph->setPen(QPen(color, 1.8, style));
  graph->setScatterStyle(QCPScatterStyle(shape, color, color, 5));
  return graph;
}

// The right axis for KL, from 0 to a little above the largest value.
void klAxis(QCustomPlot* plot, double largest) {
  plot->yAxis2->setVisible(true);
  plot->yAxis2->setLabel(QObject::tr("KL (nats)"));
  plot->yAxis2->setRange(0.0, largest > 0 ? largest * 1.15 : 1.0);
  plot->yAxis2->grid()->setVisible(false);
}

void reset(QCustomPlot* plot) {
  plot->clearPlottables();
  plot->clearItems();
  plot->yAxis2->setVisible(false);
  plot->legend->setVisible(false);
}

}  // namespace

QString lmSummaryHtml(const LmFidelityAnalysis& a) {
  QString html = QObject::tr("per token: teacher acc <b>%1</b> · student acc <b>%2</b> · top-1 agreement <b>%3</b> · "
                     "top-5 overlap %4 · KL %5 · perplexity teacher %6, student %7 · ECE teacher %8, student %9")
      .arg(a.teacher_acc, 0, 'f', 4)
      .arg(a.student_acc, 0, 'f', 4)
      .arg(a.agreement, 0, 'f', 4)
      .arg(a.top5_overlap, 0, 'f', 4)
      .arg(a.kl, 0, 'f', 4)
      .arg(std::exp(a.teacher_ce), 0, 'f', 2)
      .arg(std::exp(a.student_ce), 0, 'f', 2)
      .arg(a.teacher_calibration.ece, 0, 'f', 4)
      .arg(a.student_calibration.ece, 0, 'f', 4);
  // A model vocabulary padded beyond the tokenizer's ids (a Hugging Face checkpoint's rounding):
  // said, as the CLI says it; the numbers are over every row, as the run's evaluation's.
  if (a.vocab > a.tokenizer_vocab && a.tokenizer_vocab > 0)
    html += QObject::tr(" · %1 padding rows beyond the tokenizer's %2 ids (counted, never shown as tokens)")
                .arg(a.vocab - a.tokenizer_vocab)
                .arg(a.tokenizer_vocab);
  return html;
}

QString lmContextsHtml(const LmFidelityAnalysis& a, int limit) {
  if (a.disagreements.empty())
    return QObject::tr("<p>Teacher and student predict the same next token at every position analysed.</p>");
  QString html;
  const int shown = std::min<int>(limit, static_cast<int>(a.disagreements.size()));
  for (int i = 0; i < shown; ++i) {
    const LmDisagreement& d = a.disagreements[static_cast<size_t>(i)];
    if (i > 0) html += QStringLiteral("<hr>");
    html += QObject::tr("<p><b>#%1</b> &nbsp;KL <b>%2</b> nats · teacher %3% sure · block %4, position %5</p>")
                .arg(i + 1)
                .arg(d.kl, 0, 'f', 3)
                .arg(100.0 * d.teacher_confidence, 0, 'f', 0)
                .arg(d.block)
                .arg(d.position);
    const bool cut = d.position + 1 > kLmContextBefore;
    html += QStringLiteral("<p style=\"font-family:monospace;white-space:pre-wrap\">%1%2"
                           "<span style=\"background-color:%3;font-weight:bold\">%4</span>"
                           "<span style=\"color:#777777\">%5</span></p>")
                .arg(cut ? QStringLiteral("…") : QString())
                .arg(richText(d.before))
                .arg(kHighlight.name())
                .arg(visibleToken(d.token))
                .arg(richText(d.after));
    html += QStringLiteral("<table cellspacing=\"0\" cellpadding=\"1\"><tr><td colspan=\"3\"><b style=\"color:%1\">%2"
                           "</b></td><td width=\"18\"></td><td colspan=\"3\"><b style=\"color:%3\">%4</b></td></tr>")
                .arg(kTeacherColor.name(), QObject::tr("teacher"), kStudentColor.name(), QObject::tr("student"));
    for (size_t row = 0; row < static_cast<size_t>(kLmTopTokens); ++row) {
      if (row >= d.teacher_top.size() && row >= d.student_top.size()) break;
      html += QStringLiteral("<tr>%1<td></td>%2</tr>")
                  .arg(topCell(d.teacher_top, row, d.target, kTeacherColor),
                       topCell(d.student_top, row, d.target, kStudentColor));
    }
    html += QStringLiteral("</table>");
  }
  return html;
}

LmFidelityPanel::LmFidelityPanel(QWidget* parent) : QWidget(parent) {
  position_plot_ = makeFidelityPlot(tr("By position in the context"), QStringLiteral("lmPositionPlot"));
  confidence_plot_ = makeFidelityPlot(tr("By the teacher's confidence"), QStringLiteral("lmConfidencePlot"));
  frequency_plot_ = makeFidelityPlot(tr("By token frequency"), QStringLiteral("lmFrequencyPlot"));
  reliability_plot_ = makeFidelityPlot(tr("Reliability per token"), QStringLiteral("lmReliabilityPlot"));
  for (QCustomPlot* plot : plots()) {
    plot->installEventFilter(this);
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(plot, &QWidget::customContextMenuRequested, this, [this, plot](const QPoint& at) {
      QMenu menu;
      menu.addAction(tr("Export chart…"), this, [this, plot] { exportPlotInteractive(plot); });
      menu.addAction(tr("Save report…"), this, &LmFidelityPanel::saveReportInteractive);
      menu.exec(plot->mapToGlobal(at));
    });
  }

  contexts_ = new QTextBrowser;
  contexts_->setObjectName(QStringLiteral("lmContexts"));
  contexts_->setOpenLinks(false);
  contexts_->setMinimumWidth(320);
  report_button_ = new QPushButton(tr("Save report…"));
  report_button_->setObjectName(QStringLiteral("lmReportButton"));
  report_button_->setToolTip(tr("One HTML file: the numbers, the four charts (SVG) and the contexts. Right-click a "
                                "chart to export it alone as PNG, PDF or SVG."));
  report_button_->setEnabled(false);
  connect(report_button_, &QPushButton::clicked, this, &LmFidelityPanel::saveReportInteractive);

  auto* contexts_box = new QWidget;
  auto* contexts_layout = new QVBoxLayout(contexts_box);
  contexts_layout->setContentsMargins(0, 0, 0, 0);
  auto* contexts_header = new QHBoxLayout;
  contexts_header->addWidget(new QLabel(tr("<b>Where they disagree most</b> (largest KL; "
                                           "<span style=\"background-color:%1\">the true next token</span>)")
                                            .arg(kHighlight.name())),
                             1);
  contexts_header->addWidget(report_button_);
  contexts_layout->addLayout(contexts_header);
  contexts_layout->addWidget(contexts_, 1);

  charts_top_ = new QSplitter(Qt::Horizontal);
  charts_top_->addWidget(position_plot_);
  charts_top_->addWidget(confidence_plot_);
  charts_bottom_ = new QSplitter(Qt::Horizontal);
  charts_bottom_->addWidget(frequency_plot_);
  charts_bottom_->addWidget(reliability_plot_);
  auto* charts = new QSplitter(Qt::Vertical);
  charts->addWidget(charts_top_);
  charts->addWidget(charts_bottom_);
  main_split_ = new QSplitter(Qt::Horizontal);
  main_split_->addWidget(charts);
  main_split_->addWidget(contexts_box);
  main_split_->setStretchFactor(0, 3);
  main_split_->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(main_split_);
  arrange();
}

// Three arrangements by the panel's own width: the contexts beside a 2x2 grid of charts; under
// it (charts still two abreast, each at least 450 px); or everything in one column (a narrow
// page scrolls down, never sideways).
void LmFidelityPanel::arrange() {
  const int w = width();
  const int layout = w >= kContextsBesideWidth ? 0 : w >= kChartsAbreastWidth ? 1 : 2;
  if (layout == arrangement_) return;
  arrangement_ = layout;
  main_split_->setOrientation(layout == 0 ? Qt::Horizontal : Qt::Vertical);
  charts_top_->setOrientation(layout == 2 ? Qt::Vertical : Qt::Horizontal);
  charts_bottom_->setOrientation(layout == 2 ? Qt::Vertical : Qt::Horizontal);
  charts_top_->setSizes({500, 500});
  charts_bottom_->setSizes({500, 500});
  if (layout == 0) {
    main_split_->setSizes({900, 560});
    setMinimumHeight(600);
  } else if (layout == 1) {
    main_split_->setSizes({640, 560});
    setMinimumHeight(1200);
  } else {
    main_split_->setSizes({1160, 560});
    setMinimumHeight(1720);
  }
}

void LmFidelityPanel::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  arrange();
}

bool LmFidelityPanel::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Resize)
    if (auto* plot = qobject_cast<QCustomPlot*>(watched)) fitPlotTitle(plot);
  return QWidget::eventFilter(watched, event);
}

void LmFidelityPanel::clear() {
  has_analysis_ = false;
  current_ = RunFidelity{};
  for (QCustomPlot* plot : plots()) {
    reset(plot);
    plot->replot();
  }
  contexts_->clear();
  report_button_->setEnabled(false);
}

void LmFidelityPanel::showAnalysis(const RunFidelity& result) {
  current_ = result;
  has_analysis_ = true;
  drawPosition();
  drawConfidence();
  drawFrequency();
  drawReliability();
  contexts_->setHtml(lmContextsHtml(current_.lm, static_cast<int>(current_.lm.disagreements.size())));
  report_button_->setEnabled(true);
}

void LmFidelityPanel::drawPosition() {
  QCustomPlot* plot = position_plot_;
  reset(plot);
  const LmFidelityAnalysis& a = current_.lm;
  auto* agreement = new QCPBars(plot->xAxis, plot->yAxis);
  styleBars(agreement, tr("agreement"), QColor(kAgreementColor.red(), kAgreementColor.green(), kAgreementColor.blue(), 150),
            1.0);
  // Short names: four legend entries share one row under the chart.
  auto* teacher = line(plot, plot->yAxis, tr("teacher acc"), kTeacherColor, Qt::SolidLine, QCPScatterStyle::ssCircle);
  auto* student = line(plot, plot->yAxis, tr("student acc"), kStudentColor, Qt::SolidLine, QCPScatterStyle::ssCircle);
  auto* kl = line(plot, plot->yAxis2, tr("KL (right)"), kKlColor, Qt::DashLine, QCPScatterStyle::ssSquare);
  double largest_kl = 0.0, width = 1.0;
  for (const LmBucket& b : a.by_position) {
    if (b.count == 0) continue;
    const double centre = (b.lower + b.upper - 1) / 2;
    width = std::max(1.0, (b.upper - b.lower) * 0.8);
    agreement->addData(centre, b.agreement);
    teacher->addData(centre, b.teacher_acc);
    student->addData(centre, b.student_acc);
    kl->addData(centre, b.kl);
    largest_kl = std::max(largest_kl, b.kl);
  }
  agreement->setWidth(width);
  plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  plot->xAxis->setLabel(tr("position in the context (tokens seen - 1)"));
  plot->xAxis->setRange(-0.5, static_cast<double>(a.context) - 0.5);
  plot->xAxis->grid()->setVisible(false);
  plot->yAxis->setRange(0.0, 1.0);
  plot->yAxis->setLabel(tr("fraction of tokens"));
  klAxis(plot, largest_kl);
  legendBelow(plot);
  setPlotTitle(plot, tr("By position in the context: agreement, accuracy, KL"));
  plot->replot();
}

void LmFidelityPanel::drawConfidence() {
  QCustomPlot* plot = confidence_plot_;
  reset(plot);
  const LmFidelityAnalysis& a = current_.lm;
  auto* agreement = new QCPBars(plot->xAxis, plot->yAxis);
  styleBars(agreement, tr("agreement"), QColor(kAgreementColor.red(), kAgreementColor.green(), kAgreementColor.blue(), 150),
            0.085);
  auto* kl = line(plot, plot->yAxis2, tr("KL (right)"), kKlColor, Qt::DashLine, QCPScatterStyle::ssSquare);
  double largest_kl = 0.0;
  QFont small = plot->font();
  small.setPointSizeF(7.0);
  for (const LmBucket& b : a.by_confidence) {
    if (b.count == 0) continue;
    const double centre = (b.lower + b.upper) / 2;
    agreement->addData(centre, b.agreement);
    kl->addData(centre, b.kl);
    largest_kl = std::max(largest_kl, b.kl);
    // The bin's share of the tokens, over its bar: a bin of 0.3% says little.
    auto* share = new QCPItemText(plot);
    share->position->setCoords(centre, b.agreement);
    share->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
    share->setFont(small);
    share->setColor(QColor(80, 80, 80));
    const double percent = a.tokens > 0 ? 100.0 * static_cast<double>(b.count) / static_cast<double>(a.tokens) : 0.0;
    share->setText(QStringLiteral("%1%").arg(percent, 0, 'f', percent < 1 ? 1 : 0));
    share->setClipToAxisRect(false);
  }
  plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  plot->xAxis->setLabel(tr("teacher's top-1 probability (labels: share of tokens)"));
  plot->xAxis->setRange(0.0, 1.0);
  plot->xAxis->grid()->setVisible(false);
  plot->yAxis->setRange(0.0, 1.08);
  plot->yAxis->setLabel(tr("agreement"));
  klAxis(plot, largest_kl);
  legendBelow(plot);
  setPlotTitle(plot, tr("By the teacher's confidence: agreement and KL"));
  plot->replot();
}

void LmFidelityPanel::drawFrequency() {
  QCustomPlot* plot = frequency_plot_;
  reset(plot);
  const LmFidelityAnalysis& a = current_.lm;
  auto* group = new QCPBarsGroup(plot);
  group->setSpacing(1);
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const int n = static_cast<int>(a.by_frequency.size());
  for (int i = 0; i < n; ++i) {
    const LmBucket& b = a.by_frequency[static_cast<size_t>(i)];
    ticker->addTick(i, tr("%1\n%2 tokens").arg(toQ(b.label)).arg(b.count));
  }
  struct Series {
    QString name;
    QColor color;
    double LmBucket::*value;
  };
  for (const Series& series : {Series{tr("teacher accuracy"), kTeacherColor, &LmBucket::teacher_acc},
                               Series{tr("student accuracy"), kStudentColor, &LmBucket::student_acc},
                               Series{tr("agreement"), kAgreementColor, &LmBucket::agreement}}) {
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    styleBars(bars, series.name, series.color, 0.26);
    bars->setBarsGroup(group);
    for (int i = 0; i < n; ++i) bars->addData(i, a.by_frequency[static_cast<size_t>(i)].*series.value);
  }
  plot->xAxis->setTicker(ticker);
  plot->xAxis->setTickLabelRotation(0);
  plot->xAxis->grid()->setVisible(false);
  plot->xAxis->setRange(-0.6, n - 0.4);
  plot->xAxis->setLabel(tr("the true next token's share of the training tokens (frequent to rare)"));
  plot->yAxis->setRange(0.0, 1.0);
  plot->yAxis->setLabel(tr("fraction of tokens"));
  legendBelow(plot);
  setPlotTitle(plot, tr("By token frequency: accuracy and agreement"));
  plot->replot();
}

void LmFidelityPanel::drawReliability() {
  QCustomPlot* plot = reliability_plot_;
  reset(plot);
  const LmFidelityAnalysis& a = current_.lm;
  drawReliabilityDiagram(plot, a.teacher_calibration, a.student_calibration,
                         tr("confidence (top-1 probability, %1 bins)").arg(kLmCalibrationBins),
                         tr("accuracy (next token)"), tr("Reliability per token: accuracy against confidence"));
}

QString LmFidelityPanel::reportHtml() const {
  const LmFidelityAnalysis& a = current_.lm;
  const QString title = tr("Fidelity of run %1 \"%2\"").arg(current_.run_id).arg(toQ(current_.run_name).toHtmlEscaped());
  QString html = QStringLiteral(
                     "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>%1</title>\n<style>\n"
                     "body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 2em auto; max-width: 1100px; "
                     "padding: 0 1em; }\nh1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; "
                     "border-bottom: 1px solid #ddd; }\nfigure { margin: 1.5em 0; } svg { max-width: 100%; height: "
                     "auto; } code { font-size: 13px; }\n</style></head><body>\n<h1>%1</h1>\n")
                     .arg(title);
  html += tr("<p>%1 (%2), student at epoch %3: %4 validation tokens (%5 of %6 blocks of %7 %8 tokens) of %9; "
             "frequencies over %10 training tokens.</p>\n")
              .arg(toQ(current_.status))
              .arg(toQ(current_.task))
              .arg(current_.student_epoch)
              .arg(a.tokens)
              .arg(a.blocks)
              .arg(a.blocks_available)
              .arg(a.context)
              .arg(toQ(a.tokenizer))
              .arg(toQ(current_.dataset).toHtmlEscaped())
              .arg(a.train_tokens);
  html += QStringLiteral("<p>%1</p>\n").arg(lmSummaryHtml(a));
  html += tr("<h2>Charts</h2>\n");
  for (QCustomPlot* plot : plots()) {
    const QString svg = QString::fromUtf8(plotSvg(plot));
    html += QStringLiteral("<figure>%1</figure>\n").arg(svg.mid(std::max<qsizetype>(0, svg.indexOf(QStringLiteral("<svg")))));
  }
  html += tr("<h2>Where they disagree most (%1 disagreeing tokens; the %2 of largest KL)</h2>\n")
              .arg(a.disagreement_count)
              .arg(a.disagreements.size());
  html += lmContextsHtml(a, static_cast<int>(a.disagreements.size()));
  html += QStringLiteral("\n</body></html>\n");
  return html;
}

void LmFidelityPanel::saveReport(const QString& path) const {
  const QByteArray bytes = reportHtml().toUtf8();
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size())
    throw ExportError("cannot write '" + path.toStdString() + "'");
}

void LmFidelityPanel::exportPlotInteractive(QCustomPlot* plot) {
  const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), plot->objectName() + QStringLiteral(".png"),
                                                    tr("PNG image (*.png);;PDF (*.pdf);;SVG (*.svg)"));
  if (path.isEmpty()) return;
  try {
    savePlot(plot, path);
    emit exported(path);
  } catch (const ExportError& e) {
    QMessageBox::warning(this, tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

void LmFidelityPanel::saveReportInteractive() {
  if (!has_analysis_) return;
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Save report"), QStringLiteral("fidelity-run-%1.html").arg(current_.run_id), tr("HTML (*.html)"));
  if (path.isEmpty()) return;
  try {
    saveReport(path);
    emit exported(path);
  } catch (const ExportError& e) {
    QMessageBox::warning(this, tr("Save failed"), QString::fromUtf8(e.what()));
  }
}

}  // namespace distill::ui
