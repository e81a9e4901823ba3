# Checks the dependency direction (docs/architecture.md)
#   core <- weights, kernels <- layers <- engine <- eval, parity <- tools
#   core <- weights <- convert <- tools
#   engine <- gst, triton (the GStreamer element and the Triton backend, beside tools)
# on every #include "folder/..." in the sources (the CMake targets enforce it for
# linking; this catches a header-only reach upwards, which links fine).
#   cmake -DSOURCE_DIR=<repo root> -P cmake/check_layering.cmake
# Fails listing each offending file and include.
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "set SOURCE_DIR")
endif()

set(layers core weights convert kernels layers engine eval parity tools gst triton)
set(allowed_core core)
set(allowed_weights core weights)
set(allowed_convert core weights convert)
set(allowed_kernels core kernels)
set(allowed_layers core weights kernels layers)
set(allowed_engine core weights kernels layers engine)
set(allowed_eval core weights kernels layers engine eval)
set(allowed_parity core weights kernels layers engine parity)
set(allowed_tools core weights convert kernels layers engine eval parity tools)
set(allowed_gst core weights kernels layers engine gst)
set(allowed_triton core weights kernels layers engine triton)

set(violations "")
set(checked 0)
foreach(folder ${layers})
  file(GLOB_RECURSE files "${SOURCE_DIR}/${folder}/*.h" "${SOURCE_DIR}/${folder}/*.cpp"
       "${SOURCE_DIR}/${folder}/*.cu" "${SOURCE_DIR}/${folder}/*.cuh")
  foreach(f ${files})
    math(EXPR checked "${checked} + 1")
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"/]+/")
    foreach(line ${lines})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"/]+)/.*$" "\\1" top "${line}")
      list(FIND layers "${top}" is_layer)
      list(FIND allowed_${folder} "${top}" is_allowed)
      if(is_layer GREATER -1 AND is_allowed EQUAL -1)
        file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
        string(APPEND violations "\n  ${rel}: ${line}  (${folder}/ may include only: ${allowed_${folder}})")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  message(FATAL_ERROR "includes against the dependency direction:${violations}")
endif()
message(STATUS "layering: ${checked} files follow core <- weights (<- convert), kernels <- layers <- engine <- eval, parity <- tools")
