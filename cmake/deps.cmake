# The third-party packages tx2yolo builds against, found once here.
#
# Each comes from the system first (Debian/Ubuntu packages, tools/install-deps.sh).
# Where the system has none, as on Ubuntu 18.04 / JetPack 4.6 (no CLI11, no
# nlohmann-json 3, GoogleTest as source only), a fallback is used, and said:
#   - CLI11 and nlohmann-json (header-only): FetchContent at the pinned tag
#     of the version tested here (Debian 12's), its headers only;
#   - GoogleTest: the source that libgtest-dev ships (/usr/src/googletest),
#     else FetchContent at the pinned tag;
#   - Google Benchmark: none; the microbenchmarks (bench/) are then skipped.
# TX2YOLO_FETCH_MISSING=OFF turns the downloads off (then a missing package
# is an error naming it). FETCHCONTENT_SOURCE_DIR_<NAME> points a fallback at
# a local copy instead of a download (the Deps.* tests do this).
# Minimum versions, and which were tested where: docs/jetson.md.
include(FetchContent)
option(TX2YOLO_FETCH_MISSING "Fetch CLI11, nlohmann-json and GoogleTest at pinned tags where no package is found" ON)
set(TX2YOLO_FETCHED_DEPS "")

# A header-only project at a pinned tag: its include/ as an INTERFACE target.
function(tx2yolo_fetch_headers name repository tag target)
  if(NOT TX2YOLO_FETCH_MISSING)
    message(FATAL_ERROR "${name} not found: install it (tools/install-deps.sh), or configure with "
                        "-DTX2YOLO_FETCH_MISSING=ON to fetch ${tag}")
  endif()
  FetchContent_Declare(${name} GIT_REPOSITORY ${repository} GIT_TAG ${tag} GIT_SHALLOW TRUE)
  FetchContent_GetProperties(${name})
  if(NOT ${name}_POPULATED)
    FetchContent_Populate(${name})
  endif()
  string(TOLOWER "${name}" lower)
  set(dir "${${lower}_SOURCE_DIR}/include")
  if(NOT EXISTS "${dir}")
    message(FATAL_ERROR "${name}: no include/ folder in ${${lower}_SOURCE_DIR}")
  endif()
  add_library(tx2yolo_fetched_${lower} INTERFACE)
  target_include_directories(tx2yolo_fetched_${lower} SYSTEM INTERFACE "$<BUILD_INTERFACE:${dir}>")
  add_library(${target} ALIAS tx2yolo_fetched_${lower})
  message(STATUS "tx2yolo: ${name} not found as a package; using ${tag} from ${dir}")
  set(TX2YOLO_FETCHED_DEPS ${TX2YOLO_FETCHED_DEPS} ${name} PARENT_SCOPE)
endfunction()

find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs videoio OPTIONAL_COMPONENTS highgui)

find_package(nlohmann_json 3.11 QUIET)
if(NOT nlohmann_json_FOUND)
  tx2yolo_fetch_headers(nlohmann_json https://github.com/nlohmann/json.git v3.11.2 nlohmann_json::nlohmann_json)
endif()

if(TX2YOLO_BUILD_CLI)
  find_package(CLI11 QUIET)
  if(NOT CLI11_FOUND)
    tx2yolo_fetch_headers(CLI11 https://github.com/CLIUtils/CLI11.git v2.1.2 CLI11::CLI11)
  endif()
endif()

if(TX2YOLO_BUILD_TESTS AND TX2YOLO_BUILD_CLI)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND AND NOT TARGET GTest::gtest_main)
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK ON CACHE BOOL "" FORCE)
    if(EXISTS /usr/src/googletest/CMakeLists.txt AND NOT FETCHCONTENT_SOURCE_DIR_GOOGLETEST)
      add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/_deps/googletest-system EXCLUDE_FROM_ALL)
      message(STATUS "tx2yolo: GoogleTest built from the source libgtest-dev ships (/usr/src/googletest)")
      set(TX2YOLO_FETCHED_DEPS ${TX2YOLO_FETCHED_DEPS} GoogleTest)
    elseif(TX2YOLO_FETCH_MISSING)
      FetchContent_Declare(googletest GIT_REPOSITORY https://github.com/google/googletest.git
                           GIT_TAG release-1.12.1 GIT_SHALLOW TRUE)
      FetchContent_GetProperties(googletest)
      if(NOT googletest_POPULATED)
        FetchContent_Populate(googletest)
        add_subdirectory(${googletest_SOURCE_DIR} ${googletest_BINARY_DIR} EXCLUDE_FROM_ALL)
      endif()
      message(STATUS "tx2yolo: GoogleTest release-1.12.1 fetched")
      set(TX2YOLO_FETCHED_DEPS ${TX2YOLO_FETCHED_DEPS} GoogleTest)
    else()
      message(FATAL_ERROR "GoogleTest not found: install libgtest-dev, or -DTX2YOLO_BUILD_TESTS=OFF")
    endif()
    if(NOT TARGET GTest::gtest_main)
      add_library(GTest::gtest_main ALIAS gtest_main)
      add_library(GTest::gtest ALIAS gtest)
    endif()
  endif()
endif()

if(TX2YOLO_BUILD_BENCH AND TX2YOLO_BUILD_CLI)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    message(STATUS "tx2yolo: Google Benchmark not found; the microbenchmarks (bench/) are skipped")
    set(TX2YOLO_BUILD_BENCH OFF)
  endif()
endif()
