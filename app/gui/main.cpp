// `distill-workbench [CONFIG] [--db FILE] [--start]`: the workbench window.
// Exit codes: 0 closed normally, 2 bad arguments or no display to open a window on.
#include <QApplication>
#include <QSettings>
#include <QTimer>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/runtime/allocator.h"
#include "core/runtime/installation.h"
#include "core/runtime/runtime.h"
#include "core/store/run_store.h"
#include "ui/desktop_integration.h"
#include "ui/main_window.h"
#include "ui/unix_signals.h"

#include <signal.h>

namespace {

constexpr int kExitBadInput = 2;

struct Options {
  std::string config_path;
  std::string db_path;
  bool start = false;
  bool smoke_test = false;  // show the window, report, quit: the package's installation check
};

void printUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: distill-workbench [CONFIG] [--db FILE] [--start]\n"
               "  CONFIG      experiment YAML/JSON to load into the form (default: the built-in experiment)\n"
               "  --db FILE   run database (default: %s)\n"
               "  --start     start the loaded experiment at once\n"
               "  --version   print the version\n"
               "  --smoke-test  show the window, print what it found (presets, device) and quit\n",
               distill::defaultDatabasePath().c_str());
}

// Parsed by hand, before QApplication exists, so that a machine without a display still
// gets a plain answer instead of Qt's platform-plugin abort.
bool parseArguments(int argc, char** argv, Options& options, int& exit_code) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      printUsage(stdout);
      exit_code = 0;
      return false;
    }
    if (arg == "--version") {
      std::printf("distill-workbench %s\n", distill::versionSummary().c_str());  // with LibTorch's version
      exit_code = 0;
      return false;
    }
    if (arg == "--start") {
      options.start = true;
    } else if (arg == "--smoke-test") {
      options.smoke_test = true;
    } else if (arg == "--db" && i + 1 < argc) {
      options.db_path = argv[++i];
    } else if (arg.rfind("--db=", 0) == 0) {
      options.db_path = arg.substr(5);
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "distill-workbench: unknown option '%s'\n", arg.c_str());
      printUsage(stderr);
      exit_code = kExitBadInput;
      return false;
    } else if (options.config_path.empty()) {
      options.config_path = arg;
    } else {
      std::fprintf(stderr, "distill-workbench: only one CONFIG may be given\n");
      exit_code = kExitBadInput;
      return false;
    }
  }
  return true;
}

bool hasDisplay() {
  auto set = [](const char* name) {
    const char* value = std::getenv(name);
    return value && *value;
  };
  return set("DISPLAY") || set("WAYLAND_DISPLAY") || set("QT_QPA_PLATFORM");
}

std::string shellQuote(const std::string& text) {
  if (text.find_first_of(" '\"$`\\!*?;&|<>()") == std::string::npos) return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

int main(int argc, char** argv) {
  distill::configureAllocator();  // before any thread: see core/runtime/allocator.h
  Options options;
  int exit_code = 0;
  if (!parseArguments(argc, argv, options, exit_code)) return exit_code;
  const std::string db_path = options.db_path.empty() ? distill::defaultDatabasePath() : options.db_path;

  if (!hasDisplay()) {
    std::string command = "distill run";
    if (!options.config_path.empty()) command += " " + shellQuote(options.config_path);
    command += " --db " + shellQuote(db_path);
    std::fprintf(stderr,
                 "distill-workbench: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set).\n"
                 "To run this experiment headless, use the CLI:\n"
                 "  %s\n"
                 "(or set QT_QPA_PLATFORM=offscreen to start the window without showing it).\n",
                 command.c_str());
    return kExitBadInput;
  }

  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("Distill Workbench"));
  QApplication::setApplicationVersion(QString::fromStdString(distill::workbenchVersion()));
  QApplication::setDesktopFileName(QStringLiteral("io.github.distill_workbench.workbench"));  // packaging/<id>.desktop

  // Without --db or DISTILL_WORKBENCH_DB, the database open when the window last closed.
  QString database = QString::fromStdString(db_path);
  if (options.db_path.empty() && !std::getenv("DISTILL_WORKBENCH_DB")) {
    const QString last = distill::ui::lastDatabase(*distill::ui::openSettings());
    if (!last.isEmpty()) database = last;
  }
  distill::ui::MainWindow window(database);
  window.restoreSettings();
  bool loaded = true;
  if (!options.config_path.empty()) loaded = window.loadExperiment(QString::fromStdString(options.config_path));
  window.show();
  if (options.start && loaded) QTimer::singleShot(0, &window, &distill::ui::MainWindow::startRun);
  if (options.smoke_test) {
    // Once the event loop has run a while (the window laid out and painted), say what the
    // window found and quit; exit 1 when it is not visible or there are no presets.
    QTimer::singleShot(500, &window, [&window] {
      const auto presets = distill::listPresets();
      std::printf("distill-workbench: window shown %dx%d, database %s, %zu presets (%s), device %s\n",
                  window.width(), window.height(), window.databasePath().toUtf8().constData(), presets.size(),
                  presets.empty() ? "none" : presets.front().second.c_str(), distill::computeDeviceSummary().c_str());
      QApplication::exit(window.isVisible() && !presets.empty() ? 0 : 1);
    });
  }

  // `kill PID`, a logout or Ctrl-C: the live run is stopped and stored as `stopped`, then the
  // window closes (exit status 128 + signal). A second signal quits at once; the run then
  // shows as `interrupted` at the next start.
  int terminated_by = 0;
  distill::ui::UnixSignalWatcher signal_watcher({SIGTERM, SIGINT, SIGHUP});
  QObject::connect(&signal_watcher, &distill::ui::UnixSignalWatcher::received, &window, [&](int signal_number) {
    if (terminated_by != 0) {
      std::fprintf(stderr, "distill-workbench: second signal, quitting without waiting for the run\n");
      std::_Exit(128 + signal_number);
    }
    terminated_by = signal_number;
    std::fprintf(stderr, "distill-workbench: signal %d, stopping the run and quitting\n", signal_number);
    window.stopRunAndClose();
  });
  const int app_exit_code = app.exec();
  return terminated_by != 0 ? 128 + terminated_by : app_exit_code;
}
