# FindFFTW3: FFTW 3 in double precision and its OpenMP threads, as imported targets.
#
#   find_package(FFTW3 [REQUIRED])
#   FFTW3::fftw3       libfftw3 and fftw3.h
#   FFTW3::fftw3_omp   libfftw3_omp (links FFTW3::fftw3 and OpenMP)
#
# FFTW3_ROOT (or CMAKE_PREFIX_PATH) points at an installation; pkg-config's fftw3 module is used
# as a hint where present. Installed with kmdflow's package, whose static libraries link both.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_FFTW3 QUIET fftw3)
endif()
find_path(FFTW3_INCLUDE_DIR fftw3.h HINTS ${PC_FFTW3_INCLUDEDIR} ${PC_FFTW3_INCLUDE_DIRS})
find_library(FFTW3_LIBRARY NAMES fftw3 HINTS ${PC_FFTW3_LIBDIR} ${PC_FFTW3_LIBRARY_DIRS})
find_library(FFTW3_OMP_LIBRARY NAMES fftw3_omp HINTS ${PC_FFTW3_LIBDIR} ${PC_FFTW3_LIBRARY_DIRS})
set(FFTW3_VERSION ${PC_FFTW3_VERSION})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(FFTW3 REQUIRED_VARS FFTW3_LIBRARY FFTW3_OMP_LIBRARY FFTW3_INCLUDE_DIR
                                  VERSION_VAR FFTW3_VERSION)
if(FFTW3_FOUND AND NOT TARGET FFTW3::fftw3)
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  add_library(FFTW3::fftw3 UNKNOWN IMPORTED)
  set_target_properties(FFTW3::fftw3 PROPERTIES IMPORTED_LOCATION ${FFTW3_LIBRARY}
                                                INTERFACE_INCLUDE_DIRECTORIES ${FFTW3_INCLUDE_DIR})
  add_library(FFTW3::fftw3_omp UNKNOWN IMPORTED)
  set_target_properties(FFTW3::fftw3_omp PROPERTIES IMPORTED_LOCATION ${FFTW3_OMP_LIBRARY}
                                                    INTERFACE_LINK_LIBRARIES "FFTW3::fftw3;OpenMP::OpenMP_CXX")
endif()
mark_as_advanced(FFTW3_INCLUDE_DIR FFTW3_LIBRARY FFTW3_OMP_LIBRARY)
