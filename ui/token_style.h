// How the Samples and Playground pages draw generated tokens: the red shades that mark a token
// the other model would rarely write, grey text, and control characters made visible. Shared so
// that a token looks the same on both pages.
//
// Thread contract: plain functions; any thread (they only compute colours and strings).
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>

namespace distill::ui {

// `top` laid over `bottom` at `alpha`, opaque: the same shade in a document, in a legend (rich
// text, where an alpha colour is not reliable) and on a light or dark palette.
QColor blend(const QColor& top, const QColor& bottom, double alpha);

// The shade of a marked token on `palette`'s base: level 1 light (below 10% for the other
// model), level 2 and up strong (below 1%).
QColor markColor(int level, const QPalette& palette);

// The palette's text colour at half strength (prompts, not generated text).
QColor greyText(const QPalette& palette);

// Text as the pages show it: a newline as ↵ and a line break (so a token that is a newline can
// be seen, shaded and hovered), other control characters and DEL as their Unicode pictures.
QString visibleText(const QString& text);

}  // namespace distill::ui
