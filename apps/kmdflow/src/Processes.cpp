#include <kmdflow/app/Processes.hpp>

#include <kmdflow/Config.hpp>
#include <kmdflow/ParticleFlow.hpp>
#include <kmdflow/app/Setup.hpp>

#include <Kokkos_Core.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <unistd.h>
#include <cstring>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <vector>

#ifdef KMDFLOW_HAVE_MPI
#include <mpi.h>
#endif

namespace kmdflow::app {

namespace {
int g_rank = 0, g_size = 1;
bool g_serving = false;
[[maybe_unused]] bool g_started = false, g_stopped = false; // MPI started here, and finalised

/// Whether an MPI launcher (mpirun, srun) started this process.
bool launched() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK") ||
         std::getenv("PMI_SIZE");
}
} // namespace

int process_count() { return g_size; }
void serve_from_here() { g_serving = true; }
int process_rank() { return g_rank; }

std::pair<std::size_t, std::size_t> target_rows(std::size_t count, int rank, int ranks) {
  const std::size_t base = count / std::size_t(ranks), extra = count % std::size_t(ranks);
  const std::size_t r = std::size_t(rank);
  const std::size_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

void require_one_process(const std::string& key, const std::string& what) {
  if (g_size > 1)
    throw ConfigError(key, what + " runs on one process; run it without --ranks (on " + std::to_string(g_size) +
                               " ranks only particle runs share their work)");
}

#ifndef KMDFLOW_HAVE_MPI

// kmdflow itself never loads MPI (Open MPI's libraries take 0.5 s to load): under a launcher it
// becomes kmdflow-mpi, the same program built with MPI, installed beside it.
int start_processes(int&, char**& argv) {
  if (!launched()) return 0;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto mpi = self.parent_path() / "kmdflow-mpi";
  if (!ec && ::access(mpi.c_str(), X_OK) == 0) ::execv(mpi.c_str(), argv);
  std::fprintf(stderr, "error: an MPI launcher started kmdflow, but %s is missing: this build has no MPI "
                       "(cmake -DKMDFLOW_ENABLE_MPI=ON)\n", mpi.c_str());
  std::exit(2);
}
void stop_processes() {}
int serve_rank_zero() { return 0; }
std::unique_ptr<InteractionEngine> distribute(std::unique_ptr<InteractionEngine> engine, const nlohmann::json&,
                                              std::size_t) {
  return engine;
}

#else

namespace {

// What rank 0 asks of the others; each request is a broadcast of one of these, then its data.
enum Request : int { build_engine = 1, velocities = 2, pair_energy = 3, release_engine = 4, stop = 5 };

void broadcast_request(int request) { MPI_Bcast(&request, 1, MPI_INT, 0, MPI_COMM_WORLD); }

/// The most elements one MPI call moves: MPI counts are ints, so larger buffers (the positions of
/// more than 2^31 / (d + 1) particles) go in pieces. KMDFLOW_TEST_MPI_CHUNK makes the pieces small
/// (the tests).
std::size_t chunk_limit() {
  static const std::size_t limit = [] {
    const char* text = std::getenv("KMDFLOW_TEST_MPI_CHUNK");
    const long long n = text ? std::atoll(text) : 0;
    return n > 0 ? std::size_t(n) : std::size_t(1) << 30;
  }();
  return limit;
}

/// Calls f(offset, count) for consecutive pieces of [0, total), each at most chunk_limit().
template <class F> void in_pieces(std::size_t total, F&& f) {
  for (std::size_t offset = 0; offset < total; offset += chunk_limit())
    f(offset, int(std::min(chunk_limit(), total - offset)));
}

template <class T> MPI_Datatype type_of();
template <> MPI_Datatype type_of<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype type_of<char>() { return MPI_CHAR; }
template <> MPI_Datatype type_of<unsigned long long>() { return MPI_UNSIGNED_LONG_LONG; }

template <class T> void broadcast(T* values, std::size_t count) {
  in_pieces(count, [&](std::size_t at, int n) { MPI_Bcast(values + at, n, type_of<T>(), 0, MPI_COMM_WORLD); });
}
template <class T> void send(const T* values, std::size_t count, int to, int tag) {
  in_pieces(count, [&](std::size_t at, int n) { MPI_Send(values + at, n, type_of<T>(), to, tag, MPI_COMM_WORLD); });
}
template <class T> void receive(T* values, std::size_t count, int from, int tag) {
  in_pieces(count, [&](std::size_t at, int n) {
    MPI_Recv(values + at, n, type_of<T>(), from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  });
}

void broadcast_string(std::string& s) {
  unsigned long long length = s.size();
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  s.resize(length);
  broadcast(s.data(), length);
}

/// A failure on some rank, known to every rank after agree(): the lowest failing rank and its
/// message (which rank 0 receives; the others get it empty).
struct RankFailure : std::runtime_error {
  RankFailure(int rank, const std::string& message)
      : std::runtime_error("rank " + std::to_string(rank) + ": " + message) {}
};

/// Every rank calls it after a step that may fail locally (`failure`: empty where it did not), so
/// that all learn together whether to go on: no rank is left waiting in a collective that a
/// failed one never reaches.
void agree(const std::string& failure) {
  int mine = failure.empty() ? g_size : g_rank, first = g_size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == g_size) return;
  std::string message = failure;
  if (first != 0) {
    if (g_rank == first) {
      const int length = int(message.size());
      MPI_Send(&length, 1, MPI_INT, 0, 1, MPI_COMM_WORLD);
      MPI_Send(message.data(), length, MPI_CHAR, 0, 2, MPI_COMM_WORLD);
    } else if (g_rank == 0) {
      int length = 0;
      MPI_Recv(&length, 1, MPI_INT, first, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      message.resize(std::size_t(length));
      MPI_Recv(message.data(), length, MPI_CHAR, first, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
  }
  throw RankFailure(first, message);
}

template <class F> std::string attempt(F&& f) {
  try {
    f();
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

/// How the engines' shares sum what they all need (ρ̂(k), Fourier coefficients, slabs' power sums).
void sum_across_ranks(double* values, std::size_t count) {
  in_pieces(count, [&](std::size_t at, int n) {
    MPI_Allreduce(MPI_IN_PLACE, values + at, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  });
}

/// How an engine splits its work across the ranks (InteractionEngine): by blocks of rows, or by
/// slabs of the torus (the sorted engine), whose rows each rank lists.
enum class Split { rows, positions };

/// Gives `engine` its share on this rank, and a way to sum across the ranks; the split it takes.
/// Every rank's engine is of the same kind, so all take the same.
std::optional<Split> share_out(InteractionEngine& engine, std::size_t count) {
  const auto [begin, end] = target_rows(count, g_rank, g_size);
  engine.set_sum_across(sum_across_ranks);
  if (engine.set_target_rows(begin, end)) return Split::rows;
  if (engine.set_position_share(g_rank, g_size)) return Split::positions;
  return std::nullopt;
}

/// The particles on the host for MPI (a no-op copy where the engines run on the host), and how
/// rank 0 collects the ranks' rows of the velocities.
struct Exchange {
  std::size_t count = 0;
  int dim = 0;
  Split split = Split::rows;
  Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace> x, v;
  Kokkos::View<double*, Kokkos::HostSpace> w;

  Exchange(std::size_t n, int d, Split how) : count(n), dim(d), split(how) {
    x = decltype(x)("kmdflow::mpi::positions", n, d);
    v = decltype(v)("kmdflow::mpi::velocities", n, d);
    w = decltype(w)("kmdflow::mpi::weights", n);
  }
  void broadcast_particles() {
    broadcast(x.data(), count * std::size_t(dim));
    broadcast(w.data(), count);
  }
  /// Rank 0 receives every rank's rows of v in place: each rank's block of rows, or the rows it
  /// lists (`rows`, a share by position: their indices, then their values).
  void gather_velocities(const InteractionEngine& engine) {
    const std::size_t d = std::size_t(dim);
    if (split == Split::rows) {
      if (g_rank > 0) {
        const auto [b, e] = target_rows(count, g_rank, g_size);
        send(v.data() + b * d, (e - b) * d, 0, velocity_tag);
        return;
      }
      for (int r = 1; r < g_size; ++r) {
        const auto [b, e] = target_rows(count, r, g_size);
        receive(v.data() + b * d, (e - b) * d, r, velocity_tag);
      }
      return;
    }
    if (g_rank > 0) {
      const auto rows = engine.share_rows();
      std::vector<unsigned long long> index(rows.begin(), rows.end());
      std::vector<double> values(rows.size() * d);
      for (std::size_t k = 0; k < rows.size(); ++k)
        for (std::size_t j = 0; j < d; ++j) values[k * d + j] = v(rows[k], j);
      unsigned long long n = rows.size();
      send(&n, 1, 0, count_tag);
      send(index.data(), n, 0, index_tag);
      send(values.data(), values.size(), 0, velocity_tag);
      return;
    }
    std::vector<unsigned long long> index;
    std::vector<double> values;
    for (int r = 1; r < g_size; ++r) {
      unsigned long long n = 0;
      receive(&n, 1, r, count_tag);
      index.resize(n);
      values.resize(n * d);
      receive(index.data(), n, r, index_tag);
      receive(values.data(), values.size(), r, velocity_tag);
      for (std::size_t k = 0; k < n; ++k)
        for (std::size_t j = 0; j < d; ++j) v(index[k], j) = values[k * d + j];
    }
  }

private:
  static constexpr int count_tag = 10, index_tag = 11, velocity_tag = 12;
};

/// Rank 0's engine on P ranks: its own rows through the wrapped engine, the others' from the
/// ranks that serve it.
class DistributedEngine final : public InteractionEngine {
public:
  DistributedEngine(std::unique_ptr<InteractionEngine> engine, const nlohmann::json& config, std::size_t count)
      : m_engine(std::move(engine)), m_exchange(count, config["dim"].get<int>(), split_of(*m_engine, count)) {
    broadcast_request(build_engine);
    std::string text = config.dump();
    broadcast_string(text);
    unsigned long long n = count;
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    checked("");
  }
  ~DistributedEngine() override { broadcast_request(release_engine); }

  std::string name() const override { return m_engine->name(); }
  nlohmann::json parameters() const override {
    nlohmann::json p = m_engine->parameters();
    p["ranks"] = g_size;
    return p;
  }

  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w, const PointView<>& v) override {
    send(velocities_request, x, w);
    checked(attempt([&] { m_engine->velocities(x, w, v); }));
    Kokkos::deep_copy(m_exchange.v, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v));
    m_exchange.gather_velocities(*m_engine);
    Kokkos::deep_copy(v, m_exchange.v);
  }

  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override {
    send(energy_request, x, w);
    double part = 0, total = 0;
    checked(attempt([&] { part = m_engine->pair_energy(x, w); }));
    MPI_Reduce(&part, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    return total;
  }

private:
  static constexpr int velocities_request = Request::velocities, energy_request = Request::pair_energy;

  static Split split_of(InteractionEngine& engine, std::size_t count) {
    if (const auto split = share_out(engine, count)) return *split;
    throw ConfigError("forces.method", "the " + engine.name() + " engine runs on one process; on " +
                                           std::to_string(g_size) +
                                           " ranks choose an engine that shares its work across ranks (or run "
                                           "without --ranks)");
  }

  void send(int request, const ConstPointView<>& x, const ConstScalarView<>& w) {
    broadcast_request(request);
    Kokkos::deep_copy(m_exchange.x, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x));
    Kokkos::deep_copy(m_exchange.w, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w));
    m_exchange.broadcast_particles();
  }
  /// Every rank's outcome; a failure anywhere is rank 0's runtime error, naming the rank.
  static void checked(const std::string& failure) {
    try {
      agree(failure);
    } catch (const RankFailure& e) {
      throw std::runtime_error(e.what());
    }
  }

  std::unique_ptr<InteractionEngine> m_engine;
  Exchange m_exchange;
};

/// KMDFLOW_TEST_FAIL_RANK=R makes rank R fail to build its engine, R:K fail its K-th evaluation
/// (a stand-in, for the tests, for a file only that rank cannot read or a velocity that is NaN
/// there). Returns the evaluation to fail at: 0 for the build, -1 for none.
long test_failure() {
  const char* text = std::getenv("KMDFLOW_TEST_FAIL_RANK");
  if (!text || std::atoi(text) != g_rank) return -1;
  const char* colon = std::strchr(text, ':');
  return colon ? std::atol(colon + 1) : 0;
}

/// A rank's copy of rank 0's engine, built from the resolved configuration as make_flow builds it,
/// and the way it splits its work.
std::pair<std::unique_ptr<InteractionEngine>, Split> build_from(const nlohmann::json& config, std::size_t count) {
  if (test_failure() == 0)
    throw std::runtime_error("KMDFLOW_TEST_FAIL_RANK: this rank fails to build its engine (a test)");
  ParticleSetup setup;
  setup.config = setup.resolved = config;
  make_model(setup);
  auto engine = make_configured_engine(setup, count);
  const auto split = share_out(*engine, count);
  if (!split) throw std::logic_error("the engine cannot split its work");
  return {std::move(engine), *split};
}

} // namespace

int start_processes(int& argc, char**& argv) {
  if (!launched()) return 0;
  int provided = 0;
  // Only the main thread calls MPI (the OpenMP threads never do).
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "error: MPI could not start\n");
    std::exit(1);
  }
  g_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  return g_rank;
}

void stop_processes() {
  if (!g_started || g_stopped) return;
  g_stopped = true;
  if (g_rank == 0 && g_size > 1 && g_serving) broadcast_request(stop);
  MPI_Finalize();
}

int serve_rank_zero() {
  // Rank 0 decides how a run stops; a signal here would kill the rank mid-collective.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGUSR1, SIG_IGN);
  std::unique_ptr<InteractionEngine> engine;
  std::unique_ptr<Exchange> exchange;
  PointView<> x, v;
  ScalarView<> w;
  long evaluations = 0;
  for (;;) {
    int request = 0;
    MPI_Bcast(&request, 1, MPI_INT, 0, MPI_COMM_WORLD);
    try {
      switch (request) {
      case build_engine: {
        std::string text;
        broadcast_string(text);
        unsigned long long n = 0;
        MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
        const nlohmann::json config = nlohmann::json::parse(text);
        const int dim = config["dim"];
        std::string failure = attempt([&] {
          Split split;
          std::tie(engine, split) = build_from(config, n);
          exchange = std::make_unique<Exchange>(n, dim, split);
          x = PointView<>("kmdflow::mpi::positions", n, dim);
          v = PointView<>("kmdflow::mpi::velocities", n, dim);
          w = ScalarView<>("kmdflow::mpi::weights", n);
        });
        if (!failure.empty()) engine.reset();
        agree(failure);
        break;
      }
      case velocities:
      case pair_energy: {
        // A rank whose engine failed to build never gets here: rank 0 stopped at the failure.
        exchange->broadcast_particles();
        Kokkos::deep_copy(x, exchange->x);
        Kokkos::deep_copy(w, exchange->w);
        double part = 0;
        const std::string failure = attempt([&] {
          // The engine's collectives (the spectral engine's sum of shares) are reached by every
          // rank; the test's failure comes after, like a NaN found in this rank's rows.
          if (request == velocities) engine->velocities(x, w, v);
          else part = engine->pair_energy(x, w);
          if (++evaluations == test_failure())
            throw std::runtime_error("KMDFLOW_TEST_FAIL_RANK: evaluation " + std::to_string(evaluations) +
                                     " fails on this rank (a test)");
        });
        agree(failure);
        if (request == velocities) {
          Kokkos::deep_copy(exchange->v, v);
          exchange->gather_velocities(*engine);
        } else {
          MPI_Reduce(&part, nullptr, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        }
        break;
      }
      case release_engine:
      case stop:
        engine.reset(); // its views are freed before Kokkos is finalised
        exchange.reset();
        x = v = PointView<>();
        w = ScalarView<>();
        if (request == stop) return 0;
        break;
      default:
        std::fprintf(stderr, "kmdflow: rank %d: unknown request %d from rank 0\n", g_rank, request);
        return 1;
      }
    } catch (const RankFailure&) {
      // Rank 0 reports it; this rank waits for what rank 0 asks next.
    }
  }
}

std::unique_ptr<InteractionEngine> distribute(std::unique_ptr<InteractionEngine> engine,
                                              const nlohmann::json& config, std::size_t particle_count) {
  if (g_size == 1) return engine;
  return std::make_unique<DistributedEngine>(std::move(engine), config, particle_count);
}

#endif

} // namespace kmdflow::app
