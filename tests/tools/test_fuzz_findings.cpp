// Every finding of the fuzz targets (fuzz/), its reproducer committed in
// tests/data/fuzz/ and held here: each input is refused with a
// tx2yolo::Error (one line at the CLI), never a crash or another exception.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/test_util.h"
#include "tools/image_read.h"
#include "convert/pickle_reader.h"
#include "convert/program.h"

namespace tx2yolo {
namespace {

std::string fixture(const std::string& name) { return std::string(TX2YOLO_SOURCE_DIR) + "/tests/data/fuzz/" + name; }

// Reads the reproducer tests/data/fuzz/NAME, gives its bytes to `parse`, and
// expects a tx2yolo::Error whose message contains `message`.
template <typename Parse>
void expect_refused(const std::string& name, Parse parse, const std::string& message) {
  const auto bytes = read_file_bytes(fixture(name), 1 << 20);
  try {
    parse(bytes, name);
    ADD_FAILURE() << name << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

void decode(const std::vector<std::uint8_t>& bytes, const std::string& name) { decode_image(bytes, name); }
void parse_pir(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  paddle::parse_pir_json(std::string(bytes.begin(), bytes.end()), name);
}

// fuzz_image: a PNG header of 3857049061 x 3857049061 pixels; their product
// overflowed a signed 64-bit integer in the pixel-limit check (UBSan).
TEST(FuzzFindings, ImageSizeProductOverflow) {
  expect_refused("image-png-size-overflow.png", decode, "png image of 3857049061x3857049061 pixels is over the limit");
  const auto r = testing_util::run_command_stderr(std::string(TX2YOLO_CLI_PATH) + " detect " +
                                                  fixture("image-png-size-overflow.png"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
}

// fuzz_image, in its hour-long run (2026-12-04): a 27-byte PBM,
// "P1\n659#725679#72659#72567\n9". The format reads a comment after the width
// and a height of 9, which passed the pixel limit; OpenCV's decoder takes the
// '#' as the width's delimiter and the comment's digits as a height of
// 725679, and allocated 1.4 GB. The header reader now refuses anything but
// whitespace after a number. And a comment ends at '\r' too, as in OpenCV: the
// second file hid a 30000x30000 size behind "#\r" from the old reader.
TEST(FuzzFindings, PnmHeaderReadAsOpenCvReadsIt) {
  expect_refused("image-pbm-comment-after-width.pbm", decode, "not followed by whitespace");
  expect_refused("image-pbm-comment-ends-at-cr.pbm", decode, "30000x30000 pixels is over the limit");
  const auto r = testing_util::run_command_stderr(std::string(TX2YOLO_CLI_PATH) + " detect " +
                                                  fixture("image-pbm-comment-after-width.pbm"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  // A well-formed PBM with a comment still decodes.
  if (!image_codecs_available()) return;
  const std::string ok = "P1\n# a comment\n3 2\n0 1 0\n1 0 1\n";
  const cv::Mat img = decode_image(std::vector<std::uint8_t>(ok.begin(), ok.end()), "ok.pbm");
  EXPECT_EQ(img.cols, 3);
  EXPECT_EQ(img.rows, 2);
}

// fuzz_pir_json: a parameter whose dense-tensor type has no "D" escaped as
// nlohmann's out_of_range and terminated the process (reproducer minimised
// by hand from the fuzzer's 164 KB input).
TEST(FuzzFindings, PirDenseTensorTypeWithoutD) {
  expect_refused("pir-dtensor-without-D.json", parse_pir, "pir-dtensor-without-D.json");
}

// fuzz_pir_json, in its hour-long run (2026-12-04): a parameter's
// persistable flag of 8.9e90 was read as an int, a float-to-int conversion
// out of range (UBSan). It is now compared as a number. The fuzzer's input
// was 78 KB; this one, made by hand, is the same parameter op alone, which
// the reader now reads past and refuses for having no other op. (It is in
// fuzz/corpus/pir_json too, so the fuzz CTest replays it under UBSan, which
// is what catches the undefined conversion.)
TEST(FuzzFindings, PirPersistableFlagOutOfIntRange) {
  expect_refused("pir-huge-persistable-flag.json", parse_pir,
                 "pir-huge-persistable-flag.json: the PIR program has no ops besides parameters");
}

// fuzz_pickle and fuzz_convert, in the hour-long campaign: a pickle that
// puts lists into each other through the memo leaked them (shared ownership
// cannot free a reference cycle; LeakSanitizer). The reader now finds
// cycles, frees everything and refuses the file. The fuzzer's 72-byte input,
// and a hand-made one: L0 = [], L1 = [], L1.append(L0), L0.append(L1).
TEST(FuzzFindings, PickleReferenceCycle) {
  for (const char* name : {"pickle-reference-cycle.pdparams", "pickle-two-lists-in-each-other.pdparams"}) {
    SCOPED_TRACE(name);
    const auto bytes = read_file_bytes(fixture(name), 1 << 20);
    try {
      paddle::parse_pickle(bytes.data(), bytes.size(), name);
      ADD_FAILURE() << "parsed";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  const auto bytes = read_file_bytes(fixture("pickle-two-lists-in-each-other.pdparams"), 1 << 20);
  try {
    paddle::parse_pickle(bytes.data(), bytes.size(), "cycle");
    ADD_FAILURE() << "parsed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("contains itself (a reference cycle)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tx2yolo
