#include "tests/test_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "layers/conv_layer.h"

namespace tx2yolo {
namespace testing_util {

std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/tx2yolo-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(path_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TempDir::~TempDir() {
  const std::string cmd = "rm -rf '" + path_ + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "warning: could not remove %s\n", path_.c_str());
}

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
CommandResult run_shell(const std::string& full) {
  CommandResult result;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + full);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}
}  // namespace

CommandResult run_command(const std::string& command_line) { return run_shell(command_line + " 2>&1"); }

CommandResult run_command_stderr(const std::string& command_line) {
  return run_shell(command_line + " 2>&1 >/dev/null");
}

double time_limit_scale() {
  const char* s = std::getenv("TX2YOLO_TEST_TIME_SCALE");
  const double v = s ? std::atof(s) : 1.0;
  return v >= 1.0 ? v : 1.0;
}

float round_to_half(float x) {
  if (!std::isfinite(x) || x == 0.f) return x;
  const float a = std::fabs(x);
  if (a >= 65520.f) return std::copysign(std::numeric_limits<float>::infinity(), x);
  int e = 0;
  std::frexp(a, &e);
  const float step = std::ldexp(1.f, std::max(e - 11, -24));
  return std::copysign(std::nearbyint(a / step) * step, x);
}

cv::Mat synthetic_scene() {
  cv::Mat img(300, 500, CV_8UC3, cv::Scalar(90, 140, 60));
  cv::circle(img, cv::Point(120, 110), 60, cv::Scalar(30, 30, 220), cv::FILLED);
  cv::rectangle(img, cv::Rect(260, 60, 160, 120), cv::Scalar(220, 120, 30), cv::FILLED);
  cv::line(img, cv::Point(0, 299), cv::Point(499, 200), cv::Scalar(250, 250, 250), 9);
  return img;
}

void expect_same_detections(const std::vector<Detection>& expected, const std::vector<Detection>& actual,
                            float score_tol, float px_tol, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  ASSERT_FALSE(expected.empty()) << what;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i].class_id, actual[i].class_id) << what << " " << i;
    EXPECT_NEAR(expected[i].score, actual[i].score, score_tol) << what << " " << i;
    EXPECT_NEAR(expected[i].x1, actual[i].x1, px_tol) << what << " " << i;
    EXPECT_NEAR(expected[i].y1, actual[i].y1, px_tol) << what << " " << i;
    EXPECT_NEAR(expected[i].x2, actual[i].x2, px_tol) << what << " " << i;
    EXPECT_NEAR(expected[i].y2, actual[i].y2, px_tol) << what << " " << i;
  }
}

std::string write_random_model(const TempDir& dir, const ArchitectureSpec& spec, std::uint32_t seed) {
  const ArchitectureGraph arch = build_yolov3_mobilenet_v1(spec);
  const std::string path = dir.file("model.safetensors");
  write_model_file(path, arch.graph, arch.config, {{"source", cat("test model, seed ", seed)}},
                   make_random_weights(arch, seed));
  return path;
}

::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<float>& expected,
                                     const Tolerance& t, const std::vector<float>* magnitude) {
  if (t.sum_abs == 0.f) return all_close(actual, expected, t.atol, t.rtol);
  if (!magnitude || magnitude->size() != actual.size() || actual.size() != expected.size())
    return ::testing::AssertionFailure() << "sizes differ, or no sum |w x| for a bound that scales with it";
  const Comparison c = compare_elementwise(actual.data(), expected.data(), actual.size(), t, magnitude->data());
  if (c.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << c.describe();
}

::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<float>& expected,
                                     float atol, float rtol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << "size " << actual.size() << " != expected " << expected.size();
  }
  std::size_t bad = 0;
  std::ostringstream first;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const float a = actual[i], e = expected[i];
    const bool ok = std::fabs(a - e) <= atol + rtol * std::fabs(e);
    if (!ok) {
      if (bad < 5) first << " [" << i << "] " << a << " vs " << e << ";";
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << actual.size() << " elements differ:" << first.str();
}

std::vector<ConvLayerShape> full_width_conv_layers(const std::string& arch, int size) {
  const ArchitectureGraph g = build_yolov3_mobilenet_v1(full_width_spec(arch));
  WeightShapes w;
  for (const auto& t : g.weights) w[t.first] = t.second;
  const auto shapes = infer_shapes(g.graph, w, size, size);
  std::vector<ConvLayerShape> out;
  for (const Node& n : g.graph.nodes) {
    if (n.op != OpKind::kConv2d) continue;
    Conv2dParams p = conv2d_params_for(n, shapes.at(n.inputs[0]), conv_out_channels(n, w), 1);
    finalize_conv2d_params(p);
    out.push_back({n.name, n.output, p});
  }
  return out;
}

Conv2dParams conv_params(int batch, int cin, int h, int w, int cout, int kh, int kw, int sh, int sw, int ph, int pw,
                         int groups, Activation act) {
  Conv2dParams p;
  p.batch = batch;
  p.in_channels = cin;
  p.in_h = h;
  p.in_w = w;
  p.out_channels = cout;
  p.kernel_h = kh;
  p.kernel_w = kw;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  p.groups = groups;
  p.activation = act;
  p.alpha = 0.1f;
  finalize_conv2d_params(p);
  return p;
}

Conv2dParams make_params(int cin, int h, int w, int cout, int k, int stride, int pad, int groups, Activation act,
                         float alpha) {
  Conv2dParams p;
  p.in_channels = cin;
  p.in_h = h;
  p.in_w = w;
  p.out_channels = cout;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.groups = groups;
  p.activation = act;
  p.alpha = alpha;
  finalize_conv2d_params(p);
  return p;
}

}  // namespace testing_util
}  // namespace tx2yolo
