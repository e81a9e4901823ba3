// Backend: runs the network (graph nodes) for one preprocessed input and
// keeps the graph outputs for the post-processing. Internal to engine/.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "weights/graph.h"

namespace tx2yolo {

class Backend {
 public:
  virtual ~Backend() = default;
  // input: [3, H, W] float32 for one image.
  virtual void run(const float* input) = 0;
  // A tensor of the last run (graph outputs at least); throws Error if unknown.
  virtual const float* output(const std::string& name) const = 0;
  virtual std::string description() const = 0;
};

}  // namespace tx2yolo
