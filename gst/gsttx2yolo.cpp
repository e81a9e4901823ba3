// The GStreamer element `tx2yolo`: YOLOv3-MobileNetV1 detection inside a
// pipeline, in the DeepStream style, without DeepStream.
//
//   ... ! videoconvert ! video/x-raw,format=BGR ! tx2yolo model=m.safetensors ! ...
//
// A GstVideoFilter working in place on BGR, BGRx or RGB frames. For every
// detection at or above `threshold` it attaches one GstVideoRegionOfInterestMeta
// (roi_type = the class name; x, y, w, h in the frame's pixels, rounded) with
// a "detection" parameter structure {class_id: int, label: string, score:
// double}, and with draw=true it draws the boxes into the frame. The detector
// is created when the element starts, so a missing or bad model is a clean
// pipeline ERROR naming the file, not a crash.
//
// Properties: model, backend (auto|cpu|cuda), device, precision (fp32|fp16),
// threshold (default: the model's draw_threshold), draw.
// GStreamer 1.14 APIs only (JetPack 4.6 ships 1.14):
// gst_video_region_of_interest_meta_add_param is the newest, from 1.14.
#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/gstvideometa.h>
#include <gst/video/video.h>

#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "engine/detector.h"
#include "engine/tactics.h"

namespace {

struct Settings {
  std::string model;
  std::string backend = "auto";
  int device = 0;
  std::string precision = "fp32";
  double threshold = -1;  // < 0: the model's draw_threshold
  bool draw = false;
};

}  // namespace

G_BEGIN_DECLS

#define TX2YOLO_TYPE_FILTER (tx2yolo_filter_get_type())
G_DECLARE_FINAL_TYPE(Tx2yoloFilter, tx2yolo_filter, TX2YOLO, FILTER, GstVideoFilter)

struct _Tx2yoloFilter {
  GstVideoFilter parent;
  Settings* settings;
  std::unique_ptr<tx2yolo::Detector>* detector;
  GMutex lock;
};

G_END_DECLS

G_DEFINE_TYPE(Tx2yoloFilter, tx2yolo_filter, GST_TYPE_VIDEO_FILTER)

GST_DEBUG_CATEGORY_STATIC(tx2yolo_debug);
#define GST_CAT_DEFAULT tx2yolo_debug

enum { PROP_0, PROP_MODEL, PROP_BACKEND, PROP_DEVICE, PROP_PRECISION, PROP_THRESHOLD, PROP_DRAW };

#define TX2YOLO_CAPS GST_VIDEO_CAPS_MAKE("{ BGR, BGRx, RGB }")

static void tx2yolo_filter_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  Tx2yoloFilter* self = TX2YOLO_FILTER(object);
  g_mutex_lock(&self->lock);
  Settings& s = *self->settings;
  switch (id) {
    case PROP_MODEL: s.model = g_value_get_string(value) ? g_value_get_string(value) : ""; break;
    case PROP_BACKEND: s.backend = g_value_get_string(value) ? g_value_get_string(value) : "auto"; break;
    case PROP_DEVICE: s.device = g_value_get_int(value); break;
    case PROP_PRECISION: s.precision = g_value_get_string(value) ? g_value_get_string(value) : "fp32"; break;
    case PROP_THRESHOLD: s.threshold = g_value_get_double(value); break;
    case PROP_DRAW: s.draw = g_value_get_boolean(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); break;
  }
  g_mutex_unlock(&self->lock);
}

static void tx2yolo_filter_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  Tx2yoloFilter* self = TX2YOLO_FILTER(object);
  g_mutex_lock(&self->lock);
  const Settings& s = *self->settings;
  switch (id) {
    case PROP_MODEL: g_value_set_string(value, s.model.c_str()); break;
    case PROP_BACKEND: g_value_set_string(value, s.backend.c_str()); break;
    case PROP_DEVICE: g_value_set_int(value, s.device); break;
    case PROP_PRECISION: g_value_set_string(value, s.precision.c_str()); break;
    case PROP_THRESHOLD: g_value_set_double(value, s.threshold); break;
    case PROP_DRAW: g_value_set_boolean(value, s.draw); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); break;
  }
  g_mutex_unlock(&self->lock);
}

// Creates the detector from the properties; a pipeline ERROR on failure.
static gboolean tx2yolo_filter_start(GstBaseTransform* trans) {
  Tx2yoloFilter* self = TX2YOLO_FILTER(trans);
  g_mutex_lock(&self->lock);
  const Settings s = *self->settings;
  g_mutex_unlock(&self->lock);
  if (s.model.empty()) {
    GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("tx2yolo: no model set (model=PATH.safetensors)"), (nullptr));
    return FALSE;
  }
  try {
    tx2yolo::DetectorOptions options;
    options.backend = tx2yolo::backend_from_string(s.backend);
    options.device = s.device;
    options.precision = tx2yolo::precision_from_string(s.precision);
    *self->detector = std::make_unique<tx2yolo::Detector>(s.model, options);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("tx2yolo: %s", e.what()), (nullptr));
    return FALSE;
  }
  GST_INFO_OBJECT(self, "model %s on %s", s.model.c_str(), (*self->detector)->backend_description().c_str());
  return TRUE;
}

static gboolean tx2yolo_filter_stop(GstBaseTransform* trans) {
  Tx2yoloFilter* self = TX2YOLO_FILTER(trans);
  self->detector->reset();
  return TRUE;
}

static GstFlowReturn tx2yolo_filter_transform_frame_ip(GstVideoFilter* filter, GstVideoFrame* frame) {
  Tx2yoloFilter* self = TX2YOLO_FILTER(filter);
  tx2yolo::Detector* detector = self->detector->get();
  if (!detector) return GST_FLOW_NOT_NEGOTIATED;
  g_mutex_lock(&self->lock);
  const Settings s = *self->settings;
  g_mutex_unlock(&self->lock);

  const int width = GST_VIDEO_FRAME_WIDTH(frame);
  const int height = GST_VIDEO_FRAME_HEIGHT(frame);
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT(frame);
  const int channels = format == GST_VIDEO_FORMAT_BGRx ? 4 : 3;
  cv::Mat pixels(height, width, channels == 4 ? CV_8UC4 : CV_8UC3, GST_VIDEO_FRAME_PLANE_DATA(frame, 0),
                 static_cast<std::size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0)));
  cv::Mat bgr = pixels;  // BGR is read in place; the others are converted
  if (format == GST_VIDEO_FORMAT_BGRx) cv::cvtColor(pixels, bgr, cv::COLOR_BGRA2BGR);
  if (format == GST_VIDEO_FORMAT_RGB) cv::cvtColor(pixels, bgr, cv::COLOR_RGB2BGR);

  std::vector<tx2yolo::Detection> dets;
  try {
    dets = detector->detect(bgr);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("tx2yolo: %s", e.what()), (nullptr));
    return GST_FLOW_ERROR;
  }
  const double threshold = s.threshold >= 0 ? s.threshold : detector->config().draw_threshold;
  for (const tx2yolo::Detection& d : dets) {
    if (d.score < threshold) continue;
    const std::string label = detector->class_name(d.class_id);
    const int x = std::max(0, static_cast<int>(d.x1 + 0.5f));
    const int y = std::max(0, static_cast<int>(d.y1 + 0.5f));
    const int w = std::max(0, std::min(width, static_cast<int>(d.x2 + 0.5f)) - x);
    const int h = std::max(0, std::min(height, static_cast<int>(d.y2 + 0.5f)) - y);
    GstVideoRegionOfInterestMeta* meta =
        gst_buffer_add_video_region_of_interest_meta(frame->buffer, label.c_str(), x, y, w, h);
    if (meta) {
      gst_video_region_of_interest_meta_add_param(
          meta, gst_structure_new("detection", "class_id", G_TYPE_INT, d.class_id, "label", G_TYPE_STRING,
                                  label.c_str(), "score", G_TYPE_DOUBLE, static_cast<double>(d.score), nullptr));
    }
    if (s.draw) {
      const cv::Scalar color = channels == 4 ? cv::Scalar(0, 255, 0, 255) : cv::Scalar(0, 255, 0);
      cv::rectangle(pixels, cv::Rect(x, y, w, h), color, 2);
      char text[96];
      g_snprintf(text, sizeof(text), "%s %.2f", label.c_str(), d.score);
      cv::putText(pixels, text, cv::Point(x + 2, std::max(12, y - 3)), cv::FONT_HERSHEY_SIMPLEX, 0.45, color, 1);
    }
  }
  return GST_FLOW_OK;
}

static void tx2yolo_filter_finalize(GObject* object) {
  Tx2yoloFilter* self = TX2YOLO_FILTER(object);
  delete self->detector;
  delete self->settings;
  g_mutex_clear(&self->lock);
  G_OBJECT_CLASS(tx2yolo_filter_parent_class)->finalize(object);
}

static void tx2yolo_filter_class_init(Tx2yoloFilterClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);
  gobject_class->set_property = tx2yolo_filter_set_property;
  gobject_class->get_property = tx2yolo_filter_get_property;
  gobject_class->finalize = tx2yolo_filter_finalize;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model", "tx2yolo model file (.safetensors)", "", flags));
  g_object_class_install_property(gobject_class, PROP_BACKEND,
      g_param_spec_string("backend", "Backend", "auto, cpu or cuda", "auto", flags));
  g_object_class_install_property(gobject_class, PROP_DEVICE,
      g_param_spec_int("device", "Device", "CUDA device index", 0, 64, 0, flags));
  g_object_class_install_property(gobject_class, PROP_PRECISION,
      g_param_spec_string("precision", "Precision", "fp32 or fp16 (CUDA)", "fp32", flags));
  g_object_class_install_property(gobject_class, PROP_THRESHOLD,
      g_param_spec_double("threshold", "Threshold",
                          "Score for a region-of-interest meta and a drawn box; -1: the model's draw_threshold",
                          -1.0, 1.0, -1.0, flags));
  g_object_class_install_property(gobject_class, PROP_DRAW,
      g_param_spec_boolean("draw", "Draw", "Draw the boxes into the frames", FALSE, flags));
  gst_element_class_set_static_metadata(element_class, "tx2yolo detector", "Filter/Analyzer/Video",
                                        "YOLOv3-MobileNetV1 detection; one region-of-interest meta per object",
                                        "tx2yolo");
  GstCaps* caps = gst_caps_from_string(TX2YOLO_CAPS);
  gst_element_class_add_pad_template(element_class, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template(element_class, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
  trans_class->start = tx2yolo_filter_start;
  trans_class->stop = tx2yolo_filter_stop;
  filter_class->transform_frame_ip = tx2yolo_filter_transform_frame_ip;
}

static void tx2yolo_filter_init(Tx2yoloFilter* self) {
  self->settings = new Settings();
  self->detector = new std::unique_ptr<tx2yolo::Detector>();
  g_mutex_init(&self->lock);
}

static gboolean plugin_init(GstPlugin* plugin) {
  GST_DEBUG_CATEGORY_INIT(tx2yolo_debug, "tx2yolo", 0, "tx2yolo detector");
  return gst_element_register(plugin, "tx2yolo", GST_RANK_NONE, TX2YOLO_TYPE_FILTER);
}

#define PACKAGE "tx2yolo"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, tx2yolo, "tx2yolo: YOLOv3-MobileNetV1 detection", plugin_init,
                  "0.1.0", "unknown", "tx2yolo", "tx2yolo")
