// Turns SIGTERM, SIGINT and SIGHUP into a Qt signal on the GUI thread (the self-pipe trick:
// the handler only writes the signal number to a socket; a QSocketNotifier reads it in the
// event loop), so that `kill PID`, a logout or Ctrl-C in the terminal stop a running
// experiment cleanly (stored as `stopped`) instead of leaving it marked `running`.
//
// Thread contract: create one watcher, on the GUI thread, after QApplication; received() is
// emitted there. The handlers are process-wide; the watcher restores the defaults when it goes.
#pragma once

#include <QObject>

#include <vector>

class QSocketNotifier;

namespace distill::ui {

class UnixSignalWatcher : public QObject {
  Q_OBJECT
 public:
  explicit UnixSignalWatcher(const std::vector<int>& signal_numbers, QObject* parent = nullptr);
  ~UnixSignalWatcher() override;

 signals:
  void received(int signal_number);

 private:
  void onReadable();

  std::vector<int> signals_;
  QSocketNotifier* notifier_ = nullptr;
};

}  // namespace distill::ui
