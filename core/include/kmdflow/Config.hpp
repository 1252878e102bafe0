#pragma once
// The run configuration (DESIGN.md §7): parsing, `--set` overrides, validation with errors that
// name the key, and defaults. A resolved configuration is complete and can be run again as is.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace kmdflow {

/// Bad input: `key` is the dotted path of the offending key (or a file name).
class ConfigError : public std::runtime_error {
public:
  ConfigError(std::string key, const std::string& message)
      : std::runtime_error(key + ": " + message), m_key(std::move(key)) {}
  const std::string& key() const { return m_key; }

private:
  std::string m_key;
};

/// ConfigError naming `key` if `path` exists but is not a regular file (a FIFO would block the
/// reader; a directory or a device is not data). Symbolic links are followed.
void require_regular_file(const std::string& key, const std::string& path);

/// The machine's physical memory in bytes (0 where unknown).
double physical_memory();

/// Refuses up front, as the input's fault (ConfigError naming `key`), a request whose estimated
/// memory (`bytes`, for `what`) exceeds the machine's physical memory: the error gives both
/// figures, where the allocation would have ended in an out-of-memory kill.
void require_memory(const std::string& key, double bytes, const std::string& what);

/// Reads a JSON configuration file; ConfigError naming the file if unreadable or malformed (a
/// number beyond the range of a double included, with its line).
nlohmann::json read_config_file(const std::string& path);

/// Applies `--set KEY=VALUE` (dotted KEY); VALUE is JSON where it parses as JSON, else a string.
void apply_override(nlohmann::json& config, const std::string& assignment);

/// Validates a configuration and fills in every default. Unknown keys, wrong types and values
/// out of range raise ConfigError. `seed_if_missing` becomes particles.seed when none is given.
/// Relative file paths are resolved against `base_dir`.
nlohmann::json resolve_config(const nlohmann::json& input, std::uint64_t seed_if_missing,
                              const std::string& base_dir = ".");

/// The bundled default example (examples/default.json), compiled in.
nlohmann::json default_config();

} // namespace kmdflow
