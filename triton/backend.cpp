// libtriton_tx2yolo.so: a Triton Inference Server backend on the raw backend
// C API (version 1.8, so that JetPack 4.6.1's Triton 2.19 loads it; newer
// servers load it too). Declarations: triton/triton_api.h (our own).
//
// The model: one tx2yolo model file in the version folder
// (<repo>/<name>/<version>/model.safetensors, or the "model_file" parameter).
//   input  IMAGE        UINT8 [batch, H, W, 3]   BGR (or RGB: color_order parameter)
//   output DETECTIONS   FP32  [batch, K, 6]      class, score, x1, y1, x2, y2 in the
//                                                image's pixels; every detection NMS keeps, by
//                                                descending score; rows past an image's own
//                                                count (when a request holds several images)
//                                                are class -1, score 0
//   output CLASS_NAMES  BYTES [batch, C]         the model's class names
// Dynamic batching: the requests of one Execute call (each of one or more
// images, of any sizes) run through Detector::detect_batch, up to
// max_batch_size images per network run. Each instance has its own detector:
// KIND_GPU on its device (CUDA backend), KIND_CPU on the CPU backend.
// Parameters (config.pbtxt, all strings): model_file, color_order (BGR|RGB),
// precision (fp32|fp16), threads (CPU), conf_threshold, score_threshold,
// nms_threshold, keep_top_k.
// A bad request (wrong type, rank, channels, a zero-sized image, a size
// that does not match its bytes) gets INVALID_ARG with the reason; any other
// failure INTERNAL. Nothing a request holds can stop the server.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "engine/detector.h"
#include "engine/tactics.h"
#include "triton/triton_api.h"

namespace {

using tx2yolo::Detection;

TRITONSERVER_Error* error(TRITONSERVER_Error_Code code, const std::string& message) {
  return TRITONSERVER_ErrorNew(code, ("tx2yolo: " + message).c_str());
}

// A failed Triton call inside our own code: thrown, caught at the API edge.
struct TritonFailure {
  TRITONSERVER_Error* err;
};
void check(TRITONSERVER_Error* err) {
  if (err) throw TritonFailure{err};
}

struct ModelState {
  std::string model_path;
  std::string color_order = "BGR";
  int max_batch = 1;
  tx2yolo::DetectorOptions options;  // without backend and device: those are the instance's
};

struct InstanceState {
  ModelState* model = nullptr;
  std::unique_ptr<tx2yolo::Detector> detector;
};

std::string string_parameter(const nlohmann::json& config, const char* key, const std::string& fallback) {
  if (!config.contains("parameters") || !config["parameters"].contains(key)) return fallback;
  const nlohmann::json& p = config["parameters"][key];
  return p.contains("string_value") && p["string_value"].is_string() ? p["string_value"].get<std::string>() : fallback;
}

// Reads the model's config.pbtxt (as JSON) into the model state.
ModelState* load_model_state(TRITONBACKEND_Model* model) {
  TRITONSERVER_Message* message = nullptr;
  check(TRITONBACKEND_ModelConfig(model, 1, &message));
  const char* base = nullptr;
  size_t size = 0;
  TRITONSERVER_Error* err = TRITONSERVER_MessageSerializeToJson(message, &base, &size);
  nlohmann::json config;
  if (!err) config = nlohmann::json::parse(std::string(base, size), nullptr, false);
  TRITONSERVER_MessageDelete(message);
  check(err);
  if (config.is_discarded()) throw TritonFailure{error(TRITONSERVER_ERROR_INTERNAL, "the model config is not JSON")};

  TRITONBACKEND_ArtifactType artifact;
  const char* location = nullptr;
  uint64_t version = 0;
  check(TRITONBACKEND_ModelRepository(model, &artifact, &location));
  check(TRITONBACKEND_ModelVersion(model, &version));
  auto state = std::make_unique<ModelState>();
  state->model_path = std::string(location) + "/" + std::to_string(version) + "/" +
                      string_parameter(config, "model_file", "model.safetensors");
  state->color_order = string_parameter(config, "color_order", "BGR");
  if (state->color_order != "BGR" && state->color_order != "RGB")
    throw TritonFailure{error(TRITONSERVER_ERROR_INVALID_ARG, "parameter color_order must be BGR or RGB, not " +
                                                                  state->color_order)};
  const int max_batch = config.value("max_batch_size", 0);
  state->max_batch = std::max(1, std::min(max_batch, tx2yolo::kMaxBatch));
  tx2yolo::DetectorOptions& o = state->options;
  try {
    o.precision = tx2yolo::precision_from_string(string_parameter(config, "precision", "fp32"));
    const std::string threads = string_parameter(config, "threads", "");
    if (!threads.empty()) o.threads = std::stoi(threads);
    for (auto p : {std::make_pair("conf_threshold", &o.conf_threshold), std::make_pair("score_threshold", &o.score_threshold),
                   std::make_pair("nms_threshold", &o.nms_threshold)}) {
      const std::string v = string_parameter(config, p.first, "");
      if (!v.empty()) *p.second = std::stof(v);
    }
    const std::string k = string_parameter(config, "keep_top_k", "");
    if (!k.empty()) o.keep_top_k = std::stoi(k);
  } catch (const std::exception& e) {
    throw TritonFailure{error(TRITONSERVER_ERROR_INVALID_ARG, std::string("bad parameter: ") + e.what())};
  }
  o.batch = state->max_batch;
  return state.release();
}

// One request's images, checked; throws TritonFailure(INVALID_ARG) with the reason.
struct RequestImages {
  std::vector<cv::Mat> images;      // BGR, views into the request or `owned`
  std::vector<std::uint8_t> owned;  // where the input came in several buffers
  std::vector<cv::Mat> converted;   // RGB inputs turned BGR
};

void read_request(TRITONBACKEND_Request* request, const ModelState& model, RequestImages* out) {
  TRITONBACKEND_Input* input = nullptr;
  TRITONSERVER_Error* err = TRITONBACKEND_RequestInput(request, "IMAGE", &input);
  if (err) {
    TRITONSERVER_ErrorDelete(err);
    throw TritonFailure{error(TRITONSERVER_ERROR_INVALID_ARG, "the request has no input IMAGE")};
  }
  const char* name = nullptr;
  TRITONSERVER_DataType datatype;
  const int64_t* shape = nullptr;
  uint32_t dims = 0, buffers = 0;
  uint64_t bytes = 0;
  check(TRITONBACKEND_InputProperties(input, &name, &datatype, &shape, &dims, &bytes, &buffers));
  auto invalid = [](const std::string& why) { return TritonFailure{error(TRITONSERVER_ERROR_INVALID_ARG, why)}; };
  if (datatype != TRITONSERVER_TYPE_UINT8) throw invalid("IMAGE must be UINT8");
  if (dims != 4) throw invalid("IMAGE must be [batch, height, width, 3], not of rank " + std::to_string(dims));
  const int64_t n = shape[0], h = shape[1], w = shape[2], c = shape[3];
  if (c != 3) throw invalid("IMAGE must have 3 channels, not " + std::to_string(c));
  if (n < 1 || h < 1 || w < 1) throw invalid("IMAGE is empty (" + std::to_string(n) + " x " + std::to_string(h) +
                                             " x " + std::to_string(w) + ")");
  if (h > 32768 || w > 32768) throw invalid("IMAGE is larger than 32768 pixels on a side");
  const uint64_t image_bytes = static_cast<uint64_t>(h) * static_cast<uint64_t>(w) * 3;
  if (bytes != image_bytes * static_cast<uint64_t>(n)) throw invalid("IMAGE's byte size does not match its shape");
  const std::uint8_t* data = nullptr;
  if (buffers == 1) {
    const void* buffer = nullptr;
    uint64_t size = 0;
    TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
    int64_t memory_id = 0;
    check(TRITONBACKEND_InputBuffer(input, 0, &buffer, &size, &memory, &memory_id));
    if (memory == TRITONSERVER_MEMORY_GPU) throw invalid("IMAGE in GPU memory is not supported; send it in CPU memory");
    data = static_cast<const std::uint8_t*>(buffer);
  } else {
    out->owned.resize(bytes);
    uint64_t at = 0;
    for (uint32_t i = 0; i < buffers; ++i) {
      const void* buffer = nullptr;
      uint64_t size = 0;
      TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
      int64_t memory_id = 0;
      check(TRITONBACKEND_InputBuffer(input, i, &buffer, &size, &memory, &memory_id));
      if (memory == TRITONSERVER_MEMORY_GPU) throw invalid("IMAGE in GPU memory is not supported");
      if (at + size > bytes) throw invalid("IMAGE's buffers hold more bytes than its shape");
      std::memcpy(out->owned.data() + at, buffer, size);
      at += size;
    }
    data = out->owned.data();
  }
  for (int64_t i = 0; i < n; ++i) {
    cv::Mat view(static_cast<int>(h), static_cast<int>(w), CV_8UC3,
                 const_cast<std::uint8_t*>(data + static_cast<uint64_t>(i) * image_bytes));
    if (model.color_order == "RGB") {
      out->converted.emplace_back();
      cv::cvtColor(view, out->converted.back(), cv::COLOR_RGB2BGR);
      out->images.push_back(out->converted.back());
    } else {
      out->images.push_back(view);
    }
  }
}

bool output_requested(TRITONBACKEND_Request* request, const char* wanted) {
  uint32_t count = 0;
  if (TRITONSERVER_Error* err = TRITONBACKEND_RequestOutputCount(request, &count)) {
    TRITONSERVER_ErrorDelete(err);
    return true;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const char* name = nullptr;
    if (TRITONSERVER_Error* err = TRITONBACKEND_RequestOutputName(request, i, &name)) {
      TRITONSERVER_ErrorDelete(err);
      continue;
    }
    if (name && std::strcmp(name, wanted) == 0) return true;
  }
  return false;
}

void* output_buffer(TRITONBACKEND_Response* response, const char* name, TRITONSERVER_DataType type,
                    const std::vector<int64_t>& shape, uint64_t bytes) {
  TRITONBACKEND_Output* output = nullptr;
  check(TRITONBACKEND_ResponseOutput(response, &output, name, type, shape.data(), static_cast<uint32_t>(shape.size())));
  void* buffer = nullptr;
  TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
  int64_t memory_id = 0;
  check(TRITONBACKEND_OutputBuffer(output, &buffer, bytes, &memory, &memory_id));
  if (memory == TRITONSERVER_MEMORY_GPU)
    throw TritonFailure{error(TRITONSERVER_ERROR_INTERNAL, std::string("output ") + name + " was given GPU memory")};
  return buffer;
}

// Fills a response with one request's results.
void write_response(TRITONBACKEND_Request* request, TRITONBACKEND_Response* response,
                    const std::vector<std::vector<Detection>>& results, const tx2yolo::Detector& detector) {
  const int64_t n = static_cast<int64_t>(results.size());
  if (output_requested(request, "DETECTIONS")) {
    std::size_t k = 0;
    for (const auto& r : results) k = std::max(k, r.size());
    const std::vector<int64_t> shape = {n, static_cast<int64_t>(k), 6};
    auto* out = static_cast<float*>(output_buffer(response, "DETECTIONS", TRITONSERVER_TYPE_FP32, shape,
                                                  static_cast<uint64_t>(n) * k * 6 * sizeof(float)));
    for (int64_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < k; ++j) {
        float* row = out + (static_cast<std::size_t>(i) * k + j) * 6;
        if (j < results[i].size()) {
          const Detection& d = results[i][j];
          const float values[6] = {static_cast<float>(d.class_id), d.score, d.x1, d.y1, d.x2, d.y2};
          std::memcpy(row, values, sizeof(values));
        } else {
          const float pad[6] = {-1.f, 0.f, 0.f, 0.f, 0.f, 0.f};
          std::memcpy(row, pad, sizeof(pad));
        }
      }
    }
  }
  if (output_requested(request, "CLASS_NAMES")) {
    const std::vector<std::string>& names = detector.config().classes;
    std::string one;  // BYTES: each element a 4-byte little-endian length, then the bytes
    for (const std::string& s : names) {
      const uint32_t len = static_cast<uint32_t>(s.size());
      const unsigned char le[4] = {static_cast<unsigned char>(len), static_cast<unsigned char>(len >> 8),
                                   static_cast<unsigned char>(len >> 16), static_cast<unsigned char>(len >> 24)};
      one.append(reinterpret_cast<const char*>(le), 4);
      one += s;
    }
    const std::vector<int64_t> shape = {n, static_cast<int64_t>(names.size())};
    auto* out = static_cast<char*>(output_buffer(response, "CLASS_NAMES", TRITONSERVER_TYPE_BYTES, shape,
                                                 static_cast<uint64_t>(n) * one.size()));
    for (int64_t i = 0; i < n; ++i) std::memcpy(out + static_cast<std::size_t>(i) * one.size(), one.data(), one.size());
  }
}

// Triton's statistics use steady-clock nanoseconds.
uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void ignore(TRITONSERVER_Error* err) {
  if (err) TRITONSERVER_ErrorDelete(err);
}

void send_error(TRITONBACKEND_Request* request, TRITONSERVER_Error* err) {
  TRITONBACKEND_Response* response = nullptr;
  if (TRITONSERVER_Error* e = TRITONBACKEND_ResponseNew(&response, request)) {
    TRITONSERVER_ErrorDelete(e);
    TRITONSERVER_ErrorDelete(err);
    return;
  }
  if (TRITONSERVER_Error* e = TRITONBACKEND_ResponseSend(response, TRITONSERVER_RESPONSE_COMPLETE_FINAL, err))
    TRITONSERVER_ErrorDelete(e);
  TRITONSERVER_ErrorDelete(err);
}

}  // namespace

extern "C" {

TX2YOLO_TRITON_EXPORT TRITONSERVER_Error* TRITONBACKEND_Initialize(TRITONBACKEND_Backend* backend) {
  uint32_t major = 0, minor = 0;
  if (TRITONSERVER_Error* err = TRITONBACKEND_ApiVersion(&major, &minor)) return err;
  if (major != TRITONBACKEND_API_VERSION_MAJOR || minor < TRITONBACKEND_API_VERSION_MINOR)
    return error(TRITONSERVER_ERROR_UNSUPPORTED,
                 "needs backend API " + std::to_string(TRITONBACKEND_API_VERSION_MAJOR) + "." +
                     std::to_string(TRITONBACKEND_API_VERSION_MINOR) + " or a later 1.x; the server has " +
                     std::to_string(major) + "." + std::to_string(minor));
  return nullptr;
}

TX2YOLO_TRITON_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model* model) {
  try {
    return TRITONBACKEND_ModelSetState(model, load_model_state(model));
  } catch (const TritonFailure& f) {
    return f.err;
  } catch (const std::exception& e) {
    return error(TRITONSERVER_ERROR_INTERNAL, e.what());
  }
}

TX2YOLO_TRITON_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model* model) {
  void* state = nullptr;
  if (TRITONSERVER_Error* err = TRITONBACKEND_ModelState(model, &state)) return err;
  delete static_cast<ModelState*>(state);
  return nullptr;
}

TX2YOLO_TRITON_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceInitialize(TRITONBACKEND_ModelInstance* instance) {
  try {
    TRITONBACKEND_Model* model = nullptr;
    check(TRITONBACKEND_ModelInstanceModel(instance, &model));
    void* model_state = nullptr;
    check(TRITONBACKEND_ModelState(model, &model_state));
    TRITONSERVER_InstanceGroupKind kind;
    int32_t device = 0;
    check(TRITONBACKEND_ModelInstanceKind(instance, &kind));
    check(TRITONBACKEND_ModelInstanceDeviceId(instance, &device));
    auto state = std::make_unique<InstanceState>();
    state->model = static_cast<ModelState*>(model_state);
    tx2yolo::DetectorOptions options = state->model->options;
    if (kind == TRITONSERVER_INSTANCEGROUPKIND_GPU) {
      options.backend = tx2yolo::BackendKind::kCuda;
      options.device = device;
    } else if (kind == TRITONSERVER_INSTANCEGROUPKIND_CPU) {
      options.backend = tx2yolo::BackendKind::kCpu;
    } else {
      return error(TRITONSERVER_ERROR_INVALID_ARG, "instance_group kind must be KIND_GPU or KIND_CPU");
    }
    state->detector = std::make_unique<tx2yolo::Detector>(state->model->model_path, options);
    return TRITONBACKEND_ModelInstanceSetState(instance, state.release());
  } catch (const TritonFailure& f) {
    return f.err;
  } catch (const std::exception& e) {
    return error(TRITONSERVER_ERROR_INTERNAL, e.what());
  }
}

TX2YOLO_TRITON_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceFinalize(TRITONBACKEND_ModelInstance* instance) {
  void* state = nullptr;
  if (TRITONSERVER_Error* err = TRITONBACKEND_ModelInstanceState(instance, &state)) return err;
  delete static_cast<InstanceState*>(state);
  return nullptr;
}

// Every request is answered (a response or an error) and released here;
// returning an error would hand the requests back to the server, so only
// a failure before any request is touched is returned.
TX2YOLO_TRITON_EXPORT TRITONSERVER_Error* TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance* instance,
                                                                            TRITONBACKEND_Request** requests,
                                                                            const uint32_t request_count) {
  const uint64_t exec_start = now_ns();
  void* raw_state = nullptr;
  if (TRITONSERVER_Error* err = TRITONBACKEND_ModelInstanceState(instance, &raw_state)) return err;
  InstanceState& state = *static_cast<InstanceState*>(raw_state);
  std::vector<RequestImages> inputs(request_count);
  std::vector<bool> valid(request_count, false);
  std::vector<cv::Mat> all;
  for (uint32_t r = 0; r < request_count; ++r) {
    try {
      read_request(requests[r], *state.model, &inputs[r]);
      valid[r] = true;
      all.insert(all.end(), inputs[r].images.begin(), inputs[r].images.end());
    } catch (const TritonFailure& f) {
      send_error(requests[r], f.err);
    } catch (const std::exception& e) {
      send_error(requests[r], error(TRITONSERVER_ERROR_INTERNAL, e.what()));
    }
  }
  // The images of all valid requests, max_batch_size at a time.
  std::vector<std::vector<Detection>> results;
  TRITONSERVER_Error* run_error = nullptr;
  const uint64_t compute_start = now_ns();
  try {
    const std::size_t batch = static_cast<std::size_t>(state.detector->batch());
    for (std::size_t at = 0; at < all.size(); at += batch) {
      const std::vector<cv::Mat> chunk(all.begin() + at, all.begin() + std::min(all.size(), at + batch));
      std::vector<std::vector<Detection>> out = state.detector->detect_batch(chunk);
      for (auto& o : out) results.push_back(std::move(o));
    }
  } catch (const std::exception& e) {
    run_error = error(TRITONSERVER_ERROR_INTERNAL, e.what());
  }
  const uint64_t compute_end = now_ns();
  std::size_t at = 0;
  for (uint32_t r = 0; r < request_count; ++r) {
    if (valid[r]) {
      const std::size_t n = inputs[r].images.size();
      if (run_error) {
        send_error(requests[r], TRITONSERVER_ErrorNew(TRITONSERVER_ErrorCode(run_error), TRITONSERVER_ErrorMessage(run_error)));
      } else {
        TRITONBACKEND_Response* response = nullptr;
        TRITONSERVER_Error* err = TRITONBACKEND_ResponseNew(&response, requests[r]);
        if (!err) {
          try {
            const std::vector<std::vector<Detection>> mine(results.begin() + at, results.begin() + at + n);
            write_response(requests[r], response, mine, *state.detector);
          } catch (const TritonFailure& f) {
            err = f.err;
          } catch (const std::exception& e) {
            err = error(TRITONSERVER_ERROR_INTERNAL, e.what());
          }
          if (TRITONSERVER_Error* e = TRITONBACKEND_ResponseSend(response, TRITONSERVER_RESPONSE_COMPLETE_FINAL, err))
            TRITONSERVER_ErrorDelete(e);
        }
        if (err) TRITONSERVER_ErrorDelete(err);
      }
      at += n;
    }
    // Per-request statistics (Triton's model statistics and metrics), before the release.
    ignore(TRITONBACKEND_ModelInstanceReportStatistics(instance, requests[r], valid[r] && !run_error, exec_start,
                                                       compute_start, compute_end, now_ns()));
    if (TRITONSERVER_Error* e = TRITONBACKEND_RequestRelease(requests[r], TRITONSERVER_REQUEST_RELEASE_ALL))
      TRITONSERVER_ErrorDelete(e);
  }
  if (!all.empty() && !run_error)
    ignore(TRITONBACKEND_ModelInstanceReportBatchStatistics(instance, all.size(), exec_start, compute_start,
                                                            compute_end, now_ns()));
  if (run_error) TRITONSERVER_ErrorDelete(run_error);
  return nullptr;
}

}  // extern "C"
