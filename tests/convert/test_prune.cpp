// Filter pruning at conversion (convert/prune.h): rankings by each
// criterion including ties, the rounding of the filter count, propagation
// through depthwise convs, concats, transitions and the head, and parity with
// PaddleSlim 2.6.0's own L1 and FPGM pruning of the same model
// (tests/data/paddle/pruned/paddleslim_kept.json and the std_slim_* references).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/test_util.h"
#include "convert/prune.h"
#include "parity/parity.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace {

using paddle::PruneCriterion;
using testing_util::CommandResult;
using testing_util::run_command;
using testing_util::TempDir;
using testing_util::write_text;

const std::string kData = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/paddle/";
const std::string kCli = TX2YOLO_CLI_PATH;

paddle::ParamTensor weight(const std::vector<std::vector<float>>& rows) {
  paddle::ParamTensor t;
  t.name = "w";
  t.shape = {static_cast<long long>(rows.size()), static_cast<long long>(rows[0].size()), 1, 1};
  for (const auto& r : rows) t.values.insert(t.values.end(), r.begin(), r.end());
  return t;
}

TEST(PruneRanking, L1L0AndFpgmWithTies) {
  const paddle::ParamTensor w = weight({{1, -1}, {0, 0.5f}, {2, 0}, {0, 0.5f}});
  EXPECT_EQ(paddle::filter_scores(w, PruneCriterion::kL1), (std::vector<double>{2, 0.5, 2, 0.5}));
  EXPECT_EQ(paddle::filter_scores(w, PruneCriterion::kL0), (std::vector<double>{2, 1, 1, 1}));
  // Ties: the lower index is pruned first.
  EXPECT_EQ(paddle::kept_filters(paddle::filter_scores(w, PruneCriterion::kL1), 0.25, "w"), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(paddle::kept_filters(paddle::filter_scores(w, PruneCriterion::kL1), 0.5, "w"), (std::vector<int>{0, 2}));
  EXPECT_EQ(paddle::kept_filters(paddle::filter_scores(w, PruneCriterion::kL0), 0.5, "w"), (std::vector<int>{0, 3}));
  // FPGM: sum of distances to the other filters; rows 1 and 3 coincide, so
  // they are the closest to the rest and go first (lower index first).
  const std::vector<double> fpgm = paddle::filter_scores(w, PruneCriterion::kFpgm);
  const double d01 = std::sqrt(1 + 2.25), d02 = std::sqrt(1 + 1), d12 = std::sqrt(4 + 0.25);
  EXPECT_NEAR(fpgm[0], d01 + d02 + d01, 1e-12);
  EXPECT_NEAR(fpgm[1], d01 + d12, 1e-12);
  EXPECT_NEAR(fpgm[2], d02 + d12 + d12, 1e-12);
  EXPECT_EQ(fpgm[1], fpgm[3]);
  EXPECT_EQ(paddle::kept_filters(fpgm, 0.25, "w"), (std::vector<int>{0, 2, 3}));
}

TEST(PruneRanking, FilterCountRoundsHalfToEvenAndMustLeaveSomething) {
  const std::vector<double> ten(10, 1.0), six(6, 1.0), three(3, 1.0);
  EXPECT_EQ(paddle::kept_filters(ten, 0.25, "x").size(), 8u);  // 2.5 -> 2
  EXPECT_EQ(paddle::kept_filters(six, 0.25, "x").size(), 4u);  // 1.5 -> 2
  auto fails = [](const std::vector<double>& s, double r, const std::string& text) {
    try {
      paddle::kept_filters(s, r, "neck.x");
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error for ratio " << r;
  };
  fails(three, 0.1, "rounds to 0 filters to prune");
  fails(three, 0.9, "rounds to all 3 filters; at least one must stay");
  fails(three, 1.0, "outside (0, 1)");
}

nlohmann::json provenance_pruning(const std::string& model) {
  return ModelFile::load(model).provenance().at("pruning");
}

void expect_paddleslim_parity(const std::string& criterion) {
  TempDir dir;
  const std::string model = dir.file("p.safetensors");
  const CommandResult r = run_command(kCli + " convert --defaults voc '" + kData + "std/model.pdparams' -o '" + model +
                                      "' --prune r578 --criterion " + criterion + " --config '" + kData +
                                      "configs/yolov3_mbv1_std_voc.yml'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("FLOPs (2 x MACs) at 128x128"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fine-tune the pruned model in PaddleDetection before use"), std::string::npos) << r.output;
  // The same filters as PaddleSlim kept, in every layer.
  std::ifstream in(kData + "pruned/paddleslim_kept.json");
  const nlohmann::json slim = nlohmann::json::parse(in).at(criterion);
  const nlohmann::json ours = provenance_pruning(model).at("layers");
  ASSERT_EQ(ours.size(), slim.size());
  for (const auto& kv : slim.items())
    EXPECT_EQ(ours.at(kv.key()).at("kept"), kv.value()) << kv.key();
  // And the same outputs as PaddleSlim's pruned model, layer by layer.
  const Reference ref = load_reference(kData + "refs/std_slim_" + criterion + "_fruits_128x128.safetensors");
  const cv::Mat image = cv::imread(kData + "images/fruits.jpg", cv::IMREAD_COLOR);
  const ParityReport p = compare_with_reference(model, ref, ParityOptions(), &image);
  int layers = 0;
  for (const ParityRow& row : p.rows) {
    EXPECT_TRUE(row.passed) << row.name << " " << row.rel_l2;
    layers += row.name.compare(0, 5, "neck.") == 0 ? 1 : 0;
  }
  EXPECT_EQ(layers, 24);  // 18 block convs, 2 transitions, 2 upsamples, 2 concats
  EXPECT_TRUE(p.passed);
}

TEST(PrunePaddleSlimParity, L1NormR578) { expect_paddleslim_parity("l1"); }

// --paddleslim-ratios: PaddleSlim's prune_vars input keyed by the
// checkpoint's names, with the filters kept, which are the ones PaddleSlim
// itself kept on this fixture (paddleslim_kept.json).
TEST(PrunePaddleSlimParity, RatiosFileForPaddleSlim) {
  TempDir dir;
  const std::string json = dir.file("r578.paddleslim.json");
  const CommandResult r = run_command(kCli + " convert --defaults voc '" + kData + "std/model.pdparams' -o '" +
                                      dir.file("p.safetensors") + "' --prune r578 --paddleslim-ratios '" + json + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json slim = nlohmann::json::parse(testing_util::read_text(json));
  EXPECT_EQ(slim.at("criterion"), "l1");
  EXPECT_EQ(slim.at("axis"), 0);
  EXPECT_EQ(slim.at("input_shape"), nlohmann::json({1, 3, 608, 608}));
  ASSERT_EQ(slim.at("ratios").size(), 18u);
  EXPECT_EQ(slim.at("ratios").at("neck.yolo_block.1.conv_module.conv0.conv.weight"), 0.7);
  std::ifstream in(kData + "pruned/paddleslim_kept.json");
  const nlohmann::json paddleslim = nlohmann::json::parse(in).at("l1");
  for (const auto& layer : slim.at("layers").items()) {
    const std::string node = layer.value().at("node");
    EXPECT_EQ(layer.key(), node + ".conv.weight");
    EXPECT_EQ(layer.value().at("kept"), paddleslim.at(node)) << node;
  }
  const CommandResult alone = testing_util::run_command_stderr(
      kCli + " convert --defaults voc '" + kData + "std/model.pdparams' -o '" + dir.file("q.safetensors") +
      "' --paddleslim-ratios '" + dir.file("x.json") + "'");
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.output.find("--paddleslim-ratios needs --prune"), std::string::npos) << alone.output;
  EXPECT_FALSE(file_exists(dir.file("q.safetensors")));
}
TEST(PrunePaddleSlimParity, FpgmR578) { expect_paddleslim_parity("fpgm"); }

TEST(PrunePropagation, SeparableHeadAndBackboneThroughConcat) {
  TempDir dir;
  // The separable head: pruning conv0 shrinks the next depthwise conv and
  // the pointwise conv after it.
  const std::string sep = dir.file("sep.safetensors");
  ASSERT_EQ(run_command(kCli + " convert --defaults voc '" + kData + "sep/model.pdparams' -o '" + sep + "' --prune 0.5").exit_code, 0);
  const ModelFile s = ModelFile::load(sep);
  EXPECT_EQ(s.tensor("neck.yolo_block.0.conv_module.conv0.weight").shape, (std::vector<long long>{16, 128, 1, 1}));
  EXPECT_EQ(s.tensor("neck.yolo_block.0.conv_module.conv1._depthwise_conv.weight").shape,
            (std::vector<long long>{16, 1, 3, 3}));
  EXPECT_EQ(s.tensor("neck.yolo_block.0.conv_module.conv1._pointwise_conv.weight").shape,
            (std::vector<long long>{32, 16, 1, 1}));
  EXPECT_EQ(provenance_pruning(sep).at("layers").size(), 18u);

  // A backbone tap: conv4_2's pointwise output feeds conv5_1's depthwise conv
  // and, after the concat, yolo_block.1's conv0 at offset 16 (after the
  // upsampled transition). Only that layer is pruned, so every consumer's
  // kept columns equal the unpruned model's columns at the kept indices.
  write_text(dir.file("ratios.txt"), "# one backbone tap\nbackbone.conv4_2._pointwise_conv 0.25\n");
  const std::string tap = dir.file("tap.safetensors");
  const CommandResult r = run_command(kCli + " convert --defaults voc '" + kData + "std/model.pdparams' -o '" + tap +
                                      "' --prune '" + dir.file("ratios.txt") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string full = dir.file("full.safetensors");
  ASSERT_EQ(run_command(kCli + " convert --defaults voc '" + kData + "std/model.pdparams' -o '" + full + "'").exit_code, 0);
  const ModelFile t = ModelFile::load(tap), f = ModelFile::load(full);
  const nlohmann::json kept = provenance_pruning(tap).at("layers").at("backbone.conv4_2._pointwise_conv").at("kept");
  ASSERT_EQ(kept.size(), 48u);  // 64 - round(16)
  const auto& c0 = t.tensor("neck.yolo_block.1.conv_module.conv0.weight").shape;
  const auto& c0_full = f.tensor("neck.yolo_block.1.conv_module.conv0.weight").shape;
  EXPECT_EQ(c0[1], 16 + 48);
  const float* a = t.tensor_data("neck.yolo_block.1.conv_module.conv0.weight");
  const float* b = f.tensor_data("neck.yolo_block.1.conv_module.conv0.weight");
  for (long long o = 0; o < c0[0]; ++o) {
    for (long long i = 0; i < 16; ++i) ASSERT_EQ(a[o * c0[1] + i], b[o * c0_full[1] + i]);  // the transition's part
    for (std::size_t k = 0; k < kept.size(); ++k)
      ASSERT_EQ(a[o * c0[1] + 16 + static_cast<long long>(k)], b[o * c0_full[1] + 16 + kept[k].get<long long>()]);
  }
  // The depthwise consumer keeps exactly the kept filters.
  const float* dw = t.tensor_data("backbone.conv5_1._depthwise_conv.weight");
  const float* dw_full = f.tensor_data("backbone.conv5_1._depthwise_conv.weight");
  for (std::size_t k = 0; k < kept.size(); ++k)
    for (int j = 0; j < 9; ++j) ASSERT_EQ(dw[k * 9 + static_cast<std::size_t>(j)], dw_full[kept[k].get<std::size_t>() * 9 + static_cast<std::size_t>(j)]);
}

TEST(Sensitivity, TablesPlotAndRatiosForAnAllowedLoss) {
  TempDir dir;
  const std::string shapes = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/shapes_voc";
  const std::string out = dir.file("sens");
  const CommandResult r = run_command(
      kCli + " sensitivity '" + shapes + "/paddle_demo/model_final.pdparams' --voc '" + shapes + "' --config '" +
      std::string(TX2YOLO_SOURCE_DIR) + "/scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml' --labels '" +
      shapes + "/label_list.txt' --layers neck.yolo_block.0.conv_module.conv0,neck.yolo_block.2.tip._pointwise_conv " +
      "--step 0.3 --limit 12 --backend cpu --max-loss 0.5 -o '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sensitivity: 7/7 evaluations"), std::string::npos) << r.output;  // 1 + 2 layers x 3 ratios
  std::ifstream in(out + ".json");
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("images"), 12);
  EXPECT_GE(j.at("baseline_map").get<double>(), 0.0);
  ASSERT_EQ(j.at("layers").size(), 2u);
  for (const auto& layer : j.at("layers").items()) {
    ASSERT_EQ(layer.value().size(), 3u);
    for (const auto& p : layer.value()) {
      const double ratio = p.at("ratio").get<double>();
      EXPECT_TRUE(ratio == 0.3 || ratio == 0.6 || ratio == 0.9);
      if (!p.at("map").is_null()) {
        EXPECT_NEAR(p.at("loss").get<double>(),
                    (j.at("baseline_map").get<double>() - p.at("map").get<double>()) /
                        std::max(1e-12, j.at("baseline_map").get<double>()),
                    1e-9);
      }
    }
  }
  const std::string csv = testing_util::read_text(out + ".csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);  // header + 6 rows
  EXPECT_FALSE(cv::imread(out + ".png").empty());
  // Chosen ratios: within the cap, and a --prune file convert accepts.
  for (const auto& c : j.at("chosen_ratios").items()) EXPECT_LE(c.value().get<double>(), 0.7);
  const std::string ratios = out + ".ratios.txt";
  ASSERT_TRUE(std::ifstream(ratios).good());
  // The same ratios for PaddleSlim, keyed by the checkpoint's names.
  const nlohmann::json slim = nlohmann::json::parse(testing_util::read_text(out + ".paddleslim.json"));
  for (const auto& c : j.at("chosen_ratios").items()) {
    if (c.value().get<double>() > 0) {
      EXPECT_EQ(slim.at("ratios").at(c.key() + ".conv.weight"), c.value()) << c.key();
    }
  }
  const CommandResult p = run_command(kCli + " convert '" + shapes + "/paddle_demo/model_final.pdparams' -o '" +
                                      dir.file("p.safetensors") + "' --prune '" + ratios + "' --config '" +
                                      std::string(TX2YOLO_SOURCE_DIR) +
                                      "/scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml' --labels '" +
                                      shapes + "/label_list.txt'");
  EXPECT_EQ(p.exit_code, 0) << p.output;
}

// The shapes demo checkpoint and its config, as the sensitivity tests run it.
std::string sensitivity_command(const std::string& out, const std::string& extra) {
  const std::string shapes = std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/shapes_voc";
  return kCli + " sensitivity '" + shapes + "/paddle_demo/model_final.pdparams' --voc '" + shapes + "' --config '" +
         std::string(TX2YOLO_SOURCE_DIR) + "/scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml' --labels '" +
         shapes + "/label_list.txt' --backend cpu -o '" + out + "' " + extra;
}

TEST(Sensitivity, NamesAndRatiosAreCheckedBeforeAnyEvaluation) {
  TempDir dir;
  const std::string out = dir.file("sens");
  for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
           {"--layers neck.yolo_block.0.conv_module.conv0,neck.nosuch",
            "error: --layers: no conv layer named \"neck.nosuch\" in this model"},
           {"--layers neck.yolo_block.0.conv_module.conv1._depthwise_conv", "is a depthwise conv"},
           {"--layers neck.yolo_block.0.conv_module.conv0,neck.yolo_block.0.conv_module.conv0", "is listed twice"},
           {"--max-tested-ratio 1.5", "--max-tested-ratio 1.5 is outside (0, 1)"},
           {"--step 0.5 --max-tested-ratio 0.2", "no ratio would be tested"},
           {"--max-loss nan", "--max-loss"}}) {
    SCOPED_TRACE(bad.first);
    const CommandResult r = testing_util::run_command_stderr(sensitivity_command(out, bad.first));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find(bad.second), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("evaluations"), std::string::npos) << "evaluated before refusing: " << r.output;
    EXPECT_EQ(r.output.find("/tmp/"), std::string::npos) << "names a temporary file: " << r.output;
    EXPECT_FALSE(file_exists(out + ".json"));
    EXPECT_FALSE(file_exists(out + ".progress.json"));
  }
}

TEST(Sensitivity, AStoppedRunResumesWithoutMeasuringAgain) {
  TempDir dir;
  const std::string out = dir.file("sens");
  const std::string first = "neck.yolo_block.0.conv_module.conv0";
  const std::string second = "neck.yolo_block.2.tip._pointwise_conv";
  // A run that measured one layer (as a stopped run leaves it: the progress
  // file is written after the baseline and after each layer).
  const CommandResult r1 = run_command(sensitivity_command(out, "--layers " + first + " --step 0.45 --limit 4"));
  ASSERT_EQ(r1.exit_code, 0) << r1.output;
  EXPECT_NE(r1.output.find("sensitivity: 3/3 evaluations"), std::string::npos) << r1.output;
  ASSERT_TRUE(file_exists(out + ".progress.json"));
  const nlohmann::json j1 = nlohmann::json::parse(testing_util::read_text(out + ".json"));

  // Resumed with a second layer: only its two ratios are evaluated.
  const CommandResult r2 =
      run_command(sensitivity_command(out, "--layers " + first + "," + second + " --step 0.45 --limit 4 --resume"));
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_NE(r2.output.find("baseline and 1 of 2 layers already measured"), std::string::npos) << r2.output;
  EXPECT_NE(r2.output.find("sensitivity: 2/2 evaluations"), std::string::npos) << r2.output;
  const nlohmann::json j2 = nlohmann::json::parse(testing_util::read_text(out + ".json"));
  EXPECT_EQ(j2.at("baseline_map"), j1.at("baseline_map"));
  EXPECT_EQ(j2.at("layers").at(first), j1.at("layers").at(first));
  EXPECT_EQ(j2.at("layers").at(second).size(), 2u);

  // Other settings: refused, naming the one that differs, before evaluating.
  const CommandResult r3 = testing_util::run_command_stderr(
      sensitivity_command(out, "--layers " + first + " --step 0.45 --limit 5 --resume"));
  EXPECT_NE(r3.exit_code, 0);
  EXPECT_NE(r3.output.find("sens.progress.json was made with another images (4, now 5)"), std::string::npos)
      << r3.output;
  EXPECT_EQ(r3.output.find("evaluations"), std::string::npos) << r3.output;
  // Nothing to resume from.
  const CommandResult r4 = testing_util::run_command_stderr(
      sensitivity_command(dir.file("other"), "--layers " + first + " --resume"));
  EXPECT_NE(r4.exit_code, 0);
  EXPECT_NE(r4.output.find("other.progress.json not found"), std::string::npos) << r4.output;
}

TEST(PruneErrors, BadRatiosAreRefusedClearly) {
  TempDir dir;
  auto refuse = [&](const std::string& args, const std::string& text) {
    const CommandResult r = run_command(kCli + " convert --defaults voc '" + kData + "std/model.pdparams' -o '" + dir.file("x.safetensors") +
                                        "' " + args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find(text), std::string::npos) << r.output;
  };
  refuse("--prune 0.99", "rounds to all");
  refuse("--prune 0.01", "rounds to 0 filters");
  write_text(dir.file("r.txt"), "neck.nothing 0.5\n");
  refuse("--prune '" + dir.file("r.txt") + "'", "no conv layer named \"neck.nothing\"");
  write_text(dir.file("r.txt"), "yolo_head.yolo_output.0 0.5\n");
  refuse("--prune '" + dir.file("r.txt") + "'", "is a head output");
  write_text(dir.file("r.txt"), "backbone.conv2_1._depthwise_conv 0.5\n");
  refuse("--prune '" + dir.file("r.txt") + "'", "is a depthwise conv");
  refuse("--prune 0.5 --criterion l3", "--criterion: l3 not in");
  EXPECT_EQ(std::system(("test -z \"$(ls -A '" + dir.path() + "' | grep -v r.txt)\"").c_str()), 0) << "an output was left";
}

}  // namespace
}  // namespace tx2yolo
