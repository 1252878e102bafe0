// kmdflow._core: the engines of the command line, from Python (nanobind). The pure-Python package
// kmdflow (python/kmdflow/__init__.py) wraps it; names here are private to that package.
//
//   Model(config_json, base_dir)   the kernel, target and engine a configuration describes
//     .velocities(x, weights)      v = dx/dt, an (N, d) float64 array (x read in place, no copy)
//     .energy(x, weights)          {"energy", "interaction_energy", "dissipation", "max_speed"}
//   run(config_path, config_json, overrides, out, force)    `kmdflow run`, in this process
//   set_threads(n), threads(), finalize()
//
// Kokkos starts on first use (threads from set_threads, else OMP_NUM_THREADS, else all cores) and
// stops at interpreter exit, after every model has released its views. The GIL is released while
// the engines run.

#include <kmdflow/Config.hpp>
#include <kmdflow/ReluModel.hpp>
#include <kmdflow/app/Commands.hpp>
#include <kmdflow/app/Setup.hpp>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>

#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime.h>
#endif

namespace nb = nanobind;
using nlohmann::json;

namespace {

int requested_threads = 0;

/// What holds Kokkos views on Python's behalf: released before Kokkos stops at interpreter exit
/// (a view that outlives Kokkos aborts the process), whatever Python collects later.
class Holder {
public:
  Holder() { live().insert(this); }
  virtual ~Holder() { live().erase(this); }
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;
  /// Drops every view.
  virtual void release() = 0;
  static std::set<Holder*>& live() {
    static std::set<Holder*> holders;
    return holders;
  }
};

/// A configuration given as JSON text, resolved as the command line resolves a file's.
json resolve_text(const std::string& config_text, const std::string& base_dir) {
  json raw;
  try {
    raw = json::parse(config_text);
  } catch (const json::exception& e) {
    throw kmdflow::ConfigError("config", std::string("not JSON: ") + e.what());
  }
  return kmdflow::resolve_config(raw, 0, base_dir);
}

void ensure_kokkos() {
  if (Kokkos::is_initialized()) return;
  if (Kokkos::is_finalized()) throw std::runtime_error("kmdflow has shut down (interpreter exit): no more computations");
  Kokkos::InitializationSettings settings;
  if (requested_threads > 0) settings.set_num_threads(requested_threads);
  settings.set_disable_warnings(true);
  Kokkos::initialize(settings);
}

std::string dtype_name(const nb::dlpack::dtype& t) {
  const char* kind = t.code == uint8_t(nb::dlpack::dtype_code::Float)  ? "float"
                     : t.code == uint8_t(nb::dlpack::dtype_code::Int)  ? "int"
                     : t.code == uint8_t(nb::dlpack::dtype_code::UInt) ? "uint"
                     : t.code == uint8_t(nb::dlpack::dtype_code::Bool) ? "bool"
                                                                        : "complex";
  return kind + std::to_string(int(t.bits));
}

using AnyArray = nb::ndarray<nb::ro>;

/// Where an array lives for the engines: the host, or (in a CUDA build) the GPU they run on.
enum class Place { host, device };

/// For the tests of a CPU build: host arrays take the path of GPU arrays (read in place as the
/// engines' memory, strided ones copied by a Kokkos kernel, results allocated and answered there),
/// which in a CPU build is host memory too (kmdflow._core._host_arrays_take_the_device_path).
bool host_arrays_take_the_device_path = false;

/// The place of an array given for `key`: host memory (pinned CUDA host memory included) or, in a
/// CUDA build, memory of the GPU that Kokkos uses (device or managed memory).
Place place_of(const AnyArray& a, const std::string& key) {
  if (a.device_type() == nb::device::cpu::value || a.device_type() == nb::device::cuda_host::value)
    return host_arrays_take_the_device_path &&
                   Kokkos::SpaceAccessibility<Kokkos::HostSpace, kmdflow::MemorySpace>::accessible
               ? Place::device
               : Place::host;
#if defined(KOKKOS_ENABLE_CUDA)
  if (a.device_type() == nb::device::cuda::value || a.device_type() == nb::device::cuda_managed::value) {
    const int ours = Kokkos::DefaultExecutionSpace().cuda_device();
    if (a.device_id() != ours)
      throw kmdflow::ConfigError(key, "lies on GPU " + std::to_string(a.device_id()) + " but kmdflow computes on GPU " +
                                          std::to_string(ours) + " (move it there, or choose the GPU with CUDA_VISIBLE_DEVICES)");
    return Place::device;
  }
  throw kmdflow::ConfigError(key, "must be a host (CPU) array or a CUDA array");
#else
  throw kmdflow::ConfigError(key, "must be a host (CPU) array in this build of kmdflow (GPU arrays need its CUDA build)");
#endif
}

/// Not in [0, 1) (NaN included); not finite.
struct OutsideTorus {
  KOKKOS_INLINE_FUNCTION bool operator()(double v) const { return !(v >= 0.0 && v < 1.0); }
};
struct NotFinite {
  KOKKOS_INLINE_FUNCTION bool operator()(double v) const { return !Kokkos::isfinite(v); }
};

template <class Space, class Predicate>
std::size_t first_where_in(const double* data, std::size_t count, Predicate bad) {
  std::size_t first = count;
  Kokkos::parallel_reduce(
      "kmdflow::python::first_where", Kokkos::RangePolicy<Space>(0, count),
      KOKKOS_LAMBDA(std::size_t k, std::size_t& lowest) {
        if (bad(data[k]) && k < lowest) lowest = k;
      },
      Kokkos::Min<std::size_t>(first));
  return first;
}

/// The first of `count` values at `data` (on the host or the device) for which `bad` holds, or
/// `count`: found by the threads (or the GPU) where the values live, without the GIL.
template <class Predicate>
std::size_t first_where(const double* data, std::size_t count, Place place, Predicate bad) {
  nb::gil_scoped_release released;
  if (place == Place::device) return first_where_in<kmdflow::ExecutionSpace>(data, count, bad);
  return first_where_in<Kokkos::DefaultHostExecutionSpace>(data, count, bad);
}

/// Waits for the work queued on the GPU by any stream (the producer's, e.g. PyTorch's current
/// stream), so that the engines read device input complete; nothing in a CPU build.
void synchronize_producers() {
#if defined(KOKKOS_ENABLE_CUDA)
  nb::gil_scoped_release released;
  if (cudaDeviceSynchronize() != cudaSuccess) throw std::runtime_error("CUDA: " + std::string(cudaGetErrorString(cudaGetLastError())));
#endif
}

/// Positions as the engines read them: float64, (N, d) or (N,) for d = 1, every coordinate in
/// [0, 1), on the host or (CUDA build) on the GPU. C-contiguous input is read in place where it
/// lives; other strides are copied there.
struct Points {
  const double* data = nullptr;
  std::size_t n = 0;
  bool flat = false;                 ///< given as (N,)
  Place place = Place::host;
  std::unique_ptr<double[]> copy;    ///< host input that was not C-contiguous
  kmdflow::PointView<> device_copy;  ///< device input that was not C-contiguous
};

Points points(const AnyArray& x, int dim) {
  Points p;
  p.place = place_of(x, "x");
  if (x.dtype() != nb::dtype<double>())
    throw kmdflow::ConfigError("x", "must be a float64 array (got " + dtype_name(x.dtype()) + "): convert it first, "
                                    "e.g. x.astype(numpy.float64)");
  p.flat = x.ndim() == 1;
  if (!(x.ndim() == 2 && int(x.shape(1)) == dim) && !(p.flat && dim == 1)) {
    std::string shape = "(";
    for (std::size_t a = 0; a < x.ndim(); ++a) shape += (a ? ", " : "") + std::to_string(x.shape(a));
    throw kmdflow::ConfigError("x", "must have shape (N, " + std::to_string(dim) + ")" +
                                        (dim == 1 ? " or (N,)" : "") + " (got " + shape + (x.ndim() == 1 ? ",)" : ")"));
  }
  p.n = x.shape(0);
  if (p.n == 0) throw kmdflow::ConfigError("x", "holds no particles");
  const auto* base = static_cast<const double*>(x.data());
  const int64_t s0 = x.stride(0), s1 = p.flat ? 1 : x.stride(1);
  if (p.place == Place::device) synchronize_producers();
  if (s0 == (p.flat ? 1 : dim) && s1 == 1) {
    p.data = base;
  } else if (p.place == Place::host) {
    p.copy.reset(new double[p.n * dim]);
    for (std::size_t i = 0; i < p.n; ++i)
      for (int d = 0; d < dim; ++d) p.copy[i * dim + d] = base[int64_t(i) * s0 + d * s1];
    p.data = p.copy.get();
  } else {
    if (s0 < 0 || s1 < 0) throw kmdflow::ConfigError("x", "a GPU array with negative strides (copy it first)");
    nb::gil_scoped_release released;
    const Kokkos::View<const double**, Kokkos::LayoutStride, kmdflow::MemorySpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>
        strided(base, Kokkos::LayoutStride(p.n, std::size_t(s0), std::size_t(dim), std::size_t(s1)));
    p.device_copy = kmdflow::PointView<>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kmdflow::python::x"), p.n, dim);
    Kokkos::deep_copy(p.device_copy, strided);
    p.data = p.device_copy.data();
  }
  const std::size_t first = first_where(p.data, p.n * std::size_t(dim), p.place, OutsideTorus{});
  if (first < p.n * std::size_t(dim))
    throw kmdflow::ConfigError("x", "particle " + std::to_string(first / dim) + " (counting from 0) lies outside the "
                                    "torus [0, 1)^" + std::to_string(dim) + " (x % 1.0 wraps it)");
  return p;
}

/// An array argument: any object nanobind reads as one (the buffer protocol, DLPack).
AnyArray array_of(const nb::handle& object, const std::string& key) {
  AnyArray a;
  if (!nb::try_cast(object, a, false))
    throw kmdflow::ConfigError(key, "must be an array (NumPy, or any DLPack producer: PyTorch, CuPy, JAX)");
  return a;
}

/// The array framework of an input object, so that the result comes back as the same kind of
/// array: NumPy for NumPy arrays and unknown host producers, PyTorch, CuPy, JAX for theirs, and
/// for an unknown GPU producer nanobind's own array type (buffer protocol and __dlpack__; with a
/// nanobind older than 2.12, CuPy).
enum class Framework { numpy, pytorch, cupy, jax, other };

Framework framework_of(nb::handle x, Place place) {
  std::string module;
  try {
    module = nb::cast<std::string>(nb::getattr(x.type(), "__module__", nb::str("")));
  } catch (const std::exception&) {
  }
  auto from = [&](const char* root) {
    return module.rfind(root, 0) == 0 && (module.size() == std::strlen(root) || module[std::strlen(root)] == '.');
  };
  if (from("torch")) return Framework::pytorch;
  if (from("cupy")) return Framework::cupy;
  if (from("jax") || from("jaxlib")) return Framework::jax;
  return place == Place::host ? Framework::numpy : Framework::other;
}

/// Memory for a result of `count` values where the input lived, owned by the returned capsule
/// (host: new[]; GPU: cudaMalloc, so that it outlives Kokkos if Python keeps it longer).
std::pair<double*, nb::capsule> result_memory(std::size_t count, Place place) {
#if defined(KOKKOS_ENABLE_CUDA)
  if (place == Place::device) {
    void* d = nullptr;
    if (cudaMalloc(&d, std::max<std::size_t>(count, 1) * sizeof(double)) != cudaSuccess)
      throw std::runtime_error("CUDA: could not allocate " + std::to_string(count * sizeof(double)) + " bytes on the GPU: " +
                               cudaGetErrorString(cudaGetLastError()));
    return {static_cast<double*>(d), nb::capsule(d, [](void* p) noexcept { cudaFree(p); })};
  }
#endif
  (void)place;
  auto* values = new double[std::max<std::size_t>(count, 1)];
  return {values, nb::capsule(values, [](void* p) noexcept { delete[] static_cast<double*>(p); })};
}

/// The values as an array of `framework` with x's shape, on the place they were computed.
nb::object as_array(double* values, const nb::capsule& owner, const Points& p, int dim, Framework framework) {
  const std::size_t shape[2] = {p.n, std::size_t(dim)};
  const std::size_t ndim = p.flat ? 1 : 2;
#if defined(KOKKOS_ENABLE_CUDA)
  const int device_type = p.place == Place::host ? nb::device::cpu::value : nb::device::cuda::value;
  const int device_id = p.place == Place::host ? 0 : Kokkos::DefaultExecutionSpace().cuda_device();
#else
  const int device_type = nb::device::cpu::value, device_id = 0;
#endif
  switch (framework) {
  case Framework::pytorch:
    return nb::cast(nb::ndarray<nb::pytorch, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
  case Framework::cupy:
    return nb::cast(nb::ndarray<nb::cupy, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
  case Framework::jax:
    return nb::cast(nb::ndarray<nb::jax, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
  case Framework::other:
#if NB_VERSION_MAJOR > 2 || NB_VERSION_MINOR >= 12 // nb::array_api (known in 2.12; absent in 2.5)
    return nb::cast(nb::ndarray<nb::array_api, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
#else
    if (device_type != nb::device::cpu::value) // CuPy, the GPU's NumPy
      return nb::cast(nb::ndarray<nb::cupy, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
    return nb::cast(nb::ndarray<nb::numpy, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
#endif
  case Framework::numpy:
  default:
    return nb::cast(nb::ndarray<nb::numpy, double>(values, ndim, shape, owner, nullptr, nb::dtype<double>(), device_type, device_id));
  }
}

class Model final : public Holder {
public:
  Model(const std::string& config_text, const std::string& base_dir) {
    const json resolved = resolve_text(config_text, base_dir);
    if (resolved["model"] != "sobolev" || resolved["solver"] != "particles")
      throw kmdflow::ConfigError("model", "kmdflow.Model evaluates particles under model \"sobolev\" with solver "
                                          "\"particles\" (ReLU networks and the PDE: kmdflow.run)");
    ensure_kokkos();
    m_setup = std::make_unique<kmdflow::app::ParticleSetup>();
    m_setup->config = m_setup->resolved = resolved;
    kmdflow::app::make_model(*m_setup);
    m_dim = resolved["dim"];
  }
  ~Model() override { release(); }

  void release() override {
    m_flow.reset();
    m_setup.reset();
  }

  int dim() const { return m_dim; }
  std::string config() const { return alive().config.dump(); }
  std::string engine() const { return m_engine; }
  std::string engine_parameters() const { return m_engine_parameters; }
  std::uintptr_t input_address() const { return m_input_address; }

  nb::object velocities(const nb::object& x_object, const nb::object& weights, const nb::object& out) {
    const AnyArray x = array_of(x_object, "x");
    const Points p = points(x, m_dim);
    const std::size_t n = p.n;
    if (!out.is_none()) {
      // Into the caller's array (x's shape, float64, C-contiguous, writable, where x lives): no
      // allocation.
      nb::ndarray<double, nb::c_contig> target;
      if (!nb::try_cast(out, target, false) || target.ndim() != x.ndim() || target.shape(0) != n ||
          (target.ndim() == 2 && int(target.shape(1)) != m_dim) ||
          place_of(AnyArray(target), "out") != p.place)
        throw kmdflow::ConfigError("out", std::string("must be a writable C-contiguous float64 array of x's shape, on ") +
                                              (p.place == Place::host ? "the host" : "x's GPU"));
      if (target.data() == static_cast<const void*>(p.data))
        throw kmdflow::ConfigError("out", "must not be x itself (the engines read x while they write out)");
      compute(p, weights, target.data(), nullptr, p.place);
      return out;
    }
    auto [values, owner] = result_memory(n * std::size_t(m_dim), p.place);
    compute(p, weights, values, nullptr, p.place);
    return as_array(values, owner, p, m_dim, framework_of(x_object, p.place));
  }

  nb::dict energy(const nb::object& x_object, const nb::object& weights) {
    const Points p = points(array_of(x_object, "x"), m_dim);
    kmdflow::PointView<> v(Kokkos::view_alloc(Kokkos::WithoutInitializing, "kmdflow::python::v"), p.n, m_dim);
    kmdflow::Energies e;
    compute(p, weights, v.data(), &e, Place::device);
    nb::dict result;
    result["energy"] = std::isfinite(e.energy) ? nb::cast(e.energy) : nb::none();
    result["interaction_energy"] = e.interaction_energy;
    result["dissipation"] = e.dissipation;
    result["max_speed"] = e.max_speed;
    return result;
  }

private:
  const kmdflow::app::ParticleSetup& alive() const {
    if (!m_setup) throw std::runtime_error("kmdflow has shut down (interpreter exit): no more computations");
    return *m_setup;
  }

  /// Weights as the command line reads them: finite, > 0, normalised to sum 1; None: 1/N. A GPU
  /// array is copied to the host first (N values, once per call).
  kmdflow::ScalarView<Kokkos::HostSpace> read_weights(const nb::object& weights, std::size_t n) {
    kmdflow::ScalarView<Kokkos::HostSpace> w("kmdflow::python::weights", n);
    if (weights.is_none()) {
      Kokkos::deep_copy(w, 1.0 / double(n));
      return w;
    }
    AnyArray a;
    const std::string expected = "must be a float64 array of shape (N,) = (" + std::to_string(n) + ",)";
    if (!nb::try_cast(weights, a, false) || a.ndim() != 1 || a.shape(0) != n || a.dtype() != nb::dtype<double>())
      throw kmdflow::ConfigError("weights", expected);
    if (place_of(a, "weights") == Place::host) {
      const auto* base = static_cast<const double*>(a.data());
      for (std::size_t i = 0; i < n; ++i) w(i) = base[int64_t(i) * a.stride(0)];
    } else {
      if (a.stride(0) != 1) throw kmdflow::ConfigError("weights", "a GPU array of weights must be contiguous");
      synchronize_producers();
      Kokkos::deep_copy(w, Kokkos::View<const double*, kmdflow::MemorySpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
                               static_cast<const double*>(a.data()), n));
    }
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!(w(i) > 0) || !std::isfinite(w(i)))
        throw kmdflow::ConfigError("weights", "particle " + std::to_string(i) +
                                                  " (counting from 0) has a weight that is not a finite number > 0");
      total += w(i);
    }
    if (!std::isfinite(total)) throw kmdflow::ConfigError("weights", "their sum overflows a double (scale them down)");
    for (std::size_t i = 0; i < n; ++i) w(i) /= total;
    return w;
  }

  /// The velocities of the positions p into `out` (n × d values: on the host, or with
  /// out_place == Place::device in the engines' memory space, which is the host's in a CPU build),
  /// and the energies where asked.
  void compute(const Points& p, const nb::object& weights, double* out, kmdflow::Energies* energies, Place out_place) {
    const auto& setup = alive();
    const std::size_t n = p.n, count = n * std::size_t(m_dim);
    // The input checks of `kmdflow eval`: an engine that can treat this kernel for this many
    // particles; coincident particles where the gradient is unbounded. The engines find those
    // themselves, but for the 1D direct engine, which skips them: sorting 10⁶ points would add 15%
    // to a 2D spectral call, so the command line's check runs first only there, and otherwise
    // where the engine fails or the velocities come out non-finite, to name the particles.
    const bool uniform = weights.is_none();
    if (!uniform || !m_flow || m_flow->count() != n) {
      kmdflow::app::check_engine(setup.resolved, *setup.kernel, *setup.target, n);
      m_flow = kmdflow::app::make_flow(setup, read_weights(weights, n));
    }
    // Where the engine fails or the velocities come out non-finite, the command line's check
    // says why if it can (coincident particles, naming them).
    auto explain = [&] {
      if (p.place == Place::host) {
        kmdflow::PointView<Kokkos::HostSpace> host(const_cast<double*>(p.data), n, m_dim);
        kmdflow::app::check_distinct(host, *setup.kernel, "x");
      } else {
        const kmdflow::PointView<> device(const_cast<double*>(p.data), n, m_dim);
        auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device);
        kmdflow::app::check_distinct(host, *setup.kernel, "x");
      }
    };
    if (m_dim == 1 && m_flow->engine().name() == "direct") explain();
    try {
      nb::gil_scoped_release released;
      // The engines' memory space: x and v where they live when it is theirs (a CPU build, or GPU
      // input in a CUDA build), else copies there.
      kmdflow::ConstPointView<> x;
      if (p.place == Place::device) {
        x = kmdflow::ConstPointView<>(p.data, n, m_dim);
      } else {
        x = Kokkos::create_mirror_view_and_copy(kmdflow::MemorySpace(), kmdflow::ConstPointView<Kokkos::HostSpace>(p.data, n, m_dim));
      }
      m_input_address = reinterpret_cast<std::uintptr_t>(x.data());
      if (out_place == Place::device) {
        kmdflow::PointView<> v(out, n, m_dim);
        m_flow->velocity(x, v);
        if (energies) *energies = m_flow->energies(x, v);
      } else {
        kmdflow::PointView<Kokkos::HostSpace> v_host(out, n, m_dim);
        auto v = Kokkos::create_mirror_view(kmdflow::MemorySpace(), v_host);
        m_flow->velocity(x, v);
        if (energies) *energies = m_flow->energies(x, v);
        Kokkos::deep_copy(v_host, v);
      }
      Kokkos::fence();
    } catch (const kmdflow::ConfigError&) {
      throw;
    } catch (const std::exception&) {
      explain();
      throw;
    }
    const std::size_t bad = first_where(out, count, out_place, NotFinite{});
    if (bad < count) {
      explain();
      throw std::runtime_error("the velocity of particle " + std::to_string(bad / m_dim) +
                               " (counting from 0) is not finite");
    }
    m_engine = m_flow->engine().name();
    m_engine_parameters = m_flow->engine().parameters().dump();
    if (!uniform) m_flow.reset(); // weighted flows are not kept: the next call may weigh otherwise
  }

  std::unique_ptr<kmdflow::app::ParticleSetup> m_setup;
  std::unique_ptr<kmdflow::ParticleFlow> m_flow; ///< for the last N with uniform weights
  int m_dim = 0;
  std::uintptr_t m_input_address = 0;
  std::string m_engine, m_engine_parameters = "{}"; ///< of the last evaluation
};

/// A two-layer ReLU network on S^d against a teacher (model "relu"): the loss and the velocities
/// of a state, N × (d+2) (directions θ_i and masses m_i in the WFR form; w_i and a_i in the
/// parameters form).
class ReluNet final : public Holder {
public:
  ReluNet(const std::string& config_text, const std::string& base_dir, const nb::object& teacher) {
    const json resolved = resolve_text(config_text, base_dir);
    if (resolved["model"] != "relu") throw kmdflow::ConfigError("model", "kmdflow.relu.Model is for model \"relu\"");
    ensure_kokkos();
    m_d = resolved["dim"];
    m_form = kmdflow::parse_relu_form(resolved["relu"]["form"]);
    kmdflow::PointView<Kokkos::HostSpace> atoms;
    kmdflow::ScalarView<Kokkos::HostSpace> weights;
    if (teacher.is_none()) {
      json one = resolved;
      one["particles"]["count"] = 1; // the teacher alone matters here
      auto setup = kmdflow::app::make_relu_setup(one);
      atoms = setup.teacher;
      weights = setup.teacher_weights;
    } else {
      // An array (M, d+2): directions (normalised here) and masses, as a neuron file's columns.
      const std::size_t columns = std::size_t(m_d) + 2;
      const Points t = rows(teacher, columns, "teacher");
      atoms = kmdflow::PointView<Kokkos::HostSpace>("kmdflow::python::teacher", t.n, m_d + 1);
      weights = kmdflow::ScalarView<Kokkos::HostSpace>("kmdflow::python::teacher_weights", t.n);
      for (std::size_t i = 0; i < t.n; ++i) {
        double n2 = 0;
        for (int a = 0; a <= m_d; ++a) n2 += t.data[i * columns + a] * t.data[i * columns + a];
        if (!(n2 > 0) || !std::isfinite(n2))
          throw kmdflow::ConfigError("teacher", "row " + std::to_string(i) + ": a zero or non-finite direction");
        for (int a = 0; a <= m_d; ++a) atoms(i, a) = t.data[i * columns + a] / std::sqrt(n2);
        weights(i) = t.data[i * columns + m_d + 1];
        if (!std::isfinite(weights(i))) throw kmdflow::ConfigError("teacher", "row " + std::to_string(i) + ": a non-finite mass");
      }
    }
    m_teacher = kmdflow::PointView<Kokkos::HostSpace>("kmdflow::python::teacher_rows", atoms.extent(0), m_d + 2);
    for (std::size_t i = 0; i < atoms.extent(0); ++i) {
      for (int a = 0; a <= m_d; ++a) m_teacher(i, a) = atoms(i, a);
      m_teacher(i, m_d + 1) = weights(i);
    }
    m_model = std::make_unique<kmdflow::ReluModel>(m_d, m_form, atoms, weights);
  }
  ~ReluNet() override { release(); }

  void release() override {
    m_model.reset();
    m_teacher = {};
  }

  int dim() const { return m_d; }
  double teacher_loss() const { return alive().teacher_loss(); }
  nb::object teacher() const {
    const std::size_t m = m_teacher.extent(0), columns = std::size_t(m_d) + 2;
    auto* values = new double[m * columns];
    std::copy(m_teacher.data(), m_teacher.data() + m * columns, values);
    nb::capsule owner(values, [](void* d) noexcept { delete[] static_cast<double*>(d); });
    return nb::cast(nb::ndarray<nb::numpy, double, nb::ndim<2>>(values, {m, columns}, owner));
  }

  nb::object velocities(const nb::object& state) {
    auto x = device_state(state);
    const std::size_t n = x.extent(0), columns = x.extent(1);
    auto* values = new double[n * columns];
    nb::capsule owner(values, [](void* d) noexcept { delete[] static_cast<double*>(d); });
    {
      nb::gil_scoped_release released;
      kmdflow::PointView<Kokkos::HostSpace> v_host(values, n, columns);
      auto v = Kokkos::create_mirror_view(kmdflow::MemorySpace(), v_host);
      alive().velocity(x, v);
      Kokkos::deep_copy(v_host, v);
    }
    return nb::cast(nb::ndarray<nb::numpy, double, nb::ndim<2>>(values, {n, columns}, owner));
  }

  nb::dict diagnostics(const nb::object& state) {
    auto x = device_state(state);
    kmdflow::ReluDiagnostics d;
    {
      nb::gil_scoped_release released;
      d = alive().diagnostics(x);
    }
    nb::dict result;
    result["loss"] = d.loss;
    result["dissipation"] = d.dissipation;
    result["max_speed"] = d.max_speed;
    return result;
  }

private:
  kmdflow::ReluModel& alive() const {
    if (!m_model) throw std::runtime_error("kmdflow has shut down (interpreter exit): no more computations");
    return *m_model;
  }

  /// A float64 host array (rows, columns) as C-ordered values (copied where strided).
  static Points rows(const nb::object& object, std::size_t columns, const std::string& key) {
    AnyArray a;
    if (!nb::try_cast(object, a) || a.ndim() != 2 || a.shape(1) != columns || a.dtype() != nb::dtype<double>() ||
        a.device_type() != nb::device::cpu::value)
      throw kmdflow::ConfigError(key, "must be a float64 host array of shape (N, d + 2 = " + std::to_string(columns) + ")");
    Points p;
    p.n = a.shape(0);
    if (p.n == 0) throw kmdflow::ConfigError(key, "holds no neurons");
    p.copy.reset(new double[p.n * columns]);
    const auto* base = static_cast<const double*>(a.data());
    for (std::size_t i = 0; i < p.n; ++i)
      for (std::size_t j = 0; j < columns; ++j) {
        p.copy[i * columns + j] = base[int64_t(i) * a.stride(0) + int64_t(j) * a.stride(1)];
        if (!std::isfinite(p.copy[i * columns + j]))
          throw kmdflow::ConfigError(key, "row " + std::to_string(i) + " (counting from 0) holds a non-finite number");
      }
    p.data = p.copy.get();
    return p;
  }

  /// The state on the engines' memory: WFR directions normalised onto the sphere, masses ≥ 0.
  kmdflow::PointView<> device_state(const nb::object& state) {
    const std::size_t columns = std::size_t(m_d) + 2;
    Points p = rows(state, columns, "state");
    kmdflow::PointView<Kokkos::HostSpace> host(p.copy.get(), p.n, columns);
    if (m_form == kmdflow::ReluForm::wfr)
      for (std::size_t i = 0; i < p.n; ++i) {
        double n2 = 0;
        for (int a = 0; a <= m_d; ++a) n2 += host(i, a) * host(i, a);
        if (!(n2 > 0)) throw kmdflow::ConfigError("state", "row " + std::to_string(i) + ": a zero direction");
        for (int a = 0; a <= m_d; ++a) host(i, a) /= std::sqrt(n2);
        if (host(i, m_d + 1) < 0)
          throw kmdflow::ConfigError("state", "row " + std::to_string(i) + ": the mass must be >= 0 in the WFR form");
      }
    kmdflow::PointView<> x("kmdflow::python::relu_state", p.n, columns);
    Kokkos::deep_copy(x, host);
    return x;
  }

  int m_d = 0;
  kmdflow::ReluForm m_form = kmdflow::ReluForm::wfr;
  std::unique_ptr<kmdflow::ReluModel> m_model;
  kmdflow::PointView<Kokkos::HostSpace> m_teacher; ///< M × (d+2): directions and masses
};

/// A command of the command line in this process (kmdflow.run, kmdflow.study.scaling): the
/// configuration from a file or JSON text, with the GIL released while it runs.
template <class Options>
int in_process(Options& options, const std::string& path, const std::string& text,
               const std::vector<std::string>& overrides, const std::string& out, bool force,
               int (*command)(const Options&)) {
  options.config = path;
  options.config_text = text;
  options.overrides = overrides;
  options.out = out;
  options.force = force;
  ensure_kokkos();
  nb::gil_scoped_release released;
  return command(options);
}

void finalize() {
  for (Holder* h : Holder::live()) h->release();
  if (Kokkos::is_initialized()) Kokkos::finalize();
}

} // namespace

NB_MODULE(_core, m) {
  m.doc() = "kmdflow's engines (private: use the package kmdflow)";
  m.attr("__version__") = KMDFLOW_VERSION_STRING;
  nb::exception<kmdflow::ConfigError>(m, "ConfigError", PyExc_ValueError);

  nb::class_<Model>(m, "Model")
      .def(nb::init<const std::string&, const std::string&>(), nb::arg("config_json"), nb::arg("base_dir"))
      .def_prop_ro("dim", &Model::dim)
      .def_prop_ro("config_json", &Model::config)
      .def_prop_ro("engine", &Model::engine)
      .def_prop_ro("engine_parameters_json", &Model::engine_parameters)
      .def_prop_ro("_input_address", &Model::input_address)
      .def("velocities", &Model::velocities, nb::arg("x").none(), nb::arg("weights").none() = nb::none(),
           nb::arg("out").none() = nb::none())
      .def("energy", &Model::energy, nb::arg("x").none(), nb::arg("weights").none() = nb::none());

  nb::class_<ReluNet>(m, "ReluNet")
      .def(nb::init<const std::string&, const std::string&, const nb::object&>(), nb::arg("config_json"),
           nb::arg("base_dir"), nb::arg("teacher").none())
      .def_prop_ro("dim", &ReluNet::dim)
      .def_prop_ro("teacher_loss", &ReluNet::teacher_loss)
      .def_prop_ro("teacher", &ReluNet::teacher)
      .def("velocities", &ReluNet::velocities, nb::arg("state"))
      .def("diagnostics", &ReluNet::diagnostics, nb::arg("state"));

  m.def("run", [](const std::string& path, const std::string& text, const std::vector<std::string>& overrides,
                  const std::string& out, bool force) {
    kmdflow::app::RunOptions options;
    return in_process(options, path, text, overrides, out, force, kmdflow::app::run_command);
  });
  m.def("study_scaling", [](const std::string& path, const std::string& text, const std::vector<std::string>& overrides,
                            const std::vector<long long>& counts, long long seeds, const std::string& out, bool force) {
    kmdflow::app::StudyScalingOptions options;
    options.counts = counts;
    options.seeds = seeds;
    return in_process(options, path, text, overrides, out, force, kmdflow::app::study_scaling_command);
  });
  m.def("set_threads", [](int n) {
    if (n < 1) throw kmdflow::ConfigError("threads", "must be a positive integer");
    if (Kokkos::is_initialized() && n != Kokkos::DefaultHostExecutionSpace().concurrency())
      throw std::runtime_error("set_threads: kmdflow already runs on " +
                               std::to_string(Kokkos::DefaultHostExecutionSpace().concurrency()) +
                               " threads (set them before the first computation)");
    requested_threads = n;
  });
  m.def("threads", []() {
    ensure_kokkos();
    return Kokkos::DefaultHostExecutionSpace().concurrency();
  });
  m.def("finalize", &finalize);
  m.def("_host_arrays_take_the_device_path", [](bool on) { host_arrays_take_the_device_path = on; },
        "For tests: host arrays take the GPU arrays' path (a CPU build's engines' memory is the host's)");
  // Kokkos' default execution space: "OpenMP" (or "Serial", "Threads") in a CPU build, "Cuda" in the
  // CUDA build, whose engines take GPU arrays in place.
  m.attr("execution_space") = Kokkos::DefaultExecutionSpace::name();
}
