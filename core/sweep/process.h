// Child processes for the sweep backends: a program run to its end with its output captured
// (sbatch, squeue, sacct, scontrol, scancel), and workers started in process groups of their
// own with their output in a log file (so a terminal's Ctrl-C reaches the sweep, which stops
// them cleanly, not each worker at once). No shell: arguments go to the program as they are.
//
// Thread contract: plain functions; the caller's thread. A started child is reaped by
// waitChild() on the same thread.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace distill {

struct ProgramResult {
  int exit_code = -1;   // 127: the program could not be started
  std::string output;   // standard output
  std::string errors;   // standard error
};

// Runs argv[0] (looked up in PATH) with the rest as its arguments and waits for it.
ProgramResult runProgram(const std::vector<std::string>& argv);

// Starts argv[0] (a path) in a new process group, standard input from /dev/null, standard
// output and error appended to `log_path`. Throws std::runtime_error when it cannot fork.
pid_t startChild(const std::vector<std::string>& argv, const std::string& log_path);

// The exit code of a child that has ended (128 + signal for a killed one), or -1 while it
// runs (`block`: wait for it).
int waitChild(pid_t child, bool block);

}  // namespace distill
