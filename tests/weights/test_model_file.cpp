// The model file: round trip, safetensors layout, atomic writing, and one test
// per kind of corruption the reader must refuse (docs/model-format.md,
// "Validation"). Corrupt files are made by serialising a valid tiny model and
// editing its header JSON or bytes.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/sha256.h"
#include "tests/test_util.h"
#include "weights/architecture.h"
#include "weights/graph.h"
#include "weights/json_guard.h"
#include "weights/model_config.h"
#include "weights/model_file.h"

namespace tx2yolo {
namespace {

using nlohmann::json;
using testing_util::TempDir;
using Tensors = std::vector<std::pair<std::string, HostTensor>>;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kSource = "bad.safetensors";

// image [3, 32, 32] -> conv1 (3x3, pad 1, 3->4, leaky 0.1) -> [4, 32, 32]
//                   -> head  (1x1, stride 32, 4->6)        -> out [6, 1, 1]
// One head: 1 anchor x (5 + 1 class) = 6 channels, a 1x1 grid at downsample 32.
Graph tiny_graph() {
  Graph g;
  g.input.name = "image";
  g.input.channels = 3;
  Node conv1;
  conv1.name = "conv1";
  conv1.op = OpKind::kConv2d;
  conv1.inputs = {"image"};
  conv1.output = "conv1.out";
  conv1.conv.kernel_h = conv1.conv.kernel_w = 3;
  conv1.conv.pad_h = conv1.conv.pad_w = 1;
  conv1.conv.activation = Activation::kLeakyRelu;
  conv1.conv.alpha = 0.1f;
  conv1.weight = "conv1.weight";
  conv1.bias = "conv1.bias";
  Node head;
  head.name = "head";
  head.op = OpKind::kConv2d;
  head.inputs = {"conv1.out"};
  head.output = "out";
  head.conv.stride_h = head.conv.stride_w = 32;
  head.weight = "head.weight";
  head.bias = "head.bias";
  g.nodes = {conv1, head};
  g.outputs = {"out"};
  return g;
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.input_h = 32;
  c.input_w = 32;
  c.classes = {"thing"};
  HeadConfig h;
  h.tensor = "out";
  h.anchors = {{10.f, 13.f}};
  h.downsample = 32;
  c.heads = {h};
  return c;
}

json tiny_provenance() {
  return json{{"source", "tiny.pdparams"},
              {"source_sha256", std::string(64, 'a')},
              {"converter", "tx2yolo test"},
              {"created", "2024-01-01T00:00:00Z"},
              {"note", "hand-made"}};
}

HostTensor random_tensor(std::vector<long long> shape, std::uint32_t seed) {
  long long n = 1;
  for (long long d : shape) n *= d;
  return HostTensor{std::move(shape), testing_util::random_floats(static_cast<std::size_t>(n), seed)};
}

// Written in data order conv1.weight (432 bytes), conv1.bias (16),
// head.weight (96), head.bias (24): 568 bytes of data.
Tensors tiny_tensors() {
  return {{"conv1.weight", random_tensor({4, 3, 3, 3}, 1)},
          {"conv1.bias", random_tensor({4}, 2)},
          {"head.weight", random_tensor({6, 4, 1, 1}, 3)},
          {"head.bias", random_tensor({6}, 4)}};
}

Bytes tiny_bytes() { return serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors()); }

// A serialised file taken apart: the header text and the data section.
struct Parts {
  std::string header;
  Bytes data;
};

Parts split(const Bytes& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  Parts p;
  p.header.assign(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(n));
  p.data.assign(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  return p;
}

// [u64 LE header length][header][data], no padding added.
Bytes rebuild(const std::string& header, const Bytes& data) {
  Bytes out;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Edits the header as JSON (and optionally the data section) and rebuilds.
Bytes edit_header(const Bytes& bytes, const std::function<void(json&)>& edit,
                  const std::function<void(Bytes&)>& edit_data = nullptr) {
  Parts p = split(bytes);
  json header = json::parse(p.header);
  edit(header);
  if (edit_data) edit_data(p.data);
  return rebuild(header.dump(), p.data);
}

// Edits one of the JSON documents stored as a string in __metadata__.
Bytes edit_metadata_doc(const Bytes& bytes, const std::string& key, const std::function<void(json&)>& edit) {
  return edit_header(bytes, [&](json& h) {
    json doc = json::parse(h["__metadata__"][key].get<std::string>());
    edit(doc);
    h["__metadata__"][key] = doc.dump();
  });
}

// Parsing `bytes` throws one tx2yolo::Error that starts with the source name
// and contains `expected`.
::testing::AssertionResult fails_with(const Bytes& bytes, const std::string& expected) {
  try {
    ModelFile::parse(bytes, kSource);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(std::string(kSource) + ": ", 0) != 0) {
      return ::testing::AssertionFailure() << "message does not start with the source name: " << msg;
    }
    if (msg.find(expected) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << expected << "\": " << msg;
    }
    return ::testing::AssertionSuccess() << msg;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw something other than tx2yolo::Error: " << e.what();
  }
  return ::testing::AssertionFailure() << "parsed without an error; expected \"" << expected << "\"";
}

// Throws one tx2yolo::Error containing `expected`.
template <typename Fn>
::testing::AssertionResult throws_error(Fn&& fn, const std::string& expected) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.find(expected) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << expected << "\": " << msg;
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw something other than tx2yolo::Error: " << e.what();
  }
  return ::testing::AssertionFailure() << "no error; expected \"" << expected << "\"";
}

// ---------------------------------------------------------------------------
// Round trip and layout

TEST(ModelFile, RoundTripPreservesTensorsAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("tiny.safetensors");
  const Tensors tensors = tiny_tensors();
  write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tensors, {{"comment", "hello \"world\""}});

  const ModelFile m = ModelFile::load(path);
  EXPECT_EQ(m.source(), path);
  ASSERT_EQ(m.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].first;
    const HostTensor& want = tensors[i].second;
    EXPECT_EQ(m.tensors()[i].name, name) << "tensors() must be in data order, which is the written order";
    EXPECT_EQ(m.tensor(name).shape, want.shape);
    EXPECT_EQ(m.tensor(name).dtype, DType::kF32);
    const float* got = m.tensor_data(name);
    const std::vector<float> got_values(got, got + want.data.size());
    EXPECT_EQ(got_values, want.data) << name;  // bit-exact
  }
  EXPECT_EQ(graph_to_json(m.graph()), graph_to_json(tiny_graph()));
  EXPECT_EQ(config_to_json(m.config()), config_to_json(tiny_config()));
  EXPECT_EQ(m.provenance(), tiny_provenance());
  EXPECT_EQ(m.metadata().at("format"), "tx2yolo");
  EXPECT_EQ(m.metadata().at("format_version"), "1");
  EXPECT_EQ(m.metadata().at("comment"), "hello \"world\"");
  EXPECT_EQ(json::parse(m.metadata().at("graph")), graph_to_json(tiny_graph()));
  EXPECT_EQ(m.metadata().size(), 6u);
  EXPECT_EQ(m.file_bytes(), testing_util::read_text(path).size());
}

TEST(ModelFile, FileIsSafetensorsLayout) {
  const Bytes bytes = tiny_bytes();
  ASSERT_GE(bytes.size(), 8u);
  const Parts p = split(bytes);
  EXPECT_EQ((8 + p.header.size()) % 8, 0u) << "data must start at a multiple of 8";
  EXPECT_EQ(p.header.rfind("{\"__metadata__\":{", 0), 0u) << "__metadata__ first: " << p.header.substr(0, 40);
  EXPECT_NE(p.header.back(), '\0');
  const std::size_t last = p.header.find_last_not_of(' ');
  EXPECT_EQ(p.header[last], '}');
  EXPECT_LT(p.header.size() - last - 1, 8u) << "at most 7 padding spaces";

  const json h = json::parse(p.header);
  const Tensors tensors = tiny_tensors();
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    const json& e = h.at(t.first);
    EXPECT_EQ(e.at("dtype"), "F32");
    EXPECT_EQ(e.at("shape").get<std::vector<long long>>(), t.second.shape);
    const std::uint64_t bytes_n = t.second.data.size() * 4;
    EXPECT_EQ(e.at("data_offsets"), json({offset, offset + bytes_n})) << t.first;
    // Little-endian fp32 at that offset.
    for (std::size_t i = 0; i < t.second.data.size(); ++i) {
      std::uint32_t bits = 0;
      for (int b = 3; b >= 0; --b) bits = (bits << 8) | p.data[offset + 4 * i + static_cast<std::size_t>(b)];
      float v;
      std::memcpy(&v, &bits, 4);
      ASSERT_EQ(v, t.second.data[i]) << t.first << "[" << i << "]";
    }
    offset += bytes_n;
  }
  EXPECT_EQ(offset, p.data.size());
  for (const char* key : {"format", "format_version", "graph", "config", "provenance"}) {
    EXPECT_TRUE(h.at("__metadata__").at(key).is_string()) << key;
  }
}

TEST(ModelFile, WrittenBytesEqualSerializedBytes) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors());
  const std::string text = testing_util::read_text(path);
  const Bytes expected = tiny_bytes();
  EXPECT_EQ(Bytes(text.begin(), text.end()), expected);
}

TEST(ModelFile, Sha256IsTheFilesSha256) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors());
  const std::string hash = ModelFile::load(path).sha256();
  EXPECT_EQ(hash, sha256_hex_of_files({path}));
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2
}

TEST(ModelFile, AccessorsFindTensorsAndRefuseUnknownNames) {
  const ModelFile m = ModelFile::parse(tiny_bytes(), "mem");
  EXPECT_TRUE(m.has_tensor("head.bias"));
  EXPECT_FALSE(m.has_tensor("nope"));
  EXPECT_EQ(m.tensor("conv1.weight").numel(), 108);
  EXPECT_EQ(m.tensor("conv1.weight").begin, 0u);
  EXPECT_EQ(m.tensor("conv1.weight").end, 432u);
  EXPECT_EQ(m.tensor("conv1.bias").begin, 432u);
  const WeightShapes shapes = m.weight_shapes();
  ASSERT_EQ(shapes.size(), 4u);
  EXPECT_EQ(shapes.at("head.weight"), (std::vector<long long>{6, 4, 1, 1}));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.tensor_data("conv1.bias")) % alignof(float), 0u);
  EXPECT_TRUE(throws_error([&] { m.tensor("nope"); }, "mem: no tensor named \"nope\""));
  EXPECT_TRUE(throws_error([&] { m.tensor_data("nope"); }, "no tensor named \"nope\""));
}

TEST(ModelFile, EmptyModelHasEmptyDataSection) {
  // No conv at all: the 3-channel input concatenated with itself is the 6-channel head.
  Graph g;
  Node twice;
  twice.name = "twice";
  twice.op = OpKind::kConcat;
  twice.inputs = {"image", "image"};
  twice.output = "out";
  g.nodes = {twice};
  g.outputs = {"out"};
  ModelConfig c = tiny_config();
  c.heads[0].downsample = 1;
  const Bytes bytes = serialize_model_file(g, c, json::object(), {});
  EXPECT_EQ(bytes.size(), 8 + split(bytes).header.size());
  const ModelFile m = ModelFile::parse(bytes, "empty");
  EXPECT_TRUE(m.tensors().empty());
  EXPECT_TRUE(fails_with(edit_header(bytes, [](json&) {}, [](Bytes& d) { d.push_back(0); }),
                         "1 trailing bytes after the last tensor"));
}

TEST(ModelFile, UnalignedForeignFileLoadsWithAlignedData) {
  // Another writer may not pad the header: make 8 + N odd.
  const Bytes good = tiny_bytes();
  Parts p = split(good);
  std::string header = json::parse(p.header).dump();
  if ((8 + header.size()) % 2 == 0) header += ' ';
  ASSERT_NE((8 + header.size()) % 4, 0u);
  const ModelFile m = ModelFile::parse(rebuild(header, p.data), "foreign");
  for (const auto& t : tiny_tensors()) {
    const float* got = m.tensor_data(t.first);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(got) % alignof(float), 0u) << t.first;
    EXPECT_EQ(std::vector<float>(got, got + t.second.data.size()), t.second.data) << t.first;
  }
  EXPECT_EQ(m.file_bytes(), 8 + header.size() + p.data.size());
}

TEST(ModelFile, RoundTripsTheYoloV3Template) {
  ArchitectureSpec spec = ArchitectureSpec::scaled(0.125, 3);
  spec.separable_head = true;
  const ArchitectureGraph arch = build_yolov3_mobilenet_v1(spec);
  const Tensors weights = make_random_weights(arch, 7);
  const ModelFile m = ModelFile::parse(
      serialize_model_file(arch.graph, arch.config, tiny_provenance(), weights), "template");
  ASSERT_EQ(m.tensors().size(), weights.size());
  for (const auto& w : weights) {
    const float* got = m.tensor_data(w.first);
    ASSERT_EQ(std::vector<float>(got, got + w.second.data.size()), w.second.data) << w.first;
  }
  EXPECT_EQ(graph_to_json(m.graph()), graph_to_json(arch.graph));
}

TEST(TensorInfo, NumelChecksShape) {
  TensorInfo t;
  t.name = "t";
  EXPECT_EQ(t.numel(), 1);  // a scalar
  t.shape = {2, 3, 0};
  EXPECT_EQ(t.numel(), 0);
  t.shape = {2, 3, 5};
  EXPECT_EQ(t.numel(), 30);
  t.shape = {2, -3};
  EXPECT_TRUE(throws_error([&] { t.numel(); }, "negative dimension"));
  t.shape = {1LL << 40, 1LL << 40};
  EXPECT_TRUE(throws_error([&] { t.numel(); }, "more elements than a model file can hold"));
}

// ---------------------------------------------------------------------------
// Writer

TEST(ModelFileWriter, LeavesNoTemporaryFileOnSuccess) {
  TempDir dir;
  write_model_file(dir.file("m.safetensors"), tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

TEST(ModelFileWriter, WritesNothingForAModelThatWouldNotLoad) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  Tensors tensors = tiny_tensors();
  tensors.push_back({"stray", random_tensor({2}, 9)});  // no node uses it
  const Bytes bytes = serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors);
  EXPECT_TRUE(fails_with(bytes, "tensor 'stray' is in the file but no node uses it"));
  EXPECT_TRUE(throws_error(
      [&] { write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tensors); }, path + ": graph:"));
  EXPECT_TRUE(dir.entries().empty());

  tensors = tiny_tensors();
  tensors[1].second.data.pop_back();  // 3 values for shape [4]
  EXPECT_TRUE(throws_error(
      [&] { write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tensors); },
      "tensor \"conv1.bias\": has 3 values, but shape [4] needs 4"));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ModelFileWriter, KeepsTheOldFileWhenTheNewModelIsInvalid) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors());
  const std::string before = testing_util::read_text(path);
  ModelConfig wrong = tiny_config();
  wrong.classes.push_back("other");  // 1 x (5 + 2) = 7 channels, the head has 6
  EXPECT_TRUE(throws_error(
      [&] { write_model_file(path, tiny_graph(), wrong, tiny_provenance(), tiny_tensors()); }, "channels"));
  EXPECT_EQ(testing_util::read_text(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

TEST(ModelFileWriter, FailsWhenTheDirectoryDoesNotExist) {
  TempDir dir;
  const std::string path = dir.file("missing/m.safetensors");
  EXPECT_TRUE(throws_error(
      [&] { write_model_file(path, tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors()); }, path));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ModelFileWriter, RejectsDuplicateTensorNames) {
  Tensors tensors = tiny_tensors();
  tensors.push_back(tensors[0]);
  EXPECT_TRUE(throws_error([&] { serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors); },
                           "tensor \"conv1.weight\": the name appears more than once"));
}

TEST(ModelFileWriter, RejectsReservedAndEmptyTensorNames) {
  Tensors tensors = tiny_tensors();
  tensors.push_back({"__metadata__", random_tensor({1}, 5)});
  EXPECT_TRUE(throws_error([&] { serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors); },
                           "reserved"));
  tensors.back().first = "";
  EXPECT_TRUE(throws_error([&] { serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors); },
                           "empty name"));
}

TEST(ModelFileWriter, RejectsBadShapes) {
  Tensors tensors = tiny_tensors();
  tensors[3].second.shape = {-6};
  EXPECT_TRUE(throws_error([&] { serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors); },
                           "negative dimension"));
  tensors[3].second.shape = {1LL << 40, 1LL << 40};
  EXPECT_TRUE(throws_error([&] { serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors); },
                           "more elements than a model file can hold"));
}

TEST(ModelFileWriter, RejectsReservedExtraMetadataAndBadProvenance) {
  EXPECT_TRUE(throws_error(
      [&] {
        serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors(), {{"graph", "{}"}});
      },
      "extra metadata key \"graph\" is reserved"));
  EXPECT_TRUE(throws_error(
      [&] { serialize_model_file(tiny_graph(), tiny_config(), json::array(), tiny_tensors()); },
      "provenance is a JSON array, expected an object"));
  EXPECT_TRUE(throws_error(
      [&] { serialize_model_file(tiny_graph(), tiny_config(), json{{"source", 3}}, tiny_tensors()); },
      "provenance.source is 3, expected a string"));
  EXPECT_TRUE(throws_error(
      [&] {
        serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tiny_tensors(), {{"x", "\xff"}});
      },
      "metadata \"x\" cannot be written as JSON"));
}

// ---------------------------------------------------------------------------
// Reader: the file and the header length

TEST(ModelFileReader, LoadNamesTheFileInErrors) {
  TempDir dir;
  const std::string path = dir.file("junk.safetensors");
  testing_util::write_text(path, "junk");
  EXPECT_TRUE(throws_error([&] { ModelFile::load(path); }, path + ": file is 4 bytes, too short"));
  EXPECT_TRUE(throws_error([&] { ModelFile::load(dir.file("absent.safetensors")); },
                           dir.file("absent.safetensors") + ": cannot open"));
}

TEST(ModelFileReader, RejectsFileShorterThan8Bytes) {
  const Bytes good = tiny_bytes();
  EXPECT_TRUE(fails_with(Bytes(good.begin(), good.begin() + 7), "file is 7 bytes, too short"));
  EXPECT_TRUE(fails_with(Bytes(), "file is 0 bytes, too short"));
}

TEST(ModelFileReader, RejectsHeaderLengthPastTheEnd) {
  Bytes bytes = tiny_bytes();
  const std::uint64_t n = bytes.size() - 7;  // one byte too many
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  EXPECT_TRUE(fails_with(bytes, "runs past the end of the file"));
}

TEST(ModelFileReader, RejectsHugeHeaderLength) {
  Bytes bytes = tiny_bytes();
  std::fill(bytes.begin(), bytes.begin() + 8, 0xff);
  EXPECT_TRUE(fails_with(bytes, "header length 18446744073709551615 is more than the limit"));
}

// ---------------------------------------------------------------------------
// Reader: header JSON

TEST(ModelFileReader, RejectsHeaderThatIsNotJson) {
  EXPECT_TRUE(fails_with(rebuild("this is not json", {}), "header: malformed JSON"));
  EXPECT_TRUE(fails_with(rebuild("{\"a\":1} x", {}), "header: malformed JSON"));
}

TEST(ModelFileReader, RejectsJsonNestingBomb) {
  EXPECT_TRUE(fails_with(rebuild(std::string(1000000, '['), {}), "header: JSON nesting deeper than 64"));
}

// Hostile headers of many entries are decided in time linear in their size
// (the callback parser used before was quadratic: 89 s for 40,000 entries),
// and one of more than kMaxJsonValues values is refused by the count.
TEST(ModelFileReader, ManyEntriesAreDecidedQuicklyAndTooManyRefused) {
  using Clock = std::chrono::steady_clock;
  auto entries = [](int n) {
    std::string h = "{";
    for (int i = 0; i < n; ++i)
      h += cat(i ? "," : "", "\"t", i, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[", 4 * i, ",", 4 * i + 4,
               "]}");
    return h + "}";
  };
  // 40,000 entries (about 2 MB): parsed whole, then refused for the missing metadata.
  auto t0 = Clock::now();
  EXPECT_TRUE(fails_with(rebuild(entries(40000), Bytes(160000)), "__metadata__"));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0 * testing_util::time_limit_scale());
  // 1,000,000 entries (58 MB, under the 100 MiB header limit): refused by the value count.
  t0 = Clock::now();
  EXPECT_TRUE(fails_with(rebuild(entries(1000000), {}), "more than 1000000 JSON values"));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 10.0 * testing_util::time_limit_scale());
  // 120,000 empty objects in one (360 KB): 12 s before.
  std::string empties = "{";
  for (int i = 0; i < 120000; ++i) empties += cat(i ? "," : "", "\"", i, "\":{}");
  t0 = Clock::now();
  EXPECT_TRUE(fails_with(rebuild(empties + "}", {}), "header"));
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0 * testing_util::time_limit_scale());
}

TEST(ModelFileReader, RejectsTopLevelThatIsNotAnObject) {
  EXPECT_TRUE(fails_with(rebuild("[1, 2, 3]", {}), "header is a JSON array, expected an object"));
}

TEST(ModelFileReader, RejectsHeaderNotStartingWithBrace) {
  const Parts p = split(tiny_bytes());
  EXPECT_TRUE(fails_with(rebuild(" " + p.header, p.data), "header starts with byte 0x20, expected '{'"));
  EXPECT_TRUE(fails_with(rebuild("\xef\xbb\xbf" + p.header, p.data), "header starts with byte 0xef"));
}

TEST(ModelFileReader, RejectsDuplicateKeysInHeader) {
  const std::string header = split(tiny_bytes()).header;
  // Name one tensor twice.
  const std::string dup = header.substr(0, header.find_last_not_of(' ')) +
                          ",\"head.bias\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[544,568]}}";
  EXPECT_TRUE(fails_with(rebuild(dup, split(tiny_bytes()).data), "duplicate key \"head.bias\""));
}

TEST(ModelFileReader, RejectsMissingMetadata) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h.erase("__metadata__"); }),
                         "header has no __metadata__; not a tx2yolo model file"));
}

TEST(ModelFileReader, RejectsMetadataThatIsNotAnObject) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"] = "x"; }),
                         "__metadata__ is a JSON string, expected an object of strings"));
}

TEST(ModelFileReader, RejectsNonStringMetadataValue) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["graph"] = json::object(); }),
                         "__metadata__.graph is a JSON object, expected a string"));
}

// ---------------------------------------------------------------------------
// Reader: tensor entries

TEST(ModelFileReader, RejectsTensorEntryThatIsNotAnObject) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"] = json::array(); }),
                         "tensor \"head.bias\": entry is a JSON array"));
}

TEST(ModelFileReader, RejectsTensorEntryMissingAField) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"].erase("shape"); }),
                         "tensor \"head.bias\": entry has no \"shape\""));
}

TEST(ModelFileReader, RejectsTensorEntryWithAnExtraField) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["scale"] = 1; }),
                         "tensor \"head.bias\": entry has an unexpected field \"scale\""));
}

TEST(ModelFileReader, RejectsUnsupportedDtype) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["dtype"] = "F16"; }),
                         "tensor \"head.bias\": unsupported dtype \"F16\""));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["dtype"] = "float32"; }),
                         "unsupported dtype \"float32\" (not a safetensors dtype)"));
}

TEST(ModelFileReader, RejectsNegativeShape) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = {-6}; }),
                         "tensor \"head.bias\": shape[0] is negative (-6)"));
}

TEST(ModelFileReader, RejectsNonIntegerShape) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = {6.5}; }),
                         "shape[0] is 6.5, expected a non-negative integer"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = "6"; }),
                         "shape is \"6\", expected an array"));
}

TEST(ModelFileReader, RejectsShapeWhoseSizeOverflows) {
  // 2^32 x 2^32 x 2^32 would wrap a 64-bit product.
  EXPECT_TRUE(fails_with(
      edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = {1ull << 32, 1ull << 32, 1ull << 32}; }),
      "more elements than a model file can hold"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = {4096, 4096, 4096}; }),
                         "more elements than a model file can hold"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = json(std::vector<int>(9, 1)); }),
                         "9 dimensions"));
}

TEST(ModelFileReader, RejectsBadDataOffsets) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["data_offsets"] = {544}; }),
                         "data_offsets is [544], expected [begin, end]"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["data_offsets"] = {568, 544}; }),
                         "end before they begin"));
}

TEST(ModelFileReader, RejectsByteCountThatDisagreesWithShape) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["head.bias"]["shape"] = {5}; }),
                         "tensor \"head.bias\": data_offsets [544, 568] hold 24 bytes, but shape [5] of F32 needs "
                         "20 bytes"));
}

// ---------------------------------------------------------------------------
// Reader: layout of the data section

TEST(ModelFileReader, RejectsGapBetweenTensors) {
  const Bytes bad = edit_header(
      tiny_bytes(), [](json& h) { h["head.bias"]["data_offsets"] = {548, 572}; },
      [](Bytes& d) { d.insert(d.end(), 4, 0); });
  EXPECT_TRUE(fails_with(bad, "tensor \"head.bias\": gap of 4 bytes between tensor \"head.weight\""));
}

TEST(ModelFileReader, RejectsFirstTensorNotAtZero) {
  const Bytes bad = edit_header(
      tiny_bytes(),
      [](json& h) {
        for (const char* name : {"conv1.weight", "conv1.bias", "head.weight", "head.bias"}) {
          auto& o = h[name]["data_offsets"];
          o = {o[0].get<int>() + 4, o[1].get<int>() + 4};
        }
      },
      [](Bytes& d) { d.insert(d.begin(), 4, 0); });
  EXPECT_TRUE(fails_with(bad, "the first tensor begins at byte 4 of the data section, expected 0"));
}

TEST(ModelFileReader, RejectsOverlappingTensors) {
  const Bytes bad = edit_header(
      tiny_bytes(), [](json& h) { h["head.bias"]["data_offsets"] = {540, 564}; },
      [](Bytes& d) { d.resize(d.size() - 4); });
  EXPECT_TRUE(fails_with(bad, "tensor \"head.bias\": data_offsets [540, 564] overlap tensor \"head.weight\""));
}

TEST(ModelFileReader, RejectsDataPastTheEnd) {
  const Bytes bad = edit_header(tiny_bytes(), [](json&) {}, [](Bytes& d) { d.resize(d.size() - 4); });
  EXPECT_TRUE(fails_with(bad, "tensor \"head.bias\": data_offsets [544, 568] run past the end of the data section "
                              "(564 bytes)"));
  // Truncating the file itself is the same failure.
  Bytes truncated = tiny_bytes();
  truncated.pop_back();
  EXPECT_TRUE(fails_with(truncated, "run past the end of the data section"));
}

TEST(ModelFileReader, RejectsTrailingBytes) {
  Bytes bad = tiny_bytes();
  bad.insert(bad.end(), 8, 0);
  EXPECT_TRUE(fails_with(bad, "8 trailing bytes after the last tensor"));
}

// ---------------------------------------------------------------------------
// Reader: tx2yolo metadata

TEST(ModelFileReader, RejectsWrongFormatName) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["format"] = "pt"; }),
                         "__metadata__.format is \"pt\"; not a tx2yolo model file"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"].erase("format"); }),
                         "__metadata__ has no \"format\""));
}

TEST(ModelFileReader, RejectsNewerFormatVersion) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["format_version"] = "2"; }),
                         "format_version 2: written by a newer tx2yolo"));
  EXPECT_TRUE(fails_with(
      edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["format_version"] = "123456789012345678901"; }),
      "written by a newer tx2yolo"));
}

TEST(ModelFileReader, ReportsNewerVersionBeforeTensorErrors) {
  // A newer writer may use dtypes this version does not know; the version is
  // the useful message.
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(),
                                     [](json& h) {
                                       h["__metadata__"]["format_version"] = "2";
                                       h["head.bias"]["dtype"] = "F16";
                                     }),
                         "written by a newer tx2yolo"));
}

TEST(ModelFileReader, RejectsFormatVersionThatIsNotANumber) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["format_version"] = "1.0"; }),
                         "format_version is \"1.0\", not a version number (expected \"1\")"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["format_version"] = "0"; }),
                         "format_version 0 is not supported"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"].erase("format_version"); }),
                         "__metadata__ has no \"format_version\""));
}

TEST(ModelFileReader, RejectsMissingGraph) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"].erase("graph"); }),
                         "__metadata__ has no \"graph\""));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"].erase("config"); }),
                         "__metadata__ has no \"config\""));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"].erase("provenance"); }),
                         "__metadata__ has no \"provenance\""));
}

TEST(ModelFileReader, RejectsMalformedMetadataDocuments) {
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["graph"] = "{\"nodes\":"; }),
                         "__metadata__.graph: malformed JSON"));
  EXPECT_TRUE(fails_with(
      edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["config"] = std::string(100, '[') + "1"; }),
      "__metadata__.config: JSON nesting deeper than 64"));
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["__metadata__"]["provenance"] = "\"x\""; }),
                         "__metadata__.provenance is a JSON string, expected an object"));
}

TEST(ModelFileReader, RejectsGraphWithWrongStructure) {
  EXPECT_TRUE(fails_with(edit_metadata_doc(tiny_bytes(), "graph", [](json& g) { g["nodes"][0].erase("op"); }),
                         "bad.safetensors: graph: "));
}

TEST(ModelFileReader, RejectsGraphReferencingAnUnknownTensor) {
  EXPECT_TRUE(fails_with(
      edit_metadata_doc(tiny_bytes(), "graph", [](json& g) { g["nodes"][1]["weight"] = "head.kernel"; }),
      "node 'head' uses weight 'head.kernel', which is not in the file"));
  EXPECT_TRUE(fails_with(
      edit_metadata_doc(tiny_bytes(), "graph", [](json& g) { g["nodes"][1]["inputs"] = {"conv0.out"}; }),
      "reads tensor 'conv0.out', which no earlier node produces"));
}

TEST(ModelFileReader, RejectsWeightShapeInconsistentWithTheConv) {
  // Same byte count (108 floats), wrong kernel.
  EXPECT_TRUE(fails_with(edit_header(tiny_bytes(), [](json& h) { h["conv1.weight"]["shape"] = {4, 3, 9, 1}; }),
                         "weight 'conv1.weight' of node 'conv1' has shape [4, 3, 9, 1], expected [4, 3, 3, 3]"));
}

TEST(ModelFileReader, RejectsUnusedTensor) {
  Tensors tensors = tiny_tensors();
  tensors.insert(tensors.begin() + 2, {"stray", random_tensor({3, 2}, 8)});
  EXPECT_TRUE(fails_with(serialize_model_file(tiny_graph(), tiny_config(), tiny_provenance(), tensors),
                         "graph: tensor 'stray' is in the file but no node uses it"));
}

TEST(ModelFileReader, RejectsConfigThatDisagreesWithTheGraph) {
  EXPECT_TRUE(fails_with(edit_metadata_doc(tiny_bytes(), "config", [](json& c) { c["classes"] = {"a", "b"}; }),
                         "config: head 'out' has 6 channels"));
  EXPECT_TRUE(fails_with(edit_metadata_doc(tiny_bytes(), "config", [](json& c) { c["heads"][0]["tensor"] = "x"; }),
                         "config: heads[0] tensor 'x' is not a graph output"));
  EXPECT_TRUE(fails_with(edit_metadata_doc(tiny_bytes(), "config", [](json& c) { c.erase("nms"); }),
                         "bad.safetensors: config: "));
}

// ---------------------------------------------------------------------------
// parse_json_checked

TEST(JsonGuard, AcceptsNestingUpToTheLimit) {
  const std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_NO_THROW(parse_json_checked(ok, "doc"));
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_TRUE(throws_error([&] { parse_json_checked(deep, "doc"); }, "doc: JSON nesting deeper than 64"));
  const std::string objects = "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}";
  EXPECT_TRUE(throws_error([&] { parse_json_checked(objects, "doc"); }, "nesting deeper than 64"));
}

TEST(JsonGuard, IgnoresBracketsInsideStrings) {
  const std::string text = "{\"a\":\"" + std::string(200, '[') + "\\\"" + std::string(200, '{') + "\\\\\",\"b\":[1]}";
  const json j = parse_json_checked(text, "doc");
  EXPECT_EQ(j.at("a").get<std::string>(), std::string(200, '[') + "\"" + std::string(200, '{') + "\\");
  EXPECT_EQ(j.at("b"), json({1}));
}

TEST(JsonGuard, ReportsMalformedJsonAndDuplicateKeys) {
  EXPECT_TRUE(throws_error([&] { parse_json_checked("{\"a\":", "doc"); }, "doc: malformed JSON: "));
  EXPECT_TRUE(throws_error([&] { parse_json_checked("", "doc"); }, "doc: malformed JSON: "));
  EXPECT_TRUE(throws_error([&] { parse_json_checked("[1e999]", "doc"); }, "doc: malformed JSON: "));
  EXPECT_TRUE(throws_error([&] { parse_json_checked("{\"a\":1,\"b\":{\"a\":2,\"a\":3}}", "doc"); },
                           "doc: duplicate key \"a\""));
  // The same key in different objects is fine.
  EXPECT_NO_THROW(parse_json_checked("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}", "doc"));
}

}  // namespace
}  // namespace tx2yolo
