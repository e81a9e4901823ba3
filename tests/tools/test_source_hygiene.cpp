// The toolchain the board has, checked here on every source file:
//   - JetPack 4.6 ships CUDA 10.2: every CUDA runtime API newer than 10.2
//     must sit inside `#if CUDART_VERSION >= <its version>` (with a fallback
//     in the #else), as docs/jetson.md lists;
//   - its host compiler is GCC 7.5: no C++ library header that GCC 7.5 lacks
//     (<filesystem>, <charconv>, <execution>, <memory_resource>, C++20 ones).
// Each rule is also shown to fire on a planted line.
#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tx2yolo {
namespace {

// CUDA runtime APIs (and one flag) introduced after CUDA 10.2, with the
// CUDART_VERSION that first has them.
const std::map<std::string, int>& post_10_2_apis() {
  static const std::map<std::string, int> apis = {
      {"cudaEventRecordWithFlags", 11010},       {"cudaEventRecordExternal", 11010},
      {"cudaGraphUpload", 11010},                {"cudaGraphAddEventRecordNode", 11010},
      {"cudaGraphAddEventWaitNode", 11010},      {"cudaGraphInstantiateWithFlags", 11040},
      {"cudaGraphInstantiateWithParams", 12000}, {"cudaMallocAsync", 11020},
      {"cudaFreeAsync", 11020},                  {"cudaDeviceGetDefaultMemPool", 11020},
      {"cudaMemPoolCreate", 11020},              {"cudaMemPoolSetAttribute", 11020},
      {"cudaStreamGetCaptureInfo_v2", 11030},    {"cudaStreamUpdateCaptureDependencies", 11030},
      {"cudaGetDriverEntryPoint", 11030},        {"cudaUserObjectCreate", 11030},
      {"cudaGraphDebugDotPrint", 11030},         {"cudaGraphAddMemAllocNode", 11040},
      {"cudaLaunchKernelEx", 11080},             {"cudaStreamSetAttribute", 11000},
      {"cudaStreamGetAttribute", 11000},         {"cudaCtxResetPersistingL2Cache", 11000},
      {"cudaOccupancyAvailableDynamicSMemPerBlock", 11000},
      {"cudaStreamBeginCaptureToGraph", 12030},  {"cudaGraphExecGetFlags", 12000},
      {"__nv_bfloat16", 11000},                  {"cuda_bf16.h", 11000}};
  return apis;
}

const std::vector<std::string>& banned_headers() {
  static const std::vector<std::string> headers = {"filesystem", "charconv",    "execution", "memory_resource",
                                                   "span",       "bit",         "ranges",    "concepts",
                                                   "format",     "source_location"};
  return headers;
}

struct Finding {
  std::string file;
  int line;
  std::string what;
};

// The lowest CUDART_VERSION each open #if requires (0: none), so that a use
// inside `#if CUDART_VERSION >= N` counts as guarded for N, and its #else
// does not.
std::vector<Finding> scan(const std::string& name, const std::string& text) {
  std::vector<Finding> out;
  std::vector<int> guard;  // per open #if: the version it requires in the current branch
  const std::regex version_if(R"(CUDART_VERSION\s*>=\s*(\d+))");
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::size_t first = line.find_first_not_of(" \t");
    const std::string trimmed = first == std::string::npos ? "" : line.substr(first);
    if (trimmed.rfind("#", 0) == 0) {
      std::smatch m;
      const std::string directive = trimmed.substr(1, trimmed.find_first_of(" \t(", 1) - 1);
      if (directive == "if" || directive == "ifdef" || directive == "ifndef") {
        guard.push_back(std::regex_search(trimmed, m, version_if) ? std::stoi(m[1]) : 0);
      } else if (directive == "elif") {
        if (!guard.empty()) guard.back() = std::regex_search(trimmed, m, version_if) ? std::stoi(m[1]) : 0;
      } else if (directive == "else") {
        if (!guard.empty()) guard.back() = 0;
      } else if (directive == "endif") {
        if (!guard.empty()) guard.pop_back();
      } else if (directive == "include") {
        for (const std::string& h : banned_headers())
          if (trimmed.find("<" + h + ">") != std::string::npos)
            out.push_back({name, number, "#include <" + h + ">, which GCC 7.5 does not have"});
      }
    }
    const std::size_t comment = line.find("//");
    const std::string code = comment == std::string::npos ? line : line.substr(0, comment);
    int guarded = 0;
    for (int g : guard) guarded = std::max(guarded, g);
    for (const auto& api : post_10_2_apis()) {
      const std::size_t at = code.find(api.first);
      if (at == std::string::npos) continue;
      const char after = at + api.first.size() < code.size() ? code[at + api.first.size()] : ' ';
      if (std::isalnum(static_cast<unsigned char>(after)) || after == '_') continue;  // a longer name
      if (guarded < api.second)
        out.push_back({name, number, api.first + " needs CUDART_VERSION >= " + std::to_string(api.second)});
    }
    if (code.find("std::filesystem") != std::string::npos)
      out.push_back({name, number, "std::filesystem, which GCC 7.5 does not have"});
  }
  return out;
}

void list_sources(const std::string& dir, std::vector<std::string>* files) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == "data") continue;  // tests/data: planted inputs
    const std::string path = dir + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      list_sources(path, files);
    } else {
      for (const char* ext : {".h", ".cpp", ".cu", ".cuh"}) {
        const std::string x = ext;
        if (name.size() > x.size() && name.compare(name.size() - x.size(), x.size(), x) == 0) files->push_back(path);
      }
    }
  }
  closedir(d);
}

TEST(SourceHygiene, CudaApisNewerThan10_2AreGuardedAndNoHeaderNeedsNewerThanGcc7) {
  const std::string root = TX2YOLO_SOURCE_DIR;
  std::vector<std::string> files;
  for (const char* part : {"core", "weights", "convert", "kernels", "layers", "engine", "eval", "parity", "tools",
                           "tests", "bench", "fuzz"})
    list_sources(root + "/" + part, &files);
  ASSERT_GT(files.size(), 150u);
  int guarded_uses = 0;
  for (const std::string& f : files) {
    if (f.find("test_source_hygiene.cpp") != std::string::npos) continue;  // this file names them all
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    for (const Finding& x : scan(f.substr(root.size() + 1), ss.str()))
      ADD_FAILURE() << x.file << ":" << x.line << ": " << x.what;
    for (const auto& api : post_10_2_apis())
      if (ss.str().find(api.first) != std::string::npos) ++guarded_uses;
  }
  EXPECT_GE(guarded_uses, 2) << "the scan finds the guarded uses it knows of (cudaEventRecordWithFlags, ...)";
}

TEST(SourceHygiene, EachRuleFiresOnAPlantedLine) {
  const std::string planted =
      "#include <filesystem>\n"
      "#include <vector>\n"
      "void f() { cudaEventRecordWithFlags(e, s, 0); }\n"          // 3: unguarded
      "#if CUDART_VERSION >= 11010\n"
      "void g() { cudaEventRecordWithFlags(e, s, 0); }\n"          // 5: guarded
      "#else\n"
      "void h() { cudaGraphInstantiateWithFlags(x, y, 0); }\n"     // 7: in the #else: unguarded
      "#endif\n"
      "#if CUDART_VERSION >= 11010\n"
      "void i() { cudaGraphInstantiateWithFlags(x, y, 0); }\n"     // 10: guarded for 11.1, needs 11.4
      "#endif\n"
      "// cudaMallocAsync in a comment is fine\n"
      "namespace fs = std::filesystem;\n";                         // 13
  const std::vector<Finding> found = scan("planted.cpp", planted);
  std::vector<int> lines;
  for (const Finding& f : found) lines.push_back(f.line);
  EXPECT_EQ(lines, (std::vector<int>{1, 3, 7, 10, 13}));
}

}  // namespace
}  // namespace tx2yolo
