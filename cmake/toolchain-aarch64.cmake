# Cross-compiling tx2yolo's host code for aarch64 (the TX2's CPU) with
# Debian's cross toolchain (g++-aarch64-linux-gnu) against the arm64 sysroot
# that tools/aarch64-sysroot.sh unpacks from Debian's arm64 packages.
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DTX2YOLO_AARCH64_SYSROOT=DIR ...
# Tests run through qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR), so that
# CTest and gtest_discover_tests work from the x86-64 build machine.
# tools/aarch64-check.sh does all of this.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
if(NOT TX2YOLO_AARCH64_SYSROOT)
  message(FATAL_ERROR "set TX2YOLO_AARCH64_SYSROOT to the folder that tools/aarch64-sysroot.sh made")
endif()
set(CMAKE_SYSROOT "${TX2YOLO_AARCH64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${TX2YOLO_AARCH64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The sysroot's shared libraries pull in others (OpenCV's codecs, ...): let
# the linker find them there without baking the path into the binaries.
set(_tx2yolo_multiarch "${TX2YOLO_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_tx2yolo_multiarch} -Wl,-rpath-link,${_tx2yolo_multiarch}/blas -Wl,-rpath-link,${_tx2yolo_multiarch}/lapack")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${CMAKE_EXE_LINKER_FLAGS_INIT}")
# pkg-config (GStreamer, for gst/) reads the sysroot's .pc files only, never
# the host's x86-64 ones; the sysroot has no GStreamer, so gst/ is skipped.
set(ENV{PKG_CONFIG_LIBDIR} "${_tx2yolo_multiarch}/pkgconfig:${TX2YOLO_AARCH64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${TX2YOLO_AARCH64_SYSROOT}")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L "${TX2YOLO_AARCH64_SYSROOT}")
# Keep these through try_compile's nested projects.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TX2YOLO_AARCH64_SYSROOT)
