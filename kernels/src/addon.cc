// Module entry: machine info, thread control, memory (mmap, KV buffers) and bench probes.
#include <fcntl.h>
#include <napi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "addon_util.h"
#include "kv_cache.h"
#include "probes.h"
#include "thread_pool.h"

namespace tandem {

Napi::Object init_vision(Napi::Env env, Napi::Object exports);  // addon_vision.cc

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", bf16_dot_active() ? "avx512bf16" : isa_name(active_isa()));
  o.Set("bestIsa", isa_name(detect_isa()));
  // Whether TANDEM_ISA=avx512bf16 (bf16 dot products for bf16 weights) can be had on this CPU.
  o.Set("bf16Dot", detect_isa() == Isa::Avx512 && cpu_has_avx512_bf16());
  o.Set("threads", pool().size());
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  bool ok = true;
  int n = int_arg(info[0], "threads", &ok, 1);
  if (!ok) return {};
  set_pool_threads(n);
  return Napi::Number::New(info.Env(), pool().size());
}

// Maps a file copy-on-write: typed-array views over it cost no copy, and nothing writes back.
Napi::Value MmapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) TANDEM_THROW(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) TANDEM_THROW(env, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    TANDEM_THROW(env, "cannot stat " + path + ": " + std::strerror(errno));
  }
  size_t len = static_cast<size_t>(st.st_size);
  if (len == 0) {
    close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) TANDEM_THROW(env, "cannot map " + path + ": " + std::strerror(errno));
#ifdef MADV_POPULATE_READ
  // Map every page now (read-only, shared with the page cache, no copy-on-write): otherwise each
  // first touch is a page fault, and an MoE model keeps touching experts it has not used yet
  // (ERNIE-4.5-21B-A3B wint4 decoded at 2.3 tokens/s until its 11 GB were faulted in). Best
  // effort: older kernels answer EINVAL and pages fault in on use as before.
  madvise(p, len, MADV_POPULATE_READ);
#endif
  return Napi::ArrayBuffer::New(env, p, len, [](Napi::Env, void* data, size_t* n) {
    munmap(data, *n);
    delete n;
  }, new size_t(len));
}

constexpr double kMaxExternalBytes = 4294967296.0;

// A 64-byte aligned, zeroed native buffer for the KV cache (later registered with UCX as is).
Napi::Value AllocKvBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) TANDEM_THROW(env, "bytes must be a number");
  double bytes = info[0].As<Napi::Number>().DoubleValue();
  if (!(bytes > 0) || bytes > 1e12) TANDEM_THROW(env, "bytes is out of range");
  // Node 20 cannot wrap external memory over 4 GiB in an ArrayBuffer (and frees it twice when
  // asked to); larger pools are allocated by JS instead (PagedKvCache).
  if (bytes > kMaxExternalBytes) TANDEM_THROW(env, "a native KV buffer can hold at most 4 GiB");
  void* p = alloc_kv_memory(static_cast<size_t>(bytes));
  if (!p) TANDEM_THROW(env, "out of memory allocating the KV cache");
  return Napi::ArrayBuffer::New(env, p, static_cast<size_t>(bytes), [](Napi::Env, void* data) { free_kv_memory(data); });
}

Napi::Value ProbeBandwidth(const Napi::CallbackInfo& info) {
  double bytes = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 512.0 * 1024 * 1024;
  int repeats = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 5;
  return Napi::Number::New(info.Env(), probe_read_bandwidth(static_cast<int64_t>(bytes), repeats));
}

Napi::Value ProbeFlops(const Napi::CallbackInfo& info) {
  double iters = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 2e7;
  int repeats = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 3;
  return Napi::Number::New(info.Env(), probe_peak_flops(static_cast<int64_t>(iters), repeats));
}

}  // namespace

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("mmapFile", Napi::Function::New(env, MmapFile));
  exports.Set("allocKvBuffer", Napi::Function::New(env, AllocKvBuffer));
  exports.Set("probeBandwidth", Napi::Function::New(env, ProbeBandwidth));
  exports.Set("probeFlops", Napi::Function::New(env, ProbeFlops));
  init_ops(env, exports);
  init_model(env, exports);
  init_quant(env, exports);
  init_vision(env, exports);
  return exports;
}

}  // namespace tandem

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tandem::InitAddon(env, exports); }
NODE_API_MODULE(tandem_kernels, InitModule)
