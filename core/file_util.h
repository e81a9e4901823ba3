// File helpers shared by the model-file writer and the CLI: bounded reads and
// atomic writes (temporary file in the same directory, then rename).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tx2yolo {

// Reads a whole file. Throws Error naming the path if it cannot be opened or
// is larger than max_bytes.
std::vector<std::uint8_t> read_file_bytes(const std::string& path, std::uint64_t max_bytes);

bool file_exists(const std::string& path);
// True when both paths exist and name the same file or folder (same device and inode).
bool same_file(const std::string& a, const std::string& b);
bool is_directory(const std::string& path);
bool is_regular_file(const std::string& path);
// Sorted list of the regular files inside dir, as "dir/..." paths. With
// max_depth > 0, files in sub-folders up to that depth are included too
// (symbolic links to folders are not followed).
std::vector<std::string> list_directory_files(const std::string& dir, int max_depth = 0);
// "a/b/c.jpg" -> "c.jpg"; "c.jpg" -> "c.jpg".
std::string path_basename(const std::string& path);
// "a/b/c.jpg" -> "a/b"; "c.jpg" -> ".".
std::string path_dirname(const std::string& path);
// "c.jpg" -> ".jpg"; "c" -> "".
std::string path_extension(const std::string& path);
std::string path_join(const std::string& a, const std::string& b);

// A file that appears under its final name only when commit() succeeds.
// A final path that exists and is not a regular file (a folder, FIFO, device
// node or socket, or a link to one) is refused at construction: it is never
// replaced.
// Until then the data goes to "<dir>/.<name>.partial-<pid>-<n><ext>" (the
// extension is kept so that tools which pick a format from it still work).
// The destructor removes the temporary file if commit() was never reached.
class AtomicFile {
 public:
  explicit AtomicFile(std::string final_path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  // Flushes the temporary file to disk (fsync) and renames it to the final
  // path, then syncs the folder, so a power cut leaves the old file or the
  // whole new one. Throws Error on failure.
  void commit();
  bool committed() const { return committed_; }

 private:
  std::string final_path_;
  std::string temp_path_;
  bool committed_ = false;
};

// A fresh private folder under $TMPDIR (or /tmp), removed with the files
// directly inside it on destruction. For intermediate files of a command.
class TempDirectory {
 public:
  TempDirectory();
  ~TempDirectory();
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_join(path_, name); }

 private:
  std::string path_;
};

// Writes bytes atomically through AtomicFile; throws Error on any failure.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);
// Creates a folder and its missing parents (mode 0755). Throws Error naming
// the part that could not be created.
void make_directories(const std::string& path);

}  // namespace tx2yolo
