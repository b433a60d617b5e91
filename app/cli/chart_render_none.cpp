// The Qt-free build: no chart rendering (see chart_render.h).
#include <stdexcept>

#include "app/cli/chart_render.h"
#include "core/metrics/metric_info.h"

namespace distill::cli {

bool chartsAvailable() { return false; }
std::string chartColorHex(size_t index) { return runColorHex(index); }  // the report's swatches

void writeChart(const ChartRequest& request, const std::string&) {
  throw std::runtime_error("chart format '" + request.format +
                           "' needs the GUI build (this distill was built with DISTILL_BUILD_GUI=OFF, without Qt); "
                           "csv and json export, compare and report work here");
}

std::string chartSvg(const ChartRequest& request) {
  writeChart(request, "");
  return {};
}

}  // namespace distill::cli
