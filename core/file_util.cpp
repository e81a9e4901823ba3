#include "core/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace tx2yolo {

std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes) {
  struct stat st {};
  TX2_REQUIRE(::stat(path.c_str(), &st) == 0, path, ": cannot open (", std::strerror(errno), ")");
  TX2_REQUIRE(S_ISREG(st.st_mode), path, ": not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  TX2_REQUIRE(size <= max_bytes, path, ": file is ", size, " bytes, more than the limit of ", max_bytes);
  std::ifstream in(path, std::ios::binary);
  TX2_REQUIRE(in.good(), path, ": cannot open for reading");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  TX2_REQUIRE(static_cast<std::uint64_t>(in.gcount()) == size || size == 0, path, ": short read");
  return bytes;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {
void collect_files(const std::string& dir, int depth_left, std::vector<std::string>* files) {
  DIR* d = ::opendir(dir.c_str());
  TX2_REQUIRE(d != nullptr, dir, ": cannot open directory (", std::strerror(errno), ")");
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string full = path_join(dir, name);
    struct stat st {};
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files->push_back(full);
    // Sub-folders are followed only when they are real folders, not links.
    struct stat lst {};
    if (depth_left > 0 && ::lstat(full.c_str(), &lst) == 0 && S_ISDIR(lst.st_mode)) subdirs.push_back(full);
  }
  ::closedir(d);
  for (const std::string& sub : subdirs) collect_files(sub, depth_left - 1, files);
}
}  // namespace

std::vector<std::string> list_directory_files(const std::string& dir, int max_depth) {
  std::vector<std::string> files;
  collect_files(dir, max_depth, &files);
  std::sort(files.begin(), files.end());
  return files;
}

std::string path_basename(const std::string& path) {
  const auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string path_dirname(const std::string& path) {
  const auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string path_extension(const std::string& path) {
  const std::string base = path_basename(path);
  const auto pos = base.find_last_of('.');
  return (pos == std::string::npos || pos == 0) ? std::string() : base.substr(pos);
}

std::string path_join(const std::string& a, const std::string& b) {
  if (a.empty() || a == ".") return b;
  if (!b.empty() && b[0] == '/') return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

namespace {
std::atomic<int> g_temp_counter{0};
}

AtomicFile::AtomicFile(std::string final_path) : final_path_(std::move(final_path)) {
  TX2_REQUIRE(!final_path_.empty(), "empty output path");
  // Only regular files are replaced: renaming over a device node (say
  // /dev/null, when run as root), a FIFO or a socket would swap it for a
  // regular file for everyone; a folder cannot be replaced at all.
  struct stat st {};
  if (::stat(final_path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    throw Error(cat(final_path_, ": exists and is not a regular file (",
                    S_ISDIR(st.st_mode)    ? "a folder"
                    : S_ISFIFO(st.st_mode) ? "a FIFO"
                    : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                  : "not a plain file",
                    "); tx2yolo writes only regular files"));
  }
  const std::string base = path_basename(final_path_);
  const std::string ext = path_extension(final_path_);
  const std::string stem = base.substr(0, base.size() - ext.size());
  temp_path_ = path_join(path_dirname(final_path_),
                         cat(".", stem, ".partial-", ::getpid(), "-", g_temp_counter++, ext));
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());
}

namespace {
// fsync of a file or folder; false when it cannot be opened or synced.
bool sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}
}  // namespace

void AtomicFile::commit() {
  TX2_REQUIRE(!committed_, final_path_, ": already committed");
  TX2_REQUIRE(file_exists(temp_path_), final_path_, ": nothing was written");
  TX2_REQUIRE(sync_path(temp_path_, O_RDONLY), final_path_, ": cannot flush the temporary file to disk (",
              std::strerror(errno), ")");
  if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp_path_.c_str());
    throw Error(cat(final_path_, ": cannot rename temporary file into place (", reason, ")"));
  }
  committed_ = true;
  sync_path(path_dirname(final_path_), O_RDONLY | O_DIRECTORY);  // best effort: the rename itself is done
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary | std::ios::trunc);
    TX2_REQUIRE(out.good(), path, ": cannot open for writing (", std::strerror(errno), ")");
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.flush();
    TX2_REQUIRE(out.good(), path, ": write failed (", std::strerror(errno), ")");
  }
  file.commit();
}

void make_directories(const std::string& path) {
  TX2_REQUIRE(!path.empty(), "cannot create a folder with an empty name");
  if (is_directory(path)) return;
  const std::string parent = path_dirname(path);
  if (parent != path && parent != "." && parent != "/") make_directories(parent);
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw Error(cat(path, ": cannot create the folder (", std::strerror(errno), ")"));
  TX2_REQUIRE(is_directory(path), path, ": exists and is not a folder");
}

TempDirectory::TempDirectory() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = path_join(base && *base ? base : "/tmp", "tx2yolo-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  TX2_REQUIRE(::mkdtemp(buf.data()) != nullptr, pattern, ": cannot create a temporary folder (", std::strerror(errno),
              ")");
  path_ = buf.data();
}

TempDirectory::~TempDirectory() {
  try {
    for (const std::string& f : list_directory_files(path_)) ::unlink(f.c_str());
  } catch (const Error&) {
  }
  ::rmdir(path_.c_str());
}

}  // namespace tx2yolo
