// The experiment form: every key round-trips, presets load, and validation as you type uses
// the core's rules and the CLI's messages.
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSpinBox>
#include <QToolButton>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <climits>

#include "core/config/config.h"
#include "core/config/config_keys.h"
#include "tests/ui/ui_test_support.h"
#include "ui/experiment_form.h"
#include "ui/main_window.h"

using namespace distill;
using namespace distill::ui;

namespace {

// A row's help as a tooltip shows it: Markdown's `code` marks and link targets dropped.
QString plainHelp(const ConfigKey& row) {
  QString text = QString::fromStdString(row.help);
  text.remove('`');
  text.replace(QRegularExpression(R"(\[([^\]]*)\]\([^)]*\))"), "\\1");
  return text;
}

// The label of a field's form row (the row may hold the field inside a widget of its own).
QString rowLabel(QWidget* field) {
  for (QWidget* w = field; w && w->parentWidget(); w = w->parentWidget()) {
    auto* form = qobject_cast<QFormLayout*>(w->parentWidget()->layout());
    if (!form) continue;
    auto* label = qobject_cast<QLabel*>(form->labelForField(w));
    return label ? label->text() : QString();
  }
  return QString();
}

int spinLimit(double v) { return static_cast<int>(std::clamp<double>(v, INT_MIN, INT_MAX)); }

}  // namespace

class TestExperimentForm : public QObject {
  Q_OBJECT
 private slots:
  void defaultsAreValidAndRoundTrip() {
    ExperimentForm form;
    QVERIFY(form.isValid());
    QCOMPARE(toYaml(form.config()), toYaml(defaultConfig()));
  }

  void everyKeyHasAField() {
    ExperimentForm form;
    for (const auto& key : configKeys()) QVERIFY2(form.field(QString::fromStdString(key)), key.c_str());
  }

  // Every key of the table (the keys the parser accepts) sits in its own section's group box,
  // not in a catch-all group, so a new key lands where it belongs.
  void everyKeyIsInItsSection() {
    ExperimentForm form;
    for (const auto& row : configKeyTable()) {
      QWidget* widget = form.field(QString::fromStdString(row.key));
      QVERIFY2(widget, row.key.c_str());
      QGroupBox* group = nullptr;
      for (QWidget* w = widget->parentWidget(); w && !group; w = w->parentWidget()) group = qobject_cast<QGroupBox*>(w);
      QVERIFY2(group, row.key.c_str());
      QVERIFY2(group->title().startsWith(QString::fromStdString(formSectionTitle(row.section))),
               qPrintable(QString::fromStdString(row.key) + " is in " + group->title()));
    }
  }

  // Each drop-down of a Choice key offers exactly the values the core accepts (the form once
  // offered neither cifar10/cifar100/csv nor resnet), in the table's order.
  void choiceDropDownsOfferExactlyTheAcceptedValues() {
    ExperimentForm form;
    int choices = 0;
    for (const auto& row : configKeyTable()) {
      if (row.kind != ConfigKind::Choice) continue;
      ++choices;
      auto* box = qobject_cast<QComboBox*>(form.field(QString::fromStdString(row.key)));
      QVERIFY2(box, row.key.c_str());
      QStringList expected;
      for (const auto& value : row.choices) expected << QString::fromStdString(value);
      QStringList offered;
      for (int i = 0; i < box->count(); ++i) offered << box->itemText(i);
      QCOMPARE(offered, expected);
      // Each value reaches the config through the form.
      for (const auto& value : expected) {
        box->setCurrentText(value);
        QCOMPARE(QString::fromStdString(flatten(form.config()).at(row.key)), value);
      }
      form.setConfig(defaultConfig());
    }
    QVERIFY(choices >= 10);
  }

  // The key table is the form's one source: each key has exactly one widget, of its kind, under
  // its label, with its help as tooltip and its range, decimals, step and zero word. Failed
  // before, when about 40 widgets were built by hand (mean and std under one label "Mean / std",
  // the method's and teacher source's own tooltips instead of their help).
  void everyFieldFollowsItsRow() {
    ExperimentForm form;
    for (const auto& row : configKeyTable()) {
      const QString key = QString::fromStdString(row.key);
      const auto named = form.findChildren<QWidget*>(key);
      QVERIFY2(named.size() == 1, qPrintable(key));
      QWidget* widget = named.front();
      QCOMPARE(form.field(key), widget);
      QVERIFY2(widget->toolTip().contains(plainHelp(row)), qPrintable(key + ": " + widget->toolTip()));
      const QString label = QString::fromStdString(row.label);
      switch (row.kind) {
        case ConfigKind::Flag: {
          auto* check = qobject_cast<QCheckBox*>(widget);
          QVERIFY2(check, qPrintable(key));
          QCOMPARE(check->text(), label);
          continue;  // its row has no label of its own
        }
        case ConfigKind::Choice: {
          auto* box = qobject_cast<QComboBox*>(widget);
          QVERIFY2(box && !box->isEditable(), qPrintable(key));
          break;
        }
        case ConfigKind::Text: {
          // Free text; suggestions (choices) make it a drop-down that takes typed text. The
          // device lists this machine's devices instead, picked, not typed.
          auto* box = qobject_cast<QComboBox*>(widget);
          if (row.choices.empty() || row.key == "device") {
            QVERIFY2(qobject_cast<QLineEdit*>(widget) || (box && row.key == "device"), qPrintable(key));
          } else {
            QVERIFY2(box && box->isEditable(), qPrintable(key));
            for (const auto& choice : row.choices)
              QVERIFY2(box->findText(QString::fromStdString(choice)) >= 0, qPrintable(key));
          }
          break;
        }
        case ConfigKind::Integer: {
          auto* spin = qobject_cast<QSpinBox*>(widget);
          QVERIFY2(spin, qPrintable(key));
          QCOMPARE(spin->minimum(), spinLimit(row.minimum));
          QCOMPARE(spin->maximum(), spinLimit(row.maximum));
          QCOMPARE(spin->singleStep(), spinLimit(row.step));
          QCOMPARE(spin->specialValueText(), QString::fromStdString(row.zero_label));
          break;
        }
        case ConfigKind::Number:
          if (row.decimals == 0) {
            QVERIFY2(qobject_cast<QLineEdit*>(widget), qPrintable(key));
          } else {
            auto* spin = qobject_cast<QDoubleSpinBox*>(widget);
            QVERIFY2(spin, qPrintable(key));
            QCOMPARE(spin->decimals(), row.decimals);
            QCOMPARE(spin->minimum(), row.minimum);
            QCOMPARE(spin->maximum(), row.maximum);
            QCOMPARE(spin->singleStep(), row.step);
          }
          break;
        case ConfigKind::IntegerList:
          QVERIFY2(qobject_cast<QLineEdit*>(widget), qPrintable(key));
          break;
      }
      QCOMPARE(rowLabel(widget), label);
    }
  }

  // Fields follow their rows' enabling rules: a model's arch (row.archs) and another key's
  // value (row.enabled_by: momentum and nesterov for sgd, step size and gamma for step).
  void fieldsAreEnabledAsTheirRowsSay() {
    ExperimentForm form;
    int ruled = 0;
    for (const auto& row : configKeyTable()) {
      std::string by = row.enabled_by;
      std::vector<std::string> values = row.enabled_values;
      if (!row.archs.empty()) {
        by = row.key.substr(0, row.key.rfind('.')) + ".arch";
        values = row.archs;
      }
      if (by.empty()) continue;
      ++ruled;
      auto* control = qobject_cast<QComboBox*>(form.field(QString::fromStdString(by)));
      QVERIFY2(control, by.c_str());
      for (const auto& choice : findConfigKey(by)->choices) {
        control->setCurrentText(QString::fromStdString(choice));
        const bool expected = std::find(values.begin(), values.end(), choice) != values.end();
        QVERIFY2(form.field(QString::fromStdString(row.key))->isEnabled() == expected,
                 qPrintable(QString::fromStdString(row.key + " with " + by + "=" + choice)));
      }
      form.setConfig(defaultConfig());
    }
    QVERIFY(ruled >= 12);  // 2 x (channels, blocks, kernel, pool) + momentum, nesterov, step_size, gamma
  }

  // A task's keys show only for it: the image task's normalisation and CSV keys are hidden for
  // a language model, the corpus keys for images. (The form is shown: hidden rows count.)
  void eachTasksKeysShowOnlyForIt() {
    ExperimentForm form;
    form.show();
    QVERIFY(QTest::qWaitForWindowExposed(&form));
    auto* task = qobject_cast<QComboBox*>(form.field("task"));
    QVERIFY(task);
    QVERIFY(task->findText("lm") >= 0);
    int checked = 0;
    for (const QString& name : {QStringLiteral("image"), QStringLiteral("lm")}) {
      task->setCurrentText(name);
      QApplication::processEvents();
      for (const auto& row : configKeyTable()) {
        if (row.tasks.empty()) continue;
        const bool expected = std::find(row.tasks.begin(), row.tasks.end(), name.toStdString()) != row.tasks.end();
        QVERIFY2(form.field(QString::fromStdString(row.key))->isVisible() == expected,
                 qPrintable(QString::fromStdString(row.key) + " with task " + name));
        ++checked;
      }
    }
    QVERIFY(checked >= 20);  // 7 image keys and 3 lm keys, for each task
  }

  // Switching the task shows the language model's own keys and hides the image task's, and
  // back. Named keys: a row that lost its task tag fails here (the test above checks only
  // tagged rows).
  void switchingTheTaskSwapsItsKeys() {
    ExperimentForm form;
    form.show();
    QVERIFY(QTest::qWaitForWindowExposed(&form));
    auto* task = qobject_cast<QComboBox*>(form.field("task"));
    QVERIFY(task);
    const QStringList lm_keys{"lm.corpus", "lm.tokenizer", "lm.context", "generation.sequence_kd", "generation.on_policy",
                              "generation.new_tokens"};
    const QStringList image_keys{"dataset.mean", "dataset.std", "dataset.augment", "dataset.label_column"};
    for (const QString& name : {QStringLiteral("lm"), QStringLiteral("image"), QStringLiteral("lm")}) {
      task->setCurrentIndex(task->findText(name));
      QApplication::processEvents();
      QCOMPARE(QString::fromStdString(form.config().task), name);
      for (const QString& key : lm_keys)
        QVERIFY2(form.field(key)->isVisible() == (name == "lm"), qPrintable(key + " with task " + name));
      for (const QString& key : image_keys)
        QVERIFY2(form.field(key)->isVisible() == (name == "image"), qPrintable(key + " with task " + name));
    }
  }

  // lm-fortunes and its baseline (the student trained alone) are in the drop-down; choosing one
  // switches the form to the language-model task with the preset's values.
  void theLanguageModelPresetsAreOffered() {
    ExperimentForm form;
    form.show();
    QVERIFY(QTest::qWaitForWindowExposed(&form));
    auto* presets = form.findChild<QComboBox*>("presets");
    QVERIFY(presets);
    for (const QString& name : {QStringLiteral("lm-fortunes"), QStringLiteral("lm-fortunes-vanilla")}) {
      const int index = presets->findText(name);
      QVERIFY2(index >= 0, qPrintable(name + " is not in the presets drop-down"));
      presets->setCurrentIndex(index);
      emit presets->activated(index);
      QApplication::processEvents();
      const ExperimentConfig expected = loadConfigFile(presets->itemData(index).toString().toStdString());
      QCOMPARE(expected.task, std::string("lm"));
      QCOMPARE(toYaml(form.config()), toYaml(expected));
      QVERIFY(form.isValid());
      QVERIFY2(form.field("lm.corpus")->isVisible(), qPrintable(name));
      QVERIFY2(!form.field("dataset.std")->isVisible(), qPrintable(name));
      QCOMPARE(qobject_cast<QSpinBox*>(form.field("lm.context"))->value(), static_cast<int>(expected.lm.context));
    }
  }

  // Bad language-model values, typed into a language-model form: the form blames the key the
  // CLI (parseConfigWithOverrides) blames, in the same words; a check across keys too.
  void invalidLanguageModelInputIsReported_data() {
    QTest::addColumn<QStringList>("setup");  // overrides of the form's starting config
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("text");  // typed, or a spin box's value
    QTest::newRow("tokenizer folder missing") << QStringList{} << "lm.tokenizer" << "hf:";
    QTest::newRow("heads that do not divide the width") << QStringList{} << "student.heads" << "3";
    QTest::newRow("prompt and completion longer than the context")
        << QStringList{"lm.context=16", "generation.sequence_kd=true", "generation.prompt_tokens=8",
                       "generation.new_tokens=8"}
        << "generation.new_tokens" << "12";
  }

  void invalidLanguageModelInputIsReported() {
    QFETCH(QStringList, setup);
    QFETCH(QString, key);
    QFETCH(QString, text);
    std::vector<std::string> overrides{"task=lm", "teacher.arch=gpt", "student.arch=gpt"};
    for (const QString& o : setup) overrides.push_back(o.toStdString());
    ExperimentForm form;
    form.setConfig(parseConfigWithOverrides("", overrides));
    QVERIFY(form.isValid());
    if (auto* spin = qobject_cast<QSpinBox*>(form.field(key))) spin->setValue(text.toInt());
    else test::typeInto(form, key, text);
    QVERIFY(!form.isValid());
    const auto issues = form.issues();
    QCOMPARE(QString::fromStdString(issues.front().key), key);
    QVERIFY(form.field(key)->property("invalid").toBool());
    // Text as a shell user quotes it: unquoted, YAML reads `hf:` as a mapping, not as text.
    const bool is_text = !qobject_cast<QSpinBox*>(form.field(key));
    overrides.push_back(key.toStdString() + "=" + (is_text ? "\"" + text.toStdString() + "\"" : text.toStdString()));
    try {
      parseConfigWithOverrides("", overrides);
      QFAIL("the CLI accepted what the form rejects");
    } catch (const ConfigError& error) {
      QCOMPARE(QString::fromStdString(error.issues().front().key), key);
      QCOMPARE(QString::fromStdString(error.issues().front().message), QString::fromStdString(issues.front().message));
    }
  }

  void presetsLoadAndRoundTrip() {
    const auto presets = ExperimentForm::findPresets();
    QVERIFY2(!presets.empty(), "no presets found in resources/presets");
    ExperimentForm form;
    for (const auto& [name, path] : presets) {
      QString error;
      QVERIFY2(form.loadFile(path, &error), qPrintable(error));
      QVERIFY2(form.isValid(), qPrintable(name));
      QCOMPARE(toYaml(form.config()), toYaml(loadConfigFile(path.toStdString())));
    }
  }

  void filledThroughWidgets() {
    ExperimentForm form;
    test::fillTinyExperiment(form);
    QVERIFY(form.isValid());
    QCOMPARE(toYaml(form.config()), toYaml(test::tinyConfig()));
  }

  void saveThenLoad() {
    QTemporaryDir dir;
    ExperimentForm form;
    form.setConfig(test::tinyConfig());
    const QString path = dir.filePath("experiment.yaml");
    QString error;
    QVERIFY2(form.saveFile(path, &error), qPrintable(error));
    ExperimentForm other;
    QVERIFY2(other.loadFile(path, &error), qPrintable(error));
    QCOMPARE(toYaml(other.config()), toYaml(test::tinyConfig()));
  }

  void badFileKeepsTheForm() {
    QTemporaryDir dir;
    const QString path = dir.filePath("bad.yaml");
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("train:\n  lr: -1\n  warmup: 3\n");
    file.close();
    ExperimentForm form;
    form.setConfig(test::tinyConfig());
    QString error;
    QVERIFY(!form.loadFile(path, &error));
    QVERIFY2(error.contains("train.warmup"), qPrintable(error));
    QCOMPARE(toYaml(form.config()), toYaml(test::tinyConfig()));
  }

  // Both sources take a Hugging Face folder as hf:<folder>, with a folder button beside them
  // (issue 23); a language-model config with them round-trips through the form.
  void sourcesTakeHuggingFaceFolders() {
    ExperimentForm form;
    for (const char* key : {"teacher.source", "student.source"})
      QVERIFY2(form.findChild<QToolButton*>(QString(key) + ".browse"), key);
    ExperimentConfig c = parseConfigWithOverrides(
        "", {"task=lm", "teacher.source=hf:/models/gpt2", "student.source=teacher-blocks:2", "student.arch=gpt"});
    form.setConfig(c);
    QVERIFY2(form.isValid(), qPrintable(QString::fromStdString(form.issues().empty() ? "" : form.issues().front().message)));
    QCOMPARE(QString::fromStdString(form.config().teacher.source), QStringLiteral("hf:/models/gpt2"));
    QCOMPARE(QString::fromStdString(form.config().student_source), QStringLiteral("teacher-blocks:2"));
  }

  // Typed text, the key the form must blame, and the CLI override that fails the same way.
  void invalidInputIsReported_data() {
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("cli_override");
    QTest::newRow("zero learning rate") << "train.lr" << "0" << "train.lr=0";
    QTest::newRow("negative std") << "dataset.std" << "-1" << "dataset.std=-1";
    QTest::newRow("bad run reference") << "teacher.source" << "run:abc" << "teacher.source=run:abc";
    QTest::newRow("hf teacher of an image run") << "teacher.source" << "hf:/models/gpt2"
                                                << "teacher.source=hf:/models/gpt2";
    QTest::newRow("teacher blocks of zero") << "student.source" << "teacher-blocks:0"
                                            << "student.source=teacher-blocks:0";
    QTest::newRow("zero width") << "student.hidden" << "64, 0" << "student.hidden=[64, 0]";
    QTest::newRow("not a list") << "student.hidden" << "64, wide" << "";
    QTest::newRow("not a number") << "train.weight_decay" << "lots" << "";
  }

  void invalidInputIsReported() {
    QFETCH(QString, key);
    QFETCH(QString, text);
    QFETCH(QString, cli_override);
    ExperimentForm form;
    QSignalSpy validity(&form, &ExperimentForm::validityChanged);
    test::typeInto(form, key, text);
    QVERIFY(!form.isValid());
    // Typing passes through other states ("run:" before "run:abc"); the last one counts.
    QVERIFY(validity.count() >= 1);
    QCOMPARE(validity.takeLast().at(0).toBool(), false);
    const auto issues = form.issues();
    QCOMPARE(QString::fromStdString(issues.front().key), key);
    QVERIFY(form.field(key)->property("invalid").toBool());
    auto* label = form.findChild<QLabel*>("issues");
    QVERIFY(label && !label->isHidden());
    QVERIFY(label->text().contains(key));
    if (!cli_override.isEmpty()) {
      // The CLI (parseConfigWithOverrides) says exactly the same.
      try {
        parseConfigWithOverrides("", {cli_override.toStdString()});
        QFAIL("the CLI accepted what the form rejects");
      } catch (const ConfigError& error) {
        QCOMPARE(error.issues().front().key, issues.front().key);
        QCOMPARE(error.issues().front().message, issues.front().message);
      }
    }
    QVERIFY(form.field(key)->toolTip().startsWith(QString::fromStdString(issues.front().message)));
    form.setConfig(defaultConfig());
    QVERIFY(form.isValid());
    QVERIFY(label->isHidden());
    QVERIFY(!form.field(key)->property("invalid").toBool());
    // Once fixed, the field's tooltip is its help again.
    QCOMPARE(form.field(key)->toolTip(), plainHelp(*findConfigKey(key.toStdString())));
  }

  void invalidConfigDisablesStart() {
    QTemporaryDir dir;
    MainWindow window(dir.filePath("runs.db"));
    window.show();
    QVERIFY(window.startAction()->isEnabled());
    test::typeInto(*window.form(), "train.lr", "0");
    QVERIFY(!window.startAction()->isEnabled());
    auto* label = window.form()->findChild<QLabel*>("issues");
    QVERIFY(label->isVisible());
    QVERIFY2(label->text().contains("expected a learning rate &gt; 0") || label->text().contains("expected a learning rate > 0"),
             qPrintable(label->text()));
    window.startRun();  // e.g. a shortcut: still refused
    QVERIFY(!window.controller()->busy());
    test::typeInto(*window.form(), "train.lr", "0.05");
    QVERIFY(window.startAction()->isEnabled());
    QVERIFY(label->isHidden());
  }

  // A dataset folder that is not there is flagged as it is typed, saying what belongs there.
  void aMissingDatasetFolderIsFlaggedAsTyped() {
    ExperimentForm form;
    test::typeInto(form, "dataset.path", "/nonexistent/my-fashion");
    QVERIFY(!form.isValid());
    QVERIFY(form.field("dataset.path")->property("invalid").toBool());
    QString message;
    for (const auto& issue : form.issues())
      if (issue.key == "dataset.path") message = QString::fromStdString(issue.message);
    QVERIFY2(message.contains("/nonexistent/my-fashion does not exist"), qPrintable(message));
    QVERIFY2(message.contains("IDX"), qPrintable(message));
    QVERIFY2(!message.contains("install"), qPrintable(message));
    test::typeInto(form, "dataset.path", "");
    QVERIFY(form.isValid());
  }

  // Boolean keys are check boxes.
  void booleanSettingsAreCheckBoxes() {
    ExperimentForm form;
    const auto defaults = flatten(defaultConfig());
    int booleans = 0;
    for (const auto& key : configKeys()) {
      const auto it = defaults.find(key);
      if (it == defaults.end() || (it->second != "true" && it->second != "false")) continue;
      ++booleans;
      auto* check = qobject_cast<QCheckBox*>(form.field(QString::fromStdString(key)));
      QVERIFY2(check, key.c_str());
      QCOMPARE(check->isChecked(), it->second == "true");
    }
    QVERIFY(booleans >= 3);
    // A check box reaches the config.
    auto* augment = qobject_cast<QCheckBox*>(form.field("dataset.augment"));
    QVERIFY(augment);
    augment->setChecked(true);
    QVERIFY(form.config().dataset.augment);
  }

  // The preset drop-down says when the form no longer matches the preset.
  void thePresetShowsWhenTheFormDiffers() {
    ExperimentForm form;
    auto* presets = form.findChild<QComboBox*>("presets");
    const QString name = presets->currentText();
    QVERIFY(!form.presetModified());
    test::setSpin(form, "train.epochs", defaultConfig().train.epochs + 1);
    QVERIFY(form.presetModified());
    QCOMPARE(presets->currentText(), name + " (modified)");
    test::setSpin(form, "train.epochs", defaultConfig().train.epochs);
    QVERIFY(!form.presetModified());
    QCOMPARE(presets->currentText(), name);
  }
};

QTEST_MAIN(TestExperimentForm)
#include "test_experiment_form.moc"
