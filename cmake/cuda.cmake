# Decides whether the CUDA parts are built (TX2YOLO_WITH_CUDA) and picks the
# default architectures.
#
# TX2YOLO_CUDA=AUTO builds them when nvcc is found; ON requires nvcc; OFF never.
# CMAKE_CUDA_ARCHITECTURES, when not given, defaults to:
#   toolkit <= 12.x: 62 (Jetson TX2) 72 (Xavier) 75 80 86 87 (Orin) 89 90
#   toolkit >= 13  : 75 80 86 87 89 90 (13 dropped everything below sm_75)
# The last entry also embeds PTX, so newer cards JIT-compile it.
set(TX2YOLO_WITH_CUDA OFF)
if(NOT TX2YOLO_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER)
    # Look where the toolkit usually lives even if it is not on PATH.
    find_program(TX2YOLO_NVCC nvcc PATHS /usr/local/cuda/bin NO_CACHE)
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
    string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _m "${_nvcc_version}")
    set(_cuda_major "${CMAKE_MATCH_1}")
    if(_cuda_major AND _cuda_major LESS 13)
      set(CMAKE_CUDA_ARCHITECTURES "62-real;72-real;75-real;80-real;86-real;87-real;89-real;90")
    else()
      set(CMAKE_CUDA_ARCHITECTURES "75-real;80-real;86-real;87-real;89-real;90")
    endif()
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 14)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  find_package(CUDAToolkit REQUIRED)
endif()
