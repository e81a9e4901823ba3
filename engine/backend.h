// Backend: runs the network (graph nodes) for one preprocessed input and
// keeps the graph outputs for the post-processing. Internal to engine/.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tactics.h"
#include "kernels/multiclass_nms.h"
#include "kernels/preprocess.h"
#include "kernels/yolo_box.h"
#include "weights/graph.h"

namespace tx2yolo {

class Backend {
 public:
  virtual ~Backend() = default;
  // Images per run (the batch the backend was built for), >= 1.
  virtual int batch() const = 0;
  // input: [batch, 3, H, W] float32.
  virtual void run(const float* input) = 0;
  // Preprocesses 8-bit BGR images (bgr[i] with params[i], into batch slot i;
  // at most batch() of them, slots past them keep stale data) on the
  // backend's device and runs the network on the batch. Returns false when
  // the backend has no preprocessing of its own (the Detector then
  // preprocesses on the CPU and calls run()).
  virtual bool run_images(const std::vector<PreprocessParams>& params, const std::vector<const std::uint8_t*>& bgr) {
    return false;
  }
  // A tensor of the last run (graph outputs at least), [batch, C, H, W] in
  // host memory; throws Error if unknown.
  virtual const float* output(const std::string& name) const = 0;
  // Decodes the heads of batch slot `image` of the last run on the
  // backend's own device into host boxes [M, 4] and scores [C, M] (levels
  // and head tensor names in config order). Returns false when the backend
  // has no decode of its own; the Detector then decodes `output()` on the CPU.
  virtual bool decode(const std::vector<YoloBoxParams>& levels, const std::vector<std::string>& heads, int image,
                      float* boxes, float* scores) {
    return false;
  }
  // Decode and NMS of batch slot `image` of the last run entirely on the
  // backend's device, with only the detections copied back. Returns false
  // when the backend cannot (the Detector then uses decode() or the CPU, and
  // the CPU NMS). *overflow: candidates dropped for lack of capacity (0
  // normally).
  virtual bool detect(const std::vector<YoloBoxParams>& levels, const std::vector<std::string>& heads,
                      const MulticlassNmsParams& nms, int image, std::vector<Detection>* out, long long* overflow) {
    return false;
  }
  // The whole frame on the backend's device: preprocessing of up to
  // batch() 8-bit BGR images (bgr[i] with params[i], into batch slot i),
  // the network, and decode (levels[i]: image i's levels) + NMS of each
  // image, with only the detections coming back; (*out)[i] and
  // (*overflow)[i] are image i's. Returns false when the backend cannot do
  // all of it this way (the Detector then runs the stages one by one).
  virtual bool detect_frame(const std::vector<PreprocessParams>& params, const std::vector<const std::uint8_t*>& bgr,
                            const std::vector<std::vector<YoloBoxParams>>& levels,
                            const std::vector<std::string>& heads, const MulticlassNmsParams& nms,
                            std::vector<std::vector<Detection>>* out, std::vector<long long>* overflow) {
    return false;
  }
  // Device-side times of the last run in ms (preprocess, network, decode +
  // NMS of every image; 0 for a stage the device did not do), measured with
  // events on the device's stream; false when the backend has none (then the
  // Detector's host clock is all there is).
  virtual bool device_timings(double* preprocess_ms, double* network_ms, double* postprocess_ms) const {
    return false;
  }
  virtual std::string description() const = 0;
  // The kernel each conv layer runs and how it was chosen (empty for a
  // backend without tactics).
  virtual std::vector<LayerTactic> tactics() const { return {}; }
  // What the user should know about how the backend was set up, one line
  // each (e.g. tactic candidates that disagreed with the reference kernel).
  virtual std::vector<std::string> warnings() const { return {}; }
};

}  // namespace tx2yolo
