// The Samples page: a language-model run's fixed prompts with the teacher's and the student's
// completions side by side. Texts written into a store by hand (no training) for the slider,
// the decoding switch, the marks and their tooltips, runs switched in the window, image runs
// and runs without texts; then a tiny real run from the form whose texts appear while it
// trains. Screenshots (tests/ui/screenshots/samples*.png) for a person to look at.
//
// DISTILL_SCREENSHOT_DB and DISTILL_SCREENSHOT_RUN point the last screenshot at another
// database and run (docs/screenshot-samples.png comes from a longer lm run).
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QHelpEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QSignalSpy>
#include <QSlider>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBlock>
#include <QToolButton>
#include <QToolTip>

#include "core/config/config.h"
#include "core/store/run_store.h"
#include "ui/experiment_form.h"
#include "ui/main_window.h"
#include "ui/run_browser.h"
#include "ui/run_controller.h"
#include "ui/run_mailbox.h"
#include "ui/samples_view.h"
#include "tests/ui/ui_test_support.h"

using namespace distill;
using namespace distill::ui;

namespace {

constexpr int kRunTimeoutMs = 180'000;

struct Token {
  const char* t;
  double p;
  double q;  // negative: not written (the teacher's texts)
};

std::string tokensJson(const std::vector<Token>& tokens) {
  QJsonArray array;
  for (const Token& token : tokens) {
    QJsonObject object{{"t", QString::fromUtf8(token.t)}, {"p", token.p}};
    if (token.q >= 0) object.insert("q", token.q);
    array.append(object);
  }
  return QJsonDocument(array).toJson(QJsonDocument::Compact).toStdString();
}

// A text whose tokens are its completion's characters, each with the same probabilities,
// except those listed in `special` (by index).
GeneratedText text(const std::string& phase, int64_t step, double epoch, const std::string& role,
                   const std::string& decoding, int64_t prompt, const std::string& prompt_text,
                   const std::string& completion, std::map<size_t, Token> special = {}) {
  GeneratedText t;
  t.phase = phase;
  t.step = step;
  t.epoch = epoch;
  t.purpose = "eval";
  t.role = role;
  t.decoding = decoding;
  t.prompt_index = prompt;
  t.prompt = prompt_text;
  t.completion = completion;
  std::vector<std::string> pieces;
  for (char c : completion) pieces.emplace_back(1, c);
  std::vector<Token> tokens;
  for (size_t i = 0; i < pieces.size(); ++i) {
    auto it = special.find(i);
    tokens.push_back(it != special.end() ? Token{pieces[i].c_str(), it->second.p, it->second.q}
                                         : Token{pieces[i].c_str(), 0.8, role == "student" ? 0.7 : -1.0});
  }
  t.tokens_json = tokensJson(tokens);
  return t;
}

const char* kPrompts[] = {"the dog sat on ", "it was "};

// An lm run with two prompts: the teacher evaluated at steps 0 and 50 of its phase, the
// student at steps 0, 40 and 80 of its own. At step 80 the student's greedy "warm!" ends in a
// token the teacher finds very unlikely (0.5%).
int64_t storeLmRun(RunStore& store, const std::string& name = "lm by hand") {
  const int64_t id = store.createRun({name, "task: lm\n", {{"task", "lm"}, {"generation.eval_prompts", "2"}}, std::nullopt});
  std::vector<GeneratedText> texts;
  const std::tuple<int64_t, const char*, const char*> teacher[] = {{0, "zzzz", "qqqq"}, {50, "the mat.", "warm."}};
  for (const auto& [step, p0, p1] : teacher) {
    texts.push_back(text("teacher", step, step / 25.0, "teacher", "greedy", 0, kPrompts[0], p0));
    texts.push_back(text("teacher", step, step / 25.0, "teacher", "greedy", 1, kPrompts[1], p1));
    texts.push_back(text("teacher", step, step / 25.0, "teacher", "sampled", 0, kPrompts[0], std::string(p0) + " hm"));
    texts.push_back(text("teacher", step, step / 25.0, "teacher", "sampled", 1, kPrompts[1], std::string(p1) + " hm"));
  }
  const std::tuple<int64_t, const char*, const char*> student[] = {
      {0, "xq jv", "kkkk"}, {40, "the mak.", "wadm."}, {80, "the mat.", "warm!"}};
  for (const auto& [step, p0, p1] : student) {
    std::map<size_t, Token> marks;
    if (step == 80) marks[4] = Token{"!", 0.412, 0.005};
    texts.push_back(text("student", step, step / 40.0, "student", "greedy", 0, kPrompts[0], p0));
    texts.push_back(text("student", step, step / 40.0, "student", "greedy", 1, kPrompts[1], p1, marks));
    texts.push_back(text("student", step, step / 40.0, "student", "sampled", 0, kPrompts[0], "sampled " + std::to_string(step)));
    texts.push_back(text("student", step, step / 40.0, "student", "sampled", 1, kPrompts[1], "drawn " + std::to_string(step)));
  }
  store.appendGenerated(id, texts);
  return id;
}

QString shownText(SamplesView& view) { return view.textView()->toPlainText(); }

// The document position of the first character whose tooltip contains `needle`.
int positionWithToolTip(QTextDocument* document, const QString& needle) {
  for (QTextBlock block = document->begin(); block.isValid(); block = block.next())
    for (auto it = block.begin(); !it.atEnd(); ++it)
      if (it.fragment().charFormat().toolTip().contains(needle)) return it.fragment().position();
  return -1;
}

QString saveShot(QWidget& widget, const QString& name) {
  const QString folder = QStringLiteral(DISTILL_TEST_OUTPUT_DIR "/screenshots");
  QDir().mkpath(folder);
  const QString path = folder + "/" + name;
  QTest::qWait(50);  // the layouts' pending requests (a label's new text) before the picture
  if (!widget.grab().toImage().save(path)) return QString();
  qInfo("screenshot: %s", qPrintable(path));
  return path;
}

}  // namespace

class TestSamples : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir dir_;

 private slots:
  void piecesJoinSplitCharactersAndKeepProbabilities() {
    GeneratedText t;
    t.role = "student";
    t.completion = "caf\xC3\xA9!";  // "café!": é is two byte tokens, each alone U+FFFD
    t.tokens_json = tokensJson({{"c", 0.9, 0.8},
                                {"a", 0.9, 0.8},
                                {"f", 0.9, 0.8},
                                {"\xEF\xBF\xBD", 0.5, 0.2},
                                {"\xEF\xBF\xBD", 0.5, 0.5},
                                {"!", 0.3, 0.004}});
    auto pieces = completionPieces(t);
    QCOMPARE(pieces.size(), size_t(5));
    QCOMPARE(pieces[3].text, QString::fromUtf8("\xC3\xA9"));
    QCOMPARE(pieces[3].tokens, 2);
    QCOMPARE(pieces[3].p, 0.25);
    QCOMPARE(pieces[3].q, 0.1);
    QCOMPARE(unlikelyLevel(pieces[4].q), 2);
    QCOMPARE(unlikelyLevel(pieces[3].q), 0);
    QCOMPARE(unlikelyLevel(0.05), 1);
    QCOMPARE(unlikelyLevel(-1), 0);

    // A split character at the end, and one the model stopped in the middle of.
    t.completion = "c\xC3\xA9";
    t.tokens_json = tokensJson({{"c", 0.9, 0.8}, {"\xEF\xBF\xBD", 0.5, 0.5}, {"\xEF\xBF\xBD", 0.5, 0.5}});
    pieces = completionPieces(t);
    QCOMPARE(pieces.size(), size_t(2));
    QCOMPARE(pieces[1].text, QString::fromUtf8("\xC3\xA9"));
    t.completion = "a\xEF\xBF\xBD";
    t.tokens_json = tokensJson({{"a", 0.9, 0.8}, {"\xEF\xBF\xBD", 0.5, 0.5}});
    QCOMPARE(completionPieces(t).size(), size_t(2));

    // Without readable token JSON: the completion as one piece without probabilities.
    t.tokens_json = "[{\"t\": nan}";
    pieces = completionPieces(t);
    QCOMPARE(pieces.size(), size_t(1));
    QCOMPARE(pieces[0].text, QStringLiteral("a\uFFFD"));
    QVERIFY(pieces[0].p < 0);

    QCOMPARE(percentText(0.412), QStringLiteral("41.2%"));
    QCOMPARE(percentText(0.0412), QStringLiteral("4.12%"));
    QCOMPARE(percentText(0.005), QStringLiteral("0.500%"));
    QCOMPARE(percentText(1.0), QStringLiteral("100%"));
    QCOMPARE(pointLabel("student", 400, 2.0), QStringLiteral("student phase, step 400 (epoch 2.00)"));
    const QString tip = pieceToolTip({QStringLiteral("!"), 0.412, 0.005, 1}, "student");
    QVERIFY2(tip.contains(QStringLiteral("student 41.2%")) && tip.contains(QStringLiteral("teacher 0.500%")), qPrintable(tip));
  }

  void theMailboxCarriesEvaluationTextsOnly() {
    RunMailbox mailbox;
    GeneratedText training = text("student", 3, 0.1, "student", "sampled", 0, "a", "b");
    training.purpose = "train";
    mailbox.onGenerated({text("student", 0, 0.0, "student", "greedy", 0, "a", "b"), training});
    MailboxBatch batch = mailbox.drain();
    QVERIFY(!batch.empty());
    QCOMPARE(batch.texts.size(), size_t(1));
    QCOMPARE(batch.texts.front().purpose, std::string("eval"));
    mailbox.onGenerated({training});
    QVERIFY(mailbox.drain().empty());
  }

  void storedTextsSideBySideWithTheSlider() {
    RunStore store(dir_.filePath("hand.db").toStdString());
    const int64_t id = storeLmRun(store);
    SamplesView view;
    view.resize(1100, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setStore(&store);
    view.setRun(id);
    QVERIFY(view.showsTexts());
    QCOMPARE(view.evaluationCount(), 3);  // the student's evaluations
    QCOMPARE(view.slider()->maximum(), 2);
    QCOMPARE(view.evaluation(), 2);  // the newest
    QCOMPARE(view.evaluationLabel()->text(), QStringLiteral("student phase, step 80 (epoch 2.00)"));
    QString shown = shownText(view);
    QVERIFY2(shown.contains(QStringLiteral("the dog sat on the mat.")), qPrintable(shown));
    QVERIFY(shown.contains(QStringLiteral("it was warm!")));
    // The teacher's column: its latest evaluation (step 50), not its first.
    QVERIFY2(shown.contains(QStringLiteral("Teacher  step 50 (epoch 2.00)")), qPrintable(shown));
    QVERIFY(!shown.contains(QStringLiteral("zzzz")));
    QVERIFY2(view.summaryLabel()->text().startsWith(QStringLiteral("1 of 13 below 10%, 1 below 1%")),
             qPrintable(view.summaryLabel()->text()));

    // The marked token: shaded, and its tooltip names both probabilities wherever the mouse
    // is on it (Qt's own lookup gave the previous token's on a character's left half).
    QTextDocument* document = view.textView()->document();
    const int marked = positionWithToolTip(document, QStringLiteral("teacher 0.500%"));
    QVERIFY(marked >= 0);
    QTextCursor cursor(document);
    cursor.setPosition(marked + 1);
    QVERIFY(cursor.charFormat().background().style() != Qt::NoBrush);
    cursor.setPosition(marked);  // "m" before it: not marked
    QCOMPARE(cursor.charFormat().background().style(), Qt::NoBrush);
    cursor.setPosition(marked);
    const QRect at = view.textView()->cursorRect(cursor);
    const int width = QFontMetrics(document->defaultFont()).horizontalAdvance(QLatin1Char('!'));
    QWidget* viewport = view.textView()->viewport();
    for (const int x : {at.left() + 1, at.left() + std::max(1, width - 1)}) {
      const QPoint point(x, at.center().y());
      const QString tip = view.textView()->toolTipAt(point);
      QVERIFY2(tip.contains(QStringLiteral("student 41.2%")) && tip.contains(QStringLiteral("teacher 0.500%")),
               qPrintable(QStringLiteral("at x %1: %2").arg(x).arg(tip)));
      QHelpEvent help(QEvent::ToolTip, point, viewport->mapToGlobal(point));
      QApplication::sendEvent(viewport, &help);
      QTRY_VERIFY(QToolTip::isVisible());
      QVERIFY2(QToolTip::text().contains(QStringLiteral("teacher 0.500%")), qPrintable(QToolTip::text()));
    }
    // An unmarked student token names both too; a teacher token its own probability.
    QVERIFY(positionWithToolTip(document, QStringLiteral("student 80.0% \u00B7 teacher 70.0%")) >= 0);
    QVERIFY(positionWithToolTip(document, QStringLiteral("teacher 80.0%")) >= 0);
    saveShot(view, QStringLiteral("samples-by-hand.png"));
    {  // on a dark desktop the marks are redrawn for its base colour
      QPalette dark = view.palette();
      dark.setColor(QPalette::Window, QColor(0x2B, 0x2B, 0x2B));
      dark.setColor(QPalette::Base, QColor(0x1E, 0x1E, 0x1E));
      dark.setColor(QPalette::Text, QColor(0xE8, 0xE8, 0xE8));
      dark.setColor(QPalette::WindowText, QColor(0xE8, 0xE8, 0xE8));
      const QPalette light = view.palette();
      view.setPalette(dark);
      cursor.setPosition(marked + 1);
      QVERIFY(cursor.charFormat().background().color().lightness() < 128);
      saveShot(view, QStringLiteral("samples-dark.png"));
      view.setPalette(light);
    }

    // Back to the student's first evaluation; then the sampled texts.
    view.setEvaluation(0);
    QCOMPARE(view.evaluationLabel()->text(), QStringLiteral("student phase, step 0 (epoch 0.00)"));
    shown = shownText(view);
    QVERIFY(shown.contains(QStringLiteral("the dog sat on xq jv")));
    QVERIFY(shown.contains(QStringLiteral("the dog sat on the mat.")));  // the teacher's
    QVERIFY(!shown.contains(QStringLiteral("warm!")));
    QCOMPARE(positionWithToolTip(document, QStringLiteral("teacher 0.500%")), -1);
    view.slider()->setValue(1);
    QVERIFY(shownText(view).contains(QStringLiteral("it was wadm.")));
    view.setSampled(true);
    shown = shownText(view);
    QVERIFY(shown.contains(QStringLiteral("the dog sat on sampled 40")));
    QVERIFY(shown.contains(QStringLiteral("the mat. hm")));
    view.setSampled(false);

    // A live evaluation: the slider at the newest follows it; elsewhere it stays put.
    view.setEvaluation(2);
    view.addTexts(id, {text("student", 120, 3.0, "student", "greedy", 0, kPrompts[0], "the mat!"),
                       text("student", 120, 3.0, "student", "greedy", 1, kPrompts[1], "warm.")});
    QCOMPARE(view.evaluationCount(), 4);
    QCOMPARE(view.evaluation(), 3);
    QVERIFY(shownText(view).contains(QStringLiteral("the dog sat on the mat!")));
    view.setEvaluation(1);
    view.addTexts(id, {text("student", 160, 4.0, "student", "greedy", 0, kPrompts[0], "the mat.")});
    QCOMPARE(view.evaluationCount(), 5);
    QCOMPARE(view.evaluation(), 1);
    QCOMPARE(view.evaluationLabel()->text(), QStringLiteral("student phase, step 40 (epoch 1.00)"));
    view.addTexts(id + 1, {text("student", 200, 5.0, "student", "greedy", 0, kPrompts[0], "other run")});
    QCOMPARE(view.evaluationCount(), 5);
    // Read again (the page opened again): the store's three, still at the one chosen.
    view.setRun(id);
    QCOMPARE(view.evaluationCount(), 3);
    QCOMPARE(view.evaluation(), 1);
  }

  void runsWithoutTextsSaySo() {
    RunStore store(dir_.filePath("plain.db").toStdString());
    const int64_t image = store.createRun({"image run", "name: x\n", {{"task", "image"}}, std::nullopt});
    const int64_t older = store.createRun({"older image run", "name: x\n", {}, std::nullopt});
    const int64_t none = store.createRun({"no samples", "task: lm\n", {{"task", "lm"}, {"generation.eval_prompts", "0"}}, std::nullopt});
    const int64_t lm = storeLmRun(store);
    SamplesView view;
    view.setStore(&store);
    for (const int64_t id : {image, older}) {
      view.setRun(id);
      QVERIFY(!view.showsTexts());
      QVERIFY2(view.messageLabel()->text().startsWith(QStringLiteral("Image runs have no generated text")),
               qPrintable(view.messageLabel()->text()));
      QVERIFY(!view.slider()->isVisibleTo(&view));
    }
    view.setRun(none);
    QVERIFY(view.messageLabel()->text().contains(QStringLiteral("generation.eval_prompts: 0")));
    view.setRun(lm);
    QVERIFY(view.showsTexts());
    QVERIFY(!view.modeBox()->isVisibleTo(&view));  // no training texts: no choice to offer

    // An on-policy run without evaluation prompts: its generated training sequences.
    const int64_t on_policy = store.createRun(
        {"on-policy", "task: lm\n", {{"task", "lm"}, {"generation.eval_prompts", "0"}}, std::nullopt});
    GeneratedText sequence = text("student", 7, 0.5, "student", "sampled", 3, "a prompt ", "the student's own words");
    sequence.purpose = "train";
    sequence.tokens_json.clear();
    store.appendGenerated(on_policy, {sequence});
    view.setRun(on_policy);
    QVERIFY(view.modeBox()->isVisibleTo(&view));
    QCOMPARE(view.modeBox()->currentIndex(), 1);  // chosen, as there is nothing else to show
    QVERIFY(view.showsTexts());
    QVERIFY(shownText(view).contains(QStringLiteral("a prompt the student's own words")));
    QVERIFY(shownText(view).contains(QStringLiteral("student (on-policy)")));
    QVERIFY(shownText(view).contains(QStringLiteral("student phase, step 7, row 3, sampled")));
    view.setMode(SamplesView::Mode::Evaluations);
    QVERIFY(view.messageLabel()->text().contains(QStringLiteral("generation.eval_prompts: 0")));
    view.setRun(999);
    QVERIFY(!view.showsTexts());
    QVERIFY(view.messageLabel()->text().contains(QStringLiteral("not in this database")));
    view.setRun(0);
    QVERIFY(!view.showsTexts());
  }

  void windowPageFollowsTheRunsSelection() {
    const QString db = dir_.filePath("window.db");
    int64_t first = 0, second = 0, image = 0;
    {
      RunStore store(db.toStdString());
      first = storeLmRun(store, "first lm");
      image = store.createRun({"image run", "name: x\n", {{"task", "image"}}, std::nullopt});
      second = store.createRun({"second lm", "task: lm\n", {{"task", "lm"}}, std::nullopt});
      store.appendGenerated(second, {text("student", 0, 0.0, "student", "greedy", 0, "once ", "upon a time")});
      for (const int64_t id : {first, image, second}) store.finishRun(id, RunStatus::Completed);
    }
    MainWindow window(db);
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    SamplesView* samples = window.samplesView();
    QVERIFY(samples);
    QCOMPARE(window.pages()->tabText(window.pages()->indexOf(samples)), QStringLiteral("Samples"));
    window.pages()->setCurrentWidget(window.browser());
    window.browser()->refresh();
    window.browser()->selectRuns({first});
    window.pages()->setCurrentWidget(samples);
    QCOMPARE(samples->runId(), first);
    QCOMPARE(samples->evaluationCount(), 3);
    QVERIFY(shownText(*samples).contains(QStringLiteral("it was warm!")));
    // At 1280x720 every line of the page fits its width (none cut, none widening the page).
    QTest::qWait(50);
    QVERIFY2(samples->minimumSizeHint().width() <= samples->width(),
             qPrintable(QStringLiteral("%1 > %2").arg(samples->minimumSizeHint().width()).arg(samples->width())));
    for (QLabel* label : {samples->evaluationLabel(), samples->findChild<QLabel*>("samplesCount"),
                          samples->findChild<QLabel*>("samplesLegend"), samples->summaryLabel()})
      QVERIFY2(label->width() >= label->sizeHint().width(), qPrintable(label->objectName() + ": " + label->text()));
    saveShot(window, QStringLiteral("samples-window.png"));
    window.browser()->selectRuns({second});
    QCOMPARE(samples->runId(), second);
    QCOMPARE(samples->evaluationCount(), 1);
    QVERIFY(shownText(*samples).contains(QStringLiteral("once upon a time")));
    window.browser()->selectRuns({image});
    QCOMPARE(samples->runId(), image);
    QVERIFY(!samples->showsTexts());
    QVERIFY(samples->messageLabel()->text().startsWith(QStringLiteral("Image runs")));
  }

  // A tiny language model trained from the form: the page, open during the run, shows each
  // evaluation's texts as it arrives, and at the end the last one with the teacher's beside it.
  void aLanguageModelRunShowsItsSamplesLive() {
    const QString corpus = distill::ui::test::writeTinyCorpus(QDir(dir_.path()));
    QVERIFY(!corpus.isEmpty());
    MainWindow window(dir_.filePath("live.db"));
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    const ExperimentConfig config = distill::ui::test::tinyLmConfig(window.form()->config(), corpus, 3);
    window.form()->setConfig(config);
    SamplesView* samples = window.samplesView();
    window.pages()->setCurrentWidget(samples);

    int shown_while_running = 0;
    int most_while_running = 0;
    connect(samples, &SamplesView::shown, this, [&] {
      if (!window.controller()->busy()) return;
      ++shown_while_running;
      most_while_running = std::max(most_while_running, samples->evaluationCount());
    });
    QSignalSpy started(window.controller(), &RunController::runStarted);
    QSignalSpy finished(window.controller(), &RunController::runFinished);
    QTest::mouseClick(window.findChild<QToolButton*>("start-button"), Qt::LeftButton);
    QVERIFY(started.count() == 1 || started.wait(30'000));
    const qint64 run_id = started.first().at(0).toLongLong();
    QCOMPARE(samples->runId(), run_id);
    QVERIFY(finished.count() == 1 || finished.wait(kRunTimeoutMs));
    QCOMPARE(finished.first().at(1).value<RunEnd>(), RunEnd::Completed);
    QVERIFY2(shown_while_running > 0 && most_while_running >= 1,
             qPrintable(QStringLiteral("shown %1 times while running").arg(shown_while_running)));

    // Every evaluation of the student (before training, then each epoch), the newest shown,
    // its texts those the store kept.
    QCOMPARE(samples->evaluationCount(), 4);
    QCOMPARE(samples->evaluation(), 3);
    QVERIFY2(samples->evaluationLabel()->text().startsWith(QStringLiteral("student phase, step ")),
             qPrintable(samples->evaluationLabel()->text()));
    RunStore store(dir_.filePath("live.db").toStdString(), RunStore::Mode::ReadOnly);
    const auto points = store.generatedPoints(run_id, "eval");
    QVERIFY(!points.empty());
    GeneratedFilter last;
    last.phase = "student";
    last.step = points.back().step;
    last.role = "student";
    const auto texts = store.generatedTexts(run_id, last);
    QCOMPARE(texts.size(), size_t(8));  // 4 prompts, greedy and sampled
    const QString shown = shownText(*samples);
    for (const auto& t : texts) {
      if (t.decoding != "greedy") continue;
      const QString completion = QString::fromStdString(t.completion).replace(u'\n', QStringLiteral("\u21B5\n"));
      QVERIFY2(shown.contains(completion), qPrintable(completion + " not in\n" + shown));
    }
    QVERIFY(shown.contains(QStringLiteral("Teacher  step ")));

    // The same run read from the store afresh shows the same.
    samples->setRun(0);
    window.pages()->setCurrentWidget(window.browser());
    window.browser()->refresh();
    window.browser()->selectRuns({run_id});
    window.pages()->setCurrentWidget(samples);
    QCOMPARE(samples->evaluationCount(), 4);
    QCOMPARE(shownText(*samples), shown);
    saveShot(window, QStringLiteral("samples-live-run.png"));
    const QString shots = qEnvironmentVariable("DISTILL_SCREENSHOT_DIR");
    if (!shots.isEmpty()) {
      QDir().mkpath(shots);
      QTest::qWait(50);
      QVERIFY(window.grab().toImage().save(shots + "/screenshot-samples-tiny.png"));
    }
  }

  // The page on another database's run (DISTILL_SCREENSHOT_DB, DISTILL_SCREENSHOT_RUN), for
  // the docs' picture.
  void screenshotOfAnotherRun() {
    const QString db = qEnvironmentVariable("DISTILL_SCREENSHOT_DB");
    if (db.isEmpty()) QSKIP("DISTILL_SCREENSHOT_DB is not set");
    MainWindow window(db);
    window.resize(1280, 720);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    window.pages()->setCurrentWidget(window.browser());
    window.browser()->refresh();
    window.browser()->selectRuns({qEnvironmentVariableIntValue("DISTILL_SCREENSHOT_RUN")});
    window.pages()->setCurrentWidget(window.samplesView());
    QVERIFY(window.samplesView()->showsTexts());
    // DISTILL_SCREENSHOT_SAMPLED=1: the sampled texts; DISTILL_SCREENSHOT_EVALUATION=N: that one.
    window.samplesView()->setSampled(qEnvironmentVariableIntValue("DISTILL_SCREENSHOT_SAMPLED") != 0);
    if (qEnvironmentVariableIsSet("DISTILL_SCREENSHOT_EVALUATION"))
      window.samplesView()->setEvaluation(qEnvironmentVariableIntValue("DISTILL_SCREENSHOT_EVALUATION"));
    const QString shots = qEnvironmentVariable("DISTILL_SCREENSHOT_DIR", QStringLiteral(DISTILL_TEST_OUTPUT_DIR));
    QDir().mkpath(shots);
    QTest::qWait(50);
    QVERIFY(window.grab().toImage().save(shots + "/screenshot-samples.png"));
    qInfo("screenshot: %s", qPrintable(shots + "/screenshot-samples.png"));
    if (window.samplesView()->modeBox()->isVisible()) {  // a run that trained on generated text
      window.samplesView()->setMode(SamplesView::Mode::Training);
      QVERIFY(window.samplesView()->showsTexts());
      QTest::qWait(50);
      QVERIFY(window.grab().toImage().save(shots + "/screenshot-samples-training.png"));
    }
  }
};

QTEST_MAIN(TestSamples)
#include "test_samples.moc"
