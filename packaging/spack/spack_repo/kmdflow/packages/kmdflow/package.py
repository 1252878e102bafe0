# Spack package for kmdflow, for machines without root or user namespaces (README, "Native build").
# From a clone of kmdflow:
#
#   spack repo add packaging/spack/spack_repo/kmdflow
#   spack develop --path "$PWD" --no-clone kmdflow@=0.1.0
#   spack install kmdflow                            # OpenMP on the host
#   spack install kmdflow +cuda cuda_arch=90         # NVIDIA H100/H200
#   spack install kmdflow +python                    # and the Python module
#   spack install kmdflow +mpi                       # runs across MPI ranks (README, "Several processes")
from spack_repo.builtin.build_systems.cmake import CMakePackage
from spack_repo.builtin.build_systems.cuda import CudaPackage

from spack.package import *


class Kmdflow(CMakePackage, CudaPackage):
    """Wasserstein gradient flows of kernel mean discrepancies (MMD) on the torus: particle, mean-field
    PDE and two-layer ReLU network simulations, with Kokkos kernels for CPUs (OpenMP) and NVIDIA
    GPUs (CUDA)."""

    license("Apache-2.0")

    # No public release yet: build from a clone with `spack develop` (above).
    version("0.1.0")

    variant("python", default=False, description="Build the Python module (nanobind)")
    variant("mpi", default=True, description="Runs across MPI ranks (the direct engine's pair sums)")

    depends_on("cxx", type="build")
    depends_on("cmake@3.22:", type="build")
    depends_on("ninja", type="build")
    generator("ninja")

    depends_on("kokkos@4.5: +openmp")
    depends_on("kokkos cxxstd=20", when="^kokkos@:4")
    # The CUDA build compiles every source as CUDA through CMake's CUDA language (README, "GPU build").
    for arch in CudaPackage.cuda_arch_values:
        depends_on(f"kokkos +cuda +cmake_lang cuda_arch={arch}", when=f"+cuda cuda_arch={arch}")
    conflicts("+cuda", when="cuda_arch=none", msg="name the GPU: cuda_arch=90 for H100/H200")
    depends_on("cuda@13:", when="+cuda")

    depends_on("fftw@3: +openmp precision=double")
    depends_on("hdf5@1.10: ~mpi")
    depends_on("nlohmann-json@3.10:")
    depends_on("cli11@2:")
    depends_on("googletest", type="test")

    # kmdflow run draws its plots with python3 -m kmdflow.plot.
    depends_on("python@3.9:", type=("build", "run"))
    depends_on("py-numpy", type="run")
    depends_on("py-h5py", type="run")
    depends_on("py-matplotlib", type="run")
    depends_on("py-nanobind", type="build", when="+python")
    depends_on("mpi", when="+mpi")

    def setup_run_environment(self, env):
        # The Python package (plots, studies, and the module with +python) installs beside the program.
        env.prepend_path("PYTHONPATH", join_path(self.prefix, "lib", "kmdflow", "python"))

    def cmake_args(self):
        return [
            self.define("Kokkos_ROOT", self.spec["kokkos"].prefix),
            self.define("KMDFLOW_ENABLE_PYTHON", "ON" if self.spec.satisfies("+python") else "OFF"),
            self.define("KMDFLOW_ENABLE_MPI", "ON" if self.spec.satisfies("+mpi") else "OFF"),
            self.define("KMDFLOW_ENABLE_TESTS", self.run_tests),
            self.define("KMDFLOW_ENABLE_BENCHMARKS", False),
        ]
