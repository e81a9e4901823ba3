// `tx2yolo inspect`: verify a model file and print its metadata, config,
// graph (with shapes and MACs at the chosen input size) and tensor table;
// or, with --device [N], the verified-features table (engine/verification.h)
// for that CUDA device, and with --verified-markdown the README's table.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "kernels/device.h"
#include "engine/verification.h"
#include "layers/layer.h"
#include "tools/commands.h"
#include "weights/model_file.h"

namespace tx2yolo {

namespace {

struct InspectArgs {
  std::string model;
  std::vector<int> input_size;
  bool tensors = true;
  bool device_table = false;  // --device given
  int device = 0;
  bool verified_markdown = false;
};

int run_inspect(const InspectArgs& a) {
  if (a.verified_markdown) {
    std::fputs(verified_features_markdown().c_str(), stdout);
    return 0;
  }
  if (a.device_table) {
    TX2_REQUIRE(a.model.empty(), "inspect: --device prints the device's table; give no model with it");
    TX2_REQUIRE(cuda_device_count() > a.device, "inspect --device: no CUDA device ", a.device, ": ",
                cuda_device_count() > 0 ? cat(cuda_device_count(), " present") : cuda_unavailable_reason());
    std::fputs(verified_features_for_device(a.device).c_str(), stdout);
    return 0;
  }
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  const ModelFile model = ModelFile::load(path);
  const ModelConfig& c = model.config();
  int h = c.input_h, w = c.input_w;
  input_size_option(a.input_size, &h, &w);
  const WeightShapes weights = model.weight_shapes();
  const auto shapes = infer_shapes(model.graph(), weights, h, w);

  std::printf("file: %s (%llu bytes)\n", path.c_str(), static_cast<unsigned long long>(model.file_bytes()));
  std::printf("format: %s version %s\n", model.metadata().at("format").c_str(),
              model.metadata().at("format_version").c_str());
  std::printf("provenance: %s\n", model.provenance().dump().c_str());
  for (const auto& kv : model.metadata()) {
    if (kv.first == "format" || kv.first == "format_version" || kv.first == "graph" || kv.first == "config" ||
        kv.first == "provenance")
      continue;
    std::printf("metadata %s: %s\n", kv.first.c_str(), kv.second.c_str());
  }
  std::printf("architecture: %s, %s head, model input %dx%d (shown at %dx%d)\n", c.architecture.c_str(),
              c.head_type.c_str(), c.input_h, c.input_w, h, w);
  std::string names;
  for (std::size_t i = 0; i < c.classes.size(); ++i) names += (i ? ", " : "") + c.classes[i];
  std::printf("classes (%zu): %s\n", c.classes.size(), names.c_str());
  for (const HeadConfig& head : c.heads) {
    std::string anchors;
    for (const auto& an : head.anchors) anchors += cat(anchors.empty() ? "" : " ", an.first, "x", an.second);
    std::printf("head %s: stride %d, anchors %s\n", head.tensor.c_str(), head.downsample, anchors.c_str());
  }
  std::printf("decode: conf_thresh %g, clip_bbox %s, scale_x_y %g, image size %s\n", c.decode.conf_thresh,
              c.decode.clip_bbox ? "true" : "false", c.decode.scale_x_y, c.decode.image_size.c_str());
  std::printf("nms: score_threshold %g, nms_top_k %d, keep_top_k %d, iou %g, normalized %s, background %d\n",
              c.nms.score_threshold, c.nms.nms_top_k, c.nms.keep_top_k, c.nms.nms_threshold,
              c.nms.normalized ? "true" : "false", c.nms.background_label);
  std::printf("preprocess: %s, resize %s, scale %g, mean [%g, %g, %g], std [%g, %g, %g]\n",
              c.preprocess.color.c_str(), c.preprocess.resize.c_str(), c.preprocess.scale, c.preprocess.mean[0],
              c.preprocess.mean[1], c.preprocess.mean[2], c.preprocess.std[0], c.preprocess.std[1],
              c.preprocess.std[2]);
  // Where the converter took each value from (recorded since the converter
  // stopped assuming defaults; older files say so).
  const nlohmann::json& prov = model.provenance();
  if (prov.is_object() && prov.contains("value_sources") && prov["value_sources"].is_object()) {
    for (const auto& kv : prov["value_sources"].items())
      std::printf("source of %s: %s\n", kv.key().c_str(),
                  kv.value().is_string() ? kv.value().get<std::string>().c_str() : kv.value().dump().c_str());
  } else {
    std::printf("source of values: not recorded (converted before tx2yolo recorded them, or not by convert)\n");
  }

  std::printf("\ngraph: %zu nodes\n", model.graph().nodes.size());
  std::printf("  %-3s %-44s %-16s %-40s %14s\n", "#", "node", "output [C,H,W]", "layer", "MACs");
  long long total_macs = 0;
  int index = 0;
  for (const Node& n : model.graph().nodes) {
    const std::unique_ptr<Layer> layer = make_layer(n, model, shapes, 1);
    const TensorShape& s = shapes.at(n.output);
    total_macs += layer->macs();
    std::printf("  %-3d %-44s %-16s %-40s %14lld\n", index++, n.name.c_str(),
                shape_to_string({s.c, s.h, s.w}).c_str(), layer->describe().c_str(), layer->macs());
  }
  long long params = 0;
  for (const TensorInfo& t : model.tensors()) params += t.numel();
  std::printf("total: %.3f GMAC (%.3f GFLOPs) at %dx%d, %lld parameters\n", total_macs / 1e9, 2 * total_macs / 1e9,
              h, w, params);

  if (a.tensors) {
    std::printf("\ntensors: %zu\n", model.tensors().size());
    for (const TensorInfo& t : model.tensors()) {
      std::printf("  %-52s F32 %-20s bytes [%llu, %llu)\n", t.name.c_str(), shape_to_string(t.shape).c_str(),
                  static_cast<unsigned long long>(t.begin), static_cast<unsigned long long>(t.end));
    }
  }
  std::printf("\nverified: %s is a valid tx2yolo model file\n", path.c_str());
  return 0;
}

}  // namespace

CommandRunner add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Verify a model file and print its metadata, graph and tensors");
  cmd->add_option("model", args->model, "Model file (default: the bundled demo model)");
  cmd->add_option("--input-size", args->input_size, "Show shapes and MACs at this input size: H, or H W")
      ->expected(1, 2);
  cmd->add_flag("!--no-tensors", args->tensors, "Do not print the tensor table");
  CLI::Option* device = cmd->add_option("--device", args->device,
                                        "Print, for CUDA device N (default 0), each CUDA feature's last verification "
                                        "on a GPU, whether it is on by default, and whether this device can run it")
                            ->expected(0, 1)
                            ->default_str("0")
                            ->check(CLI::Range(0, 64));
  cmd->add_flag("--verified-markdown", args->verified_markdown,
                "Print the verified-features table as the README's Markdown");
  return [args, device]() {
    args->device_table = device->count() > 0;
    return run_inspect(*args);
  };
}

}  // namespace tx2yolo
