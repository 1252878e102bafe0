#include <kmdflow/app/Commands.hpp>
#include <kmdflow/Kernel.hpp>
#include <kmdflow/RealFft.hpp>
#include <kmdflow/app/Provenance.hpp>
#include <kmdflow/app/RunSupport.hpp>
#include <kmdflow/app/Setup.hpp>

#include <CLI/Version.hpp>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace kmdflow::app {

int info_command(bool as_json) {
  nlohmann::json info = provenance();
  info["kmdflow"] = KMDFLOW_VERSION;
  info["memory_space"] = MemorySpace::name();
  info["nlohmann_json"] = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR) +
                          "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH);
  info["cli11"] = CLI11_VERSION;
  info["dimensions"] = {1, 2, 3};
  info["engines"] = {"direct", "sorted", "spectral"};
  info["kernels"] = kernel_family_names();
  info["licence"] = "Apache-2.0 (LICENSE); cite with CITATION.cff";
  if (as_json) {
    std::cout << info.dump(2) << std::endl;
    return 0;
  }
  std::cout << "kmdflow " << KMDFLOW_VERSION << "\n"
            << "  Kokkos        " << info["kokkos"].get<std::string>() << " (backend "
            << backend_name() << ", " << threads_text() << ", memory "
            << MemorySpace::name() << ")\n"
            << "  source        git " << info["git_commit"].get<std::string>() << " (" << info["git_tree"].get<std::string>()
            << ")\n"
            << "  device        " << info["device"].get<std::string>() << " on " << info["host"].get<std::string>() << "\n"
            << "  HDF5          " << info["hdf5"].get<std::string>() << "\n"
            << "  nlohmann_json " << info["nlohmann_json"].get<std::string>() << "\n"
            << "  CLI11         " << CLI11_VERSION << "\n"
            << "  compiler      " << info["compiler"].get<std::string>() << " (" << info["build_type"].get<std::string>()
            << ": " << info["cxx_flags"].get<std::string>() << ")\n"
            << "  engines       direct (d = 1, 2, 3), sorted (d = 1, Sobolev kernel), spectral (d = 1, 2, 3)\n"
            << "  kernels       " << [] {
                 std::string list;
                 for (const auto& name : kernel_family_names()) list += (list.empty() ? "" : ", ") + name;
                 return list;
               }() << "\n"
            << "  FFT           " << info["fft"].get<std::string>() << "\n"
            << "  licence       " << info["licence"].get<std::string>() << "\n";
  Kokkos::print_configuration(std::cout, false);
  return 0;
}

} // namespace kmdflow::app
