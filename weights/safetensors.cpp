#include "weights/safetensors.h"

#include <algorithm>

#include "core/error.h"
#include "weights/graph.h"
#include "weights/json_guard.h"

namespace tx2yolo {

namespace {

using nlohmann::json;

constexpr std::uint64_t kHeaderLengthBytes = 8;
constexpr std::size_t kMaxTensorRank = 8;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
  const char* name;
  int itemsize;
};
// Every safetensors dtype (sub-byte ones are refused by every caller).
constexpr DtypeInfo kSafetensorsDtypes[] = {
    {"F32", 4}, {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4},
    {"U32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"F6_E2M3", 1}, {"F6_E3M2", 1}, {"F4", 1}, {"C64", 8}};

std::uint64_t read_u64_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON value that must be a non-negative integer; `what` names it.
std::uint64_t json_non_negative_integer(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  if (v.is_number_integer()) throw Error(cat(what, " is negative (", v.dump(), "), expected a non-negative integer"));
  throw Error(cat(what, " is ", short_dump(v), ", expected a non-negative integer"));
}

// One header entry other than __metadata__, checked on its own (the layout
// of all entries together is checked afterwards).
SafetensorsEntry parse_entry(const std::string& name, const json& entry, const std::string& source,
                             const std::vector<std::string>& allowed, const std::string& refusal,
                             std::uint64_t max_file_bytes) {
  const std::string where = cat(source, ": tensor ", quoted(name));
  TX2_REQUIRE(entry.is_object(), where, ": entry is a JSON ", entry.type_name(),
              ", expected an object with dtype, shape and data_offsets");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    TX2_REQUIRE(entry.find(field) != entry.end(), where, ": entry has no \"", field,
                "\" (expected exactly dtype, shape and data_offsets)");
  }
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    const std::string& key = it.key();
    TX2_REQUIRE(key == "dtype" || key == "shape" || key == "data_offsets", where,
                ": entry has an unexpected field ", quoted(key),
                " (expected exactly dtype, shape and data_offsets)");
  }

  SafetensorsEntry t;
  t.name = name;

  const json& dtype = entry["dtype"];
  TX2_REQUIRE(dtype.is_string(), where, ": dtype is ", short_dump(dtype), ", expected a string such as \"F32\"");
  t.dtype = dtype.get<std::string>();
  const DtypeInfo* info = nullptr;
  for (const DtypeInfo& d : kSafetensorsDtypes)
    if (t.dtype == d.name) info = &d;
  if (!info || std::find(allowed.begin(), allowed.end(), t.dtype) == allowed.end()) {
    throw Error(cat(where, ": unsupported dtype ", quoted(t.dtype), info ? "" : " (not a safetensors dtype)", "; ",
                    refusal));
  }
  t.itemsize = info->itemsize;

  const json& shape = entry["shape"];
  TX2_REQUIRE(shape.is_array(), where, ": shape is ", short_dump(shape), ", expected an array of non-negative integers");
  TX2_REQUIRE(shape.size() <= kMaxTensorRank, where, ": shape has ", shape.size(),
              " dimensions, more than the limit of ", kMaxTensorRank);
  const std::uint64_t max_elements = max_file_bytes / static_cast<std::uint64_t>(t.itemsize);
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::uint64_t d = json_non_negative_integer(shape[i], cat(where, ": shape[", i, "]"));
    // Bounded here so that the conversion to long long cannot wrap;
    // safetensors_numel bounds the product.
    TX2_REQUIRE(d <= max_elements, where, ": shape[", i, "] is ", d,
                ", more elements than a model file can hold (at most ", max_elements, ")");
    t.shape.push_back(static_cast<long long>(d));
  }
  const auto numel = static_cast<std::uint64_t>(safetensors_numel(t.shape, where, max_file_bytes, t.itemsize));

  const json& offsets = entry["data_offsets"];
  TX2_REQUIRE(offsets.is_array() && offsets.size() == 2, where, ": data_offsets is ", short_dump(offsets),
              ", expected [begin, end]");
  t.begin = json_non_negative_integer(offsets[0], cat(where, ": data_offsets[0]"));
  t.end = json_non_negative_integer(offsets[1], cat(where, ": data_offsets[1]"));
  TX2_REQUIRE(t.begin <= t.end, where, ": data_offsets [", t.begin, ", ", t.end,
              "] end before they begin (expected begin <= end)");
  const std::uint64_t expected_bytes = numel * static_cast<std::uint64_t>(t.itemsize);
  TX2_REQUIRE(t.end - t.begin == expected_bytes, where, ": data_offsets [", t.begin, ", ", t.end, "] hold ",
              t.end - t.begin, " bytes, but shape ", shape_to_string(t.shape), " of ", t.dtype, " needs ",
              expected_bytes, " bytes (", numel, " values x ", t.itemsize, ")");
  return t;
}

// Sorts the tensors by offset and checks that they tile the data section:
// starting at 0, no gap, no overlap, nothing past the end, no trailing bytes.
void check_layout(std::vector<SafetensorsEntry>& tensors, std::uint64_t data_size, const std::string& source) {
  std::sort(tensors.begin(), tensors.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  std::uint64_t expected = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& t : tensors) {
    const std::string where = cat(source, ": tensor ", quoted(t.name));
    TX2_REQUIRE(t.end <= data_size, where, ": data_offsets [", t.begin, ", ", t.end,
                "] run past the end of the data section (", data_size, " bytes)");
    if (t.begin > expected) {
      if (previous) {
        throw Error(cat(where, ": gap of ", t.begin - expected, " bytes between tensor ", quoted(previous->name),
                        " (ends at ", expected, ") and this tensor (begins at ", t.begin,
                        "); tensors must be contiguous"));
      }
      throw Error(cat(where, ": the first tensor begins at byte ", t.begin,
                      " of the data section, expected 0 (tensors must be contiguous from the start)"));
    }
    if (t.begin < expected) {
      throw Error(cat(where, ": data_offsets [", t.begin, ", ", t.end, "] overlap tensor ", quoted(previous->name),
                      " (which ends at ", expected, ")"));
    }
    expected = t.end;
    previous = &t;
  }
  TX2_REQUIRE(expected == data_size, source, ": ", data_size - expected,
              " trailing bytes after the last tensor (tensors end at byte ", expected,
              " of the data section, which is ", data_size, " bytes)");
}

}  // namespace

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string short_dump(const json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

long long safetensors_numel(const std::vector<long long>& shape, const std::string& what, std::uint64_t max_file_bytes,
                            int itemsize) {
  const std::uint64_t max_elements = max_file_bytes / static_cast<std::uint64_t>(itemsize);
  TX2_REQUIRE(shape.size() <= kMaxTensorRank, what, ": shape ", shape_to_string(shape), " has ",
              shape.size(), " dimensions, more than the limit of ", kMaxTensorRank);
  std::uint64_t numel = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    TX2_REQUIRE(shape[i] >= 0, what, ": shape ", shape_to_string(shape), " has a negative dimension (",
                shape[i], " at index ", i, ")");
    const auto d = static_cast<std::uint64_t>(shape[i]);
    TX2_REQUIRE(d <= max_elements && (d == 0 || numel <= max_elements / d), what,
                ": shape ", shape_to_string(shape), " has more elements than a model file can hold (at most ",
                max_elements, " values of ", itemsize, " bytes)");
    numel *= d;
  }
  return static_cast<long long>(numel);
}

SafetensorsLayout parse_safetensors_header(const std::vector<std::uint8_t>& bytes, const std::string& source,
                                           std::uint64_t max_file_bytes) {
  SafetensorsLayout l;
  const std::uint64_t size = bytes.size();
  // Layout: [u64 N][N bytes of header][data].
  TX2_REQUIRE(size <= max_file_bytes, source, ": file is ", size, " bytes, more than the limit of ", max_file_bytes);
  TX2_REQUIRE(size >= kHeaderLengthBytes, source, ": file is ", size,
              " bytes, too short for a safetensors file (expected an 8-byte header length, then the header)");
  const std::uint64_t header_bytes = read_u64_le(bytes.data());
  TX2_REQUIRE(header_bytes <= kMaxHeaderBytes, source, ": header length ", header_bytes,
              " is more than the limit of ", kMaxHeaderBytes, " bytes (not a safetensors file?)");
  TX2_REQUIRE(header_bytes <= size - kHeaderLengthBytes, source, ": header length ", header_bytes,
              " runs past the end of the file (", size, " bytes, so at most ", size - kHeaderLengthBytes, ")");
  l.data_start = kHeaderLengthBytes + header_bytes;
  l.data_size = size - l.data_start;

  const std::string header_text(reinterpret_cast<const char*>(bytes.data() + kHeaderLengthBytes),
                                static_cast<std::size_t>(header_bytes));
  l.header = parse_json_checked(header_text, cat(source, ": header"));
  TX2_REQUIRE(l.header.is_object(), source, ": header is a JSON ", l.header.type_name(),
              ", expected an object of tensor entries and __metadata__");
  // The safetensors spec says the header MUST begin with '{': no leading
  // whitespace, no byte-order mark. (The reference reader refuses a BOM but,
  // as of 0.8, still lets leading whitespace through.)
  TX2_REQUIRE(header_text[0] == '{', source, ": header starts with byte 0x", std::hex,
              static_cast<int>(static_cast<unsigned char>(header_text[0])), std::dec,
              ", expected '{' (a safetensors header must begin with its JSON object)");

  const auto meta = l.header.find(kMetadataKey);
  l.has_metadata = meta != l.header.end();
  if (l.has_metadata) {
    TX2_REQUIRE(meta->is_object(), source, ": __metadata__ is a JSON ", meta->type_name(),
                ", expected an object of strings");
    for (auto it = meta->begin(); it != meta->end(); ++it) {
      TX2_REQUIRE(it.value().is_string(), source, ": __metadata__.", it.key(), " is a JSON ",
                  it.value().type_name(), ", expected a string (safetensors metadata values are strings)");
      l.metadata[it.key()] = it.value().get<std::string>();
    }
  }
  return l;
}

std::vector<SafetensorsEntry> parse_safetensors_entries(const SafetensorsLayout& layout, const std::string& source,
                                                        const std::vector<std::string>& allowed,
                                                        const std::string& refusal, std::uint64_t max_file_bytes) {
  std::vector<SafetensorsEntry> tensors;
  for (auto it = layout.header.begin(); it != layout.header.end(); ++it) {
    if (it.key() == kMetadataKey) continue;
    tensors.push_back(parse_entry(it.key(), it.value(), source, allowed, refusal, max_file_bytes));
  }
  check_layout(tensors, layout.data_size, source);
  return tensors;
}

}  // namespace tx2yolo
