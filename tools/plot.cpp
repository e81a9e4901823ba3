#include "tools/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "tools/image_read.h"

namespace tx2yolo {

int AxisTicks::decimals(double scale) const {
  const double s = step * scale;
  int d = 0;
  while (d < 6 && std::fabs(s * std::pow(10.0, d) - std::round(s * std::pow(10.0, d))) > 1e-6) ++d;
  return d;
}

AxisTicks even_ticks(double lo, double hi, int max_intervals) {
  TX2_REQUIRE(std::isfinite(lo) && std::isfinite(hi) && max_intervals >= 1, "plot: axis range ", lo, " .. ", hi);
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) hi = lo + (lo == 0 ? 1 : std::fabs(lo) * 0.1);
  const double span = hi - lo;
  const double base = std::pow(10.0, std::floor(std::log10(span / max_intervals)));
  AxisTicks t;
  for (double m : {1.0, 2.0, 5.0, 10.0, 20.0}) {
    t.step = base * m;
    if (span / t.step <= max_intervals + 1e-9) break;
  }
  t.lo = std::floor(lo / t.step + 1e-9) * t.step;
  t.hi = std::ceil(hi / t.step - 1e-9) * t.step;
  t.intervals = static_cast<int>(std::lround((t.hi - t.lo) / t.step));
  if (t.intervals > max_intervals) {  // widening to whole steps added one: take the next step
    t = even_ticks(t.lo, t.hi, max_intervals - 1 > 0 ? max_intervals - 1 : 1);
  }
  return t;
}

void write_stacked_bar_chart(const std::string& path, const std::string& title, const std::string& unit,
                             const std::vector<std::string>& part_names, const std::vector<StackedBar>& bars) {
  TX2_REQUIRE(!bars.empty() && !part_names.empty(), path, ": nothing to plot");
  double longest = 0;
  for (const StackedBar& b : bars) {
    TX2_REQUIRE(b.parts.size() == part_names.size(), path, ": bar ", b.label, " has ", b.parts.size(), " parts for ",
                part_names.size(), " names");
    double total = 0;
    for (double v : b.parts) {
      TX2_REQUIRE(std::isfinite(v) && v >= 0, path, ": bar ", b.label, " has a part of ", v);
      total += v;
    }
    longest = std::max(longest, total);
  }
  const AxisTicks ticks = even_ticks(0, longest > 0 ? longest * 1.12 : 1, 10);
  const int left = 230, right = 40, top = 70, row = 26, bottom = 60;
  const int w = 1000, h = top + row * static_cast<int>(bars.size()) + bottom;
  const int pw = w - left - right;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar grey(205, 205, 205), black(0, 0, 0);
  auto px = [&](double v) { return left + static_cast<int>(std::lround((v - ticks.lo) / (ticks.hi - ticks.lo) * pw)); };
  const int plot_bottom = top + row * static_cast<int>(bars.size());
  for (int i = 0; i <= ticks.intervals; ++i) {
    const double v = ticks.lo + ticks.step * i;
    cv::line(img, {px(v), top - 4}, {px(v), plot_bottom}, grey);
    char label[32];
    std::snprintf(label, sizeof label, "%.*f", ticks.decimals(), v);
    cv::putText(img, label, {px(v) - 12, plot_bottom + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.42, black, 1, cv::LINE_AA);
  }
  cv::putText(img, unit, {left + pw / 2 - 40, h - 14}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black, 1, cv::LINE_AA);
  cv::putText(img, title, {10, 24}, cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv::LINE_AA);
  // Fixed, distinguishable colours (BGR), cycled past six parts.
  const cv::Scalar colours[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214}, {189, 103, 148},
                                {75, 86, 140}};
  int lx = left;
  for (std::size_t k = 0; k < part_names.size(); ++k) {
    cv::rectangle(img, {lx, 38}, {lx + 14, 50}, colours[k % 6], cv::FILLED);
    cv::putText(img, part_names[k], {lx + 18, 49}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
    lx += 30 + static_cast<int>(part_names[k].size()) * 9;
  }
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const int y = top + row * static_cast<int>(i);
    std::string label = bars[i].label;
    if (label.size() > 30) label = label.substr(0, 27) + "...";
    cv::putText(img, label, {8, y + 17}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
    double x = 0;
    for (std::size_t k = 0; k < bars[i].parts.size(); ++k) {
      const double next = x + bars[i].parts[k];
      if (px(next) > px(x)) cv::rectangle(img, {px(x), y + 4}, {px(next), y + row - 4}, colours[k % 6], cv::FILLED);
      x = next;
    }
    char total[32];
    std::snprintf(total, sizeof total, "%.3g", x);
    cv::putText(img, total, {px(x) + 5, y + 17}, cv::FONT_HERSHEY_SIMPLEX, 0.42, black, 1, cv::LINE_AA);
  }
  cv::rectangle(img, {left, top - 4}, {left + pw, plot_bottom}, black);
  write_png(path, img);
}

}  // namespace tx2yolo
