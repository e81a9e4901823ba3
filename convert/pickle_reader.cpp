#include "convert/pickle_reader.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"

namespace tx2yolo {
namespace paddle {

namespace {

constexpr std::size_t kMaxStack = 1u << 20;
constexpr std::size_t kMaxMemo = 1u << 24;
constexpr int kMaxArrayRank = 16;

// Whitelisted globals and what they are.
enum class Callable { kReconstruct, kNdarrayClass, kDtype, kCodecsEncode, kBytes, kTuple, kOrderedDict, kEvalData };

struct Global {
  const char* module;
  const char* name;
  Callable callable;
};

const Global kWhitelist[] = {
    {"numpy.core.multiarray", "_reconstruct", Callable::kReconstruct},
    {"numpy._core.multiarray", "_reconstruct", Callable::kReconstruct},
    {"numpy", "ndarray", Callable::kNdarrayClass},
    {"numpy", "dtype", Callable::kDtype},
    {"_codecs", "encode", Callable::kCodecsEncode},
    {"__builtin__", "bytes", Callable::kBytes},
    {"builtins", "bytes", Callable::kBytes},
    {"__builtin__", "tuple", Callable::kTuple},
    {"builtins", "tuple", Callable::kTuple},
    {"collections", "OrderedDict", Callable::kOrderedDict},
    {"builtins", "eval", Callable::kEvalData},
    {"__builtin__", "eval", Callable::kEvalData},
};

PickleRef make(PickleValue::Kind k) {
  auto v = std::make_shared<PickleValue>();
  v->kind = k;
  return v;
}

const char* opcode_name(std::uint8_t op) {
  switch (op) {
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 'I': return "INT (text)";
    case 'L': return "LONG (text)";
    case 'F': return "FLOAT (text)";
    case 'S': return "STRING (text)";
    case 'V': return "UNICODE (text)";
    case 'p': return "PUT (text)";
    case 'g': return "GET (text)";
    case 0x8b: return "LONG4";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
  }
}

class Unpickler {
 public:
  Unpickler(const std::uint8_t* data, std::size_t size, std::string source)
      : p_(data), size_(size), source_(std::move(source)) {}

  PickleRef run() {
    TX2_REQUIRE(size_ >= 2, source_, ": ", size_, " bytes, too short for a pickle");
    for (;;) {
      const std::size_t at = pos_;
      const std::uint8_t op = u8();
      op_at_ = at;
      if (op == '.') {
        TX2_REQUIRE(!stack_.empty(), where(), "STOP with an empty stack");
        TX2_REQUIRE(pos_ == size_, source_, ": ", size_ - pos_, " bytes after the pickle's STOP opcode at offset ",
                    at, " (expected the file to end there)");
        return stack_.back();
      }
      step(op);
    }
  }

 private:
  std::string where() const { return cat(source_, ": pickle opcode at offset ", op_at_, ": "); }

  void need(std::size_t n) {
    TX2_REQUIRE(n <= size_ - pos_, source_, ": pickle is truncated at offset ", pos_, " (needs ", n,
                " more bytes, ", size_ - pos_, " remain)");
  }
  std::uint8_t u8() {
    need(1);
    return p_[pos_++];
  }
  std::uint64_t uint_le(int n) {
    need(static_cast<std::size_t>(n));
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p_[pos_ + i]) << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::string bytes(std::uint64_t n) {
    TX2_REQUIRE(n <= size_ - pos_, source_, ": pickle is truncated at offset ", pos_, ": a ", n,
                "-byte string runs past the end (", size_ - pos_, " bytes remain)");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string line() {
    const std::size_t start = pos_;
    while (pos_ < size_ && p_[pos_] != '\n') ++pos_;
    TX2_REQUIRE(pos_ < size_, source_, ": pickle is truncated at offset ", start, " (a GLOBAL line has no newline)");
    std::string s(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return s;
  }

  void push(PickleRef v) {
    TX2_REQUIRE(stack_.size() < kMaxStack, where(), "stack deeper than ", kMaxStack, " entries");
    stack_.push_back(std::move(v));
  }
  PickleRef pop() {
    TX2_REQUIRE(stack_.size() > mark_floor(), where(), "pops an empty stack (or past a MARK)");
    PickleRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PickleRef& top() {
    TX2_REQUIRE(stack_.size() > mark_floor(), where(), "needs a value on the stack");
    return stack_.back();
  }
  std::size_t mark_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops everything above the last MARK (and the mark).
  std::vector<PickleRef> pop_to_mark() {
    TX2_REQUIRE(!marks_.empty(), where(), "needs a MARK, but there is none");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> out(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                               std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return out;
  }

  void memo_put(std::uint64_t index) {
    TX2_REQUIRE(index < kMaxMemo, where(), "memo index ", index, " is more than the limit of ", kMaxMemo);
    TX2_REQUIRE(memo_.size() < kMaxMemo || memo_.count(index), where(), "more than ", kMaxMemo, " memo entries");
    memo_[index] = top();
  }
  void memo_get(std::uint64_t index) {
    const auto it = memo_.find(index);
    TX2_REQUIRE(it != memo_.end(), where(), "memo index ", index, " was never stored");
    push(it->second);
  }

  PickleRef string_value(std::string s, PickleValue::Kind k) {
    PickleRef v = make(k);
    v->text = std::move(s);
    return v;
  }

  void insert_check(const PickleRef& container, const PickleRef& value) {
    TX2_REQUIRE(container.get() != value.get(), where(), "inserts a container into itself");
  }

  // A list or dict that gains children after it was made: only through
  // these can a value come to contain itself (a reference cycle, which
  // shared ownership would leak). Kept so that cycles can be found and broken.
  void mutated(const PickleRef& container) {
    if (mutated_seen_.insert(container.get()).second) mutated_.push_back(container);
  }

 public:
  // Whether any value reachable from a mutated container contains itself.
  bool has_cycle() const {
    enum Color { kGrey = 1, kBlack = 2 };
    std::unordered_map<const PickleValue*, int> color;
    auto child = [](const PickleValue* v, std::size_t i) -> const PickleValue* {
      if (i < v->items.size()) return v->items[i].get();
      i -= v->items.size();
      return i / 2 < v->dict.size() ? (i % 2 ? v->dict[i / 2].second : v->dict[i / 2].first).get() : nullptr;
    };
    for (const PickleRef& root : mutated_) {
      if (color.count(root.get())) continue;
      std::vector<std::pair<const PickleValue*, std::size_t>> path = {{root.get(), 0}};
      color[root.get()] = kGrey;
      while (!path.empty()) {
        auto& top = path.back();
        const PickleValue* next = top.second < top.first->items.size() + 2 * top.first->dict.size()
                                      ? child(top.first, top.second++)
                                      : nullptr;
        if (!next) {
          if (top.second >= top.first->items.size() + 2 * top.first->dict.size()) {
            color[top.first] = kBlack;
            path.pop_back();
          }
          continue;
        }
        const auto it = color.find(next);
        if (it == color.end()) {
          color[next] = kGrey;
          path.emplace_back(next, 0);
        } else if (it->second == kGrey) {
          return true;
        }
      }
    }
    return false;
  }
  // Empties every mutated container, which breaks any cycle (every cycle
  // has an edge added by a mutation), so that everything is freed.
  void break_cycles() {
    for (const PickleRef& c : mutated_) {
      c->items.clear();
      c->dict.clear();
    }
  }

 private:
  void set_items(PickleRef& dict, std::vector<PickleRef> kv) {
    TX2_REQUIRE(dict->kind == PickleValue::Kind::kDict, where(), "SETITEM(S) on a ", dict->kind_name(),
                ", expected a dict");
    mutated(dict);
    TX2_REQUIRE(kv.size() % 2 == 0, where(), "SETITEMS with an odd number (", kv.size(), ") of keys and values");
    for (std::size_t i = 0; i < kv.size(); i += 2) {
      insert_check(dict, kv[i + 1]);
      bool replaced = false;
      if (kv[i]->kind == PickleValue::Kind::kString) {
        for (auto& e : dict->dict) {
          if (e.first->kind == PickleValue::Kind::kString && e.first->text == kv[i]->text) {
            e.second = kv[i + 1];
            replaced = true;
            break;
          }
        }
      }
      if (!replaced) dict->dict.emplace_back(kv[i], kv[i + 1]);
    }
  }

  void append_items(PickleRef& list, std::vector<PickleRef> items) {
    TX2_REQUIRE(list->kind == PickleValue::Kind::kList, where(), "APPEND(S) on a ", list->kind_name(),
                ", expected a list");
    mutated(list);
    for (auto& v : items) {
      insert_check(list, v);
      list->items.push_back(std::move(v));
    }
  }

  void global(const std::string& module, const std::string& name) {
    for (const Global& g : kWhitelist) {
      if (module == g.module && name == g.name) {
        PickleRef v = make(PickleValue::Kind::kGlobal);
        v->text = module + "." + name;
        v->integer = static_cast<long long>(g.callable);
        push(v);
        return;
      }
    }
    throw Error(cat(where(), "refusing the pickle global ", module, ".", name,
                    ": only the numpy array globals of a Paddle state dict are allowed, and nothing is ever executed"));
  }

  static PickleRef tuple_of(std::vector<PickleRef> items) {
    PickleRef t = make(PickleValue::Kind::kTuple);
    t->items = std::move(items);
    return t;
  }

  // Latin-1 text (a Python str whose code points are all < 256) as bytes.
  std::string latin1_bytes(const std::string& utf8, const char* what) {
    std::string out;
    out.reserve(utf8.size());
    for (std::size_t i = 0; i < utf8.size();) {
      const auto c = static_cast<unsigned char>(utf8[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++i;
      } else if ((c & 0xE0) == 0xC0 && i + 1 < utf8.size() &&
                 (static_cast<unsigned char>(utf8[i + 1]) & 0xC0) == 0x80) {
        const std::uint32_t cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu);
        TX2_REQUIRE(cp >= 0x80 && cp <= 0xFF, where(), what, " holds a character above U+00FF");
        out.push_back(static_cast<char>(cp));
        i += 2;
      } else {
        throw Error(cat(where(), what, " holds a character above U+00FF or malformed UTF-8"));
      }
    }
    return out;
  }

  static bool is_callable(const PickleValue& v, Callable c) {
    return v.kind == PickleValue::Kind::kGlobal && v.integer == static_cast<long long>(c);
  }

  PickleRef dtype_from(const std::string& spec_in) {
    std::string spec = spec_in;
    char order = '<';
    if (!spec.empty() && (spec[0] == '<' || spec[0] == '>' || spec[0] == '|' || spec[0] == '=')) {
      order = spec[0] == '=' ? '<' : spec[0];
      spec = spec.substr(1);
    }
    TX2_REQUIRE(spec.size() == 2 && std::strchr("fiub", spec[0]) && spec[1] >= '1' && spec[1] <= '8', where(),
                "unsupported numpy dtype '", spec_in, "' (expected a float, int, uint or bool dtype such as 'f4')");
    const int size = spec[1] - '0';
    const bool ok = (spec[0] == 'f' && (size == 2 || size == 4 || size == 8)) ||
                    ((spec[0] == 'i' || spec[0] == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
                    (spec[0] == 'b' && size == 1);
    TX2_REQUIRE(ok, where(), "unsupported numpy dtype '", spec_in, "'");
    PickleRef d = make(PickleValue::Kind::kDtype);
    d->text = spec;
    d->byte_order = order;
    return d;
  }

  PickleRef call(const PickleRef& fn, const PickleRef& args) {
    TX2_REQUIRE(fn->kind == PickleValue::Kind::kGlobal, where(), "REDUCE calls a ", fn->kind_name(),
                ", expected a whitelisted global");
    TX2_REQUIRE(args->kind == PickleValue::Kind::kTuple, where(), "REDUCE arguments are a ", args->kind_name(),
                ", expected a tuple");
    const auto& a = args->items;
    switch (static_cast<Callable>(fn->integer)) {
      case Callable::kReconstruct: {
        TX2_REQUIRE(a.size() == 3 && is_callable(*a[0], Callable::kNdarrayClass), where(),
                    "numpy _reconstruct must be called as _reconstruct(numpy.ndarray, shape, dtype)");
        return make(PickleValue::Kind::kNdArray);
      }
      case Callable::kDtype: {
        TX2_REQUIRE(!a.empty() && a[0]->kind == PickleValue::Kind::kString, where(),
                    "numpy.dtype must be called with a dtype string");
        return dtype_from(a[0]->text);
      }
      case Callable::kCodecsEncode: {
        TX2_REQUIRE(a.size() == 2 && a[0]->kind == PickleValue::Kind::kString &&
                        a[1]->kind == PickleValue::Kind::kString && (a[1]->text == "latin1" || a[1]->text == "latin-1"),
                    where(), "_codecs.encode is only accepted as encode(str, 'latin1') (Python 3 bytes in protocol 2)");
        return string_value(latin1_bytes(a[0]->text, "_codecs.encode text"), PickleValue::Kind::kBytes);
      }
      case Callable::kBytes:
        TX2_REQUIRE(a.empty(), where(), "bytes(...) is only accepted with no arguments");
        return string_value("", PickleValue::Kind::kBytes);
      case Callable::kTuple: {
        TX2_REQUIRE(a.size() == 1 && (a[0]->kind == PickleValue::Kind::kTuple || a[0]->kind == PickleValue::Kind::kList),
                    where(), "tuple(...) is only accepted with one tuple or list argument");
        return tuple_of(a[0]->items);
      }
      case Callable::kOrderedDict:
        TX2_REQUIRE(a.empty(), where(), "OrderedDict(...) is only accepted with no arguments");
        return make(PickleValue::Kind::kDict);
      case Callable::kEvalData: {
        // Old Paddle pickled a LoDTensor as eval('data', {'data': array}).
        // That is the only form accepted, and it is answered by lookup.
        const PickleValue* data = a.size() == 2 && a[0]->kind == PickleValue::Kind::kString && a[0]->text == "data"
                                      ? a[1]->find("data")
                                      : nullptr;
        TX2_REQUIRE(data != nullptr && a[1]->dict.size() == 1, where(),
                    "refusing eval(...): only Paddle's eval('data', {'data': array}) LoDTensor form is recognised, "
                    "and it is never evaluated");
        for (const auto& e : a[1]->dict) return e.second;
        return nullptr;  // unreachable
      }
      case Callable::kNdarrayClass:
        break;
    }
    throw Error(cat(where(), "the global ", fn->text, " cannot be called"));
  }

  static long long checked_int(const PickleValue& v, const std::string& what) {
    TX2_REQUIRE(v.kind == PickleValue::Kind::kInt, what, " is a ", v.kind_name(), ", expected an integer");
    return v.integer;
  }

  void build_array(PickleValue& arr, const PickleValue& state) {
    TX2_REQUIRE(!arr.array_filled, where(), "BUILD on a numpy array that already has its data");
    TX2_REQUIRE(state.kind == PickleValue::Kind::kTuple && (state.items.size() == 5 || state.items.size() == 4),
                where(), "numpy array state is a ", state.kind_name(), " of ", state.items.size(),
                " items, expected (version, shape, dtype, is_fortran, data)");
    const std::size_t o = state.items.size() == 5 ? 1 : 0;
    const PickleValue& shape = *state.items[o];
    const PickleValue& dtype = *state.items[o + 1];
    const PickleValue& fortran = *state.items[o + 2];
    const PickleValue& raw = *state.items[o + 3];
    TX2_REQUIRE(shape.kind == PickleValue::Kind::kTuple, where(), "numpy array shape is a ", shape.kind_name());
    TX2_REQUIRE(dtype.kind == PickleValue::Kind::kDtype, where(), "numpy array dtype is a ", dtype.kind_name());
    TX2_REQUIRE(fortran.kind == PickleValue::Kind::kBool || fortran.kind == PickleValue::Kind::kInt, where(),
                "numpy array is_fortran flag is a ", fortran.kind_name());
    TX2_REQUIRE(shape.items.size() <= static_cast<std::size_t>(kMaxArrayRank), where(), "numpy array has ",
                shape.items.size(), " dimensions, more than ", kMaxArrayRank);
    NdArray& a = arr.array;
    a.kind = dtype.text[0];
    a.itemsize = dtype.text[1] - '0';
    a.shape.clear();
    std::uint64_t numel = 1;
    for (const PickleRef& d : shape.items) {
      const long long n = checked_int(*d, where() + "a numpy array dimension");
      TX2_REQUIRE(n >= 0 && n <= (1ll << 40), where(), "numpy array dimension ", n, " is out of range");
      a.shape.push_back(n);
      TX2_REQUIRE(n == 0 || numel <= (1ull << 40) / static_cast<std::uint64_t>(n), where(),
                  "numpy array has too many elements");
      numel *= static_cast<std::uint64_t>(n);
    }
    std::string data;
    if (raw.kind == PickleValue::Kind::kBytes) {
      data = raw.text;
    } else if (raw.kind == PickleValue::Kind::kString) {
      data = latin1_bytes(raw.text, "numpy array data");  // Python 2 str, as numpy reads it
    } else {
      throw Error(cat(where(), "numpy array data is a ", raw.kind_name(),
                      " (an object array?), expected raw bytes; only numeric arrays are supported"));
    }
    const std::uint64_t expected = numel * static_cast<std::uint64_t>(a.itemsize);
    TX2_REQUIRE(data.size() == expected, where(), "numpy array of shape ", shape_text(a.shape), " and dtype ",
                a.dtype_name(), " needs ", expected, " bytes, but its data has ", data.size());
    a.data.assign(data.begin(), data.end());
    if (dtype.byte_order == '>' && a.itemsize > 1) {
      for (std::size_t i = 0; i < a.data.size(); i += static_cast<std::size_t>(a.itemsize))
        std::reverse(a.data.begin() + static_cast<std::ptrdiff_t>(i),
                     a.data.begin() + static_cast<std::ptrdiff_t>(i) + a.itemsize);
    }
    const bool is_fortran = fortran.kind == PickleValue::Kind::kBool ? fortran.boolean : fortran.integer != 0;
    if (is_fortran && a.shape.size() > 1) to_c_order(a);
    arr.array_filled = true;
  }

  static std::string shape_text(const std::vector<long long>& s) {
    std::string t = "[";
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + "]";
  }

  // Reorders Fortran-order bytes (first index fastest) into C order.
  static void to_c_order(NdArray& a) {
    const std::size_t rank = a.shape.size();
    const std::size_t item = static_cast<std::size_t>(a.itemsize);
    const std::size_t n = static_cast<std::size_t>(a.numel());
    std::vector<std::uint8_t> out(a.data.size());
    std::vector<long long> idx(rank, 0);
    for (std::size_t c = 0; c < n; ++c) {  // c walks C order; idx is its multi-index
      std::size_t f = 0, stride = 1;
      for (std::size_t d = 0; d < rank; ++d) {
        f += static_cast<std::size_t>(idx[d]) * stride;
        stride *= static_cast<std::size_t>(a.shape[d]);
      }
      std::memcpy(&out[c * item], &a.data[f * item], item);
      for (std::size_t d = rank; d-- > 0;) {
        if (++idx[d] < a.shape[d]) break;
        idx[d] = 0;
      }
    }
    a.data.swap(out);
  }

  void build_dtype(PickleValue& dt, const PickleValue& state) {
    TX2_REQUIRE(state.kind == PickleValue::Kind::kTuple && state.items.size() >= 2 &&
                    state.items[1]->kind == PickleValue::Kind::kString,
                where(), "numpy dtype state is not (version, byteorder, ...)");
    for (std::size_t i = 2; i < std::min<std::size_t>(state.items.size(), 5); ++i) {
      TX2_REQUIRE(state.items[i]->kind == PickleValue::Kind::kNone, where(),
                  "numpy dtype with sub-arrays or fields is not supported");
    }
    const std::string& order = state.items[1]->text;
    TX2_REQUIRE(order == "<" || order == ">" || order == "|" || order == "=", where(), "numpy dtype byte order '",
                order, "' is not one of < > | =");
    dt.byte_order = order == "=" ? '<' : order[0];
  }

  void step(std::uint8_t op) {
    using K = PickleValue::Kind;
    switch (op) {
      case 0x80: {  // PROTO
        const int proto = u8();
        TX2_REQUIRE(proto >= 2 && proto <= 4, where(), "pickle protocol ", proto,
                    " is not supported (Paddle writes protocol 2, 3 or 4)");
        return;
      }
      case 0x95: {  // FRAME
        const std::uint64_t n = uint_le(8);
        TX2_REQUIRE(n <= size_ - pos_, source_, ": pickle is truncated: a frame of ", n, " bytes at offset ", op_at_,
                    " runs past the end (", size_ - pos_, " bytes remain)");
        return;
      }
      case '(':
        TX2_REQUIRE(marks_.size() < kMaxStack, where(), "too many MARKs");
        marks_.push_back(stack_.size());
        return;
      case '}': push(make(K::kDict)); return;
      case ']': push(make(K::kList)); return;
      case ')': push(make(K::kTuple)); return;
      case 'N': push(make(K::kNone)); return;
      case 0x88:
      case 0x89: {
        PickleRef v = make(K::kBool);
        v->boolean = op == 0x88;
        push(v);
        return;
      }
      case 'K': push_int(static_cast<long long>(uint_le(1))); return;
      case 'M': push_int(static_cast<long long>(uint_le(2))); return;
      case 'J': push_int(static_cast<long long>(static_cast<std::int32_t>(static_cast<std::uint32_t>(uint_le(4))))); return;
      case 0x8A: {  // LONG1
        const int n = u8();
        TX2_REQUIRE(n <= 8, where(), "a ", n, "-byte integer is too large");
        std::uint64_t v = n ? uint_le(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ull << (8 * n);  // sign-extend
        push_int(static_cast<long long>(v));
        return;
      }
      case 'G': {  // BINFLOAT, big-endian
        need(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p_[pos_ + static_cast<std::size_t>(i)];
        pos_ += 8;
        PickleRef v = make(K::kFloat);
        std::memcpy(&v->real, &bits, 8);
        push(v);
        return;
      }
      case 'X': push(string_value(bytes(uint_le(4)), K::kString)); return;
      case 0x8C: push(string_value(bytes(uint_le(1)), K::kString)); return;
      case 0x8D: push(string_value(bytes(uint_le(8)), K::kString)); return;
      case 'C': push(string_value(bytes(uint_le(1)), K::kBytes)); return;
      case 'B': push(string_value(bytes(uint_le(4)), K::kBytes)); return;
      case 0x8E: push(string_value(bytes(uint_le(8)), K::kBytes)); return;
      case 'U': push(string_value(bytes(uint_le(1)), K::kBytes)); return;  // Python 2 str
      case 'T': {
        const auto n = static_cast<std::int32_t>(static_cast<std::uint32_t>(uint_le(4)));
        TX2_REQUIRE(n >= 0, where(), "negative BINSTRING length ", n);
        push(string_value(bytes(static_cast<std::uint64_t>(n)), K::kBytes));
        return;
      }
      case 'q': memo_put(uint_le(1)); return;
      case 'r': memo_put(uint_le(4)); return;
      case 0x94: memo_put(memo_.size()); return;
      case 'h': memo_get(uint_le(1)); return;
      case 'j': memo_get(uint_le(4)); return;
      case 'c': {
        const std::string module = line();
        const std::string name = line();
        global(module, name);
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleRef name = pop();
        PickleRef module = pop();
        TX2_REQUIRE(module->kind == K::kString && name->kind == K::kString, where(),
                    "STACK_GLOBAL needs two strings");
        global(module->text, name->text);
        return;
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        const std::size_t n = static_cast<std::size_t>(op - 0x84);
        std::vector<PickleRef> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop();
        push(tuple_of(std::move(items)));
        return;
      }
      case 't': push(tuple_of(pop_to_mark())); return;
      case 'l': {
        PickleRef l = make(K::kList);
        l->items = pop_to_mark();
        push(l);
        return;
      }
      case 'd': {
        PickleRef d = make(K::kDict);
        set_items(d, pop_to_mark());
        push(d);
        return;
      }
      case 's': {
        PickleRef v = pop();
        PickleRef k = pop();
        set_items(top(), {k, v});
        return;
      }
      case 'u': {
        std::vector<PickleRef> kv = pop_to_mark();
        set_items(top(), std::move(kv));
        return;
      }
      case 'a': {
        PickleRef v = pop();
        append_items(top(), {v});
        return;
      }
      case 'e': {
        std::vector<PickleRef> items = pop_to_mark();
        append_items(top(), std::move(items));
        return;
      }
      case '0': pop(); return;
      case '1': pop_to_mark(); return;
      case '2': push(top()); return;
      case 'R': {
        PickleRef args = pop();
        PickleRef fn = pop();
        push(call(fn, args));
        return;
      }
      case 'b': {
        PickleRef state = pop();
        PickleValue& target = *top();
        if (target.kind == K::kNdArray) {
          build_array(target, *state);
        } else if (target.kind == K::kDtype) {
          build_dtype(target, *state);
        } else {
          throw Error(cat(where(), "BUILD on a ", target.kind_name(), " is not supported"));
        }
        return;
      }
      default:
        throw Error(cat(where(), "unsupported pickle opcode 0x", hex(op), " (", opcode_name(op),
                        "); a Paddle state dict does not use it"));
    }
  }

  static std::string hex(std::uint8_t b) {
    static const char* d = "0123456789abcdef";
    return std::string{d[b >> 4], d[b & 15]};
  }

  void push_int(long long v) {
    PickleRef p = make(PickleValue::Kind::kInt);
    p->integer = v;
    push(p);
  }

  const std::uint8_t* p_;
  std::size_t size_;
  std::string source_;
  std::size_t pos_ = 0;
  std::size_t op_at_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<PickleRef> mutated_;
  std::unordered_set<const PickleValue*> mutated_seen_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PickleRef> memo_;
};

}  // namespace

long long NdArray::numel() const {
  long long n = 1;
  for (long long d : shape) n *= d;
  return n;
}

std::string NdArray::dtype_name() const {
  switch (kind) {
    case 'f': return cat("float", itemsize * 8);
    case 'i': return cat("int", itemsize * 8);
    case 'u': return cat("uint", itemsize * 8);
    case 'b': return "bool";
    default: return "unknown";
  }
}

PickleValue::~PickleValue() {
  std::vector<PickleRef> pending;
  auto take = [&pending](PickleValue& v) {
    for (auto& item : v.items) pending.push_back(std::move(item));
    for (auto& kv : v.dict) {
      pending.push_back(std::move(kv.first));
      pending.push_back(std::move(kv.second));
    }
    v.items.clear();
    v.dict.clear();
  };
  take(*this);
  while (!pending.empty()) {
    PickleRef p = std::move(pending.back());
    pending.pop_back();
    if (p && p.use_count() == 1) take(*p);
  }  // p is destroyed here with no children left
}

const char* PickleValue::kind_name() const {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kDtype: return "numpy dtype";
    case Kind::kNdArray: return "numpy array";
  }
  return "value";
}

const PickleValue* PickleValue::find(const std::string& key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& e : dict)
    if (e.first->kind == Kind::kString && e.first->text == key) return e.second.get();
  return nullptr;
}

PickleRef parse_pickle(const std::uint8_t* data, std::size_t size, const std::string& source) {
  Unpickler u(data, size, source);
  PickleRef root;
  try {
    root = u.run();
  } catch (...) {
    u.break_cycles();  // nothing escapes: free it all, cycles included
    throw;
  }
  if (u.has_cycle()) {
    u.break_cycles();
    throw Error(cat(source, ": the pickle builds a list or dict that contains itself (a reference cycle); a "
                            "checkpoint never does"));
  }
  return root;
}

}  // namespace paddle
}  // namespace tx2yolo
