# The installable CMake package: `cmake --install BUILD --prefix P` installs
# the libraries, their headers under P/include/tx2yolo/<part>/, and
# P/lib/cmake/tx2yolo/tx2yoloConfig.cmake with the imported targets
#   tx2yolo::engine   the Detector API and the backends (and all below it)
#   tx2yolo::convert  the Paddle checkpoint converter
# (and tx2yolo::core, ::weights, ::kernels, ::layers, which those link).
# A consumer: find_package(tx2yolo REQUIRED); target_link_libraries(app
# PRIVATE tx2yolo::engine); #include "engine/detector.h". examples/cpp is
# one, built and run against an install prefix by the CMakePackage test.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_tx2yolo_parts core weights kernels layers engine convert)
foreach(_part IN LISTS _tx2yolo_parts)
  set_target_properties(tx2yolo_${_part} PROPERTIES EXPORT_NAME ${_part})
  add_library(tx2yolo::${_part} ALIAS tx2yolo_${_part})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_part}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tx2yolo/${_part}
          COMPONENT development FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
endforeach()
# nlohmann-json is part of the engine's public interface: with the fetched
# headers (cmake/deps.cmake) there is no package for a consumer to find.
if("nlohmann_json" IN_LIST TX2YOLO_FETCHED_DEPS)
  message(STATUS "tx2yolo: no installable CMake package with a fetched nlohmann-json (install nlohmann-json3-dev)")
  return()
endif()
# The warnings target is linked privately; a static library's private links
# still appear in its export (as link-only), so it is exported too. It adds
# nothing to a consumer's compile or link.
set_target_properties(tx2yolo_warnings PROPERTIES EXPORT_NAME warnings)
install(TARGETS tx2yolo_core tx2yolo_weights tx2yolo_kernels tx2yolo_layers tx2yolo_engine tx2yolo_convert
                tx2yolo_warnings
        EXPORT tx2yoloTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tx2yolo)
install(EXPORT tx2yoloTargets NAMESPACE tx2yolo:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tx2yolo
        COMPONENT development)
set(TX2YOLO_PACKAGE_WITH_CUDA ${TX2YOLO_WITH_CUDA})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tx2yoloConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tx2yoloConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tx2yolo)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tx2yoloConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tx2yoloConfig.cmake ${PROJECT_BINARY_DIR}/tx2yoloConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tx2yolo COMPONENT development)
