// `tx2yolo convert`: a PaddleDetection YOLOv3-MobileNetV1 checkpoint (any
// Paddle format, any widths, standard or separable head) to one model file.
//
//   tx2yolo convert model.pdparams -o model.safetensors [--config cfg.yml] [--labels labels.txt]
//
// Steps: read the checkpoint (convert/checkpoint.h), map it onto the
// graph template (yolov3_mapping.h), take the model config from the
// program's yolo_box/NMS ops, the PaddleDetection config and the labels,
// fold BN (bn_fold.h), and write the model file atomically.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/commands.h"
#include "convert/checkpoint.h"
#include "convert/converter.h"
#include "convert/ppdet_config.h"
#include "weights/model_file.h"

namespace tx2yolo {

namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  std::string format;
  std::string config;
  std::string labels;
  std::string defaults;
  std::vector<int> input_size;
  std::string prune;
  std::string criterion = "l1";
  bool include_backbone = false;
  bool quiet = false;
  std::string paddleslim;
};

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
  TX2_REQUIRE(a.paddleslim.empty() || (a.paddleslim != a.output && is_directory(path_dirname(a.paddleslim))),
              "--paddleslim-ratios ", a.paddleslim, ": not a file name beside an existing folder, or the same as -o");

  paddle::ConvertOptions o;
  o.input = a.input;
  o.format = a.format;
  o.config = a.config;
  o.labels = a.labels;
  o.defaults = a.defaults;
  o.prune = a.prune;
  o.criterion = a.criterion;
  o.include_backbone = a.include_backbone;
  input_size_option(a.input_size, &o.input_h, &o.input_w);
  const paddle::ConvertResult r = paddle::convert_checkpoint(o);
  const paddle::MappedModel& m = r.mapped;
  const ModelConfig& c = r.config;
  TX2_REQUIRE(a.paddleslim.empty() || !r.paddleslim.is_null(), "--paddleslim-ratios needs --prune");
  write_model_file(a.output, m.arch.graph, c, r.provenance, r.tensors);
  if (!a.paddleslim.empty()) write_json_file(a.paddleslim, r.paddleslim);

  if (!a.quiet) {
    std::printf("converted %s (%s, %s names) -> %s\n", a.input.c_str(), r.format.c_str(), m.naming.c_str(),
                a.output.c_str());
    std::printf("  YOLOv3-MobileNetV1, %s head, %d classes, input %dx%d, %zu convs (BN folded, eps %s)\n",
                m.spec.separable_head ? "separable" : "standard", m.spec.num_classes, c.input_h, c.input_w,
                m.convs.size(), r.provenance["batch_norm_epsilon"].get<std::string>().c_str());
    std::printf("  widths: stem %d, blocks", m.spec.stem_channels);
    for (int w : m.spec.block_channels) std::printf(" %d", w);
    for (int i = 0; i < 3; ++i) {
      std::printf(", det%d", i);
      for (int w : m.spec.det_block[static_cast<std::size_t>(i)]) std::printf(" %d", w);
    }
    std::printf(", transitions %d %d\n", m.spec.transition[0], m.spec.transition[1]);
    for (const std::string& v : paddle::convert_value_names())
      std::printf("  %-13s from %s\n", v.c_str(), r.sources.at(v).c_str());
    for (const std::string& n : r.notes) std::printf("  note: %s\n", n.c_str());
    if (!r.prune_report.empty()) {
      std::printf("\n  %-48s %9s %9s %14s %14s %12s %12s\n", "pruning (conv layer)", "filters", "after",
                  "MACs before", "MACs after", "params", "after");
      long long mb = 0, ma = 0, pb = 0, pa = 0;
      for (const paddle::PruneLayerReport& l : r.prune_report) {
        mb += l.macs_before;
        ma += l.macs_after;
        pb += l.params_before;
        pa += l.params_after;
        if (l.macs_before == l.macs_after && l.params_before == l.params_after) continue;
        std::printf("  %-48s %9d %9d %14lld %14lld %12lld %12lld\n", l.node.c_str(), l.before, l.after, l.macs_before,
                    l.macs_after, l.params_before, l.params_after);
      }
      std::printf("  %-48s %9s %9s %14lld %14lld %12lld %12lld\n", "total (all conv layers)", "", "", mb, ma, pb, pa);
      std::printf("  FLOPs (2 x MACs) at %dx%d: %.3f -> %.3f G (-%.1f%%); parameters %lld -> %lld (-%.1f%%)\n",
                  c.input_h, c.input_w, 2e-9 * mb, 2e-9 * ma, 100.0 * (mb - ma) / std::max(1LL, mb), pb, pa,
                  100.0 * (pb - pa) / std::max(1LL, pb));
      std::printf("  pruned filters are removed, not retrained: fine-tune the pruned model in PaddleDetection before "
                  "use (scripts/paddle/finetune_pruned.py with --paddleslim-ratios; docs/pruning.md, \"Fine-tuning\")\n");
    }
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
  cmd->add_option("--labels", args->labels,
                  "Class names, one per line, or a COCO annotation .json (its categories in id order)");
  cmd->add_option("--defaults", args->defaults,
                  "Accept PaddleDetection's published value for each of anchors, input size, normalisation, "
                  "thresholds and class names that no config, export or flag gives (otherwise an error)")
      ->check(CLI::IsMember({"voc", "coco"}));
  cmd->add_option("--input-size", args->input_size, "Network input size: H [W], multiples of 32")->expected(1, 2);
  cmd->add_option("--prune", args->prune,
                  "Filter pruning: a ratio for every default layer (the 18 detection-block convs), \"r578\", or a "
                  "file of \"<layer> <ratio>\" lines");
  cmd->add_option("--criterion", args->criterion, "Filter ranking for --prune: l1, l0 or fpgm")
      ->check(CLI::IsMember({"l1", "l0", "fpgm"}))
      ->capture_default_str();
  cmd->add_flag("--include-backbone", args->include_backbone,
                "With a single --prune ratio: also prune the stem and the backbone's pointwise convs");
  cmd->add_option("--paddleslim-ratios", args->paddleslim,
                  "With --prune: also write the pruning as PaddleSlim's prune_vars ratios (checkpoint names) with the "
                  "kept filters, for scripts/paddle/finetune_pruned.py");
  cmd->add_flag("-q,--quiet", args->quiet, "Print nothing but warnings and errors");
  return [args] { return run_convert(*args); };
}

}  // namespace tx2yolo
