#include <kmdflow/Config.hpp>
#include <kmdflow/Kernel.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unistd.h>
#include <cstring>
#include <optional>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "DefaultConfig.hpp" // generated from examples/default.json

namespace kmdflow {

using nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

std::string describe(const json& value) {
  std::string s = value.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

/// One JSON object being validated: every key read is marked, and finish() refuses the rest.
class Block {
public:
  Block(const json& input, std::string path) : m_path(std::move(path)) {
    if (input.is_null()) m_input = json::object();
    else if (!input.is_object())
      throw ConfigError(m_path, "must be an object {...} (got " + describe(input) + ")");
    else m_input = input;
  }

  const std::string& path() const { return m_path; }
  std::string key(const std::string& name) const { return child(m_path, name); }
  bool has(const std::string& name) const { return m_input.contains(name); }
  const json& raw(const std::string& name) {
    m_known.push_back(name);
    static const json null;
    return has(name) ? m_input.at(name) : null;
  }

  template <class Valid>
  double number(const std::string& name, std::optional<double> fallback, const char* rule, Valid&& valid) {
    const json& v = raw(name);
    if (v.is_null()) {
      if (!fallback) throw ConfigError(key(name), std::string("missing (") + rule + ")");
      return *fallback;
    }
    if (!v.is_number()) throw ConfigError(key(name), std::string(rule) + " (got " + describe(v) + ")");
    const double x = v.get<double>();
    if (!std::isfinite(x) || !valid(x))
      throw ConfigError(key(name), std::string(rule) + " (got " + describe(v) + ")");
    return x;
  }

  long long integer(const std::string& name, std::optional<long long> fallback, const char* rule,
                    bool (*valid)(long long)) {
    const json& v = raw(name);
    if (v.is_null()) {
      if (!fallback) throw ConfigError(key(name), std::string("missing (") + rule + ")");
      return *fallback;
    }
    const bool integral = v.is_number_integer() ||
                          (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                           std::abs(v.get<double>()) < 9e15);
    if (!integral) throw ConfigError(key(name), std::string(rule) + " (got " + describe(v) + ")");
    const long long x = v.is_number_integer() ? v.get<long long>() : (long long)v.get<double>();
    if (!valid(x)) throw ConfigError(key(name), std::string(rule) + " (got " + describe(v) + ")");
    return x;
  }

  std::string choice(const std::string& name, const std::vector<std::string>& options,
                     std::optional<std::string> fallback) {
    const json& v = raw(name);
    if (v.is_null()) {
      if (!fallback) throw ConfigError(key(name), "missing (one of " + join(options) + ")");
      return *fallback;
    }
    if (!v.is_string() || std::find(options.begin(), options.end(), v.get<std::string>()) == options.end())
      throw ConfigError(key(name), "must be one of " + join(options) + " (got " + describe(v) + ")");
    return v.get<std::string>();
  }

  bool boolean(const std::string& name, bool fallback) {
    const json& v = raw(name);
    if (v.is_null()) return fallback;
    if (!v.is_boolean()) throw ConfigError(key(name), "must be true or false (got " + describe(v) + ")");
    return v.get<bool>();
  }

  std::string string(const std::string& name) {
    const json& v = raw(name);
    if (v.is_null()) throw ConfigError(key(name), "missing (a file path)");
    if (!v.is_string() || v.get<std::string>().empty())
      throw ConfigError(key(name), "must be a file path (got " + describe(v) + ")");
    return v.get<std::string>();
  }

  /// Refuses keys that were never read, listing the valid ones.
  void finish() const {
    for (const auto& [name, value] : m_input.items())
      if (std::find(m_known.begin(), m_known.end(), name) == m_known.end())
        throw ConfigError(key(name), "unknown key (valid keys" +
                                         (m_path.empty() ? std::string() : " in " + m_path) +
                                         ": " + join(sorted_known()) + ")");
  }

private:
  std::vector<std::string> sorted_known() const {
    auto k = m_known;
    std::sort(k.begin(), k.end());
    k.erase(std::unique(k.begin(), k.end()), k.end());
    return k;
  }

  json m_input;
  std::string m_path;
  std::vector<std::string> m_known;
};

bool positive(double x) { return x > 0; }
bool any_number(double) { return true; }
bool non_negative(double x) { return x >= 0; }
bool non_negative_integer(long long x) { return x >= 0; }
bool unit_open_interval(double x) { return x > 0 && x < 1; }

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  return p.lexically_normal().string();
}

void require_readable(const std::string& key, const std::string& path) {
  require_regular_file(key, path);
  std::ifstream in(path);
  if (!in) throw ConfigError(key, "cannot read file '" + path + "' (" + std::strerror(errno) + ")");
}

// An integer vector of `dim` components (a bare number in d = 1).
json wavevector(const json& v, int dim, const std::string& key) {
  json k = v.is_array() ? v : json::array({v});
  if (int(k.size()) != dim)
    throw ConfigError(key, "must have " + std::to_string(dim) + " integer component(s) (got " +
                               describe(v) + ")");
  bool zero = true;
  for (const auto& c : k) {
    if (!c.is_number_integer()) throw ConfigError(key, "components must be integers (got " + describe(v) + ")");
    zero = zero && c.get<long long>() == 0;
  }
  if (zero) throw ConfigError(key, "must not be the zero wavevector");
  return k;
}

json point(const json& v, int dim, const std::string& key) {
  json c = v.is_array() ? v : json::array({v});
  if (int(c.size()) != dim)
    throw ConfigError(key, "must have " + std::to_string(dim) + " component(s) (got " + describe(v) + ")");
  for (const auto& x : c)
    if (!x.is_number() || !std::isfinite(x.get<double>()))
      throw ConfigError(key, "components must be numbers (got " + describe(v) + ")");
  return c;
}

json fourier_modes(Block& block, int dim) {
  const json& modes = block.raw("modes");
  const std::string key = block.key("modes");
  if (!modes.is_array() || modes.empty())
    throw ConfigError(key, "must be a non-empty list of {\"k\": ..., \"amplitude\": ..., \"phase\": ...}");
  json resolved = json::array();
  for (std::size_t m = 0; m < modes.size(); ++m) {
    Block mode(modes[m], key + "[" + std::to_string(m) + "]");
    json r;
    r["k"] = wavevector(mode.raw("k"), dim, mode.key("k"));
    r["amplitude"] = mode.number("amplitude", std::nullopt, "must be a number", any_number);
    r["phase"] = mode.number("phase", 0.0, "must be a number (radians)", any_number);
    mode.finish();
    resolved.push_back(r);
  }
  return resolved;
}

json gaussian_components(Block& block, int dim) {
  const json& components = block.raw("components");
  const std::string key = block.key("components");
  if (!components.is_array() || components.empty())
    throw ConfigError(key, "must be a non-empty list of {\"weight\": ..., \"center\": ..., \"sigma\": ...}");
  json resolved = json::array();
  for (std::size_t m = 0; m < components.size(); ++m) {
    Block c(components[m], key + "[" + std::to_string(m) + "]");
    json r;
    r["weight"] = c.number("weight", 1.0, "must be a number > 0", positive);
    r["center"] = point(c.raw("center"), dim, c.key("center"));
    r["sigma"] = c.number("sigma", std::nullopt, "must be a number >= 1e-3",
                          [](double x) { return x >= 1e-3; });
    c.finish();
    resolved.push_back(r);
  }
  return resolved;
}

/// The `kernel` block (DESIGN.md §7): the family (the Sobolev kernel by default, whose order is the
/// top-level `s`) and its parameters, then the kernel itself, which refuses what its family cannot
/// treat. Returns the resolved block.
json resolve_kernel(Block& top, json& c) {
  Block b(top.raw("kernel"), "kernel");
  json kernel;
  const std::string type = b.choice("type", kernel_family_names(), std::string(SobolevKernel::family));
  kernel["type"] = type;
  // A family with an order `s` takes the top-level `s` when its block has none, so that
  // `--set kernel={"type": "bessel", "lambda": 2}` works on a configuration written for the
  // Sobolev kernel; the resolved block then holds it.
  bool takes_order = false;
  for_each_kernel_family([&](auto family) {
    using K = typename decltype(family)::type;
    if (type != K::family) return;
    for (const KernelParameter& p : K::config_keys) {
      auto valid = [&](double x) { return (p.exclusive ? x > p.minimum : x >= p.minimum) && x <= p.maximum; };
      const bool order = std::string(p.name) == "s";
      takes_order = takes_order || order;
      if (order && !b.has("s") && top.has("s")) {
        kernel["s"] = top.number("s", std::nullopt, p.rule, valid);
        continue;
      }
      if (order && b.has("s") && top.has("s"))
        throw ConfigError("s", "is given twice, here and as kernel.s: keep one");
      kernel[p.name] = b.number(p.name, std::nullopt, p.rule, valid);
    }
  });
  b.finish();
  c["kernel"] = kernel;
  if (type == SobolevKernel::family) {
    c["s"] = top.number("s", 1.0, "must be a number > 0", positive);
  } else if (top.has("s") && !takes_order) {
    throw ConfigError("s", "the " + type + " kernel has no order s: remove it (--set s=null)");
  }
  try {
    (void)make_kernel(c);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(type == SobolevKernel::family ? "s" : "kernel", e.what());
  }
  return kernel;
}

json resolve_target(const json& input, const json& c, const std::string& base_dir) {
  const int dim = c["dim"];
  Block b(input, "target");
  json t;
  t["type"] = b.choice("type", {"uniform", "fourier", "wrapped_gaussians", "samples"}, "uniform");
  if (t["type"] == "fourier") t["modes"] = fourier_modes(b, dim);
  if (t["type"] == "wrapped_gaussians") t["components"] = gaussian_components(b, dim);
  if (t["type"] == "samples") {
    t["path"] = resolve_path(b.string("path"), base_dir);
    require_readable(b.key("path"), t["path"]);
    if (make_kernel(c).has_singular_gradient()) {
      // The order is the Sobolev kernel's top-level `s`, or the kernel block's (the Bessel
      // potential's kernel.s).
      const bool top_level = c.contains("s");
      const json& order = top_level ? c["s"] : c["kernel"].value("s", json());
      std::ostringstream os;
      os << "a samples target needs a kernel whose gradient stays bounded, s >= (d+1)/2 = " << 0.5 * (dim + 1)
         << " (got " << order.dump() << "): otherwise particles reach the target's atoms in finite time";
      throw ConfigError(top_level ? "s" : "kernel" + std::string(order.is_null() ? "" : ".s"), os.str());
    }
  }
  b.finish();
  return t;
}

json resolve_initial(const json& input, int dim, const std::string& base_dir) {
  Block b(input, "initial");
  json i;
  i["type"] = b.choice("type", {"uniform", "fourier", "wrapped_gaussians", "perturbed", "file"}, "uniform");
  const std::string type = i["type"];
  if (type == "fourier") i["modes"] = fourier_modes(b, dim);
  if (type == "wrapped_gaussians") i["components"] = gaussian_components(b, dim);
  if (type == "perturbed") {
    i["r"] = b.number("r", 1.0, "must be a number (the Sobolev regularity)", any_number);
    i["modes"] = b.integer("modes", 16, "must be an integer >= 1 (the largest |k|∞)",
                           [](long long k) { return k >= 1 && k <= 4096; });
    // (2K+1)^d/2 modes: bounded so that sampling and the minimum stay affordable.
    const int most = dim == 1 ? 4096 : dim == 2 ? 64 : 16;
    if (i["modes"].get<int>() > most)
      throw ConfigError(b.key("modes"), "at most " + std::to_string(most) + " in d = " + std::to_string(dim) +
                                            " (got " + i["modes"].dump() + ")");
    i["rho_min"] = b.number("rho_min", 0.5, "must lie in (0, 1)", unit_open_interval);
    if (b.has("seed"))
      i["seed"] = b.integer("seed", 0, "must be an integer >= 0", non_negative_integer);
  }
  if (type == "file") {
    i["path"] = resolve_path(b.string("path"), base_dir);
    require_readable(b.key("path"), i["path"]);
  } else {
    i["sampling"] = b.choice("sampling", {"iid", "lattice", "jittered", "quantile"}, "quantile");
  }
  b.finish();
  return i;
}

/// time.dt and the output intervals against t_end: counts that no run could reach.
void check_counts(const json& time, const json& output) {
  const double t_end = time["t_end"], dt = time["dt"];
  const auto figure = [](double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g", x);
    return std::string(text);
  };
  // Below ~2⁻⁵³ t_end, t + dt rounds back to t near the end: the run would never finish.
  if (t_end / dt > 1e15)
    throw ConfigError("time.dt", "t_end / dt = " + figure(t_end / dt) +
                                     " steps: t + dt would not advance in double precision (make dt larger)");
  // One row of series.csv is ~100 bytes: 10⁸ rows are ~10 GB.
  if (const double rows = t_end / output["series_every"].get<double>(); rows > 1e8)
    throw ConfigError("output.series_every", figure(rows) + " rows of series.csv over t_end: at most 10^8");
  if (const double frames = t_end / output["snapshot_every"].get<double>(); frames > 1e6)
    throw ConfigError("output.snapshot_every", figure(frames) + " frames over t_end: at most 10^6");
  if (const double count = t_end / output["checkpoint_every"].get<double>(); count > 1e6)
    throw ConfigError("output.checkpoint_every", figure(count) + " checkpoints over t_end: at most 10^6");
}

/// output: `log_log` where the energy decays like a power law and its plot has log-log axes
/// (s > 1, kernels other than the Sobolev one, ReLU networks): then rows and frames are also
/// log-spaced by default (10 rows and 2 frames per decade of t from dt), and the evenly spaced
/// frames are dropped, since the dynamics of such runs spread over decades.
json resolve_output(Block& top, double t_end, bool log_log) {
  Block b(top.raw("output"), "output");
  json o;
  if (b.has("dir")) o["dir"] = b.string("dir");
  o["series_per_decade"] = b.integer("series_per_decade", log_log ? 10 : 0,
                                     "must be an integer >= 0 (log-spaced rows per decade of t)", non_negative_integer);
  o["snapshot_per_decade"] = b.integer("snapshot_per_decade", log_log ? 2 : 0,
                                       "must be an integer >= 0 (log-spaced frames per decade of t)", non_negative_integer);
  const bool log_frames = o["snapshot_per_decade"].get<long long>() > 0;
  o["snapshot_every"] = b.number("snapshot_every", log_frames ? t_end : t_end / 10, "must be a number > 0", positive);
  o["series_every"] = b.number("series_every", t_end / 200, "must be a number > 0", positive);
  o["checkpoint_every"] = b.number("checkpoint_every", t_end / 20,
                                   "must be a number > 0 (simulated time between checkpoints)", positive);
  o["checkpoint_wall"] = b.number("checkpoint_wall", 600.0,
                                  "must be a number >= 0 (seconds of wall time between checkpoints; 0: none)",
                                  non_negative);
  o["plots"] = b.boolean("plots", true);
  b.finish();
  return o;
}

json resolve_time(Block& top, const std::vector<std::string>& integrators, const std::string& integrator,
                  double t_end, double dt) {
  Block b(top.raw("time"), "time");
  json t;
  t["t_end"] = b.number("t_end", t_end, "must be a number > 0", positive);
  t["dt"] = b.number("dt", dt, "must be a number > 0", positive);
  t["integrator"] = b.choice("integrator", integrators, integrator);
  t["rtol"] = b.number("rtol", 1e-6, "must be a number in (0, 1)", unit_open_interval);
  t["atol"] = b.number("atol", 1e-12, "must be a number > 0", positive);
  b.finish();
  if (t["dt"].get<double>() > t["t_end"].get<double>()) t["dt"] = t["t_end"];
  return t;
}

/// model "relu": a two-layer ReLU network on the sphere S^d (DESIGN.md §2, §4).
json resolve_relu(Block& top, json c, std::uint64_t seed_if_missing, const std::string& base_dir) {
  c["solver"] = top.choice("solver", {"particles"}, "particles");
  const int dim = int(top.integer("dim", 2, "must be an integer in 1 ... 15 (the sphere S^d) for model relu",
                                  [](long long d) { return d >= 1 && d <= 15; }));
  c["dim"] = dim;
  for (const char* unused : {"s", "kernel", "target", "forces", "pde"})
    if (top.has(unused))
      throw ConfigError(unused, std::string("is not used by model \"relu\"") +
                                    (std::string(unused) == "target" ? " (the teacher is relu.teacher)" : "") +
                                    (std::string(unused) == "s" ? " (its Sobolev order is (d+3)/2)" : "") +
                                    (std::string(unused) == "kernel" ? " (its kernel is fixed by the ReLU activation)" : ""));
  {
    Block b(top.raw("initial"), "initial");
    json i;
    i["type"] = b.choice("type", {"uniform", "file"}, "uniform");
    if (i["type"] == "file") {
      i["path"] = resolve_path(b.string("path"), base_dir);
      require_readable(b.key("path"), i["path"]);
    } else {
      i["sampling"] = b.choice("sampling", {"iid", "lattice", "jittered", "quantile"}, "lattice");
    }
    b.finish();
    c["initial"] = i;
  }
  {
    Block b(top.raw("particles"), "particles");
    json p;
    if (c["initial"]["type"] != "file" || b.has("count"))
      p["count"] = b.integer("count", 256, "must be a positive integer",
                             [](long long n) { return n > 0 && n <= (1LL << 31) - 1; });
    p["seed"] = b.integer("seed", (long long)(seed_if_missing & 0x7fffffffffffffffULL), "must be an integer >= 0",
                          non_negative_integer);
    b.finish();
    c["particles"] = p;
  }
  c["precision"] = top.choice("precision", {"double"}, "double"); // the ReLU kernels compute in double
  {
    Block b(top.raw("relu"), "relu");
    json r;
    r["form"] = b.choice("form", {"parameters", "wfr"}, "wfr");
    r["init_mass"] = b.number("init_mass", 0.1, "must be a number > 0 (each neuron's initial mass)", positive);
    r["signed"] = b.boolean("signed", false);
    if (r["signed"].get<bool>() && r["form"] != "parameters")
      throw ConfigError("relu.signed", "signed output weights need relu.form = \"parameters\" (WFR masses are >= 0)");
    Block t(b.raw("teacher"), "relu.teacher");
    json teacher;
    if (t.has("path")) {
      teacher["path"] = resolve_path(t.string("path"), base_dir);
      require_readable(t.key("path"), teacher["path"]);
    } else if (t.has("density")) {
      Block d(t.raw("density"), "relu.teacher.density");
      json density;
      density["type"] = d.choice("type", {"uniform", "cosine"}, "uniform");
      if (density["type"] == "cosine") {
        density["amplitude"] = d.number("amplitude", 0.5, "must lie in (-1, 1) (the density 1 + a θ·e stays positive)",
                                        [](double a) { return a > -1 && a < 1; });
        density["axis"] = json::array();
        const json& axis = d.raw("axis");
        if (!axis.is_null()) {
          if (!axis.is_array() || int(axis.size()) != dim + 1)
            throw ConfigError(d.key("axis"), "must be a list of d+1 = " + std::to_string(dim + 1) + " numbers");
          double n2 = 0;
          for (const auto& v : axis) {
            if (!v.is_number()) throw ConfigError(d.key("axis"), "must hold numbers");
            n2 += v.get<double>() * v.get<double>();
          }
          if (!(n2 > 0)) throw ConfigError(d.key("axis"), "must not be zero");
          density["axis"] = axis;
        } else {
          for (int a = 0; a <= dim; ++a) density["axis"].push_back(a == dim ? 1.0 : 0.0);
        }
      }
      d.finish();
      teacher["density"] = density;
      teacher["count"] = t.integer("count", 1000, "must be a positive integer (quadrature atoms)",
                                   [](long long n) { return n > 0 && n <= 10000000; });
    } else {
      teacher["count"] = t.integer("count", 3, "must be a positive integer", [](long long n) { return n > 0 && n <= 10000000; });
      teacher["seed"] = t.integer("seed", c["particles"]["seed"].get<long long>(), "must be an integer >= 0",
                                  non_negative_integer);
    }
    t.finish();
    r["teacher"] = teacher;
    b.finish();
    c["relu"] = r;
  }
  c["time"] = resolve_time(top, {"euler", "rk4", "rk45", "ssprk3"}, "rk45", 100.0, 0.1);
  c["output"] = resolve_output(top, c["time"]["t_end"], true);
  check_counts(c["time"], c["output"]);
  top.raw("kmdflow");
  top.finish();
  return c;
}

} // namespace

double physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

void require_memory(const std::string& key, double bytes, const std::string& what) {
  const double have = physical_memory();
  if (have <= 0 || bytes <= have) return;
  char figures[160];
  std::snprintf(figures, sizeof figures, "%s would need about %.3g GB of memory, more than the %.3g GB this machine has",
                what.c_str(), bytes / 1e9, have / 1e9);
  throw ConfigError(key, figures);
}

void require_regular_file(const std::string& key, const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  // A missing file is left to the reader's own message; a FIFO would block it, a directory or a
  // device is not data.
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw ConfigError(key, "'" + path + "' is not a regular file (" +
                               (std::filesystem::is_directory(status) ? "a directory" :
                                std::filesystem::is_fifo(status)      ? "a FIFO" :
                                                                        "a device or socket") +
                               ")");
}

json read_config_file(const std::string& path) {
  require_regular_file(path, path);
  std::ifstream in(path);
  if (!in) throw ConfigError(path, std::string("cannot read the configuration (") + std::strerror(errno) + ")");
  std::stringstream stream;
  stream << in.rdbuf();
  const std::string text = stream.str();
  try {
    return json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string what = e.what();
    const auto at = what.find("parse error");
    throw ConfigError(path, "malformed JSON: " + (at == std::string::npos ? what : what.substr(at)));
  } catch (const json::out_of_range& e) {
    // "[json.exception.out_of_range.406] number overflow parsing '1e400'": the line of the number.
    const std::string what = e.what(), marker = "parsing '";
    const auto at = what.find(marker);
    std::string where;
    if (at != std::string::npos) {
      const std::string number = what.substr(at + marker.size(), what.rfind('\'') - at - marker.size());
      if (const auto found = text.find(number); !number.empty() && found != std::string::npos)
        where = " at line " + std::to_string(1 + std::count(text.begin(), text.begin() + std::ptrdiff_t(found), '\n'));
      throw ConfigError(path, "the number " + number + where + " is out of the range of a double");
    }
    throw ConfigError(path, std::string("malformed JSON: ") + what);
  }
}

void apply_override(json& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set", "expected KEY=VALUE (got '" + assignment + "')");
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text; // a bare word is a string: --set target.type=fourier
  } catch (const json::out_of_range&) {
    throw ConfigError(key, "the number " + text + " is out of the range of a double");
  }
  json* node = &config;
  std::string path;
  std::size_t start = 0;
  for (;;) {
    const auto dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw ConfigError("--set", "malformed key '" + key + "'");
    path = child(path, part);
    if (!node->is_object()) throw ConfigError(path, "is not an object, cannot set '" + key + "'");
    if (dot == std::string::npos && value.is_null()) {
      node->erase(part); // --set KEY=null removes KEY (its default applies again)
      return;
    }
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
  *node = value;
}

json resolve_config(const json& input, std::uint64_t seed_if_missing, const std::string& base_dir) {
  Block top(input, "");
  json c;
  if (top.has("description")) {
    const json& d = top.raw("description");
    if (!d.is_string()) throw ConfigError("description", "must be a string");
    c["description"] = d;
  }
  // Who ran it, for the trajectory's /h5md/author (KMDFLOW_AUTHOR takes precedence).
  if (top.has("author")) {
    const json& a = top.raw("author");
    if (!a.is_string() || a.get<std::string>().empty()) throw ConfigError("author", "must be a non-empty string");
    c["author"] = a;
  }
  c["model"] = top.choice("model", {"sobolev", "relu"}, "sobolev");
  if (c["model"] == "relu") return resolve_relu(top, c, seed_if_missing, base_dir);
  c["solver"] = top.choice("solver", {"particles", "pde"}, "particles");
  const bool pde = c["solver"] == "pde";
  const int dim = int(top.integer("dim", 1, "must be 1, 2 or 3 (the torus T^d)",
                                  [](long long d) { return d >= 1 && d <= 3; }));
  c["dim"] = dim;
  resolve_kernel(top, c);

  c["target"] = resolve_target(top.raw("target"), c, base_dir);
  c["initial"] = resolve_initial(top.raw("initial"), dim, base_dir);

  {
    Block b(top.raw("particles"), "particles");
    json p;
    const bool from_file = c["initial"]["type"] == "file";
    if (!from_file || b.has("count"))
      p["count"] = b.integer("count", 1000, "must be a positive integer",
                             [](long long n) { return n > 0 && n <= (1LL << 31) - 1; });
    p["seed"] = b.integer("seed", (long long)(seed_if_missing & 0x7fffffffffffffffULL),
                          "must be an integer >= 0", non_negative_integer);
    b.finish();
    c["particles"] = p;
  }
  if (c["initial"]["type"] == "perturbed" && !c["initial"].contains("seed"))
    c["initial"]["seed"] = c["particles"]["seed"];

  {
    Block b(top.raw("forces"), "forces");
    json f;
    f["method"] = b.choice("method", {"auto", "direct", "sorted", "spectral"}, "auto");
    f["tolerance"] = b.number("tolerance", 1e-8, "must be a number in (0, 1)", unit_open_interval);
    f["fft_planning"] = b.choice("fft_planning", {"auto", "estimate", "measure"}, "auto");
    b.finish();
    c["forces"] = f;
  }
  {
    Block b(top.raw("time"), "time");
    json t;
    t["t_end"] = b.number("t_end", 5.0, "must be a number > 0", positive);
    t["dt"] = b.number("dt", 0.01, "must be a number > 0", positive);
    t["integrator"] = b.choice("integrator", {"euler", "rk4", "rk45", "ssprk3"}, pde ? "ssprk3" : "rk4");
    if (pde && t["integrator"] != "ssprk3")
      throw ConfigError("time.integrator", "the PDE solver integrates with \"ssprk3\" only (got " +
                                               t["integrator"].dump() + ")");
    t["rtol"] = b.number("rtol", 1e-6, "must be a number in (0, 1)", unit_open_interval);
    t["atol"] = b.number("atol", 1e-12, "must be a number > 0", positive);
    b.finish();
    if (t["dt"].get<double>() > t["t_end"].get<double>()) t["dt"] = t["t_end"];
    c["time"] = t;
  }
  if (top.has("pde") || pde) {
    Block b(top.raw("pde"), "pde");
    json p;
    // Default grids: 1024, 128², 48³ (seconds per unit time on 2 cores for s = 1).
    const long long default_grid = dim == 1 ? 1024 : (dim == 2 ? 128 : 48);
    p["grid"] = b.integer("grid", default_grid, "must be an even integer >= 8 (cells per axis)",
                          [](long long n) { return n >= 8 && n % 2 == 0 && n <= (1LL << 26); });
    p["cfl"] = b.number("cfl", 0.5, "must be a number in (0, 1] (<= 0.5 keeps the density positive)",
                        [](double x) { return x > 0 && x <= 1; });
    b.finish();
    c["pde"] = p;
  }
  // The precision of the pair interactions (Types.hpp): float needs the direct engine.
  c["precision"] = top.choice("precision", {"double", "float"}, "double");
  if (c["precision"] == "float" && (pde || c["forces"]["method"] != "direct"))
    throw ConfigError("precision", "\"float\" is available with the particle solver and forces.method \"direct\" "
                                   "only (the other engines and the PDE solver compute in double)");
  if (top.has("relu")) throw ConfigError("relu", "only used with model \"relu\"");
  // Power-law decay: s > 1 for the Sobolev and Bessel kernels (for s ≤ 1 every mode's rate is
  // bounded below), always for the Gaussian kernel.
  const json& kernel = c["kernel"];
  const double order = kernel["type"] == "sobolev" ? c["s"].get<double>() : kernel.value("s", INFINITY);
  const bool power_law = order > 1;
  c["output"] = resolve_output(top, c["time"]["t_end"], power_law);
  check_counts(c["time"], c["output"]);
  top.raw("kmdflow"); // metadata written by a run; ignored on input
  top.finish();
  return c;
}

json default_config() { return json::parse(detail::default_config_json, nullptr, true, true); }

} // namespace kmdflow
