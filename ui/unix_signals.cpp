#include "ui/unix_signals.h"

#include <QSocketNotifier>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace distill::ui {
namespace {

int g_pipe[2] = {-1, -1};  // [0] read by the notifier, [1] written by the handler

extern "C" void onUnixSignal(int signal_number) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &byte, 1);  // async-signal-safe
  errno = saved;
}

}  // namespace

UnixSignalWatcher::UnixSignalWatcher(const std::vector<int>& signal_numbers, QObject* parent)
    : QObject(parent), signals_(signal_numbers) {
  if (g_pipe[0] < 0) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_pipe) != 0)
      throw std::runtime_error("cannot create the signal socket pair");
    ::fcntl(g_pipe[1], F_SETFL, O_NONBLOCK);  // a flood of signals must never block a handler
  }
  notifier_ = new QSocketNotifier(g_pipe[0], QSocketNotifier::Read, this);
  connect(notifier_, &QSocketNotifier::activated, this, &UnixSignalWatcher::onReadable);
  for (int number : signals_) {
    struct sigaction action {};
    action.sa_handler = onUnixSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(number, &action, nullptr);
  }
}

UnixSignalWatcher::~UnixSignalWatcher() {
  for (int number : signals_) ::signal(number, SIG_DFL);
}

void UnixSignalWatcher::onReadable() {
  unsigned char byte = 0;
  if (::read(g_pipe[0], &byte, 1) == 1) emit received(static_cast<int>(byte));
}

}  // namespace distill::ui
