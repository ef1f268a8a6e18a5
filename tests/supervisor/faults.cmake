# Faults under the supervisor (issue 17 §3, faults.sh): the agent killed
# mid-run, 200 threads at once, 100 children that exec, callers killed
# while their call is pending in the supervisor, the supervisor killed.
# Each case has a target of its own.  The programs are linked -static:
# the supervisor is the engine for what LD_PRELOAD cannot enter.
set(sf_progs sf_agentdeath sf_threads sf_forks sf_killed sf_svdeath)
foreach(prog ${sf_progs})
  add_executable(${prog} ${CMAKE_CURRENT_LIST_DIR}/${prog}.c)
  target_include_directories(${prog} PRIVATE ${PROJECT_SOURCE_DIR}/tests/layer)
  target_link_libraries(${prog} PRIVATE Threads::Threads)
  target_link_options(${prog} PRIVATE -static)
  if(SHUNT_SANITIZE) # no sanitizer runtime links -static
    target_compile_options(${prog} PRIVATE -fno-sanitize=all)
    target_link_options(${prog} PRIVATE -fno-sanitize=all)
  endif()
endforeach()
set(sf_cases agentdeath threads forks killed svdeath)
foreach(case ${sf_cases})
  add_test(NAME supervisor.fault_${case}
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/faults.sh $<TARGET_FILE:harness>
            ${CMAKE_CURRENT_LIST_DIR}/faults.yaml sfault-${case} ${case}
            $<TARGET_FILE:sf_${case}>)
  set_tests_properties(supervisor.fault_${case} PROPERTIES
    LABELS "integration;supervisor" TIMEOUT 300 SKIP_RETURN_CODE 77
    RESOURCE_LOCK target_sfault-${case})
endforeach()
