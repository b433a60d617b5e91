#include "ui/token_style.h"

namespace distill::ui {

namespace {

const QColor kMarkColor{0xD6, 0x27, 0x28};  // red: the other model would rarely write this

}  // namespace

QColor blend(const QColor& top, const QColor& bottom, double alpha) {
  return QColor::fromRgbF(static_cast<float>(top.redF() * alpha + bottom.redF() * (1 - alpha)),
                          static_cast<float>(top.greenF() * alpha + bottom.greenF() * (1 - alpha)),
                          static_cast<float>(top.blueF() * alpha + bottom.blueF() * (1 - alpha)));
}

QColor markColor(int level, const QPalette& palette) {
  return blend(kMarkColor, palette.color(QPalette::Base), level >= 2 ? 0.62 : 0.22);
}

QColor greyText(const QPalette& palette) {
  return blend(palette.color(QPalette::Text), palette.color(QPalette::Base), 0.5);
}

QString visibleText(const QString& text) {
  QString out;
  out.reserve(text.size() + 4);
  for (const QChar c : text) {
    if (c == u'\n') {
      out += QChar(0x21B5);
      out += QChar(QChar::LineSeparator);
    } else if (c == u'\t') {
      out += c;
    } else if (c.unicode() < 0x20) {
      out += QChar(0x2400 + c.unicode());
    } else if (c.unicode() == 0x7F) {
      out += QChar(0x2421);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace distill::ui
