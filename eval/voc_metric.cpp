#include "eval/voc_metric.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <pugixml.hpp>

#include "core/error.h"
#include "core/file_util.h"

namespace tx2yolo {

namespace {

constexpr std::uint64_t kMaxListBytes = 64u << 20;
constexpr std::uint64_t kMaxXmlBytes = 16u << 20;

std::vector<std::string> read_lines(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path, kMaxListBytes);
  std::vector<std::string> lines;
  std::string line;
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    if (i == bytes.size() || bytes[i] == '\n') {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
      std::size_t start = line.find_first_not_of(" \t");
      if (start != std::string::npos) lines.push_back(line.substr(start));
      line.clear();
    } else {
      line.push_back(static_cast<char>(bytes[i]));
    }
  }
  return lines;
}

double number(const pugi::xml_node& parent, const char* child, const std::string& where) {
  const pugi::xml_node n = parent.child(child);
  TX2_REQUIRE(n, where, ": <", parent.name(), "> has no <", child, ">");
  const std::string text = n.text().as_string();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  TX2_REQUIRE(!text.empty() && end && *end == '\0' && std::isfinite(v), where, ": <", child, "> is \"", text,
              "\", not a number");
  return v;
}

// PaddleDetection's 11-point AP loop (map_utils.DetectionMAP.accumulate).
double eleven_point_ap(const std::vector<double>& precision, const std::vector<double>& recall) {
  double max_precisions[11] = {0};
  long start_idx = static_cast<long>(precision.size()) - 1;
  for (int j = 10; j >= 0; --j) {
    for (long i = start_idx; i >= 0; --i) {
      if (recall[static_cast<std::size_t>(i)] < j / 10.0) {
        start_idx = i;
        if (j > 0) max_precisions[j - 1] = max_precisions[j];
        break;
      }
      if (max_precisions[j] < precision[static_cast<std::size_t>(i)])
        max_precisions[j] = precision[static_cast<std::size_t>(i)];
    }
  }
  double sum = 0;
  for (double p : max_precisions) sum += p;
  return sum / 11.0;
}

double integral_ap(const std::vector<double>& precision, const std::vector<double>& recall) {
  double ap = 0, prev_recall = 0;
  for (std::size_t i = 0; i < precision.size(); ++i) {
    const double gap = std::fabs(recall[i] - prev_recall);
    if (gap > 1e-6) {
      ap += precision[i] * gap;
      prev_recall = recall[i];
    }
  }
  return ap;
}

double box_area(double x1, double y1, double x2, double y2) { return (x2 - x1 + 1) * (y2 - y1 + 1); }

// jaccard_overlap with is_bbox_normalized = false.
double overlap(const Detection& d, const VocObject& g) {
  if (d.x1 >= g.x2 || d.x2 <= g.x1 || d.y1 >= g.y2 || d.y2 <= g.y1) return 0.0;
  const double ix1 = std::max<double>(d.x1, g.x1), iy1 = std::max<double>(d.y1, g.y1);
  const double ix2 = std::min<double>(d.x2, g.x2), iy2 = std::min<double>(d.y2, g.y2);
  const double inter = box_area(ix1, iy1, ix2, iy2);
  return inter / (box_area(d.x1, d.y1, d.x2, d.y2) + box_area(g.x1, g.y1, g.x2, g.y2) - inter);
}

}  // namespace

void parse_voc_annotation(const std::vector<std::uint8_t>& bytes, const std::string& xml_path,
                          const std::map<std::string, int>& class_id, VocImage* im, int* objects, int* skipped_boxes) {
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed = doc.load_buffer(bytes.data(), bytes.size());
  TX2_REQUIRE(parsed, xml_path, ": not valid XML (", parsed.description(), " at byte ", parsed.offset, ")");
  const pugi::xml_node ann = doc.child("annotation");
  TX2_REQUIRE(ann, xml_path, ": no <annotation> element");
  const pugi::xml_node size = ann.child("size");
  TX2_REQUIRE(size, xml_path, ": no <size> element");
  const double w = number(size, "width", xml_path);
  const double h = number(size, "height", xml_path);
  TX2_REQUIRE(w > 0 && h > 0 && w < 1e6 && h < 1e6, xml_path, ": image size ", w, "x", h, " is not valid");
  im->width = static_cast<int>(w);
  im->height = static_cast<int>(h);
  *objects = 0;
  for (const pugi::xml_node obj : ann.children("object")) {
    ++*objects;
    const std::string name = obj.child("name").text().as_string();
    const auto cls = class_id.find(name);
    TX2_REQUIRE(cls != class_id.end(), xml_path, ": object class \"", name, "\" is not one of the ",
                class_id.size(), " classes");
    const pugi::xml_node box = obj.child("bndbox");
    TX2_REQUIRE(box, xml_path, ": an <object> without <bndbox>");
    VocObject o;
    o.class_id = cls->second;
    o.difficult = obj.child("difficult") && obj.child("difficult").text().as_int() != 0;
    // PaddleDetection keeps float32 boxes, clipped to the image.
    o.x1 = static_cast<float>(std::max(0.0, number(box, "xmin", xml_path)));
    o.y1 = static_cast<float>(std::max(0.0, number(box, "ymin", xml_path)));
    o.x2 = static_cast<float>(std::min(w - 1, number(box, "xmax", xml_path)));
    o.y2 = static_cast<float>(std::min(h - 1, number(box, "ymax", xml_path)));
    if (o.x2 > o.x1 && o.y2 > o.y1) {
      im->objects.push_back(o);
    } else {
      ++*skipped_boxes;
    }
  }
}

VocDataset read_voc_dataset(const std::string& dir, const std::string& split,
                            const std::vector<std::string>& model_classes) {
  VocDataset ds;
  ds.dir = dir;
  ds.split = split;
  TX2_REQUIRE(is_directory(dir), dir, ": not a folder (expected a VOC dataset: Annotations/, JPEGImages/, ImageSets/Main/)");
  const std::string list = path_join(dir, "ImageSets/Main/" + split + ".txt");
  TX2_REQUIRE(is_regular_file(list), list, ": no such split list (expected ImageSets/Main/", split, ".txt)");
  const std::string labels = path_join(dir, "label_list.txt");
  ds.classes = is_regular_file(labels) ? read_lines(labels) : model_classes;
  TX2_REQUIRE(ds.classes.size() == model_classes.size(), labels, ": ", ds.classes.size(),
              " classes, but the model has ", model_classes.size());
  std::map<std::string, int> class_id;
  for (std::size_t i = 0; i < ds.classes.size(); ++i) class_id[ds.classes[i]] = static_cast<int>(i);

  for (const std::string& entry : read_lines(list)) {
    const std::string id = entry.substr(0, entry.find_first_of(" \t"));
    VocImage im;
    im.id = id;
    im.image_path = path_join(dir, "JPEGImages/" + id + ".jpg");
    const std::string xml_path = path_join(dir, "Annotations/" + id + ".xml");
    TX2_REQUIRE(is_regular_file(im.image_path), im.image_path, ": image listed in ", list, " is missing");
    TX2_REQUIRE(is_regular_file(xml_path), xml_path, ": annotation listed in ", list, " is missing");
    int objects = 0;
    parse_voc_annotation(read_file_bytes(xml_path, kMaxXmlBytes), xml_path, class_id, &im, &objects,
                         &ds.skipped_boxes);
    if (objects == 0) {
      ++ds.skipped_empty;
      continue;
    }
    ds.images.push_back(std::move(im));
  }
  TX2_REQUIRE(!ds.images.empty(), list, ": no annotated images in this split");
  return ds;
}

VocMetric::VocMetric(std::vector<std::string> classes, double overlap_thresh)
    : classes_(std::move(classes)),
      overlap_thresh_(overlap_thresh),
      records_(classes_.size()),
      gt_counts_(classes_.size(), 0) {}

void VocMetric::add_image(const VocImage& gt, const std::vector<Detection>& detections, int input_h, int input_w) {
  // The eval pipeline's round trip of the ground truth through the resize:
  // float32 multiply by the scale, clip to the resized image, divide back.
  const float sx = static_cast<float>(static_cast<double>(input_w) / gt.width);
  const float sy = static_cast<float>(static_cast<double>(input_h) / gt.height);
  std::vector<VocObject> objects = gt.objects;
  for (VocObject& o : objects) {
    auto trip = [](float v, float s, float limit) {
      const float scaled = std::min(std::max(v * s, 0.f), limit);
      return scaled / s;
    };
    o.x1 = trip(o.x1, sx, static_cast<float>(input_w));
    o.x2 = trip(o.x2, sx, static_cast<float>(input_w));
    o.y1 = trip(o.y1, sy, static_cast<float>(input_h));
    o.y2 = trip(o.y2, sy, static_cast<float>(input_h));
  }
  for (const VocObject& o : objects)
    if (!o.difficult) ++gt_counts_[static_cast<std::size_t>(o.class_id)];
  std::vector<bool> visited(objects.size(), false);
  for (const Detection& d : detections) {
    TX2_REQUIRE(d.class_id >= 0 && d.class_id < static_cast<int>(classes_.size()), "eval: detection class ",
                d.class_id, " out of range");
    int best = -1;
    double best_overlap = -1.0;
    for (std::size_t i = 0; i < objects.size(); ++i) {
      if (objects[i].class_id != d.class_id) continue;
      const double v = overlap(d, objects[i]);
      if (v > best_overlap) {
        best_overlap = v;
        best = static_cast<int>(i);
      }
    }
    auto& records = records_[static_cast<std::size_t>(d.class_id)];
    if (best_overlap > overlap_thresh_) {
      if (objects[static_cast<std::size_t>(best)].difficult) continue;
      records.push_back({d.score, !visited[static_cast<std::size_t>(best)]});
      visited[static_cast<std::size_t>(best)] = true;
    } else {
      records.push_back({d.score, false});
    }
  }
}

VocMapResult VocMetric::accumulate(const std::string& map_type) const {
  TX2_REQUIRE(map_type == "11point" || map_type == "integral", "eval: unknown map type \"", map_type,
              "\" (expected 11point or integral)");
  VocMapResult r;
  r.map_type = map_type;
  int valid = 0;
  double sum = 0;
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    ClassAp cap;
    cap.name = classes_[c];
    cap.ground_truth = gt_counts_[c];
    cap.detections = static_cast<int>(records_[c].size());
    if (cap.ground_truth > 0) {
      ++valid;
      if (!records_[c].empty()) {
        std::vector<Record> sorted = records_[c];
        std::stable_sort(sorted.begin(), sorted.end(), [](const Record& a, const Record& b) { return a.score > b.score; });
        std::vector<double> precision, recall;
        long tp = 0, fp = 0;
        for (const Record& rec : sorted) {
          tp += rec.tp ? 1 : 0;
          fp += rec.tp ? 0 : 1;
          precision.push_back(static_cast<double>(tp) / static_cast<double>(tp + fp));
          recall.push_back(static_cast<double>(tp) / cap.ground_truth);
        }
        cap.ap = map_type == "11point" ? eleven_point_ap(precision, recall) : integral_ap(precision, recall);
        sum += cap.ap;
      }
    }
    r.classes.push_back(cap);
  }
  r.map = valid > 0 ? sum / valid : 0.0;
  return r;
}

}  // namespace tx2yolo
