// Helpers for end-to-end tests of the `distill` binary. Targets that include this header
// define DISTILL_CLI_PATH (the built binary, via $<TARGET_FILE:distill>).
#pragma once

#include <filesystem>
#include <string>

#include "support/test_support.h"

#ifndef DISTILL_CLI_PATH
#error "DISTILL_CLI_PATH must name the distill binary (target_compile_definitions)"
#endif

namespace distill::testing {

// A shell word in single quotes (the test paths hold no quotes).
inline std::string quote(const std::string& text) { return "'" + text + "'"; }

// Runs `distill ARGS` through the shell.
inline CommandResult distillCli(const std::string& args) { return runCommand(std::string(DISTILL_CLI_PATH) + " " + args); }

// Debian's dataset-fashion-mnist, which the tests that train on real images need.
inline bool haveFashionMnist() {
  return std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
}

}  // namespace distill::testing
