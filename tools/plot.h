// Plots the CLI writes as PNG (OpenCV drawing): the axis ticks they share,
// and the stacked bar chart of `bench --sweep --plot`. Sensitivity's line
// plot (tools/cmd_sensitivity.cpp) uses the same ticks.
#pragma once

#include <string>
#include <vector>

namespace tx2yolo {

// Even ticks for an axis holding [lo, hi]: a step of 1, 2 or 5 times a power
// of ten giving at most `max_intervals` intervals, and the range widened to
// whole steps. `decimals` is how many a tick label needs (of step * scale,
// e.g. scale 100 for percentages).
struct AxisTicks {
  double lo = 0, hi = 1, step = 0.1;
  int intervals = 10;
  int decimals(double scale = 1) const;
};
AxisTicks even_ticks(double lo, double hi, int max_intervals = 10);

// One horizontal bar made of parts laid end to end (e.g. the stage times of
// one configuration).
struct StackedBar {
  std::string label;
  std::vector<double> parts;
};

// A stacked horizontal bar chart, one bar per entry, the parts coloured and
// named in a legend, the total written after each bar, an even value axis
// labelled `unit`. Written atomically; throws Error on an empty chart, a
// part count that differs from the names, or a negative or non-finite part.
void write_stacked_bar_chart(const std::string& path, const std::string& title, const std::string& unit,
                             const std::vector<std::string>& part_names, const std::vector<StackedBar>& bars);

}  // namespace tx2yolo
