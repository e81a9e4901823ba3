#include "engine/onednn_api.h"

#include <mutex>

#include "core/error.h"

#ifdef TX2YOLO_WITH_ONEDNN
#include <dlfcn.h>

#include <cstdlib>
#endif

namespace tx2yolo {

#ifdef TX2YOLO_WITH_ONEDNN
namespace {

struct Loaded {
  OnednnApi api{};
  bool ok = false;
  std::string why;
  std::string wait_policy;
};

// The wait policy libgomp runs with: the user's, or its default (spin a
// while at a barrier, then sleep). tx2yolo leaves it alone: passive halved
// the demo model's speed at 2 threads, and libgomp is often loaded before
// main anyway (Debian's OpenCV pulls it in through FFmpeg's libsoxr).
std::string wait_policy() {
  if (const char* p = std::getenv("OMP_WAIT_POLICY")) return cat("OMP_WAIT_POLICY=", p);
  if (const char* s = std::getenv("GOMP_SPINCOUNT")) return cat("GOMP_SPINCOUNT=", s);
  return "libgomp's default";
}

template <typename F>
bool find(void* lib, const char* name, F* out, std::string* missing) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  if (!*out && missing->empty()) *missing = name;
  return *out != nullptr;
}

Loaded load() {
  Loaded l;
  l.wait_policy = wait_policy();
  void* lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    l.why = cat("libdnnl.so.2 (Debian's libdnnl2, oneDNN 2.x) could not be loaded: ", e ? e : "unknown reason");
    return l;
  }
  OnednnApi& a = l.api;
  std::string missing;
  find(lib, "dnnl_engine_create", &a.engine_create, &missing);
  find(lib, "dnnl_engine_destroy", &a.engine_destroy, &missing);
  find(lib, "dnnl_stream_create", &a.stream_create, &missing);
  find(lib, "dnnl_stream_wait", &a.stream_wait, &missing);
  find(lib, "dnnl_stream_destroy", &a.stream_destroy, &missing);
  find(lib, "dnnl_memory_desc_init_by_tag", &a.memory_desc_init_by_tag, &missing);
  find(lib, "dnnl_memory_desc_get_size", &a.memory_desc_get_size, &missing);
  find(lib, "dnnl_memory_desc_equal", &a.memory_desc_equal, &missing);
  find(lib, "dnnl_memory_create", &a.memory_create, &missing);
  find(lib, "dnnl_memory_set_data_handle", &a.memory_set_data_handle, &missing);
  find(lib, "dnnl_memory_destroy", &a.memory_destroy, &missing);
  find(lib, "dnnl_convolution_forward_desc_init", &a.convolution_forward_desc_init, &missing);
  find(lib, "dnnl_resampling_forward_desc_init", &a.resampling_forward_desc_init, &missing);
  find(lib, "dnnl_eltwise_forward_desc_init", &a.eltwise_forward_desc_init, &missing);
  find(lib, "dnnl_concat_primitive_desc_create", &a.concat_primitive_desc_create, &missing);
  find(lib, "dnnl_reorder_primitive_desc_create", &a.reorder_primitive_desc_create, &missing);
  find(lib, "dnnl_primitive_desc_create", &a.primitive_desc_create, &missing);
  find(lib, "dnnl_primitive_desc_query", &a.primitive_desc_query, &missing);
  find(lib, "dnnl_primitive_desc_query_md", &a.primitive_desc_query_md, &missing);
  find(lib, "dnnl_primitive_desc_destroy", &a.primitive_desc_destroy, &missing);
  find(lib, "dnnl_primitive_create", &a.primitive_create, &missing);
  find(lib, "dnnl_primitive_execute", &a.primitive_execute, &missing);
  find(lib, "dnnl_primitive_destroy", &a.primitive_destroy, &missing);
  find(lib, "dnnl_primitive_attr_create", &a.primitive_attr_create, &missing);
  find(lib, "dnnl_primitive_attr_destroy", &a.primitive_attr_destroy, &missing);
  find(lib, "dnnl_primitive_attr_set_post_ops", &a.primitive_attr_set_post_ops, &missing);
  find(lib, "dnnl_post_ops_create", &a.post_ops_create, &missing);
  find(lib, "dnnl_post_ops_append_eltwise", &a.post_ops_append_eltwise, &missing);
  find(lib, "dnnl_post_ops_destroy", &a.post_ops_destroy, &missing);
  find(lib, "dnnl_version", &a.version, &missing);
  find(lib, "dnnl_get_effective_cpu_isa", &a.get_effective_cpu_isa, &missing);
  find(lib, "omp_set_num_threads", &a.omp_set_num_threads, &missing);
  if (!missing.empty()) {
    l.why = cat("libdnnl.so.2 has no function ", missing);
    return l;  // the library stays loaded: unloading a library that started threads is unsafe
  }
  const dnnl_version_t* v = a.version();
  if (v->major != 2) {
    l.why = cat("libdnnl.so.2 reports oneDNN ", v->major, ".", v->minor, "; the 2.x API is needed");
    return l;
  }
  if (v->cpu_runtime != DNNL_RUNTIME_OMP) {
    l.why = cat("libdnnl.so.2 threads with CPU runtime ", v->cpu_runtime, ", not OpenMP, which this path sizes");
    return l;
  }
  l.ok = true;
  return l;
}

const Loaded& loaded() {
  static std::once_flag once;
  static Loaded l;
  std::call_once(once, [] { l = load(); });
  return l;
}

const char* status_name(dnnl_status_t s) {
  switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
  }
  return "unknown status";
}

}  // namespace

const OnednnApi* onednn_api(std::string* why) {
  const Loaded& l = loaded();
  if (!l.ok && why) *why = l.why;
  return l.ok ? &l.api : nullptr;
}

void onednn_check(dnnl_status_t status, const char* what) {
  TX2_REQUIRE(status == dnnl_success, "cpu backend (oneDNN): ", what, " failed (", status_name(status), ")");
}

bool onednn_available(std::string* why) { return onednn_api(why) != nullptr; }

std::string onednn_wait_policy() { return onednn_available() ? loaded().wait_policy : std::string(); }

#else

bool onednn_available(std::string* why) {
  if (why) *why = "this build has no oneDNN path (built without libdnnl-dev's 2.x header)";
  return false;
}

std::string onednn_wait_policy() { return ""; }

#endif

}  // namespace tx2yolo
