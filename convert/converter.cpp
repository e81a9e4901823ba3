#include "convert/converter.h"

#include <algorithm>
#include <ctime>

#include "core/error.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "convert/bn_fold.h"
#include "convert/checkpoint.h"
#include "convert/ppdet_config.h"
#include "convert/prune.h"
#include "weights/graph.h"

namespace tx2yolo {
namespace paddle {

namespace {

constexpr const char* kConverterVersion = "tx2yolo convert 0.1.0";

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// MACs and parameters of every conv node of `arch` at h x w.
std::map<std::string, std::pair<long long, long long>> conv_costs(const ArchitectureGraph& arch, int h, int w) {
  WeightShapes shapes;
  for (const auto& wt : arch.weights) shapes[wt.first] = wt.second;
  const auto macs = graph_macs(arch.graph, shapes, infer_shapes(arch.graph, shapes, h, w));
  std::map<std::string, std::pair<long long, long long>> out;
  for (const Node& n : arch.graph.nodes) {
    if (n.op != OpKind::kConv2d) continue;
    long long params = 0;
    for (const std::string& t : {n.weight, n.bias}) {
      long long numel = 1;
      for (long long d : shapes.at(t)) numel *= d;
      params += numel;
    }
    out[n.name] = {macs.at(n.name), params};
  }
  return out;
}

std::string joined(const std::vector<std::string>& v, std::size_t max) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max) s += cat(", ... (", v.size() - max, " more)");
  return s;
}

// How to give each value, for the error when one has no source.
std::string how_to_give(const std::string& value, const std::string& label_hint) {
  if (value == "anchors") return "anchors (YOLOv3Head.anchors in --config, or an export whose program has its yolo_box ops)";
  if (value == "input_size")
    return "input size (--input-size H W, or a Resize target_size in --config's EvalReader/TestReader)";
  if (value == "normalisation")
    return "normalisation (NormalizeImage in --config's EvalReader/TestReader, or the export's infer_cfg.yml)";
  if (value == "thresholds")
    return "thresholds (BBoxPostProcess.nms or MultiClassNMS in --config, or an export whose program has its NMS op)";
  return cat("class names (--labels FILE, label_list in the export's infer_cfg.yml, or the dataset's label list that "
             "--config names",
             label_hint.empty() ? std::string() : cat(": ", label_hint), ")");
}

}  // namespace

void apply_published_defaults(const std::string& defaults, const ModelConfig& published, int num_classes,
                              const std::string& label_hint, ModelConfig* c,
                              std::map<std::string, std::string>* sources) {
  TX2_REQUIRE(defaults.empty() || defaults == "voc" || defaults == "coco", "convert: --defaults is voc or coco, not \"",
              defaults, "\"");
  std::vector<std::string> missing;
  for (const std::string& value : convert_value_names()) {
    if (sources->count(value)) continue;
    if (defaults.empty()) {
      missing.push_back(how_to_give(value, label_hint));
      continue;
    }
    const std::string tag = cat("--defaults ", defaults, ": ");
    if (value == "anchors") {
      for (std::size_t i = 0; i < c->heads.size() && i < published.heads.size(); ++i)
        c->heads[i].anchors = published.heads[i].anchors;
      (*sources)[value] = tag + "PaddleDetection's published YOLOv3 anchors";
    } else if (value == "input_size") {
      c->input_h = published.input_h;
      c->input_w = published.input_w;
      (*sources)[value] = cat(tag, published.input_h, "x", published.input_w);
    } else if (value == "normalisation") {
      c->preprocess = published.preprocess;
      (*sources)[value] = tag + "RGB, /255, ImageNet mean and std";
    } else if (value == "thresholds") {
      c->nms.score_threshold = published.nms.score_threshold;
      c->nms.nms_threshold = published.nms.nms_threshold;
      c->nms.nms_top_k = published.nms.nms_top_k;
      c->nms.keep_top_k = published.nms.keep_top_k;
      (*sources)[value] = cat(tag, "PaddleDetection's YOLOv3 NMS (score ", c->nms.score_threshold, ", IoU ",
                              c->nms.nms_threshold, ", nms_top_k ", c->nms.nms_top_k, ", keep_top_k ",
                              c->nms.keep_top_k, ")");
    } else {
      const int count = defaults == "voc" ? 20 : 80;
      TX2_REQUIRE(num_classes == count, "convert: --defaults ", defaults, " names ", count,
                  " classes but the model has ", num_classes, "; give --labels FILE");
      std::string which;
      c->classes = default_labels(num_classes, &which);
      (*sources)[value] = cat(tag, which, "'s ", count, " class names");
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size(); ++i) list += (i ? "; " : "") + missing[i];
    throw Error(cat("convert: no source for ", list,
                    ". Give them, or --defaults voc|coco to accept PaddleDetection's published values"));
  }
}

ConvertResult convert_checkpoint(const ConvertOptions& a) {
  const Checkpoint ckpt = load_checkpoint(a.input, a.format);
  MappedModel m = map_yolov3_mobilenet_v1(ckpt);

  // Model config: the template, then the program's own post-processing ops,
  // then the PaddleDetection config (or the export's infer_cfg.yml), the
  // labels and the size flag. Each value the user must stand behind
  // (convert_value_names) records where it came from; one with no source is
  // an error unless --defaults accepts PaddleDetection's published value.
  ModelConfig c = m.arch.config;
  std::vector<std::string> notes = ckpt.notes;
  std::map<std::string, std::string> sources;
  std::string unused_label_source;
  c.classes = default_labels(m.spec.num_classes, &unused_label_source);  // placeholders: the count only
  std::string family = m.naming == "static" ? "static" : "dygraph";
  const ProgramPostprocess& pp = m.postprocess;
  if (pp.has_nms && !pp.nms.normalized) family = "static";
  apply_postprocess_family(family, &c);
  if (pp.has_yolo_box) {
    TX2_REQUIRE(pp.heads.size() == c.heads.size(), a.input, ": the program has ", pp.heads.size(),
                " yolo_box ops, the model has ", c.heads.size(), " heads");
    c.heads = pp.heads;
    c.decode.conf_thresh = pp.decode.conf_thresh;
    c.decode.clip_bbox = pp.decode.clip_bbox;
    c.decode.scale_x_y = pp.decode.scale_x_y;
    sources["anchors"] = "the program's yolo_box ops";
  }
  if (pp.has_nms) {
    c.nms = pp.nms;
    sources["thresholds"] = "the program's NMS op";
  }
  if (pp.input_h > 0) {
    c.input_h = pp.input_h;
    c.input_w = pp.input_w;
    sources["input_size"] = "the program's input shape";
  }
  std::string config = a.config;
  if (config.empty() && ckpt.has_program) {  // an export carries its own infer_cfg.yml
    const std::string dir = is_directory(a.input) ? a.input : path_dirname(a.input);
    if (is_regular_file(path_join(dir, "infer_cfg.yml"))) {
      config = path_join(dir, "infer_cfg.yml");
      notes.push_back(cat("the export's own config: ", config));
    }
  }
  std::string label_hint;
  if (!config.empty()) {
    const PpdetConfig cfg = apply_ppdet_config(config, &c);
    notes.push_back(cat("PaddleDetection config (", cfg.family, "): ", joined(cfg.files, 8)));
    notes.insert(notes.end(), cfg.notes.begin(), cfg.notes.end());
    for (const auto& kv : cfg.sources) sources[kv.first] = kv.second;
    label_hint = cfg.label_hint;
  }
  if (!a.labels.empty()) {
    c.classes = read_labels_file(a.labels, m.spec.num_classes);
    sources["class_names"] = a.labels;
  }
  if (a.input_h > 0) {
    c.input_h = a.input_h;
    c.input_w = a.input_w > 0 ? a.input_w : a.input_h;
    sources["input_size"] = "--input-size";
  }
  apply_published_defaults(a.defaults, m.arch.config, m.spec.num_classes, label_hint, &c, &sources);
  validate_input_size(c.input_h, c.input_w, "convert: input size");

  // Filter pruning, on the original weights, before BN folding.
  PruneResult pruned;
  nlohmann::json slim;
  std::vector<PruneLayerReport> report;
  nlohmann::json prune_prov;
  if (!a.prune.empty() || !a.prune_ratios.empty()) {
    const PruneCriterion criterion = prune_criterion_from_string(a.criterion);
    const ArchitectureGraph before = m.arch;
    std::map<std::string, double> ratios;
    if (!a.prune.empty()) {
      ratios = parse_prune_ratios(a.prune, m, a.include_backbone);
    } else {
      for (const auto& kv : a.prune_ratios) ratios[resolve_prunable_layer(m, kv.first, "pruning")] = kv.second;
    }
    std::map<std::string, std::string> weight_name;  // node -> the checkpoint's name of its conv weight
    for (const MappedConv& conv : m.convs) weight_name[conv.node] = conv.weight->name;
    prune_mapped_model(&m, ratios, criterion, &pruned);
    slim["format"] = "tx2yolo pruning for PaddleSlim, version 1";
    slim["criterion"] = pruned.criterion;  // l1: L1NormFilterPruner, fpgm: FPGMFilterPruner, l0: none in PaddleSlim
    slim["axis"] = 0;
    slim["checkpoint_naming"] = m.naming;
    slim["input_shape"] = {1, 3, c.input_h, c.input_w};
    slim["ratios"] = nlohmann::json::object();
    slim["layers"] = nlohmann::json::object();
    for (const PrunedLayer& l : pruned.layers) {
      const std::string& name = weight_name.at(l.node);
      slim["ratios"][name] = ratios.at(l.node);
      slim["layers"][name] = {{"node", l.node}, {"filters", l.before}, {"kept", l.kept}};
    }
    const auto cost_before = conv_costs(before, c.input_h, c.input_w);
    const auto cost_after = conv_costs(m.arch, c.input_h, c.input_w);
    for (const Node& n : before.graph.nodes) {
      if (n.op != OpKind::kConv2d) continue;
      PruneLayerReport r;
      r.node = n.name;
      r.macs_before = cost_before.at(n.name).first;
      r.params_before = cost_before.at(n.name).second;
      r.macs_after = cost_after.at(n.name).first;
      r.params_after = cost_after.at(n.name).second;
      for (const auto& w : before.weights)
        if (w.first == n.weight) r.before = static_cast<int>(w.second[0]);
      for (const auto& w : m.arch.weights)
        if (w.first == n.weight) r.after = static_cast<int>(w.second[0]);
      report.push_back(r);
    }
    prune_prov["criterion"] = pruned.criterion;
    if (!a.prune.empty()) {
      prune_prov["ratios"] = a.prune;
    } else {
      for (const auto& kv : ratios) prune_prov["ratios"][kv.first] = kv.second;
    }
    prune_prov["include_backbone"] = a.include_backbone;
    for (const PrunedLayer& l : pruned.layers)
      prune_prov["layers"][l.node] = {{"before", l.before}, {"after", l.after}, {"kept", l.kept}};
    notes.push_back(cat("pruned ", pruned.layers.size(), " layers by ", pruned.criterion, " (",
                        a.prune.empty() ? std::string("ratios by layer") : a.prune, ")"));
  }

  // Fold BN and collect the tensors in graph order.
  std::vector<std::pair<std::string, HostTensor>> tensors;
  double worst_fold = 0;
  std::vector<std::string> dtypes;
  for (const MappedConv& conv : m.convs) {
    FoldedConv f = fold_conv(conv);
    worst_fold = std::max(worst_fold, f.max_self_check_error);
    tensors.emplace_back(conv.node + ".weight", std::move(f.weight));
    tensors.emplace_back(conv.node + ".bias", std::move(f.bias));
    for (const ParamTensor* t : {conv.weight, conv.bias, conv.bn.scale, conv.bn.bias, conv.bn.mean,
                                         conv.bn.variance})
      if (t && std::find(dtypes.begin(), dtypes.end(), t->source_dtype) == dtypes.end())
        dtypes.push_back(t->source_dtype);
  }
  if (dtypes != std::vector<std::string>{"float32"})
    notes.push_back(cat("parameters stored as ", joined(dtypes, 4), " were converted to float32"));

  double eps_min = 1e30, eps_max = 0;
  for (const MappedConv& conv : m.convs) {
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
  if (!config.empty()) prov["config"] = config;
  prov["value_sources"] = sources;
  prov["unused_parameters"] = m.unused;
  prov["notes"] = notes;
  if (!prune_prov.is_null()) prov["pruning"] = prune_prov;
  ConvertResult out;
  out.format = ckpt.format;
  out.mapped = m;
  out.config = c;
  out.provenance = prov;
  out.tensors = std::move(tensors);
  out.notes = notes;
  out.sources = sources;
  out.prune_report = report;
  if (!pruned.layers.empty()) out.paddleslim = slim;
  for (MappedConv& conv : out.mapped.convs) {  // the pointers die with the checkpoint
    const std::string node = conv.node;
    conv = MappedConv();
    conv.node = node;
  }
  return out;
}

}  // namespace paddle
}  // namespace tx2yolo
