// Small helpers for argument checking in the N-API bindings: every bad argument becomes a JS
// TypeError/RangeError naming the argument, never a crash.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "cpu_features.h"
#include "kernel_table.h"

namespace tandem {

#define TANDEM_THROW(env, msg)                               \
  do {                                                       \
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException(); \
    return {};                                               \
  } while (0)

template <class T>
struct TypedArg {
  T* data = nullptr;
  size_t length = 0;
  bool ok = false;
};

template <class T>
inline napi_typedarray_type typed_kind();
template <>
inline napi_typedarray_type typed_kind<float>() { return napi_float32_array; }
template <>
inline napi_typedarray_type typed_kind<uint16_t>() { return napi_uint16_array; }
template <>
inline napi_typedarray_type typed_kind<int32_t>() { return napi_int32_array; }
template <>
inline napi_typedarray_type typed_kind<uint8_t>() { return napi_uint8_array; }

// Reads a typed array of element type T holding at least `min_len` elements.
template <class T>
inline TypedArg<T> typed_arg(const Napi::Value& v, const char* name, size_t min_len) {
  TypedArg<T> r;
  Napi::Env env = v.Env();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typed_kind<T>()) {
    Napi::TypeError::New(env, std::string(name) + " has the wrong typed-array type").ThrowAsJavaScriptException();
    return r;
  }
  auto ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() < min_len) {
    Napi::RangeError::New(env, std::string(name) + " holds " + std::to_string(ta.ElementLength()) +
                                   " elements, needs at least " + std::to_string(min_len))
        .ThrowAsJavaScriptException();
    return r;
  }
  r.data = reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  r.length = ta.ElementLength();
  r.ok = true;
  return r;
}

inline int int_arg(const Napi::Value& v, const char* name, bool* ok, int min_value = 0) {
  if (!v.IsNumber()) {
    Napi::TypeError::New(v.Env(), std::string(name) + " must be a number").ThrowAsJavaScriptException();
    *ok = false;
    return 0;
  }
  int64_t x = v.As<Napi::Number>().Int64Value();
  if (x < min_value || x > INT32_MAX) {
    Napi::RangeError::New(v.Env(), std::string(name) + " is out of range").ThrowAsJavaScriptException();
    *ok = false;
    return 0;
  }
  return static_cast<int>(x);
}

// "scalar" | "avx2" | "avx512" | "avx512bf16" | "active" (default); never above what the CPU
// supports (avx512bf16 without AVX512_BF16 is the best table there is).
inline const KernelTable& impl_arg(const Napi::Value& v) {
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "avx512bf16" && detect_isa() == Isa::Avx512 && cpu_has_avx512_bf16()) return avx512_bf16dot_kernels();
    Isa best = detect_isa();
    Isa want = active_isa();
    if (s == "scalar") want = Isa::Scalar;
    else if (s == "avx2") want = Isa::Avx2;
    else if (s == "avx512" || s == "avx512bf16") want = Isa::Avx512;  // bf16 dot where the CPU lacks it: plain AVX-512
    if (static_cast<int>(want) > static_cast<int>(best)) want = best;
    return kernels_for(want);
  }
  return active_kernels();
}

// The instruction set a kernel table belongs to (the bf16-dot table is an AVX-512 one).
inline Isa isa_of(const KernelTable& kt) {
  const std::string name = kt.name;
  return name == "avx512" || name == "avx512bf16" ? Isa::Avx512 : name == "avx2" ? Isa::Avx2 : Isa::Scalar;
}

struct KvLayout;
// Reads a KV layout object {layers, numBlocks, blockSize, kvHeads, headDim, dtype} / its buffer
// (checked against the layout's size). False (with a pending JS exception) when invalid.
bool kv_layout_arg(const Napi::Value& v, KvLayout* kv);
bool kv_buffer_arg(const Napi::Value& v, KvLayout* kv);

Napi::Object init_ops(Napi::Env env, Napi::Object exports);
Napi::Object init_model(Napi::Env env, Napi::Object exports);
Napi::Object init_quant(Napi::Env env, Napi::Object exports);

}  // namespace tandem
