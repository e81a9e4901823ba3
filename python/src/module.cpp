// tx2yolo's Python module (_tx2yolo, wrapped by the tx2yolo package in
// python/tx2yolo): the Detector on numpy images, convert and inspect.
//
// Images: HxWx3 uint8 BGR numpy arrays, read in place (no copy) when each
// row's pixels are contiguous (strides[2] == 1, strides[1] == 3), whatever
// the row stride: a crop such as img[10:200, 30:300] is read in place. An
// array whose pixels are not contiguous within a row (img[:, ::2]) is copied
// once. Another dtype, rank or channel count raises ValueError with the
// reason. Detections come back as a numpy structured array with the fields
// class_id (int32), score, x1, y1, x2, y2 (float32), boxes in the image's
// pixels. Engine errors raise tx2yolo.Error (a RuntimeError) with the
// engine's one-line message. The GIL is released while the engine works.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "convert/converter.h"
#include "core/error.h"
#include "core/file_util.h"
#include "engine/detector.h"
#include "weights/model_file.h"

namespace py = pybind11;

namespace {

struct PyDetection {
  std::int32_t class_id;
  float score, x1, y1, x2, y2;
};

// The image as a cv::Mat over the array's memory (or a copy, see above).
// `keep` holds the array (or its copy) alive while the Mat is used.
cv::Mat image_view(const py::handle& obj, py::array* keep, const char* what) {
  if (!py::isinstance<py::array>(obj))
    throw py::value_error(std::string(what) + ": expected a numpy array of shape (H, W, 3) and dtype uint8, got " +
                          std::string(py::str(py::type::of(obj))));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<std::uint8_t>()))
    throw py::value_error(std::string(what) + ": dtype " + std::string(py::str(a.dtype())) +
                          ", expected uint8 (8-bit BGR)");
  if (a.ndim() != 3 || a.shape(2) != 3)
    throw py::value_error(std::string(what) + ": shape " + std::string(py::str(py::tuple(py::cast(
                              std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()))))) +
                          ", expected (H, W, 3) BGR");
  if (a.shape(0) < 1 || a.shape(1) < 1)
    throw py::value_error(std::string(what) + ": an empty image (" + std::to_string(a.shape(0)) + "x" +
                          std::to_string(a.shape(1)) + ")");
  if (a.shape(0) > (1 << 20) || a.shape(1) > (1 << 20))
    throw py::value_error(std::string(what) + ": " + std::to_string(a.shape(0)) + "x" + std::to_string(a.shape(1)) +
                          " is too large");
  if (a.strides(2) != 1 || a.strides(1) != 3 || a.strides(0) < 3 * a.shape(1)) {
    a = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(a);
    if (!a) throw py::error_already_set();
  }
  *keep = a;
  return cv::Mat(static_cast<int>(a.shape(0)), static_cast<int>(a.shape(1)), CV_8UC3,
                 const_cast<void*>(a.data()), static_cast<std::size_t>(a.strides(0)));
}

py::array to_numpy(const std::vector<tx2yolo::Detection>& dets) {
  py::array_t<PyDetection> out(static_cast<py::ssize_t>(dets.size()));
  auto* p = out.mutable_data();
  for (std::size_t i = 0; i < dets.size(); ++i)
    p[i] = PyDetection{dets[i].class_id, dets[i].score, dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2};
  return out;
}

// nlohmann::json to Python objects.
py::object to_python(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(j.get<long long>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(j.get<unsigned long long>());
    case nlohmann::json::value_t::number_float: return py::float_(j.get<double>());
    case nlohmann::json::value_t::string: return py::str(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list l;
      for (const auto& v : j) l.append(to_python(v));
      return std::move(l);
    }
    case nlohmann::json::value_t::object: {
      py::dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d[py::str(it.key())] = to_python(it.value());
      return std::move(d);
    }
    default: return py::none();
  }
}

void input_size(const py::object& size, int* h, int* w) {
  *h = *w = 0;
  if (size.is_none()) return;
  if (py::isinstance<py::int_>(size)) {
    *h = *w = size.cast<int>();
  } else {
    const auto v = size.cast<std::vector<int>>();
    if (v.size() != 2) throw py::value_error("input_size: an int or (height, width)");
    *h = v[0];
    *w = v[1];
  }
  if (*h <= 0 || *w <= 0 || *h % 32 || *w % 32)
    throw py::value_error("input_size: " + std::to_string(*h) + "x" + std::to_string(*w) +
                          " must be positive multiples of 32");
}

class PyDetector {
 public:
  PyDetector(const std::string& model, const std::string& backend, int device, const std::string& precision,
             const py::object& size, std::optional<float> conf_threshold, std::optional<float> score_threshold,
             std::optional<float> nms_threshold, std::optional<int> keep_top_k, int batch, int threads,
             bool unverified, const std::string& cpu_convs) {
    if (cpu_convs != "auto" && cpu_convs != "reference" && cpu_convs != "gemm" && cpu_convs != "onednn")
      throw py::value_error("cpu_convs: '" + cpu_convs + "', expected 'auto', 'reference', 'gemm' or 'onednn'");
    tx2yolo::DetectorOptions o;
    o.backend = tx2yolo::backend_from_string(backend);
    o.device = device;
    o.precision = tx2yolo::precision_from_string(precision);
    input_size(size, &o.input_h, &o.input_w);
    o.conf_threshold = conf_threshold;
    o.score_threshold = score_threshold;
    o.nms_threshold = nms_threshold;
    o.keep_top_k = keep_top_k;
    o.batch = batch;
    o.threads = threads;
    o.unverified = unverified;
    o.cpu_convs = tx2yolo::cpu_convs_from_string(cpu_convs);
    py::gil_scoped_release release;
    detector_ = std::make_unique<tx2yolo::Detector>(model, o);
  }

  py::array detect(const py::object& image) {
    py::array keep;
    const cv::Mat m = image_view(image, &keep, "detect");
    std::vector<tx2yolo::Detection> dets;
    {
      py::gil_scoped_release release;
      dets = detector_->detect(m);
    }
    return to_numpy(dets);
  }

  py::list detect_batch(const py::list& images) {
    if (images.size() == 0) throw py::value_error("detect_batch: no images");
    std::vector<py::array> keep(images.size());
    std::vector<cv::Mat> mats;
    for (std::size_t i = 0; i < images.size(); ++i)
      mats.push_back(image_view(images[i], &keep[i], ("detect_batch: image " + std::to_string(i)).c_str()));
    std::vector<std::vector<tx2yolo::Detection>> all;
    {
      py::gil_scoped_release release;
      const std::size_t b = static_cast<std::size_t>(detector_->batch());
      for (std::size_t start = 0; start < mats.size(); start += b) {
        const std::vector<cv::Mat> chunk(mats.begin() + static_cast<long>(start),
                                         mats.begin() + static_cast<long>(std::min(mats.size(), start + b)));
        for (auto& d : detector_->detect_batch(chunk)) all.push_back(std::move(d));
      }
    }
    py::list out;
    for (const auto& d : all) out.append(to_numpy(d));
    return out;
  }

  std::vector<std::string> class_names() const {
    std::vector<std::string> names;
    const int n = static_cast<int>(detector_->config().classes.size());
    for (int c = 0; c < n; ++c) names.push_back(detector_->class_name(c));
    return names;
  }
  const tx2yolo::Detector& get() const { return *detector_; }

 private:
  std::unique_ptr<tx2yolo::Detector> detector_;
};

py::dict inspect_model(const std::string& path) {
  std::unique_ptr<tx2yolo::ModelFile> m;
  {
    py::gil_scoped_release release;
    m = std::make_unique<tx2yolo::ModelFile>(tx2yolo::ModelFile::load(path));
  }
  py::dict d;
  d["path"] = path;
  d["file_bytes"] = m->file_bytes();
  d["sha256"] = m->sha256();
  d["config"] = to_python(tx2yolo::config_to_json(m->config()));
  d["provenance"] = to_python(m->provenance());
  d["graph"] = to_python(tx2yolo::graph_to_json(m->graph()));
  py::dict tensors;
  for (const tx2yolo::TensorInfo& t : m->tensors()) tensors[py::str(t.name)] = py::tuple(py::cast(t.shape));
  d["tensors"] = tensors;
  return d;
}

py::dict convert_checkpoint(const std::string& src, const std::string& dst, const std::string& config,
                            const std::string& labels, const std::string& defaults, const std::string& prune,
                            const std::string& criterion, const py::object& size, const std::string& format) {
  if (dst.empty()) throw py::value_error("convert: dst (the model file to write) is empty");
  tx2yolo::paddle::ConvertOptions o;
  o.input = src;
  o.format = format;
  o.config = config;
  o.labels = labels;
  o.defaults = defaults;
  o.prune = prune;
  o.criterion = criterion;
  input_size(size, &o.input_h, &o.input_w);
  tx2yolo::paddle::ConvertResult r;
  {
    py::gil_scoped_release release;
    TX2_REQUIRE(!tx2yolo::is_directory(dst), "convert: the output ", dst, " is a folder");
    r = tx2yolo::paddle::convert_checkpoint(o);
    tx2yolo::write_model_file(dst, r.mapped.arch.graph, r.config, r.provenance, r.tensors);
  }
  py::dict d;
  d["format"] = r.format;
  d["naming"] = r.mapped.naming;
  d["num_classes"] = r.config.classes.size();
  d["input_size"] = py::make_tuple(r.config.input_h, r.config.input_w);
  d["separable_head"] = r.mapped.spec.separable_head;
  d["notes"] = r.notes;
  d["sources"] = r.sources;
  return d;
}

}  // namespace

PYBIND11_MODULE(_tx2yolo, m) {
  m.doc() = "tx2yolo: YOLOv3-MobileNetV1 (PaddleDetection) inference, CPU and CUDA";
  PYBIND11_NUMPY_DTYPE(PyDetection, class_id, score, x1, y1, x2, y2);
  static py::exception<tx2yolo::Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const tx2yolo::Error& e) {
      py::set_error(error, e.what());
    }
  });
  py::class_<PyDetector>(m, "Detector")
      .def(py::init<const std::string&, const std::string&, int, const std::string&, const py::object&,
                    std::optional<float>, std::optional<float>, std::optional<float>, std::optional<int>, int, int,
                    bool, const std::string&>(),
           py::arg("model"), py::kw_only(), py::arg("backend") = "auto", py::arg("device") = 0,
           py::arg("precision") = "fp32", py::arg("input_size") = py::none(), py::arg("conf_threshold") = py::none(),
           py::arg("score_threshold") = py::none(), py::arg("nms_threshold") = py::none(),
           py::arg("keep_top_k") = py::none(), py::arg("batch") = 1, py::arg("threads") = 0,
           py::arg("unverified") = false, py::arg("cpu_convs") = "auto")
      .def("detect", &PyDetector::detect, py::arg("image"))
      .def("detect_batch", &PyDetector::detect_batch, py::arg("images"))
      .def_property_readonly("class_names", &PyDetector::class_names)
      .def_property_readonly("backend", [](const PyDetector& d) { return d.get().backend_description(); })
      .def_property_readonly("input_size",
                             [](const PyDetector& d) { return py::make_tuple(d.get().input_h(), d.get().input_w()); })
      .def_property_readonly("batch", [](const PyDetector& d) { return d.get().batch(); });
  m.def("inspect", &inspect_model, py::arg("model"));
  m.def("convert", &convert_checkpoint, py::arg("src"), py::arg("dst"), py::kw_only(), py::arg("config") = "",
        py::arg("labels") = "", py::arg("defaults") = "", py::arg("prune") = "", py::arg("criterion") = "l1",
        py::arg("input_size") = py::none(), py::arg("format") = "");
}
