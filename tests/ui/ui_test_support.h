// Shared helpers of the window tests: small configs that train in about a second, and a
// way to fill the experiment form through its widgets the way a user would.
#pragma once

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QSpinBox>
#include <QTest>

#include "core/config/config.h"
#include "ui/experiment_form.h"

namespace distill::ui::test {

// A few hundred images, tiny MLPs, one epoch per phase: the whole run takes about a second.
inline ExperimentConfig tinyConfig() {
  ExperimentConfig c = defaultConfig();
  c.name = "ui-test";
  c.device = "cpu";
  c.dataset.limit_train = 512;
  c.dataset.limit_test = 256;
  c.teacher.model.hidden = {32};
  c.teacher.epochs = 1;
  c.student.hidden = {16};
  c.train.epochs = 1;
  c.train.batch_size = 64;
  c.train.log_every = 2;
  return c;
}

// Long enough to pause and stop in the middle (thousands of steps), cheap per step.
inline ExperimentConfig longConfig() {
  ExperimentConfig c = tinyConfig();
  c.name = "ui-test-long";
  c.dataset.limit_train = 0;
  c.train.batch_size = 16;
  c.teacher.epochs = 3;
  c.train.epochs = 3;
  c.train.log_every = 5;
  return c;
}

// Types into a text field like a user: select all, then type.
inline void typeInto(ExperimentForm& form, const QString& key, const QString& text) {
  auto* edit = qobject_cast<QLineEdit*>(form.field(key));
  if (!edit) {
    auto* combo = qobject_cast<QComboBox*>(form.field(key));
    QVERIFY2(combo && combo->isEditable(), qPrintable("no text field " + key));
    edit = combo->lineEdit();
  }
  edit->selectAll();
  QTest::keyClick(edit, Qt::Key_Backspace);
  QTest::keyClicks(edit, text);
}

inline void setSpin(ExperimentForm& form, const QString& key, int value) {
  auto* spin = qobject_cast<QSpinBox*>(form.field(key));
  QVERIFY2(spin, qPrintable("no spin box " + key));
  spin->setValue(value);
}

// Fills the form field by field with tinyConfig()'s values (not through setConfig()).
inline void fillTinyExperiment(ExperimentForm& form) {
  typeInto(form, "name", "ui-test");
  qobject_cast<QComboBox*>(form.field("device"))->setCurrentText("cpu");
  setSpin(form, "dataset.limit_train", 512);
  setSpin(form, "dataset.limit_test", 256);
  typeInto(form, "teacher.hidden", "32");
  setSpin(form, "teacher.epochs", 1);
  typeInto(form, "student.hidden", "16");
  setSpin(form, "train.epochs", 1);
  setSpin(form, "train.batch_size", 64);
  setSpin(form, "train.log_every", 2);
}

// A corpus of 120 four-word fortunes ("the cat sat on the mat.", separated by % lines) in
// `dir`/tiny-corpus.txt: a 1-layer GPT learns it in a few hundred steps. Returns its path.
inline QString writeTinyCorpus(const QDir& dir) {
  QFile corpus(dir.filePath("tiny-corpus.txt"));
  if (!corpus.open(QIODevice::WriteOnly)) return {};
  const char* animals[] = {"cat", "dog", "owl", "fox"};
  const char* places[] = {"mat", "log", "hill", "barn"};
  for (int i = 0; i < 120; ++i)
    corpus.write(QStringLiteral("the %1 sat on the %2.\n%\n").arg(animals[i % 4], places[(i / 4) % 4]).toUtf8());
  return corpus.fileName();
}

// `base` (the form's config) made a tiny language-model run on `corpus`: 1-layer GPTs of
// width 32 over a context of 16 bytes, `epochs` for each phase, one thread: a few seconds.
inline ExperimentConfig tinyLmConfig(ExperimentConfig base, const QString& corpus, int epochs) {
  ExperimentConfig& c = base;
  c.task = "lm";
  c.name = "tiny lm";
  c.device = "cpu";
  c.threads = 1;
  c.lm.corpus = corpus.toStdString();
  c.lm.context = 16;
  c.teacher.model.arch = c.student.arch = "gpt";
  c.teacher.model.layers = c.student.layers = 1;
  c.teacher.model.heads = c.student.heads = 2;
  c.teacher.model.d_model = c.student.d_model = 32;
  c.teacher.model.dropout = c.student.dropout = 0.0;
  c.teacher.epochs = epochs;
  c.train.epochs = epochs;
  c.train.batch_size = 16;
  c.train.optimizer = "adamw";
  c.train.lr = 0.01;
  c.train.log_every = 5;
  c.distill.temperature = 1.0;
  return c;
}

}  // namespace distill::ui::test
