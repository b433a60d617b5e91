#include "core/runtime/installation.h"

#include <dlfcn.h>
#include <sqlite3.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "core/runtime/runtime.h"

namespace distill {
namespace {

namespace fs = std::filesystem;

bool isDirectory(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

// The folder of the running executable, from /proc/self/exe (Linux); empty when unknown.
fs::path executableDirectory() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe.parent_path();
}

bool isPresetFile(const fs::path& path) {
  const auto ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

std::vector<std::string> presetDirectories() {
  std::vector<fs::path> candidates;
  const fs::path exe_dir = executableDirectory();
  if (!exe_dir.empty()) candidates.push_back(exe_dir.parent_path() / "share" / "distill-workbench" / "presets");
#ifdef DISTILL_SOURCE_PRESET_DIR
  candidates.emplace_back(DISTILL_SOURCE_PRESET_DIR);
#endif
#ifdef DISTILL_INSTALLED_PRESET_DIR
  candidates.emplace_back(DISTILL_INSTALLED_PRESET_DIR);
#endif
  // The Debian package's folder: the .deb is built from a tree configured for /usr/local, and
  // where /proc is missing (a chroot) the executable's own folder is unknown.
  candidates.emplace_back("/usr/share/distill-workbench/presets");
  // An installed copy shadows the source tree: a package built on a machine that keeps the
  // sources must not list presets from that tree.
  std::vector<std::string> found;
  for (const auto& dir : candidates) {
    if (!isDirectory(dir)) continue;
    found.push_back(fs::weakly_canonical(dir).string());
    if (dir == candidates.front() && !exe_dir.empty()) break;
  }
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

std::vector<std::pair<std::string, std::string>> listPresets() {
  std::map<std::string, std::string> presets;
  for (const auto& dir : presetDirectories()) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (!entry.is_regular_file(error) || !isPresetFile(entry.path())) continue;
      presets.emplace(entry.path().stem().string(), entry.path().string());  // the first folder wins
    }
  }
  return {presets.begin(), presets.end()};
}

std::optional<std::string> findPreset(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
  const fs::path wanted(name);
  const std::string stem = isPresetFile(wanted) ? wanted.stem().string() : name;
  for (const auto& [preset, file] : listPresets())
    if (preset == stem) return file;
  return std::nullopt;
}

std::string computeDeviceSummary() {
  using GetConfig = char* (*)();
  auto get_blas_config = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  const std::string cores = std::to_string(cpuCores()) + " cores";
  if (torch::cuda::is_available()) {
    const auto count = torch::cuda::device_count();
    return "cuda:0 (" + std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") + "; CPU: " + cores + ")";
  }
  std::string blas = "BLAS not OpenBLAS";
  if (get_blas_config) {
    // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …": the name and version are what matter here.
    blas = get_blas_config();
    const auto first = blas.find(' ');
    const auto second = first == std::string::npos ? first : blas.find(' ', first + 1);
    if (second != std::string::npos) blas.resize(second);
  }
  return "cpu (" + cores + ", " + blas + ")";
}

std::string versionSummary() {
  return workbenchVersion() + " (LibTorch " + torchVersion() + ", SQLite " + sqlite3_libversion() + ")";
}

}  // namespace distill
