// oneDNN (Debian's libdnnl2, the 2.x C API), loaded at run time for the CPU
// backend's --cpu-convs onednn path (engine/onednn_backend.h).
//
// Why dlopen rather than linking: the engine has no link-time dependency
// on oneDNN, so one build serves machines with and without libdnnl2 (and
// JetPack's Ubuntu 18.04 has no oneDNN package); a process that never asks
// for the oneDNN path never loads it, and one that asks on a machine
// without libdnnl2 gets an Error naming the package. The build needs only
// the header (libdnnl-dev).
//
// Debian's oneDNN threads with OpenMP (libgomp). Its wait policy is left
// as the user sets it (OMP_WAIT_POLICY, GOMP_SPINCOUNT); onednn_wait_policy()
// reports it. The backend's default thread count adapts to other processes
// instead (engine/onednn_backend.h).
#pragma once

#include <string>

#ifdef TX2YOLO_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace tx2yolo {

#ifdef TX2YOLO_WITH_ONEDNN
// The functions the oneDNN path calls, looked up in libdnnl.so.2.
struct OnednnApi {
  decltype(&dnnl_engine_create) engine_create;
  decltype(&dnnl_engine_destroy) engine_destroy;
  decltype(&dnnl_stream_create) stream_create;
  decltype(&dnnl_stream_wait) stream_wait;
  decltype(&dnnl_stream_destroy) stream_destroy;
  decltype(&dnnl_memory_desc_init_by_tag) memory_desc_init_by_tag;
  decltype(&dnnl_memory_desc_get_size) memory_desc_get_size;
  decltype(&dnnl_memory_desc_equal) memory_desc_equal;
  decltype(&dnnl_memory_create) memory_create;
  decltype(&dnnl_memory_set_data_handle) memory_set_data_handle;
  decltype(&dnnl_memory_destroy) memory_destroy;
  decltype(&dnnl_convolution_forward_desc_init) convolution_forward_desc_init;
  decltype(&dnnl_resampling_forward_desc_init) resampling_forward_desc_init;
  decltype(&dnnl_eltwise_forward_desc_init) eltwise_forward_desc_init;
  decltype(&dnnl_concat_primitive_desc_create) concat_primitive_desc_create;
  decltype(&dnnl_reorder_primitive_desc_create) reorder_primitive_desc_create;
  decltype(&dnnl_primitive_desc_create) primitive_desc_create;
  decltype(&dnnl_primitive_desc_query) primitive_desc_query;
  decltype(&dnnl_primitive_desc_query_md) primitive_desc_query_md;
  decltype(&dnnl_primitive_desc_destroy) primitive_desc_destroy;
  decltype(&dnnl_primitive_create) primitive_create;
  decltype(&dnnl_primitive_execute) primitive_execute;
  decltype(&dnnl_primitive_destroy) primitive_destroy;
  decltype(&dnnl_primitive_attr_create) primitive_attr_create;
  decltype(&dnnl_primitive_attr_destroy) primitive_attr_destroy;
  decltype(&dnnl_primitive_attr_set_post_ops) primitive_attr_set_post_ops;
  decltype(&dnnl_post_ops_create) post_ops_create;
  decltype(&dnnl_post_ops_append_eltwise) post_ops_append_eltwise;
  decltype(&dnnl_post_ops_destroy) post_ops_destroy;
  decltype(&dnnl_version) version;
  decltype(&dnnl_get_effective_cpu_isa) get_effective_cpu_isa;
  // libgomp's, through libdnnl's dependencies: the calling thread's team size.
  void (*omp_set_num_threads)(int);
};

// Loads libdnnl.so.2 on the first call (thread-safe; later calls return
// the same result). Null when it cannot be loaded or lacks a function;
// *why then says why (when why is not null).
const OnednnApi* onednn_api(std::string* why = nullptr);

// Throws Error("cpu backend (oneDNN): <what> failed (<status name>)")
// unless status is dnnl_success.
void onednn_check(dnnl_status_t status, const char* what);
#endif

// True where this build has the oneDNN path and libdnnl.so.2 loads and has
// every function the path uses; otherwise false, with *why saying why.
bool onednn_available(std::string* why = nullptr);

// "libgomp's default", "OMP_WAIT_POLICY=passive", ...: the OpenMP wait
// policy the oneDNN path runs with, once loaded; "" when not available.
std::string onednn_wait_policy();

}  // namespace tx2yolo
