# The CUDA variant of the build (README, "GPU build").
#
# When the Kokkos found has the CUDA backend, Kokkos' own targets expect every translation unit
# that includes Kokkos to be compiled as CUDA (Kokkos_ENABLE_COMPILE_AS_CMAKE_LANGUAGE). This file
# enables the CUDA language for the architectures Kokkos was built for, finds cuFFT, and provides
# kmdflow_compile_as_cuda(), which marks the C++ sources of the given targets as CUDA.

set(KMDFLOW_CUDA OFF)
if(NOT "CUDA" IN_LIST Kokkos_DEVICES)
  function(kmdflow_compile_as_cuda)
  endfunction()
  return()
endif()

if(NOT "COMPILE_AS_CMAKE_LANGUAGE" IN_LIST Kokkos_OPTIONS)
  message(FATAL_ERROR "kmdflow: the Kokkos at ${Kokkos_DIR} has the CUDA backend but was not built with "
                      "-DKokkos_ENABLE_COMPILE_AS_CMAKE_LANGUAGE=ON; rebuild it so (README, \"GPU build\")")
endif()
set(KMDFLOW_CUDA ON)
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES ${Kokkos_CUDA_ARCHITECTURES})
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED COMPONENTS cufft)

function(kmdflow_compile_as_cuda)
  foreach(target IN LISTS ARGN)
    get_target_property(sources ${target} SOURCES)
    get_target_property(dir ${target} SOURCE_DIR)
    foreach(source IN LISTS sources)
      if(source MATCHES "\\.cpp$")
        cmake_path(ABSOLUTE_PATH source BASE_DIRECTORY ${dir})
        set_source_files_properties(${source} TARGET_DIRECTORY ${target} PROPERTIES LANGUAGE CUDA)
      endif()
    endforeach()
  endforeach()
endfunction()
