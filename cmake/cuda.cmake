# Decides whether the CUDA parts are built (TX2YOLO_WITH_CUDA) and picks the
# default architectures.
#
# TX2YOLO_CUDA=AUTO builds them when nvcc is found; ON requires nvcc; OFF never.
# CMAKE_CUDA_ARCHITECTURES, when not given, defaults to what the toolkit can
# build among the Jetsons and the desktop/server cards, by toolkit version:
#   10.x (JetPack 4.6)  62 (TX2) 72 (Xavier) 75
#   11.0                + 80
#   11.1 - 11.3         + 86
#   11.4 - 11.7         + 87 (Orin)
#   11.8 - 12.x         + 89 90
#   13 and later        75 80 86 87 89 90 (13 dropped everything below sm_75)
# The last entry also embeds PTX, so newer cards JIT-compile it.
set(TX2YOLO_WITH_CUDA OFF)
if(NOT TX2YOLO_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER)
    # Look where the toolkit usually lives even if it is not on PATH.
    find_program(TX2YOLO_NVCC nvcc PATHS /usr/local/cuda/bin)
    if(TX2YOLO_NVCC)
      set(CMAKE_CUDA_COMPILER "${TX2YOLO_NVCC}")
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(TX2YOLO_WITH_CUDA ON)
  elseif(TX2YOLO_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TX2YOLO_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "tx2yolo: nvcc not found, building without the CUDA backend")
  endif()
endif()

if(TX2YOLO_WITH_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" --version OUTPUT_VARIABLE _nvcc_version)
    string(REGEX MATCH "release ([0-9]+\\.[0-9]+)" _m "${_nvcc_version}")
    set(_cuda_version "${CMAKE_MATCH_1}")
    if(NOT _cuda_version)
      message(FATAL_ERROR "cannot read the CUDA version from '${CMAKE_CUDA_COMPILER} --version'; "
                          "set CMAKE_CUDA_ARCHITECTURES")
    elseif(_cuda_version VERSION_LESS 11.0)
      set(_archs 62 72 75)
    elseif(_cuda_version VERSION_LESS 11.1)
      set(_archs 62 72 75 80)
    elseif(_cuda_version VERSION_LESS 11.4)
      set(_archs 62 72 75 80 86)
    elseif(_cuda_version VERSION_LESS 11.8)
      set(_archs 62 72 75 80 86 87)
    elseif(_cuda_version VERSION_LESS 13.0)
      set(_archs 62 72 75 80 86 87 89 90)
    else()
      set(_archs 75 80 86 87 89 90)
    endif()
    # Machine code for each; PTX for the newest as well.
    list(POP_BACK _archs _newest)
    list(TRANSFORM _archs APPEND "-real")
    list(APPEND _archs ${_newest})
    set(CMAKE_CUDA_ARCHITECTURES "${_archs}")
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 14)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  find_package(CUDAToolkit REQUIRED)
endif()
