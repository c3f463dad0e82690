// Bindings for weight quantization: quantizing a bf16 matrix (the loader and the checkpoint
// writer use it), a quantized GEMM for kernel tests, and the integer-MAC probe for benchmarks.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "addon_util.h"
#include "ops.h"
#include "quant.h"
#include "thread_pool.h"

namespace tandem {
namespace {

bool valid_scheme(Napi::Env env, int bits, int group) {
  if (bits != 8 && bits != 4) {
    Napi::RangeError::New(env, "bits must be 8 or 4").ThrowAsJavaScriptException();
    return false;
  }
  if (!valid_group(bits, group)) {
    Napi::RangeError::New(env, "group must be 0 (one scale per row), a positive multiple of 128, or (wint4) 32 or 64").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// quantizeWeights(W: Uint16Array, rows, cols, bits, group, rotate?, zeroPoints?) -> { data: Uint8Array, scales: Float32Array, zeros? }
Napi::Value QuantizeWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool ok = true;
  const int rows = int_arg(info[1], "rows", &ok, 1), cols = ok ? int_arg(info[2], "cols", &ok, 1) : 0;
  const int bits = ok ? int_arg(info[3], "bits", &ok, 1) : 0, group0 = ok ? int_arg(info[4], "group", &ok, 0) : 0;
  if (!ok || !valid_scheme(env, bits, group0)) return {};
  auto W = typed_arg<uint16_t>(info[0], "W", static_cast<size_t>(rows) * cols);
  if (!W.ok) return {};
  const int group = resolve_group(group0, cols);
  Linear shape;
  shape.bits = bits;
  shape.cols = cols;
  shape.group = group;
  auto data = Napi::Uint8Array::New(env, static_cast<size_t>(rows) * shape.row_bytes());
  auto scales = Napi::Float32Array::New(env, static_cast<size_t>(rows) * shape.groups());
  const bool rotate = info.Length() > 5 && info[5].ToBoolean();
  const bool zero_points = info.Length() > 6 && info[6].ToBoolean();
  if (zero_points && bits != 4) {
    Napi::RangeError::New(env, "zero points are for 4-bit weights only").ThrowAsJavaScriptException();
    return {};
  }
  Napi::Uint8Array zeros = zero_points ? Napi::Uint8Array::New(env, static_cast<size_t>(rows) * shape.groups()) : Napi::Uint8Array();
  quantize_weights(W.data, rows, cols, bits, group, data.Data(), scales.Data(), rotate, zero_points ? zeros.Data() : nullptr);
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("scales", scales);
  if (zero_points) out.Set("zeros", zeros);
  return out;
}

const QuantKernels& quant_impl_arg(const Napi::Value& v) {
  const KernelTable& kt = impl_arg(v);
  return quant_kernels_for(isa_of(kt));
}

// gemmQ(x, M, K, data, scales, N, bits, group, y, impl, rotated?, zeros?)
Napi::Value GemmQ(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool ok = true;
  const int M = int_arg(info[1], "M", &ok, 1), K = ok ? int_arg(info[2], "K", &ok, 1) : 0;
  const int N = ok ? int_arg(info[5], "N", &ok, 1) : 0, bits = ok ? int_arg(info[6], "bits", &ok, 1) : 0;
  const int group = ok ? int_arg(info[7], "group", &ok, 0) : 0;
  if (!ok || !valid_scheme(env, bits, group)) return {};
  Linear W;
  W.bits = bits;
  W.rows = N;
  W.cols = K;
  W.group = resolve_group(group, K);
  auto x = typed_arg<float>(info[0], "x", static_cast<size_t>(M) * K);
  auto q = x.ok ? typed_arg<uint8_t>(info[3], "data", static_cast<size_t>(N) * W.row_bytes()) : TypedArg<uint8_t>{};
  auto s = q.ok ? typed_arg<float>(info[4], "scales", static_cast<size_t>(N) * W.groups()) : TypedArg<float>{};
  auto y = s.ok ? typed_arg<float>(info[8], "y", static_cast<size_t>(M) * N) : TypedArg<float>{};
  if (!y.ok) return {};
  W.q = q.data;
  W.scales = s.data;
  W.rotated = info.Length() > 10 && info[10].ToBoolean();
  if (info.Length() > 11 && info[11].IsTypedArray()) {
    if (bits != 4) {
      Napi::RangeError::New(env, "zero points are for 4-bit weights only").ThrowAsJavaScriptException();
      return {};
    }
    auto z = typed_arg<uint8_t>(info[11], "zeros", static_cast<size_t>(N) * W.groups());
    if (!z.ok) return {};
    W.zeros = z.data;
  }
  Scratch none;
  QuantActsBuf qa;
  op_linear(impl_arg(info[9]), quant_impl_arg(info[9]), x.data, M, W, y.data, none, qa);
  return env.Undefined();
}

// probeInt8Macs(iters, repeats) -> integer multiply-accumulates per second, all pool threads, in
// the instruction the active quantized kernels use.
Napi::Value ProbeInt8Macs(const Napi::CallbackInfo& info) {
  const double iters = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 2e7;
  const int repeats = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 3;
  const QuantKernels& qk = quant_kernels_for(active_isa());
  ThreadPool& p = pool();
  std::vector<double> macs(p.size());
  std::vector<int32_t> sink(p.size() * 16);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    p.run([&](int tid) { macs[tid] = qk.int8_mac_loop(static_cast<int64_t>(iters), &sink[tid * 16]); });
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0;
    for (double m : macs) total += m;
    best = std::max(best, total / dt);
  }
  return Napi::Number::New(info.Env(), best);
}

Napi::Value QuantInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), quant_kernels_for(active_isa()).name);
}

}  // namespace

Napi::Object init_quant(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeWeights", Napi::Function::New(env, QuantizeWeights));
  exports.Set("probeInt8Macs", Napi::Function::New(env, ProbeInt8Macs));
  exports.Set("quantKernels", Napi::Function::New(env, QuantInfo));
  exports.Get("ops").As<Napi::Object>().Set("gemmQ", Napi::Function::New(env, GemmQ));
  return exports;
}

}  // namespace tandem
