// Where an installed or a freshly built workbench finds its files, and the one-line
// descriptions of the build and the compute device that `--version` and Help > About show.
// No torch types here, so ui/ can include it.
// Thread contract: every function may be called from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace distill {

// The folders holding the experiment presets, best first; only folders that exist. An
// installed program (…/bin/distill) uses …/share/distill-workbench/presets beside it, so the
// package works wherever it is unpacked; a program run from a build folder uses the source
// tree's resources/presets; then the configured install location, then the Debian package's
// /usr/share/distill-workbench/presets.
std::vector<std::string> presetDirectories();

// The file of the preset called `name` ("quick-smoke" or "quick-smoke.yaml"); nullopt when no
// preset folder has it, or `name` looks like a path (contains a '/').
std::optional<std::string> findPreset(const std::string& name);

// Every preset as (name without extension, file), sorted by name; the first folder wins.
std::vector<std::pair<std::string, std::string>> listPresets();

// e.g. "cpu (2 cores, OpenBLAS 0.3.21)" or "cuda:0 (2 CUDA devices; CPU: 16 cores)": what
// device: auto resolves to on this machine, and with what.
std::string computeDeviceSummary();

// "0.1.0 (LibTorch 1.13.1, SQLite 3.40.1)": the text both programs print for --version.
std::string versionSummary();

}  // namespace distill
