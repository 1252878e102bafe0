#include <kmdflow/app/Processes.hpp>

#include <kmdflow/Config.hpp>
#include <kmdflow/ParticleFlow.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <csignal>
#include <exception>
#include <limits>
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

Rows own_rows(std::size_t total) {
  if (g_size == 1) return all_rows(total);
  const auto [begin, end] = target_rows(total, g_rank, g_size);
  return {begin, end, total, true};
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
void gather_rows(const double*, const Rows&, int, double*) {}
void sum_across_ranks(double*, std::size_t) {}
void max_across_ranks(double*, std::size_t) {}
std::unique_ptr<InteractionEngine> share_by_blocks(std::unique_ptr<InteractionEngine> engine, std::size_t) {
  return engine;
}
std::unique_ptr<RunModel> share_run(const ParticleSetup& setup) { return make_particle_run(setup); }
bool time_to_move(const InteractionEngine&) { return false; }
std::vector<double> move_to_slabs(InteractionEngine&, std::vector<double> rows, int, int) { return rows; }
void gather_by_ids(const double*, const std::vector<std::size_t>&, int, double*) {}

#else

namespace {

// What rank 0 asks of the others; each request is a broadcast of one of these, then its data.
enum Request : int {
  build_engine = 1, velocities = 2, pair_energy = 3, release_engine = 4, stop = 5,
  // A particle run shared by blocks (share_run) and what its ranks do together.
  particle_run = 6, run_advance, run_check, run_diagnose, run_frame, run_save, run_restore, run_end
};

/// The tag of gather_rows' messages (gather_by_ids: it and the next).
constexpr int gather_tag = 30;

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

template <class T> void broadcast(T* values, std::size_t count, int root = 0) {
  in_pieces(count, [&](std::size_t at, int n) { MPI_Bcast(values + at, n, type_of<T>(), root, MPI_COMM_WORLD); });
}
template <class T> void send(const T* values, std::size_t count, int to, int tag) {
  in_pieces(count, [&](std::size_t at, int n) { MPI_Send(values + at, n, type_of<T>(), to, tag, MPI_COMM_WORLD); });
}
template <class T> void receive(T* values, std::size_t count, int from, int tag) {
  in_pieces(count, [&](std::size_t at, int n) {
    MPI_Recv(values + at, n, type_of<T>(), from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  });
}

/// The tag of scatter_rows' messages.
constexpr int scatter_tag = 33;

/// Rank 0: sends every other rank its block (target_rows) of `all`, a row-major array of
/// rows.total rows of `width` doubles (rank 0 keeps the whole); the others receive theirs into
/// `mine` (rows.size() × width). Every rank calls it together.
void scatter_rows(const double* all, const Rows& rows, int width, double* mine) {
  const std::size_t w = std::size_t(width);
  if (g_rank > 0) {
    receive(mine, rows.size() * w, 0, scatter_tag);
    return;
  }
  for (int r = 1; r < g_size; ++r) {
    const auto [b, e] = target_rows(rows.total, r, g_size);
    send(all + b * w, (e - b) * w, r, scatter_tag);
  }
}

void broadcast_string(std::string& s) {
  unsigned long long length = s.size();
  MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  s.resize(length);
  broadcast(s.data(), length);
}

/// What failed on a rank: its message (empty: nothing failed) and, where it was bad input (a
/// ConfigError), the key it names.
struct Failure {
  std::string message, key;
};

/// A failure on some rank, known to every rank after agree(): the lowest failing rank and its
/// failure (which rank 0 receives; the others get it empty).
struct RankFailure : std::runtime_error {
  RankFailure(int failed, const Failure& what)
      : std::runtime_error("rank " + std::to_string(failed) + ": " + what.message), rank(failed), failure(what) {}
  int rank;
  Failure failure;
};

/// Rank 0's error for a failure on rank `e.rank`: bad input stays a ConfigError naming its key
/// (exit 2), anything else a runtime error (exit 1); both name the rank.
[[noreturn]] void throw_on_rank_zero(const RankFailure& e) {
  const std::string& key = e.failure.key;
  const std::string& message = e.failure.message;
  const std::string rank = e.rank == 0 ? "" : "rank " + std::to_string(e.rank) + ": ";
  if (!key.empty() && message.rfind(key + ": ", 0) == 0)
    throw ConfigError(key, rank + message.substr(key.size() + 2));
  throw std::runtime_error(rank + message);
}

void send_string(const std::string& s, int to, int tag) {
  const int length = int(s.size());
  MPI_Send(&length, 1, MPI_INT, to, tag, MPI_COMM_WORLD);
  MPI_Send(s.data(), length, MPI_CHAR, to, tag + 1, MPI_COMM_WORLD);
}
std::string receive_string(int from, int tag) {
  int length = 0;
  MPI_Recv(&length, 1, MPI_INT, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  std::string s(std::size_t(length), '\0');
  MPI_Recv(s.data(), length, MPI_CHAR, from, tag + 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return s;
}

/// Every rank calls it after a step that may fail locally (`failure`: empty where it did not), so
/// that all learn together whether to go on: no rank is left waiting in a collective that a
/// failed one never reaches.
void agree(const Failure& failure) {
  int mine = failure.message.empty() ? g_size : g_rank, first = g_size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == g_size) return;
  Failure known = failure;
  if (first != 0) {
    if (g_rank == first) {
      send_string(failure.message, 0, 1);
      send_string(failure.key, 0, 3);
    } else if (g_rank == 0) {
      known.message = receive_string(first, 1);
      known.key = receive_string(first, 3);
    }
  }
  throw RankFailure(first, known);
}

/// Runs f, catching what it throws as a Failure (a RankFailure, already known to every rank,
/// passes through).
template <class F> Failure attempt(F&& f) {
  try {
    f();
    return {};
  } catch (const RankFailure&) {
    throw;
  } catch (const ConfigError& e) {
    return {e.what(), e.key()};
  } catch (const std::exception& e) {
    return {*e.what() ? e.what() : "an unnamed error", ""};
  }
}

/// Runs f on every rank, which all call it together, and agrees on the outcome: a failure on any
/// rank (an exception) is a RankFailure on every rank. A RankFailure inside f (a nested
/// together(), already agreed) passes through. `outermost` (the last word on the failure): the
/// failing rank rethrows its own exception (rank 0's ConfigError stays one), and rank 0 throws
/// another rank's failure as its own error (throw_on_rank_zero).
template <class F> void together(F&& f, bool outermost = false) {
  std::exception_ptr own;
  try {
    agree(attempt([&] {
      try {
        f();
      } catch (const RankFailure&) {
        throw;
      } catch (const std::exception&) {
        own = std::current_exception();
        throw;
      }
    }));
  } catch (const RankFailure& e) {
    if (!outermost) throw;
    if (own && e.rank == g_rank) std::rethrow_exception(own);
    if (g_rank == 0) throw_on_rank_zero(e);
    throw;
  }
}

/// How the engines' shares sum what they all need (ρ̂(k), Fourier coefficients, slabs' power sums).
void engine_sum(double* values, std::size_t count) {
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
  engine.set_sum_across(engine_sum);
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

/// KMDFLOW_TEST_FAIL_RANK=R makes rank R fail to build its engine, R:K fail its K-th evaluation
/// (a stand-in, for the tests, for a file only that rank cannot read or a velocity that is NaN
/// there). Returns the evaluation to fail at: 0 for the build, -1 for none (-2 for R:input).
/// R:input makes rank R meet bad input while building (a target.path only it cannot read).
long test_failure() {
  const char* text = std::getenv("KMDFLOW_TEST_FAIL_RANK");
  if (!text || std::atoi(text) != g_rank) return -1;
  const char* colon = std::strchr(text, ':');
  if (colon && std::strcmp(colon + 1, "input") == 0) return -2;
  return colon ? std::atol(colon + 1) : 0;
}
void fail_to_build_for_test() {
  if (test_failure() == 0)
    throw std::runtime_error("KMDFLOW_TEST_FAIL_RANK: this rank fails to build its engine (a test)");
  if (test_failure() == -2)
    throw ConfigError("target.path", "KMDFLOW_TEST_FAIL_RANK: this rank cannot read it (a test)");
}
/// After this rank's `evaluation`-th evaluation (its sums done).
void fail_evaluation_for_test(long evaluation) {
  if (evaluation == test_failure())
    throw std::runtime_error("KMDFLOW_TEST_FAIL_RANK: evaluation " + std::to_string(evaluation) +
                             " fails on this rank (a test)");
}

/// Where an engine cannot split its work across the ranks.
ConfigError cannot_share(const InteractionEngine& engine) {
  return ConfigError("forces.method", "the " + engine.name() + " engine runs on one process; on " +
                                          std::to_string(g_size) +
                                          " ranks choose an engine that shares its work across ranks (or run "
                                          "without --ranks)");
}

/// An engine whose work `engine` shares across the ranks: its name, and its parameters with the
/// ranks.
class RankEngine : public InteractionEngine {
public:
  explicit RankEngine(std::unique_ptr<InteractionEngine> engine) : m_engine(std::move(engine)) {}
  std::string name() const override { return m_engine->name(); }
  nlohmann::json parameters() const override {
    nlohmann::json p = m_engine->parameters();
    p["ranks"] = g_size;
    return p;
  }

protected:
  std::unique_ptr<InteractionEngine> m_engine;
};

/// Rank 0's engine on P ranks: its own rows through the wrapped engine, the others' from the
/// ranks that serve it.
class DistributedEngine final : public RankEngine {
public:
  DistributedEngine(std::unique_ptr<InteractionEngine> engine, const nlohmann::json& config, std::size_t count)
      : RankEngine(std::move(engine)), m_exchange(count, config["dim"].get<int>(), split_of(*m_engine, count)) {
    broadcast_request(build_engine);
    std::string text = config.dump();
    broadcast_string(text);
    unsigned long long n = count;
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    checked({});
  }
  ~DistributedEngine() override { broadcast_request(release_engine); }

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
    throw cannot_share(engine);
  }

  void send(int request, const ConstPointView<>& x, const ConstScalarView<>& w) {
    broadcast_request(request);
    Kokkos::deep_copy(m_exchange.x, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x));
    Kokkos::deep_copy(m_exchange.w, Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w));
    m_exchange.broadcast_particles();
  }
  /// Every rank's outcome; a failure anywhere is rank 0's error, naming the rank.
  static void checked(const Failure& failure) {
    try {
      agree(failure);
    } catch (const RankFailure& e) {
      throw_on_rank_zero(e);
    }
  }

  Exchange m_exchange;
};

/// A rank's copy of rank 0's engine, built from the resolved configuration as make_flow builds it,
/// and the way it splits its work.
std::pair<std::unique_ptr<InteractionEngine>, Split> build_from(const nlohmann::json& config, std::size_t count) {
  fail_to_build_for_test();
  ParticleSetup setup;
  setup.config = setup.resolved = config;
  make_model(setup);
  auto engine = make_configured_engine(setup, count);
  const auto split = share_out(*engine, count);
  if (!split) throw std::logic_error("the engine cannot split its work");
  return {std::move(engine), *split};
}

/// Every rank's block of a row-major array (`width` doubles per row) into `all` (rows.total ×
/// width) on every rank: one Allgatherv where the whole fits in one message (chunk_limit), else
/// each rank broadcasts its block in turn, in pieces.
void gather_everywhere(const double* mine, const Rows& rows, int width, double* all) {
  const std::size_t w = std::size_t(width);
  if (mine != all + rows.begin * w) std::copy(mine, mine + rows.size() * w, all + rows.begin * w);
  if (rows.total * w <= chunk_limit()) {
    std::vector<int> counts(static_cast<std::size_t>(g_size)), at(static_cast<std::size_t>(g_size));
    for (int r = 0; r < g_size; ++r) {
      const auto [b, e] = target_rows(rows.total, r, g_size);
      at[std::size_t(r)] = int(b * w), counts[std::size_t(r)] = int((e - b) * w);
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts.data(), at.data(), MPI_DOUBLE, MPI_COMM_WORLD);
    return;
  }
  for (int r = 0; r < g_size; ++r) {
    const auto [b, e] = target_rows(rows.total, r, g_size);
    broadcast(all + b * w, (e - b) * w, r);
  }
}

/// Sends every rank its pieces of `out` and receives its pieces into `in`: out_count[r] (in_count[r])
/// elements to (from) rank r, at out_at[r] (in_at[r]); each message in pieces, all at once.
template <class T>
void exchange(const T* out, const std::vector<std::size_t>& out_at, const std::vector<std::size_t>& out_count, T* in,
              const std::vector<std::size_t>& in_at, const std::vector<std::size_t>& in_count, int tag) {
  std::vector<MPI_Request> requests;
  for (int r = 0; r < g_size; ++r) {
    if (r == g_rank) continue;
    in_pieces(in_count[r], [&](std::size_t at, int n) {
      requests.emplace_back();
      MPI_Irecv(in + in_at[r] + at, n, type_of<T>(), r, tag, MPI_COMM_WORLD, &requests.back());
    });
    in_pieces(out_count[r], [&](std::size_t at, int n) {
      requests.emplace_back();
      MPI_Isend(out + out_at[r] + at, n, type_of<T>(), r, tag, MPI_COMM_WORLD, &requests.back());
    });
  }
  MPI_Waitall(int(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
}

/// A particle run's engine on P ranks (share_by_blocks): every rank holds its block of the
/// particles. An engine that splits by rows (direct, spectral): each evaluation gathers all
/// positions on every rank and runs the engine on the rank's own rows. The sorted engine: a
/// sample sort — the ranks cut the torus at quantiles of a sample of every block, each sends every
/// other rank the particles of its slab, sorts and scans its own slab (set_slab), and sends the
/// rows back where they came from; no rank passes over all N points.
class BlockEngine final : public RankEngine {
public:
  BlockEngine(std::unique_ptr<InteractionEngine> engine, std::size_t total)
      : RankEngine(std::move(engine)), m_rows(own_rows(total)) {
    const double inf = std::numeric_limits<double>::infinity();
    m_engine->set_sum_across(engine_sum);
    if (m_engine->set_target_rows(m_rows.begin, m_rows.end)) m_by_slab = false;
    else if (m_engine->set_slab(g_rank, g_size, -inf, inf)) m_by_slab = true;
    else throw cannot_share(*m_engine);
    fail_to_build_for_test();
  }
  // KMDFLOW_MPI_TRAFFIC=1: what this rank sent to the others (stderr), for benchmarks and tests:
  // the particles' positions, weights and velocities (not the engines' own sums across ranks).
  ~BlockEngine() override {
    if (!std::getenv("KMDFLOW_MPI_TRAFFIC")) return;
    const auto& t = m_traffic;
    std::fprintf(stderr,
                 "kmdflow: rank %d sent %llu bytes in %ld evaluations (%llu in the first, %llu in the last) and "
                 "%llu bytes moving particles to their slabs (%ld moves, %ld with new cuts)\n",
                 g_rank, t.total, t.evaluations, t.first, t.last, t.moves, t.move_count, t.new_cuts);
  }

  void velocities(const ConstPointView<>& x, const ConstScalarView<>& w, const PointView<>& v) override {
    if (m_by_slab) {
      const std::size_t n = sort_into_slabs(x, w);
      const auto slab = std::make_pair(std::size_t(0), n);
      together([&] {
        m_engine->velocities(Kokkos::subview(m_x, slab, Kokkos::ALL), Kokkos::subview(m_w, slab),
                             Kokkos::subview(m_v, slab, Kokkos::ALL));
        fail_for_test();
      });
      return_rows(v);
      m_traffic.end_evaluation();
      return;
    }
    gather(x, w);
    together([&] {
      m_engine->velocities(m_x, m_w, m_v);
      fail_for_test();
    });
    Kokkos::deep_copy(v, Kokkos::subview(m_v, std::make_pair(m_rows.begin, m_rows.end), Kokkos::ALL));
    m_traffic.end_evaluation();
  }

  double pair_energy(const ConstPointView<>& x, const ConstScalarView<>& w) override {
    double energy = 0;
    if (m_by_slab) {
      const auto slab = std::make_pair(std::size_t(0), sort_into_slabs(x, w));
      together([&] {
        energy = m_engine->pair_energy(Kokkos::subview(m_x, slab, Kokkos::ALL), Kokkos::subview(m_w, slab));
        fail_for_test();
      });
      m_traffic.end_evaluation();
    } else {
      gather(x, w);
      together([&] {
        energy = m_engine->pair_energy(m_x, m_w);
        fail_for_test();
      });
      m_traffic.end_evaluation();
    }
    sum_across_ranks(&energy, 1);
    return energy;
  }

private:
  /// Room for `count` points of `dim` coordinates in m_x, m_w, m_v and their host mirrors.
  void allocate(std::size_t count, std::size_t dim) {
    m_x = PointView<>("kmdflow::mpi::positions", count, dim);
    m_v = PointView<>("kmdflow::mpi::velocities", count, dim);
    m_w = ScalarView<>("kmdflow::mpi::weights", count);
    m_x_host = Kokkos::create_mirror_view(m_x);
    m_v_host = Kokkos::create_mirror_view(m_v);
    m_w_host = Kokkos::create_mirror_view(m_w);
    m_weights_from = nullptr;
  }

  /// Every rank's positions (and, once, weights: a run's do not change) into m_x, m_w.
  void gather(const ConstPointView<>& x, const ConstScalarView<>& w) {
    const std::size_t dim = x.extent(1);
    if (m_x.extent(0) != m_rows.total || m_x.extent(1) != dim) allocate(m_rows.total, dim);
    const auto mine = std::make_pair(m_rows.begin, m_rows.end);
    Kokkos::deep_copy(Kokkos::subview(m_x_host, mine, Kokkos::ALL), x);
    gather_everywhere(m_x_host.data() + m_rows.begin * dim, m_rows, int(dim), m_x_host.data());
    m_traffic.current += 8 * m_rows.size() * dim * std::size_t(g_size - 1); // this block to each other rank
    Kokkos::deep_copy(m_x, m_x_host);
    if (m_weights_from == w.data()) return;
    Kokkos::deep_copy(Kokkos::subview(m_w_host, mine), w);
    gather_everywhere(m_w_host.data() + m_rows.begin, m_rows, 1, m_w_host.data());
    m_traffic.current += 8 * m_rows.size() * std::size_t(g_size - 1);
    Kokkos::deep_copy(m_w, m_w_host);
    m_weights_from = w.data();
  }

public:
  bool by_slab() const { return m_by_slab; }

  /// time_to_move (Processes.hpp): by the strays sent since the last move (this rank's particles
  /// outside its slab, at each evaluation) and the last evaluation's slab size, on every rank.
  bool time_to_move() const {
    const double fair = double(m_rows.total) / g_size;
    int mine = !m_keep_cuts || (m_strays_since_move > 0 && m_strays_since_move >= m_held) ||
               double(m_slab_size) > 1.1 * fair + 1;
    MPI_Allreduce(MPI_IN_PLACE, &mine, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return mine != 0;
  }

  /// move_to_slabs (Processes.hpp), by the cuts of the last evaluation, drawn anew where they
  /// would leave a slab more than 10% above N/P (or where there are none yet); from then on the
  /// evaluations keep the cuts (the particles stay where their slabs are) until the next move.
  std::vector<double> move_rows(std::vector<double> rows, int width, int position) {
    const std::size_t n = rows.size() / std::size_t(width);
    auto x = [&](std::size_t i) { return rows[i * std::size_t(width) + std::size_t(position)]; };
    if (m_cuts.empty()) draw_cuts(n, x);
    auto slabs = slabs_of(n, x);
    std::vector<unsigned long long> totals(slabs.count.begin(), slabs.count.end());
    MPI_Allreduce(MPI_IN_PLACE, totals.data(), g_size, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    ++m_traffic.move_count;
    if (double(*std::max_element(totals.begin(), totals.end())) > 1.1 * double(m_rows.total) / g_size + 1) {
      draw_cuts(n, x);
      slabs = slabs_of(n, x);
      ++m_traffic.new_cuts;
    }
    m_keep_cuts = true;
    m_strays_since_move = 0;
    // Whole rows, by destination (a stable counting sort), to their slabs' ranks.
    const std::size_t w = std::size_t(width);
    std::vector<std::size_t> out_count(g_size);
    for (int r = 0; r < g_size; ++r) out_count[r] = slabs.count[r] * w;
    const auto out_at = offsets(out_count);
    std::vector<double> out(rows.size());
    auto next = out_at;
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(rows.data() + i * w, w, out.data() + next[slabs.of[i]]);
      next[slabs.of[i]] += w;
    }
    rows = std::vector<double>(), slabs = Slabs(); // before the rows that come
    const auto in_count = counts_to_me(out_count), in_at = offsets(in_count);
    std::vector<double> in(in_at[g_size - 1] + in_count[g_size - 1]);
    std::copy_n(out.data() + out_at[g_rank], out_count[g_rank], in.data() + in_at[g_rank]);
    exchange(out.data(), out_at, out_count, in.data(), in_at, in_count, move_tag);
    m_traffic.moves += 8 * to_others(out_count);
    return in;
  }

private:
  /// Cuts of the torus into g_size slabs at quantiles of a sample of every rank's n points x(i)
  /// (the same on every rank; equal points share a slab): each rank samples up to 1024 of its
  /// points evenly by index.
  template <class X> void draw_cuts(std::size_t n, X&& x) {
    const int samples = int(std::min<std::size_t>(n, 1024));
    std::vector<double> sample(std::size_t(samples) + 1);
    for (int i = 0; i < samples; ++i) sample[std::size_t(i)] = x(std::size_t(i) * n / std::size_t(samples));
    std::vector<int> counts(g_size), at(g_size, 0);
    MPI_Allgather(&samples, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 1; r < g_size; ++r) at[r] = at[r - 1] + counts[r - 1];
    std::vector<double> all(std::size_t(at[g_size - 1] + counts[g_size - 1]) + 1);
    MPI_Allgatherv(sample.data(), samples, MPI_DOUBLE, all.data(), counts.data(), at.data(), MPI_DOUBLE,
                   MPI_COMM_WORLD);
    all.pop_back();
    std::sort(all.begin(), all.end());
    const double inf = std::numeric_limits<double>::infinity();
    m_cuts.assign(std::size_t(g_size) + 1, inf);
    m_cuts[0] = -inf;
    for (std::size_t r = 1; r < m_cuts.size() - 1 && !all.empty(); ++r) m_cuts[r] = all[r * all.size() / g_size];
  }

  /// Each of the n points' slab under the cuts (how many inner cuts lie at or below it), and how
  /// many fall in each.
  struct Slabs {
    std::vector<int> of;
    std::vector<std::size_t> count;
  };
  template <class X> Slabs slabs_of(std::size_t n, X&& x) const {
    Slabs slabs{std::vector<int>(n), std::vector<std::size_t>(g_size, 0)};
    for (std::size_t i = 0; i < n; ++i) {
      slabs.of[i] = int(std::upper_bound(m_cuts.begin() + 1, m_cuts.end() - 1, x(i)) - (m_cuts.begin() + 1));
      ++slabs.count[slabs.of[i]];
    }
    return slabs;
  }

  /// The sample sort (d = 1): this rank's slab's particles, from every rank, into the first rows
  /// of m_x and m_w (returns how many), and the engine told its slab. The cuts are drawn anew
  /// (draw_cuts) unless the run keeps its particles where their slabs are (move_rows). m_order
  /// keeps which of this block's particles went where.
  std::size_t sort_into_slabs(const ConstPointView<>& x, const ConstScalarView<>& w) {
    const std::size_t n = x.extent(0);
    const auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    const auto hw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
    auto position = [&](std::size_t i) { return hx(i, 0); };
    if (!m_keep_cuts || m_cuts.empty()) draw_cuts(n, position);
    const auto& cuts = m_cuts;
    // A stable counting sort by slab.
    auto [slab, out_count] = slabs_of(n, position);
    m_held = n;
    m_strays_since_move += n - out_count[g_rank];
    auto out_at = offsets(out_count);
    m_order.resize(n);
    std::vector<double> out_x(n), out_w(n);
    {
      auto next = out_at;
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = next[slab[i]]++;
        m_order[k] = i, out_x[k] = hx(i, 0), out_w[k] = hw(i);
      }
    }
    auto in_count = counts_to_me(out_count), in_at = offsets(in_count);
    const std::size_t arriving = in_at[g_size - 1] + in_count[g_size - 1];
    m_slab_size = arriving;
    // Room for the slab (an eighth to spare: the slabs' counts vary a little), not for all N.
    if (m_x.extent(0) < arriving || m_x.extent(0) == 0) allocate(arriving + arriving / 8 + 1, 1);
    double* slab_x = m_x_host.data();
    double* slab_w = m_w_host.data();
    std::copy_n(out_x.data() + out_at[g_rank], out_count[g_rank], slab_x + in_at[g_rank]);
    std::copy_n(out_w.data() + out_at[g_rank], out_count[g_rank], slab_w + in_at[g_rank]);
    exchange(out_x.data(), out_at, out_count, slab_x, in_at, in_count, position_tag);
    exchange(out_w.data(), out_at, out_count, slab_w, in_at, in_count, weight_tag);
    m_traffic.current += 16 * to_others(out_count);
    m_out_at = std::move(out_at), m_out_count = std::move(out_count);
    m_in_at = std::move(in_at), m_in_count = std::move(in_count);
    const auto slab_rows = std::make_pair(std::size_t(0), arriving);
    Kokkos::deep_copy(Kokkos::subview(m_x, slab_rows, Kokkos::ALL), Kokkos::subview(m_x_host, slab_rows, Kokkos::ALL));
    Kokkos::deep_copy(Kokkos::subview(m_w, slab_rows), Kokkos::subview(m_w_host, slab_rows));
    m_engine->set_slab(g_rank, g_size, cuts[g_rank], cuts[g_rank + 1]);
    return arriving;
  }

  /// The slab's rows (in m_v) back to the ranks their particles came from, into v (this block).
  void return_rows(const PointView<>& v) {
    const std::size_t arriving = m_in_at[g_size - 1] + m_in_count[g_size - 1], n = m_order.size();
    const auto slab_rows = std::make_pair(std::size_t(0), arriving);
    Kokkos::deep_copy(Kokkos::subview(m_v_host, slab_rows, Kokkos::ALL), Kokkos::subview(m_v, slab_rows, Kokkos::ALL));
    std::vector<double> back(n);
    std::copy_n(m_v_host.data() + m_in_at[g_rank], m_in_count[g_rank], back.data() + m_out_at[g_rank]);
    exchange(m_v_host.data(), m_in_at, m_in_count, back.data(), m_out_at, m_out_count, velocity_tag);
    m_traffic.current += 8 * to_others(m_in_count);
    auto hv = Kokkos::create_mirror_view(v);
    for (std::size_t k = 0; k < n; ++k) hv(m_order[k], 0) = back[k];
    Kokkos::deep_copy(v, hv);
  }

  void fail_for_test() { fail_evaluation_for_test(++m_evaluations); }

  /// Where each rank's part of a buffer ordered by rank begins (exclusive prefix sums).
  static std::vector<std::size_t> offsets(const std::vector<std::size_t>& counts) {
    std::vector<std::size_t> at(counts.size(), 0);
    for (std::size_t r = 1; r < counts.size(); ++r) at[r] = at[r - 1] + counts[r - 1];
    return at;
  }
  /// What every rank sends this one, from what this one sends each (an Alltoall of the counts).
  static std::vector<std::size_t> counts_to_me(const std::vector<std::size_t>& out_count) {
    static_assert(sizeof(std::size_t) == sizeof(unsigned long long));
    std::vector<std::size_t> in_count(out_count.size());
    MPI_Alltoall(out_count.data(), 1, MPI_UNSIGNED_LONG_LONG, in_count.data(), 1, MPI_UNSIGNED_LONG_LONG,
                 MPI_COMM_WORLD);
    return in_count;
  }
  /// Of counts by rank, the sum of those to (or from) the other ranks.
  static unsigned long long to_others(const std::vector<std::size_t>& counts) {
    unsigned long long sum = 0;
    for (int r = 0; r < g_size; ++r) sum += r == g_rank ? 0 : counts[std::size_t(r)];
    return sum;
  }
  /// Bytes this rank sent (the exchanges of particles, by evaluation, and move_rows'; with the
  /// direct and spectral engines, what each other rank receives of this block).
  struct Traffic {
    unsigned long long total = 0, first = 0, last = 0, current = 0, moves = 0;
    long evaluations = 0, move_count = 0, new_cuts = 0;
    void end_evaluation() {
      if (evaluations++ == 0) first = current;
      last = current, total += current, current = 0;
    }
  };
  Traffic m_traffic;

  static constexpr int position_tag = 20, weight_tag = 21, velocity_tag = 22, move_tag = 23;
  Rows m_rows;
  bool m_by_slab = false;
  PointView<> m_x, m_v; // all positions (by rows), or this slab's particles (by slab)
  ScalarView<> m_w;
  PointView<>::host_mirror_type m_x_host, m_v_host;
  ScalarView<>::host_mirror_type m_w_host;
  const double* m_weights_from = nullptr;
  // The sample sort's cuts (g_size + 1, from −∞ to +∞), kept between evaluations once the run
  // keeps its particles in their slabs (move_rows).
  std::vector<double> m_cuts;
  bool m_keep_cuts = false;
  // This rank's particles and its slab's at the last evaluation, and the particles it sent out of
  // its slab since the last move (one per stray and evaluation).
  std::size_t m_held = 0, m_slab_size = 0, m_strays_since_move = 0;
  // The sample sort's last exchange: this block's particles in the order sent (m_order: their
  // rows), and the counts and offsets sent to and received from each rank.
  std::vector<std::size_t> m_order, m_out_at, m_out_count, m_in_at, m_in_count;
  long m_evaluations = 0;
};

/// A checkpoint's arrays from rank 0 to every rank, for restore: of those that hold a row per
/// particle (IntegratorRun::particle_arrays) each rank gets its block of `rows` alone, the others
/// whole; rank 0 keeps them all.
void share_arrays(Checkpoint& checkpoint, const Rows& rows) {
  unsigned long long count = checkpoint.arrays.size();
  MPI_Bcast(&count, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  auto entry = checkpoint.arrays.begin();
  for (unsigned long long k = 0; k < count; ++k) {
    std::string name = g_rank == 0 ? entry->first : "";
    broadcast_string(name);
    auto& values = checkpoint.arrays[name];
    unsigned long long size = values.size();
    MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    const bool by_rows = rows.total > 0 && size % rows.total == 0 &&
                         std::ranges::find(IntegratorRun::particle_arrays, name) !=
                             std::end(IntegratorRun::particle_arrays);
    if (!by_rows) {
      // A row count that does not match leaves it whole: restore then says what is wrong.
      values.resize(size);
      broadcast(values.data(), size);
    } else {
      const int width = int(size / rows.total);
      if (g_rank > 0) values.resize(rows.size() * std::size_t(width));
      scatter_rows(values.data(), rows, width, values.data());
    }
    if (g_rank == 0) ++entry;
  }
}

/// Rank 0's particle run on P ranks: what only rank 0 does (the files, the report) it does
/// alone; each step, diagnosis, frame and checkpoint it asks the other ranks to take with it,
/// their blocks' runs (join_run).
class SharedRun final : public RunModel {
public:
  explicit SharedRun(std::unique_ptr<IntegratorRun> run) : m_run(std::move(run)) {}
  ~SharedRun() override { broadcast_request(run_end); }

  std::string engine() const override { return m_run->engine(); }
  nlohmann::json engine_record() const override { return m_run->engine_record(); }
  H5mdParticles trajectory_layout() const override { return m_run->trajectory_layout(); }
  void write_static(const std::filesystem::path& dir, H5mdWriter& trajectory) override {
    m_run->write_static(dir, trajectory);
  }
  bool lands_on_outputs() const override { return m_run->lands_on_outputs(); }
  void summarise(nlohmann::json& summary) const override { m_run->summarise(summary); }
  std::string description() const override { return m_run->description(); }
  std::vector<std::string> report() const override { return m_run->report(); }
  std::string decay_key() const override { return m_run->decay_key(); }
  std::optional<double> target_minimum() const override { return m_run->target_minimum(); }

  void advance(double& t, double t_stop, double tolerance) override {
    broadcast_request(run_advance);
    double times[3] = {t, t_stop, tolerance};
    MPI_Bcast(times, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    together([&] { m_run->advance(t, t_stop, tolerance); }, true);
  }
  void check_state() override {
    broadcast_request(run_check);
    together([&] { m_run->check_state(); }, true);
  }
  SeriesRow diagnose() override {
    broadcast_request(run_diagnose);
    SeriesRow row;
    together([&] { row = m_run->diagnose(); }, true);
    return row;
  }
  void write_frame(H5mdWriter& trajectory, long step, double t) override {
    broadcast_request(run_frame);
    together([&] { m_run->write_frame(trajectory, step, t); }, true);
  }
  void save(Checkpoint& checkpoint) override {
    broadcast_request(run_save);
    together([&] { m_run->save(checkpoint); }, true);
  }
  void restore(const Checkpoint& checkpoint) override {
    broadcast_request(run_restore);
    Checkpoint copy = checkpoint;
    share_arrays(copy, m_run->rows());
    together([&] { m_run->restore(copy); }, true);
  }

private:
  std::unique_ptr<IntegratorRun> m_run;
};

/// A rank other than 0 in a particle run (share_run): builds its block's run from rank 0's
/// setup (of whose particles it receives its block alone), then does with it what rank 0 asks,
/// until the run ends.
void join_run() {
  ParticleSetup setup;
  std::string config, resolved;
  broadcast_string(config);
  broadcast_string(resolved);
  unsigned long long shape[2] = {0, 0};
  MPI_Bcast(shape, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  const Rows rows = own_rows(shape[0]);
  setup.positions = PointView<Kokkos::HostSpace>("kmdflow::mpi::initial", rows.size(), shape[1]);
  setup.weights = ScalarView<Kokkos::HostSpace>("kmdflow::mpi::weights", rows.size());
  setup.first_row = rows.begin;
  setup.all_particles = rows.total;
  scatter_rows(nullptr, rows, int(shape[1]), setup.positions.data());
  scatter_rows(nullptr, rows, 1, setup.weights.data());
  std::unique_ptr<IntegratorRun> run;
  try {
    together(
        [&] {
          setup.config = nlohmann::json::parse(config);
          setup.resolved = nlohmann::json::parse(resolved);
          make_model(setup);
          run = make_particle_run(setup);
        },
        true);
  } catch (const std::exception&) {
    return; // rank 0 reports it, and has no run to end
  }
  // The run holds this rank's block: the setup's copy of it goes.
  setup.positions = decltype(setup.positions)();
  setup.weights = decltype(setup.weights)();
  for (;;) {
    int request = 0;
    MPI_Bcast(&request, 1, MPI_INT, 0, MPI_COMM_WORLD);
    try {
      switch (request) {
      case run_advance: {
        double times[3];
        MPI_Bcast(times, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        together([&] { run->advance(times[0], times[1], times[2]); }, true);
        break;
      }
      case run_check: together([&] { run->check_state(); }, true); break;
      case run_diagnose: together([&] { run->diagnose(); }, true); break;
      case run_frame: together([&] { run->state_on_host(); }, true); break;
      case run_save: {
        Checkpoint unused; // rank 0 writes it
        together([&] { run->save(unused); }, true);
        break;
      }
      case run_restore: {
        Checkpoint checkpoint;
        share_arrays(checkpoint, run->rows());
        together([&] { run->restore(checkpoint); }, true);
        break;
      }
      case run_end: return;
      default:
        std::fprintf(stderr, "kmdflow: rank %d: unknown request %d from rank 0 in a run\n", g_rank, request);
        std::exit(1);
      }
    } catch (const std::exception&) {
      // Every rank knows (together): rank 0 reports it and says what comes next.
    }
  }
}

} // namespace

std::unique_ptr<InteractionEngine> share_by_blocks(std::unique_ptr<InteractionEngine> engine, std::size_t total) {
  if (g_size == 1) return engine;
  return std::make_unique<BlockEngine>(std::move(engine), total);
}

bool time_to_move(const InteractionEngine& engine) {
  const auto* blocks = dynamic_cast<const BlockEngine*>(&engine);
  return blocks && blocks->by_slab() && blocks->time_to_move();
}

std::vector<double> move_to_slabs(InteractionEngine& engine, std::vector<double> rows, int width, int position) {
  auto* blocks = dynamic_cast<BlockEngine*>(&engine);
  if (!blocks || !blocks->by_slab()) return rows;
  return blocks->move_rows(std::move(rows), width, position);
}

void gather_by_ids(const double* mine, const std::vector<std::size_t>& ids, int width, double* all) {
  const std::size_t w = std::size_t(width);
  static_assert(sizeof(std::size_t) == sizeof(unsigned long long));
  unsigned long long count = ids.size();
  std::vector<unsigned long long> counts(static_cast<std::size_t>(g_size));
  MPI_Gather(&count, 1, MPI_UNSIGNED_LONG_LONG, counts.data(), 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  // In batches of at most 2^20 rows (fewer with KMDFLOW_TEST_MPI_CHUNK), so that rank 0 needs
  // little besides `all`.
  const std::size_t batch = std::clamp<std::size_t>(chunk_limit() / w, 1, std::size_t(1) << 20);
  if (g_rank > 0) {
    for (std::size_t at = 0; at < ids.size(); at += batch) {
      const std::size_t n = std::min(batch, ids.size() - at);
      send(reinterpret_cast<const unsigned long long*>(ids.data() + at), n, 0, gather_tag);
      send(mine + at * w, n * w, 0, gather_tag + 1);
    }
    return;
  }
  auto place = [&](const std::size_t* from, const double* rows, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) std::copy_n(rows + i * w, w, all + from[i] * w);
  };
  place(ids.data(), mine, ids.size());
  std::vector<std::size_t> their_ids;
  std::vector<double> their_rows;
  for (int r = 1; r < g_size; ++r) {
    const std::size_t count_r = counts[static_cast<std::size_t>(r)];
    for (std::size_t at = 0; at < count_r; at += batch) {
      const std::size_t n = std::min(batch, count_r - at);
      their_ids.resize(n);
      their_rows.resize(n * w);
      receive(reinterpret_cast<unsigned long long*>(their_ids.data()), n, r, gather_tag);
      receive(their_rows.data(), n * w, r, gather_tag + 1);
      place(their_ids.data(), their_rows.data(), n);
    }
  }
}

void gather_rows(const double* mine, const Rows& rows, int width, double* all) {
  if (g_size == 1) return;
  const std::size_t w = std::size_t(width);
  if (g_rank > 0) {
    send(mine, rows.size() * w, 0, gather_tag);
    return;
  }
  std::copy(mine, mine + rows.size() * w, all + rows.begin * w);
  for (int r = 1; r < g_size; ++r) {
    const auto [b, e] = target_rows(rows.total, r, g_size);
    receive(all + b * w, (e - b) * w, r, gather_tag);
  }
}

void sum_across_ranks(double* values, std::size_t count) {
  if (g_size == 1) return;
  // Added on rank 0 and sent from there: every rank decides on the very same sums.
  if (g_rank == 0) MPI_Reduce(MPI_IN_PLACE, values, int(count), MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  else MPI_Reduce(values, nullptr, int(count), MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Bcast(values, int(count), MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

void max_across_ranks(double* values, std::size_t count) {
  if (g_size == 1) return;
  MPI_Allreduce(MPI_IN_PLACE, values, int(count), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
}

std::unique_ptr<RunModel> share_run(const ParticleSetup& setup) {
  if (g_size == 1) return make_particle_run(setup);
  broadcast_request(particle_run);
  std::string config = setup.config.dump(), resolved = setup.resolved.dump();
  broadcast_string(config);
  broadcast_string(resolved);
  // Each rank receives its own block of the initial particles, no more.
  unsigned long long shape[2] = {setup.positions.extent(0), setup.positions.extent(1)};
  MPI_Bcast(shape, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  const Rows rows = own_rows(shape[0]);
  scatter_rows(setup.positions.data(), rows, int(shape[1]), nullptr);
  scatter_rows(setup.weights.data(), rows, 1, nullptr);
  std::unique_ptr<IntegratorRun> run;
  together([&] { run = make_particle_run(setup); }, true);
  return std::make_unique<SharedRun>(std::move(run));
}

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
        const Failure failure = attempt([&] {
          Split split;
          std::tie(engine, split) = build_from(config, n);
          exchange = std::make_unique<Exchange>(n, dim, split);
          x = PointView<>("kmdflow::mpi::positions", n, dim);
          v = PointView<>("kmdflow::mpi::velocities", n, dim);
          w = ScalarView<>("kmdflow::mpi::weights", n);
        });
        if (!failure.message.empty()) engine.reset();
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
        const Failure failure = attempt([&] {
          // The engine's collectives (the spectral engine's sum of shares) are reached by every
          // rank; the test's failure comes after, like a NaN found in this rank's rows.
          if (request == velocities) engine->velocities(x, w, v);
          else part = engine->pair_energy(x, w);
          fail_evaluation_for_test(++evaluations);
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
      case particle_run: join_run(); break;
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
