# ctest package.consumer: installs the build into a fresh prefix, then configures, builds and runs
# examples/consumer against it (find_package(kmdflow), kmdflow::kernels). cmake -P with BUILD
# (the build directory), SOURCE (the repository) and WORK (a scratch directory).
file(REMOVE_RECURSE ${WORK})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "failed (${code}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
step(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
step(${CMAKE_COMMAND} -S ${SOURCE}/examples/consumer -B ${WORK}/build -G Ninja -DCMAKE_BUILD_TYPE=Release
     -DCMAKE_PREFIX_PATH=${WORK}/prefix)
step(${CMAKE_COMMAND} --build ${WORK}/build)
step(${WORK}/build/consumer)
# The installed program finds its plots beside itself (../lib/kmdflow/python), not in the source tree.
step(${WORK}/prefix/bin/kmdflow run --set time.t_end=0.1 --set particles.count=200 --out ${WORK}/run)
if(NOT EXISTS ${WORK}/run/energy.png OR NOT EXISTS ${WORK}/run/density.png)
  message(FATAL_ERROR "the installed kmdflow made no plots in ${WORK}/run")
endif()
