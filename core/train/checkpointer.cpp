#include "core/train/checkpointer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "core/errors.h"
#include "core/runtime/file_io.h"

namespace distill {

namespace {

double unixNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Writes a file through `write(temporary)` and renames it into place. When it cannot be
// written (a full disk, a folder made read-only) the run fails naming the file; the
// temporary is removed and the previous checkpoint stays as it was.
template <typename Write>
void writeAtomically(const std::filesystem::path& path, Write&& write) {
  const std::string temporary = path.string() + ".tmp";
  try {
    write(temporary);
    std::filesystem::rename(temporary, path);
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(temporary, ec);
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
    const std::string reason = torch_error ? torch_error->what_without_backtrace() : e.what();
    throw std::runtime_error("cannot write the checkpoint " + path.string() + " (disk full or not writable?): " +
                             reason.substr(0, 300));
  }
}

}  // namespace

void Checkpointer::write(const std::string& role, ModelImpl& model, int64_t step, int64_t epoch,
                         torch::optim::Optimizer& optimizer, const TrainSplit& split, const DistillationLoss* loss) {
  if (folder_.empty()) return;
  std::filesystem::create_directories(folder_);
  const auto folder = std::filesystem::path(folder_);
  const auto model_path = folder / (role + ".pt");
  writeAtomically(model_path, [&](const std::string& temporary) { model.saveCheckpoint(temporary); });

  torch::serialize::OutputArchive state;
  state.write("phase_is_student", torch::tensor(role == "student" ? 1 : 0, torch::kInt64));
  state.write("epoch", torch::tensor(epoch, torch::kInt64));
  state.write("step", torch::tensor(step, torch::kInt64));
  state.write("wall_time", torch::tensor(unixNow(), torch::kFloat64));
  {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    state.write("cpu_rng", generator.get_state());
  }
  split.save(state);
  torch::serialize::OutputArchive optimizer_state, model_state;
  optimizer.save(optimizer_state);
  state.write("optimizer", optimizer_state);
  model.save(model_state);
  state.write("model", model_state);
  if (loss) loss->save(state);
  const auto state_path = folder / "state.pt";
  writeAtomically(state_path, [&](const std::string& temporary) {
    std::ostringstream bytes;
    state.save_to(bytes);  // in memory: see core/runtime/file_io.h for why not to the file
    writeWholeFile(temporary, bytes.str());
  });
  observer_.onCheckpoint({role, model_path.string(), step, static_cast<double>(epoch)});
  observer_.onCheckpoint({"state", state_path.string(), step, static_cast<double>(epoch)});
}

ResumeState::ResumeState(const std::string& path) : path_(path), point_(readResumePoint(path)) {
  archive_.load_from(path);
}

void ResumeState::loadModel(ModelImpl& model) {
  torch::serialize::InputArchive model_state;
  archive_.read("model", model_state);
  model.load(model_state);
}

void ResumeState::restorePhase(torch::optim::Optimizer& optimizer, TrainSplit& split) {
  split.load(archive_);
  torch::serialize::InputArchive optimizer_state;
  archive_.read("optimizer", optimizer_state);
  optimizer.load(optimizer_state);
  torch::Tensor rng;
  archive_.read("cpu_rng", rng);
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle: shares the default
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(rng);
}

void ResumeState::loadLoss(DistillationLoss& loss) { loss.load(archive_); }

ResumePoint readResumePoint(const std::string& state_path) {
  ResumePoint point;
  try {
    torch::serialize::InputArchive state;
    state.load_from(state_path);
    torch::Tensor phase, epoch, step, wall;
    state.read("phase_is_student", phase);
    state.read("epoch", epoch);
    state.read("step", step);
    state.read("wall_time", wall);
    point.phase = phase.item<int64_t>() == 1 ? "student" : "teacher";
    point.epoch = epoch.item<int64_t>();
    point.step = step.item<int64_t>();
    point.wall_time = wall.item<double>();
  } catch (const c10::Error& e) {
    throw ModelError(state_path + ": not a training-state checkpoint (" +
                     std::string(e.what_without_backtrace()).substr(0, 200) + ")");
  }
  return point;
}

}  // namespace distill
