// libFuzzer target: the experiment config parser. The input is a YAML/JSON document, then
// optionally a NUL byte and `--set` overrides one a line (KEY=VALUE). ConfigError is the only
// accepted refusal; an accepted config must validate cleanly and survive a YAML round trip.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string text = input.substr(0, split);
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    std::string rest = input.substr(split + 1);
    size_t start = 0;
    while (start <= rest.size() && overrides.size() < 8) {
      const size_t end = rest.find('\n', start);
      overrides.push_back(rest.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  try {
    const distill::ExperimentConfig config = distill::parseConfigWithOverrides(text, overrides, "fuzz.yaml");
    if (!distill::validate(config).empty()) __builtin_trap();  // parse() promises a valid config
    const distill::ExperimentConfig again = distill::parseConfig(distill::toYaml(config), "round-trip");
    if (distill::toYaml(again) != distill::toYaml(config)) __builtin_trap();
  } catch (const distill::ConfigError&) {
  }
  return 0;
}
