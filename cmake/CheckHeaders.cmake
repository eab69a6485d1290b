# check_headers: compiles every header under src/ on its own (one generated .cc per header), so a
# header that forgets an include fails the build (Seastar's checkheaders). Part of the test build.
function(shale_add_check_headers)
  file(GLOB_RECURSE headers RELATIVE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/*.h)
  set(sources "")
  foreach(header ${headers})
    string(REPLACE "/" "__" flat ${header})
    set(source ${CMAKE_BINARY_DIR}/check_headers/${flat}.cc)
    file(WRITE ${source}.tmp "#include \"${header}\"\n")
    configure_file(${source}.tmp ${source} COPYONLY)
    list(APPEND sources ${source})
  endforeach()
  add_library(check_headers OBJECT ${sources})
  target_include_directories(check_headers PRIVATE ${PROJECT_SOURCE_DIR}/src)
  # Every module's third-party include directories and definitions.
  target_link_libraries(check_headers PRIVATE shale_server shale_cli_lib GTest::gtest GTest::gmock)
endfunction()
