// `tx2yolo convert`: a PaddleDetection YOLOv3-MobileNetV1 checkpoint (any
// Paddle format, any widths, standard or separable head) to one model file.
//
//   tx2yolo convert model.pdparams -o model.safetensors [--config cfg.yml] [--labels labels.txt]
//
// Steps: read the checkpoint (tools/paddle/checkpoint.h), map it onto the
// graph template (yolov3_mapping.h), take the model config from the
// program's yolo_box/NMS ops, the PaddleDetection config and the labels,
// fold BN (bn_fold.h), and write the model file atomically.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "tools/commands.h"
#include "tools/paddle/bn_fold.h"
#include "tools/paddle/checkpoint.h"
#include "tools/paddle/ppdet_config.h"
#include "tools/paddle/yolov3_mapping.h"
#include "weights/model_file.h"

namespace tx2yolo {

namespace {

constexpr const char* kConverterVersion = "tx2yolo convert 0.1.0";

struct ConvertArgs {
  std::string input;
  std::string output;
  std::string format;
  std::string config;
  std::string labels;
  std::vector<int> input_size;
  bool quiet = false;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string joined(const std::vector<std::string>& v, std::size_t max) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max) s += cat(", ... (", v.size() - max, " more)");
  return s;
}

int run_convert(const ConvertArgs& a) {
  TX2_REQUIRE(!a.output.empty(), "convert: -o/--output is required");
  TX2_REQUIRE(!(file_exists(a.output) && same_file(a.output, a.input)), "convert: the output ", a.output,
              " is the input checkpoint");
  TX2_REQUIRE(!is_directory(a.output), "convert: the output ", a.output, " is a folder");

  const paddle::Checkpoint ckpt = paddle::load_checkpoint(a.input, a.format);
  const paddle::MappedModel m = paddle::map_yolov3_mobilenet_v1(ckpt);

  // Model config: template defaults, the program's own post-processing ops,
  // then the PaddleDetection config, the labels and the size flag.
  ModelConfig c = m.arch.config;
  std::vector<std::string> notes = ckpt.notes;
  std::string label_source;
  c.classes = paddle::default_labels(m.spec.num_classes, &label_source);
  std::string family = m.naming == "static" ? "static" : "dygraph";
  const paddle::ProgramPostprocess& pp = m.postprocess;
  if (pp.has_nms && !pp.nms.normalized) family = "static";
  paddle::apply_postprocess_family(family, &c);
  if (pp.has_yolo_box) {
    TX2_REQUIRE(pp.heads.size() == c.heads.size(), a.input, ": the program has ", pp.heads.size(),
                " yolo_box ops, the model has ", c.heads.size(), " heads");
    c.heads = pp.heads;
    c.decode.conf_thresh = pp.decode.conf_thresh;
    c.decode.clip_bbox = pp.decode.clip_bbox;
    c.decode.scale_x_y = pp.decode.scale_x_y;
    notes.push_back("anchors and decode settings from the program's yolo_box ops");
  }
  if (pp.has_nms) {
    c.nms = pp.nms;
    notes.push_back("NMS settings from the program's NMS op");
  }
  if (pp.input_h > 0) {
    c.input_h = pp.input_h;
    c.input_w = pp.input_w;
  }
  std::string config_family;
  if (!a.config.empty()) {
    const paddle::PpdetConfig cfg = paddle::apply_ppdet_config(a.config, &c);
    config_family = cfg.family;
    notes.push_back(cat("PaddleDetection config (", cfg.family, "): ", joined(cfg.files, 8)));
    notes.insert(notes.end(), cfg.notes.begin(), cfg.notes.end());
  }
  bool labels_from_config = false;
  if (!a.config.empty()) labels_from_config = !c.classes.empty() && c.classes != paddle::default_labels(m.spec.num_classes, &label_source);
  if (!a.labels.empty()) {
    c.classes = paddle::read_labels_file(a.labels, m.spec.num_classes);
    notes.push_back(cat("class names from ", a.labels));
  } else if (!labels_from_config) {
    notes.push_back(cat("class names: ", label_source, " (", m.spec.num_classes, " classes)"));
  }
  if (!a.input_size.empty()) {
    c.input_h = a.input_size[0];
    c.input_w = a.input_size.size() > 1 ? a.input_size[1] : a.input_size[0];
  }
  validate_input_size(c.input_h, c.input_w, "convert: input size");

  // Fold BN and collect the tensors in graph order.
  std::vector<std::pair<std::string, HostTensor>> tensors;
  double worst_fold = 0;
  std::vector<std::string> dtypes;
  for (const paddle::MappedConv& conv : m.convs) {
    paddle::FoldedConv f = paddle::fold_conv(conv);
    worst_fold = std::max(worst_fold, f.max_self_check_error);
    tensors.emplace_back(conv.node + ".weight", std::move(f.weight));
    tensors.emplace_back(conv.node + ".bias", std::move(f.bias));
    for (const paddle::ParamTensor* t : {conv.weight, conv.bias, conv.bn.scale, conv.bn.bias, conv.bn.mean,
                                         conv.bn.variance})
      if (t && std::find(dtypes.begin(), dtypes.end(), t->source_dtype) == dtypes.end())
        dtypes.push_back(t->source_dtype);
  }
  if (dtypes != std::vector<std::string>{"float32"})
    notes.push_back(cat("parameters stored as ", joined(dtypes, 4), " were converted to float32"));

  double eps_min = 1e30, eps_max = 0;
  for (const paddle::MappedConv& conv : m.convs) {
    if (!conv.has_bn) continue;
    eps_min = std::min(eps_min, conv.bn.eps);
    eps_max = std::max(eps_max, conv.bn.eps);
  }

  nlohmann::json prov;
  prov["source"] = a.input;
  prov["source_sha256"] = sha256_hex_of_files(ckpt.files);
  prov["source_files"] = ckpt.files.size();
  prov["converter"] = kConverterVersion;
  prov["created"] = utc_now();
  prov["paddle_format"] = ckpt.format;
  prov["paddle_naming"] = m.naming;
  prov["postprocess_family"] = family;
  prov["batch_norm_epsilon"] = eps_min == eps_max ? cat(eps_min) : cat(eps_min, "..", eps_max);
  prov["batch_norm_epsilon_from"] = ckpt.has_program ? "program" : "PaddleDetection default";
  prov["bn_fold_self_check_max_relative_error"] = worst_fold;
  if (!a.config.empty()) prov["config"] = a.config;
  prov["unused_parameters"] = m.unused;
  prov["notes"] = notes;
  write_model_file(a.output, m.arch.graph, c, prov, tensors);

  if (!a.quiet) {
    std::printf("converted %s (%s, %s names) -> %s\n", a.input.c_str(), ckpt.format.c_str(), m.naming.c_str(),
                a.output.c_str());
    std::printf("  YOLOv3-MobileNetV1, %s head, %d classes, input %dx%d, %zu convs (BN folded, eps %s)\n",
                m.spec.separable_head ? "separable" : "standard", m.spec.num_classes, c.input_h, c.input_w,
                m.convs.size(), prov["batch_norm_epsilon"].get<std::string>().c_str());
    std::printf("  widths: stem %d, blocks", m.spec.stem_channels);
    for (int w : m.spec.block_channels) std::printf(" %d", w);
    for (int i = 0; i < 3; ++i) {
      std::printf(", det%d", i);
      for (int w : m.spec.det_block[static_cast<std::size_t>(i)]) std::printf(" %d", w);
    }
    std::printf(", transitions %d %d\n", m.spec.transition[0], m.spec.transition[1]);
    for (const std::string& n : notes) std::printf("  note: %s\n", n.c_str());
  }
  if (!m.unused.empty()) {
    std::fprintf(stderr, "warning: %zu checkpoint parameter(s) not used by YOLOv3-MobileNetV1: %s\n",
                 m.unused.size(), joined(m.unused, 10).c_str());
  }
  return 0;
}

}  // namespace

CommandRunner add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert a PaddleDetection YOLOv3-MobileNetV1 checkpoint (.pdparams, static per-variable folder, "
                 ".pdmodel + .pdiparams, __model__ + __params__) to a tx2yolo model file");
  cmd->add_option("input", args->input, "Paddle checkpoint: a file or a folder")->required();
  cmd->add_option("-o,--output", args->output, "Model file to write (.safetensors)")->required();
  cmd->add_option("--format", args->format, "Input format, overriding detection")
      ->check(CLI::IsMember(paddle::checkpoint_formats()));
  cmd->add_option("--config", args->config,
                  "PaddleDetection config .yml (or the export's infer_cfg.yml): anchors, thresholds, input size, "
                  "normalisation, labels");
  cmd->add_option("--labels", args->labels, "Class names, one per line (default: VOC or COCO by class count)");
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32")->expected(1, 2);
  cmd->add_flag("-q,--quiet", args->quiet, "Print nothing but warnings and errors");
  return [args] { return run_convert(*args); };
}

}  // namespace tx2yolo
