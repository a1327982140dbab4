#include "tree_copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <vector>

#include "error.hpp"

namespace kpb {
namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string base_name(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void copy_dir(const std::string& src, const std::string& dst, const std::string& rel,
              const CopyPolicy& policy, CopyStats& stats) {
  DIR* d = opendir(src.c_str());
  if (!d) throw_errno("cannot read directory " + src);
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, closedir);
  struct stat dst_st;
  if (lstat(src.c_str(), &dst_st) != 0) throw_errno("stat " + src);
  if (mkdir(dst.c_str(), dst_st.st_mode & 07777) != 0) throw_errno("mkdir " + dst);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string s = src + "/" + name, t = dst + "/" + name;
    std::string r = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (lstat(s.c_str(), &st) != 0) throw_errno("stat " + s);
    if (S_ISDIR(st.st_mode)) {
      copy_dir(s, t, r, policy, stats);
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> buf(static_cast<size_t>(st.st_size) + 1);
      ssize_t n = readlink(s.c_str(), buf.data(), buf.size());
      if (n < 0) throw_errno("readlink " + s);
      std::string target(buf.data(), static_cast<size_t>(n));
      if (symlink(target.c_str(), t.c_str()) != 0) throw_errno("symlink " + t);
    } else if (S_ISREG(st.st_mode)) {
      switch (policy(r, st)) {
        case CopyAction::kLink:
          if (link(s.c_str(), t.c_str()) != 0) throw_errno("link " + s + " -> " + t);
          ++stats.linked;
          break;
        case CopyAction::kCopy:
          copy_file_preserving(s, t, st);
          ++stats.copied;
          stats.copied_bytes += static_cast<uint64_t>(st.st_size);
          break;
        case CopyAction::kSkip:
          ++stats.skipped;
          break;
      }
    }
    // sockets, fifos, devices: never part of a kernel tree; left out.
  }
  // Directory mtimes are irrelevant to Kbuild; leave them.
}

}  // namespace

bool is_object_product(const std::string& rel) {
  std::string b = base_name(rel);
  static const char* const suffixes[] = {".o", ".a", ".ko", ".o.cmd", ".a.cmd", ".ko.cmd",
                                         ".o.d", ".mod.c", ".dwo", ".lto.o"};
  for (const char* s : suffixes)
    if (ends_with(b, s)) return true;
  return b == "vmlinux" || b == "vmlinux.o" || b == "vmlinux.a" || b.rfind(".tmp_vmlinux", 0) == 0 ||
         b == "System.map" || b == "bzImage" || b == "vmlinux.bin" || b == "vmlinux.bin.gz" ||
         b == "vmlinux.relocs" || b == "piggy.S";
}

CopyPolicy source_tree_policy(struct timespec cutoff) {
  return [cutoff](const std::string& rel, const struct stat& st) {
    if (is_object_product(rel)) return CopyAction::kSkip;
    bool older = st.st_mtim.tv_sec < cutoff.tv_sec ||
                 (st.st_mtim.tv_sec == cutoff.tv_sec && st.st_mtim.tv_nsec < cutoff.tv_nsec);
    return older ? CopyAction::kLink : CopyAction::kCopy;
  };
}

CopyPolicy work_tree_policy() {
  return [](const std::string& rel, const struct stat& st) {
    if (st.st_nlink > 1) return CopyAction::kLink;
    // Host programs (scripts/, tools/: fixdep, modpost, objtool) keep their objects, or
    // `make <obj>.o` would relink them; kernel objects are rebuilt only when asked for.
    bool host = rel.rfind("scripts/", 0) == 0 || rel.rfind("tools/", 0) == 0;
    if (!host && is_object_product(rel)) return CopyAction::kSkip;
    return CopyAction::kCopy;
  };
}

CopyStats copy_tree(const std::string& src, const std::string& dst, const CopyPolicy& policy) {
  CopyStats stats;
  copy_dir(src, dst, "", policy, stats);
  return stats;
}

void copy_file_preserving(const std::string& src, const std::string& dst, const struct stat& st) {
  Fd in(open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) throw_errno("open " + src);
  // O_EXCL: a copy always creates a new inode, it never writes an existing file.
  Fd out(open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
  if (out.get() < 0) throw_errno("create " + dst);
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      char buf[1 << 16];
      n = read(in.get(), buf, sizeof buf);
      if (n > 0 && write(out.get(), buf, static_cast<size_t>(n)) != n) throw_errno("write " + dst);
    }
    if (n < 0) throw_errno("copy " + src + " -> " + dst);
    if (n == 0) break;
    left -= n;
  }
  if (fchmod(out.get(), st.st_mode & 07777) != 0) throw_errno("chmod " + dst);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (futimens(out.get(), times) != 0) throw_errno("utimens " + dst);
}

bool break_hard_link(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("stat " + path);
  }
  if (!S_ISREG(st.st_mode) || st.st_nlink <= 1) return false;
  std::string tmp = path + ".kp-unlink";
  unlink(tmp.c_str());
  copy_file_preserving(path, tmp, st);
  if (rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp + " -> " + path);
  return true;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw Error("cannot remove " + path + ": " + ec.message());
}

}  // namespace kpb
