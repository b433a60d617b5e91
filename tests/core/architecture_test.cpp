// The rooms of the tree, checked from the sources: the trainer, the store and the window's
// task-independent parts name no task (issue 20). A line that breaks this is a task detail
// leaking out of its room (core/tasks/<task>/), and the next task would have to edit it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every .h and .cpp directly in `folder` (relative to the source tree), or the one `file`.
std::vector<fs::path> sources(const std::string& folder_or_file) {
  const fs::path path = fs::path(DISTILL_SOURCE_DIR) / folder_or_file;
  std::vector<fs::path> found;
  if (fs::is_regular_file(path)) return {path};
  for (const auto& entry : fs::directory_iterator(path)) {
    const auto ext = entry.path().extension();
    if (ext == ".h" || ext == ".cpp") found.push_back(entry.path());
  }
  EXPECT_FALSE(found.empty()) << path;
  return found;
}

// The lines of `file` matching `pattern`, "file:line: text" each.
std::vector<std::string> matches(const fs::path& file, const std::regex& pattern) {
  std::vector<std::string> hits;
  std::istringstream lines(readFile(file));
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number)
    if (std::regex_search(line, pattern))
      hits.push_back(file.filename().string() + ":" + std::to_string(number) + ": " + line);
  return hits;
}

// A task's room, its data formats and models, and the image task's metric names.
const std::regex kTaskDetail(
    R"(#include "core/(tasks/image/|data/(idx|cifar|csv|augment)|models/classifier)|metric_key::k(Teacher|Student)(Acc|Ece|TestLoss)\b|metric_key::k(Agreement|Kl|Js|TopFiveOverlap)\b|"eval/(student|teacher)_acc"|ImageTask)");

TEST(Architecture, TheTrainerTheStoreAndTheLiveChartsNameNoTask) {
  std::vector<std::string> hits;
  for (const std::string room : {"core/train", "core/store", "core/losses", "ui/metric_charts.cpp", "ui/metric_charts.h",
                                 "ui/experiment_form.cpp", "ui/run_list_model.cpp", "ui/run_table_model.cpp",
                                 "ui/run_browser.cpp", "ui/main_window.cpp", "ui/status_panel.cpp"})
    for (const auto& file : sources(room))
      for (auto& hit : matches(file, kTaskDetail)) hits.push_back(std::move(hit));
  EXPECT_TRUE(hits.empty()) << "task details outside core/tasks:\n" << [&] {
    std::string all;
    for (const auto& h : hits) all += "  " + h + "\n";
    return all;
  }();
}

TEST(Architecture, TheStoreKnowsRunsNotTrainingNorTasks) {
  const std::regex upward(R"(#include "core/(train|tasks|losses|models|data)/)");
  for (const auto& file : sources("core/store")) EXPECT_TRUE(matches(file, upward).empty()) << file;
}

TEST(Architecture, TheDetectorFindsATaskDetail) {
  // The check above can fail: a line naming the image task's accuracy is caught.
  EXPECT_TRUE(std::regex_search(std::string("  return metric_key::kStudentAcc;"), kTaskDetail));
  EXPECT_TRUE(std::regex_search(std::string("#include \"core/tasks/image/image_task.h\""), kTaskDetail));
  EXPECT_FALSE(std::regex_search(std::string("#include \"core/tasks/task.h\""), kTaskDetail));
}

}  // namespace
