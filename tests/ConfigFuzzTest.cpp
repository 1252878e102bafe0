// A seeded mutation test of the configuration parser and the setups (issue 18): configurations made
// from the bundled examples by random edits — values of every JSON type, out-of-range and huge
// numbers, deleted and unknown keys, truncated text — must either resolve or be refused with a
// ConfigError (the CLI's exit 2 and one `error:` line). Any other exception, which the CLI would
// report with exit code 1 as if kmdflow had failed, fails the test with the input that caused it.
#include <kmdflow/Config.hpp>
#include <kmdflow/app/Setup.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// The examples' configurations (and the compiled-in default), as parsed JSON.
std::vector<json> seed_configs() {
  std::vector<json> configs{kmdflow::default_config()};
  for (const auto& entry : fs::directory_iterator(fs::path(KMDFLOW_SOURCE_DIR) / "examples"))
    if (entry.path().extension() == ".json") configs.push_back(kmdflow::read_config_file(entry.path().string()));
  return configs;
}

/// Every (pointer, value) leaf and inner node of a JSON tree.
void collect(const json& node, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (node.is_object())
    for (const auto& [key, value] : node.items()) collect(value, at / key, out);
  else if (node.is_array())
    for (std::size_t i = 0; i < node.size(); ++i) collect(node[i], at / i, out);
}

/// A value a tester would try in place of another.
json odd_value(std::mt19937_64& rng) {
  static const std::vector<json> values = {
      nullptr, true, false, 0, -1, 1, 2, 3, 4, 16, -0.0, 0.5, 1e-300, -1e-300, 1e300, -1e300, 1.7976931348623157e308,
      9007199254740993ull, 18446744073709551615ull, -9223372036854775807ll - 1, 4294967297ll, 1e9, 1e12, 0.999999999,
      "", "nan", "inf", "-inf", "1e400", "auto", "file", "uniform", "sobolev", "gaussian", "bessel", "fourier",
      "spectral", "direct", "sorted", "rk45", "euler", "pde", "relu", "quantile", "iid", "/dev/null",
      std::string(300, 'x'), json::array(), json::object(), json::array({1, 2, 3}), json::array({json::array({0.5})}),
      json::object({{"k", 1}, {"amplitude", 0.5}}), json::array({json::object({{"k", 99999}, {"amplitude", 0.1}})}),
      json::array({json::object({{"k", json::array({1, 1, 1})}, {"amplitude", 2}})})};
  return values[rng() % values.size()];
}

/// One to three random edits of `config`.
json mutate(json config, std::mt19937_64& rng) {
  static const std::vector<std::string> keys = {
      "dim", "s", "model", "solver", "precision", "seed", "count", "type", "path", "method", "tolerance", "t_end",
      "dt", "integrator", "grid", "k", "amplitude", "modes", "sigma", "lambda", "weights", "centres", "centers",
      "series_every", "snapshot_every", "plots", "r", "teacher", "form", "signed", "sampling", "fft_planning",
      "rtol", "atol", "series_per_decade", "snapshot_per_decade", "kernel", "forces", "time", "output", "initial",
      "target", "particles", "pde", "relu"};
  const int edits = 1 + int(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    std::vector<json::json_pointer> nodes;
    collect(config, json::json_pointer(), nodes);
    const auto& at = nodes[rng() % nodes.size()];
    switch (rng() % 4) {
    case 0: // replace a value (or the whole document)
      config[at] = odd_value(rng);
      break;
    case 1: // delete a key
      if (!at.empty()) {
        json& parent = config[at.parent_pointer()];
        if (parent.is_object()) parent.erase(at.back());
        else if (parent.is_array() && !parent.empty()) parent.erase(parent.begin());
      }
      break;
    default: // add a key, known somewhere or not, to an object
      if (config[at].is_object()) config[at][keys[rng() % keys.size()]] = odd_value(rng);
      else config[at] = json::object({{keys[rng() % keys.size()], odd_value(rng)}});
      break;
    }
  }
  return config;
}

/// Whether building the setup is affordable in a unit test (resolution itself always runs).
bool small(const json& resolved) {
  const auto number = [&](const char* block, const char* key, double fallback) {
    return resolved.contains(block) && resolved[block].contains(key) && resolved[block][key].is_number()
               ? resolved[block][key].get<double>()
               : fallback;
  };
  const int dim = resolved.value("dim", 1);
  const double grid = number("pde", "grid", 0);
  return number("particles", "count", 0) <= 4096 && std::pow(grid, dim) <= 1 << 16 &&
         number("relu", "count", 0) <= 4096;
}

} // namespace

TEST(ConfigFuzz, MutatedConfigurationsResolveOrAreRefused) {
  const std::vector<json> seeds = seed_configs();
  ASSERT_GE(seeds.size(), 10u);
  std::mt19937_64 rng(2026);
  // KMDFLOW_FUZZ_INPUTS: another count (for a longer hunt, or a quick look).
  const char* requested = std::getenv("KMDFLOW_FUZZ_INPUTS");
  const int inputs = requested ? std::atoi(requested) : 100000, setups_wanted = std::min(600, inputs / 100);
  int resolved_count = 0, refused = 0, setups = 0, failures = 0;
  for (int i = 0; i < inputs; ++i) {
    const json input = mutate(seeds[rng() % seeds.size()], rng);
    const auto started = std::chrono::steady_clock::now();
    // One in ten as text cut short: the parser's side.
    if (i % 10 == 0) {
      const std::string text = input.dump();
      const std::string cut = text.substr(0, rng() % (text.size() + 1));
      try {
        const json parsed = json::parse(cut);
        EXPECT_FALSE(parsed.is_discarded());
      } catch (const json::parse_error&) {
        ++refused; // read_config_file turns this into a ConfigError naming the file
      }
      continue;
    }
    try {
      if (!input.is_object()) throw kmdflow::ConfigError("config", "not an object"); // load_config's check
      const json resolved = kmdflow::resolve_config(input, 1, KMDFLOW_SOURCE_DIR "/examples");
      ++resolved_count;
      // Building the setup samples particles and reads files: a few hundred of the affordable ones.
      if (setups < setups_wanted && small(resolved)) {
        ++setups;
        if (resolved.value("model", "sobolev") == "relu") (void)kmdflow::app::make_relu_setup(resolved);
        else if (resolved["solver"] == "pde") (void)kmdflow::app::make_pde_setup(resolved);
        else (void)kmdflow::app::make_particle_setup(resolved);
      }
    } catch (const kmdflow::ConfigError&) {
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "input " << i << " raised '" << e.what() << "' instead of a ConfigError:\n" << input.dump();
      if (++failures == 20) return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_LT(seconds, 1.0) << "input " << i << " took " << seconds << " s:\n" << input.dump();
  }
  // The mutations reach both sides, and setups were built.
  EXPECT_GT(resolved_count, inputs / 20);
  EXPECT_GT(refused, inputs / 4);
  EXPECT_GE(setups, setups_wanted / 2);
  std::printf("%d inputs: %d resolved, %d refused, %d setups built\n", inputs, resolved_count, refused, setups);
}
