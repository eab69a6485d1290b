# The repository root, also when these helpers are included by fuzz/CMakeLists.txt.
set(SHALE_ROOT_DIR ${CMAKE_CURRENT_LIST_DIR}/..)

# shale_cc_library(NAME SRCS ... DEPS ...): one static library per module, target shale_<NAME>.
# Include paths are written from src/.
function(shale_cc_library NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(shale_${NAME} STATIC ${ARG_SRCS})
  target_include_directories(shale_${NAME} PUBLIC ${SHALE_ROOT_DIR}/src)
  target_link_libraries(shale_${NAME} PUBLIC ${ARG_DEPS})
endfunction()

# shale_cc_test(NAME SRCS ... DEPS ... [LABELS ...]): a GoogleTest binary registered with CTest.
function(shale_cc_test NAME)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT SHALE_BUILD_TESTS)
    return()
  endif()
  add_executable(${NAME} ${ARG_SRCS})
  # src/common/testing/test_main.cc, not GTest::gtest_main: the tests' files go to a directory
  # removed when they end.
  target_link_libraries(${NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock shale_test_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_test(NAME ${NAME} COMMAND ${NAME})
  set_tests_properties(${NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 600)
endfunction()
