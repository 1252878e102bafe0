#include <kmdflow/app/Commands.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/RealFft.hpp>
#include <kmdflow/app/Setup.hpp>

#include <CLI/Version.hpp>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace kmdflow::app {

int info_command(bool as_json) {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  std::ostringstream hdf5;
  hdf5 << major << "." << minor << "." << release;
  std::ostringstream kokkos;
  kokkos << KOKKOS_VERSION / 10000 << "." << (KOKKOS_VERSION / 100) % 100 << "." << KOKKOS_VERSION % 100;
  const nlohmann::json info = {
      {"kmdflow", KMDFLOW_VERSION},
      {"kokkos", kokkos.str()},
      {"backend", backend_name()},
      {"threads", backend_threads()},
      {"memory_space", MemorySpace::name()},
      {"hdf5", hdf5.str()},
      {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_PATCH)},
      {"cli11", CLI11_VERSION},
      {"compiler", __VERSION__},
      {"dimensions", {1, 2, 3}},
      {"engines", {"direct", "sorted", "spectral"}},
      {"kernels", kernel_family_names()},
      {"fft", fftw_version_string()},
  };
  if (as_json) {
    std::cout << info.dump(2) << std::endl;
    return 0;
  }
  std::cout << "kmdflow " << KMDFLOW_VERSION << "\n"
            << "  Kokkos        " << info["kokkos"].get<std::string>() << " (backend "
            << backend_name() << ", " << backend_threads() << " threads, memory "
            << MemorySpace::name() << ")\n"
            << "  HDF5          " << hdf5.str() << "\n"
            << "  nlohmann_json " << info["nlohmann_json"].get<std::string>() << "\n"
            << "  CLI11         " << CLI11_VERSION << "\n"
            << "  compiler      " << __VERSION__ << "\n"
            << "  engines       direct (d = 1, 2, 3), sorted (d = 1, Sobolev kernel), spectral (d = 1, 2, 3)\n"
            << "  kernels       " << [] {
                 std::string list;
                 for (const auto& name : kernel_family_names()) list += (list.empty() ? "" : ", ") + name;
                 return list;
               }() << "\n"
            << "  FFT           " << fftw_version_string() << "\n";
  Kokkos::print_configuration(std::cout, false);
  return 0;
}

} // namespace kmdflow::app
