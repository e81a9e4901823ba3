// Test program for the GStreamer element: runs a pipeline to its end and
// prints what reached the element named "sink":
//   roi LABEL SCORE X Y W H      one line per GstVideoRegionOfInterestMeta
//   buffers N rois M             at the end
// or "error: MESSAGE" and exit 1 when the pipeline posts an ERROR.
//   gst_roi_probe 'videotestsrc num-buffers=5 ! ... ! tx2yolo model=M ! fakesink name=sink'
//   gst_roi_probe 'appsrc name=src ! tx2yolo model=M ! fakesink name=sink' --push IMAGE
// With --push, IMAGE is decoded by OpenCV (as `tx2yolo detect` does) and
// pushed once as a BGR frame, then end-of-stream.
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/gstvideometa.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <opencv2/imgcodecs.hpp>

namespace {

int g_buffers = 0;
int g_rois = 0;

GstPadProbeReturn on_buffer(GstPad*, GstPadProbeInfo* info, gpointer) {
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buffer) return GST_PAD_PROBE_OK;
  ++g_buffers;
  gpointer state = nullptr;
  GstMeta* meta;
  while ((meta = gst_buffer_iterate_meta_filtered(buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    double score = -1;
    GstStructure* s = gst_video_region_of_interest_meta_get_param(roi, "detection");
    if (s) gst_structure_get_double(s, "score", &score);
    std::printf("roi %s %.6f %u %u %u %u\n", g_quark_to_string(roi->roi_type), score, roi->x, roi->y, roi->w, roi->h);
    ++g_rois;
  }
  return GST_PAD_PROBE_OK;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  if (argc != 2 && !(argc == 4 && std::strcmp(argv[2], "--push") == 0)) {
    std::fprintf(stderr, "usage: gst_roi_probe 'PIPELINE with fakesink name=sink' [--push IMAGE]\n");
    return 2;
  }
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(argv[1], &error);
  if (!pipeline || error) {
    std::printf("error: %s\n", error ? error->message : "cannot parse the pipeline");
    return 1;
  }
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  if (!sink) {
    std::printf("error: no element named sink\n");
    return 1;
  }
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, nullptr, nullptr);
  gst_object_unref(pad);

  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  if (argc == 4) {
    const cv::Mat image = cv::imread(argv[3], cv::IMREAD_COLOR);
    GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
    if (image.empty() || !src) {
      std::printf("error: %s\n", image.empty() ? "cannot read the image" : "no appsrc named src");
      return 1;
    }
    GstCaps* caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width", G_TYPE_INT, image.cols,
                                        "height", G_TYPE_INT, image.rows, "framerate", GST_TYPE_FRACTION, 1, 1, nullptr);
    gst_app_src_set_caps(GST_APP_SRC(src), caps);
    gst_caps_unref(caps);
    // GStreamer's BGR rows are padded to 4 bytes.
    const int stride = (image.cols * 3 + 3) & ~3;
    GstBuffer* buffer = gst_buffer_new_allocate(nullptr, static_cast<gsize>(stride) * image.rows, nullptr);
    GstMapInfo map;
    gst_buffer_map(buffer, &map, GST_MAP_WRITE);
    for (int y = 0; y < image.rows; ++y) std::memcpy(map.data + y * stride, image.ptr(y), image.cols * 3);
    gst_buffer_unmap(buffer, &map);
    GST_BUFFER_PTS(buffer) = 0;
    GST_BUFFER_DURATION(buffer) = GST_SECOND;
    gst_app_src_push_buffer(GST_APP_SRC(src), buffer);
    gst_app_src_end_of_stream(GST_APP_SRC(src));
    gst_object_unref(src);
  }
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                               static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
  int rc = 0;
  if (!msg) {
    std::printf("error: the pipeline did not finish within 120 s\n");
    rc = 1;
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gst_message_parse_error(msg, &err, nullptr);
    std::printf("error: %s\n", err ? err->message : "pipeline error");
    if (err) g_error_free(err);
    rc = 1;
  } else {
    std::printf("buffers %d rois %d\n", g_buffers, g_rois);
  }
  if (msg) gst_message_unref(msg);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(pipeline);
  return rc;
}
