// TextModel as a JS class: built once from typed-array weights (kept alive by a reference to the
// spec object, so mmapped tensors are used in place), forward() runs off the event loop and
// resolves a Promise when the logits are written.
#include <napi.h>

#include <atomic>
#include <memory>

#include "addon_util.h"
#include "addon_vl.h"
#include "quantize_model.h"
#include "text_model.h"

namespace tandem {
namespace {

bool get_int(Napi::Object o, const char* key, int* out, int min_value = 0) {
  Napi::Value v = o.Get(key);
  bool ok = true;
  *out = int_arg(v, key, &ok, min_value);
  return ok;
}

bool get_bf16(Napi::Object o, const char* key, int rows, int cols, const uint16_t** out, const std::string& where) {
  auto a = typed_arg<uint16_t>(o.Get(key), (where + "." + key).c_str(), static_cast<size_t>(rows) * cols);
  *out = a.data;
  return a.ok;
}

// A linear layer: a bf16 Uint16Array, or a pre-quantized {bits, group, data, scales, rotated?} (quant.h).
bool get_mat(Napi::Object o, const char* key, int rows, int cols, Linear* m, const std::string& where) {
  m->rows = rows;
  m->cols = cols;
  Napi::Value v = o.Get(key);
  if (v.IsTypedArray()) return get_bf16(o, key, rows, cols, &m->bf16, where);
  const std::string name = where + "." + key;
  if (!v.IsObject()) {
    Napi::TypeError::New(o.Env(), name + " must be a bf16 Uint16Array or a quantized matrix").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object q = v.As<Napi::Object>();
  bool ok = true;
  m->bits = int_arg(q.Get("bits"), (name + ".bits").c_str(), &ok, 1);
  if (ok) m->group = int_arg(q.Get("group"), (name + ".group").c_str(), &ok, 1);
  if (!ok) return false;
  if ((m->bits != 8 && m->bits != 4) || m->group <= 0 || !valid_group(m->bits, m->group)) {
    Napi::RangeError::New(o.Env(), name + ": bits must be 8 or 4 and group a positive multiple of 128 (or 32 / 64 for 4 bits)")
        .ThrowAsJavaScriptException();
    return false;
  }
  auto data = typed_arg<uint8_t>(q.Get("data"), (name + ".data").c_str(), static_cast<size_t>(rows) * m->row_bytes());
  if (!data.ok) return false;
  auto scales = typed_arg<float>(q.Get("scales"), (name + ".scales").c_str(), static_cast<size_t>(rows) * m->groups());
  if (!scales.ok) return false;
  m->q = data.data;
  m->scales = scales.data;
  m->rotated = q.Has("rotated") && q.Get("rotated").ToBoolean();
  if (q.Has("zeros") && !q.Get("zeros").IsUndefined()) {
    if (m->bits != 4) {
      Napi::RangeError::New(o.Env(), name + ": zero points are for 4-bit weights only").ThrowAsJavaScriptException();
      return false;
    }
    auto zeros = typed_arg<uint8_t>(q.Get("zeros"), (name + ".zeros").c_str(), static_cast<size_t>(rows) * m->groups());
    if (!zeros.ok) return false;
    m->zeros = zeros.data;
  }
  return true;
}

bool get_vec(Napi::Object o, const char* key, int n, const float** out, const std::string& where) {
  auto a = typed_arg<float>(o.Get(key), (where + "." + key).c_str(), static_cast<size_t>(n));
  if (!a.ok) return false;
  *out = a.data;
  return true;
}

bool get_mlp(Napi::Object o, int hidden, int inter, MlpWeights* w, const std::string& where) {
  return get_mat(o, "gate", inter, hidden, &w->gate, where) && get_mat(o, "up", inter, hidden, &w->up, where) &&
         get_mat(o, "down", hidden, inter, &w->down, where);
}

class ForwardWorker;

class TextModelWrap : public Napi::ObjectWrap<TextModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TextModel", {InstanceMethod("forward", &TextModelWrap::Forward)});
  }

  explicit TextModelWrap(const Napi::CallbackInfo& info);

  QuantizedStore quantized;  // declared before `model`, so it outlives the pointers into it
  std::unique_ptr<TextModel> model;
  std::atomic<bool> busy{false};

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::ObjectReference spec_;
};

TextModelWrap::TextModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TextModelWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    Napi::TypeError::New(env, "TextModel(spec): spec must be an object").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object spec = info[0].As<Napi::Object>();
  spec_ = Napi::Persistent(spec);
  Napi::Object d = spec.Get("dims").As<Napi::Object>();
  TextModelDims dims;
  if (!get_int(d, "hidden", &dims.hidden, 1) || !get_int(d, "heads", &dims.heads, 1) ||
      !get_int(d, "kvHeads", &dims.kv_heads, 1) || !get_int(d, "headDim", &dims.head_dim, 2) ||
      !get_int(d, "vocab", &dims.vocab, 1) || !get_int(d, "layers", &dims.layers, 1) ||
      !get_int(d, "intermediate", &dims.intermediate, 0) || !get_int(d, "numExperts", &dims.num_experts, 0) ||
      !get_int(d, "topK", &dims.top_k, 0) || !get_int(d, "moeIntermediate", &dims.moe_intermediate, 0) ||
      !get_int(d, "sharedIntermediate", &dims.shared_intermediate, 0) ||
      !get_int(d, "maxTokens", &dims.max_tokens, 1) || !get_int(d, "maxCtx", &dims.max_ctx, 1))
    return;
  dims.eps = d.Get("eps").As<Napi::Number>().FloatValue();
  dims.rope_theta = d.Get("ropeTheta").As<Napi::Number>().FloatValue();
  dims.moe_norm_min = d.Has("moeNormMin") ? d.Get("moeNormMin").As<Napi::Number>().FloatValue() : 1e-12f;
  if (!read_vl_dims(d, &dims)) return;
  if (dims.heads % dims.kv_heads || dims.head_dim % 2) {
    Napi::RangeError::New(env, "heads must be a multiple of kvHeads and headDim even").ThrowAsJavaScriptException();
    return;
  }
  if (dims.num_experts > 0 && (dims.top_k < 1 || dims.top_k > dims.num_experts)) {
    Napi::RangeError::New(env, "topK must be within [1, numExperts]").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object w = spec.Get("weights").As<Napi::Object>();
  TextModelWeights tw;
  const int H = dims.hidden, qw = dims.heads * dims.head_dim, kvw = dims.kv_heads * dims.head_dim;
  if (!get_bf16(w, "embed", dims.vocab, H, &tw.embed, "weights")) return;
  if (!get_mat(w, "lmHead", dims.vocab, H, &tw.lm_head, "weights")) return;
  if (!get_vec(w, "finalNorm", H, &tw.final_norm, "weights")) return;
  Napi::Value lv = w.Get("layers");
  if (!lv.IsArray() || lv.As<Napi::Array>().Length() != static_cast<uint32_t>(dims.layers)) {
    Napi::TypeError::New(env, "weights.layers must be an array of `layers` entries").ThrowAsJavaScriptException();
    return;
  }
  Napi::Array layers = lv.As<Napi::Array>();
  for (int i = 0; i < dims.layers; ++i) {
    const std::string where = "layers[" + std::to_string(i) + "]";
    Napi::Object lo = layers.Get(i).As<Napi::Object>();
    LayerWeights L;
    if (!get_vec(lo, "inputNorm", H, &L.input_norm, where) || !get_vec(lo, "postNorm", H, &L.post_norm, where) ||
        !get_mat(lo, "q", qw, H, &L.q, where) || !get_mat(lo, "k", kvw, H, &L.k, where) ||
        !get_mat(lo, "v", kvw, H, &L.v, where) || !get_mat(lo, "o", H, qw, &L.o, where))
      return;
    Napi::Object mo = lo.Get("mlp").As<Napi::Object>();
    const std::string kind = mo.Get("kind").As<Napi::String>().Utf8Value();
    if (kind == "moe") {
      if (dims.num_experts == 0) {
        Napi::TypeError::New(env, where + " is MoE but numExperts is 0").ThrowAsJavaScriptException();
        return;
      }
      L.moe = true;
      if (!get_vec(mo, "router", dims.num_experts * H, &L.router, where + ".mlp") ||
          !get_vec(mo, "bias", dims.num_experts, &L.router_bias, where + ".mlp"))
        return;
      Napi::Value ev = mo.Get("experts");
      if (!ev.IsArray() || ev.As<Napi::Array>().Length() != static_cast<uint32_t>(dims.num_experts)) {
        Napi::TypeError::New(env, where + ".mlp.experts must hold numExperts entries").ThrowAsJavaScriptException();
        return;
      }
      Napi::Array ex = ev.As<Napi::Array>();
      L.experts.resize(dims.num_experts);
      for (int e = 0; e < dims.num_experts; ++e)
        if (!get_mlp(ex.Get(e).As<Napi::Object>(), H, dims.moe_intermediate, &L.experts[e],
                     where + ".mlp.experts[" + std::to_string(e) + "]"))
          return;
      if (mo.Has("shared") && mo.Get("shared").IsObject()) {
        L.has_shared = true;
        if (!get_mlp(mo.Get("shared").As<Napi::Object>(), H, dims.shared_intermediate, &L.shared, where + ".mlp.shared"))
          return;
      }
      if (!read_vision_experts(mo, dims, &L, where)) return;
    } else {
      if (!get_mlp(mo, H, dims.intermediate, &L.dense, where + ".mlp")) return;
    }
    tw.layers.push_back(std::move(L));
  }
  Isa isa = active_isa();
  if (spec.Has("isa") && spec.Get("isa").IsString()) {
    const KernelTable& kt = impl_arg(spec.Get("isa"));
    isa = isa_of(kt);
  }
  if (spec.Has("quantization") && spec.Get("quantization").IsObject()) {
    Napi::Object qo = spec.Get("quantization").As<Napi::Object>();
    bool ok = true;
    const int bits = int_arg(qo.Get("bits"), "quantization.bits", &ok, 1);
    const int group = ok ? int_arg(qo.Get("group"), "quantization.group", &ok, 0) : 0;
    if (!ok) return;
    if ((bits != 8 && bits != 4) || !valid_group(bits, group)) {
      Napi::RangeError::New(env, "quantization: bits must be 8 or 4 and group 0 (per row), a multiple of 128, or (4 bits) 32 or 64")
          .ThrowAsJavaScriptException();
      return;
    }
    const bool lm_head = !qo.Has("lmHead") || qo.Get("lmHead").ToBoolean();
    const bool rotate = qo.Has("rotate") && qo.Get("rotate").ToBoolean();
    const int head_bits = qo.Has("headBits") ? int_arg(qo.Get("headBits"), "quantization.headBits", &ok, 4) : 0;
    if (!ok) return;
    if (head_bits != 0 && head_bits != 8 && head_bits != 4) {
      Napi::RangeError::New(env, "quantization.headBits must be 8 or 4").ThrowAsJavaScriptException();
      return;
    }
    const bool zero_points = qo.Has("zeroPoints") && qo.Get("zeroPoints").ToBoolean();
    if (zero_points && bits != 4) {
      Napi::RangeError::New(env, "quantization.zeroPoints is for 4 bits only").ThrowAsJavaScriptException();
      return;
    }
    quantize_linears(&tw, bits, group, lm_head, &quantized, rotate, head_bits, zero_points);
  }
  model = std::make_unique<TextModel>(dims, std::move(tw), isa);
}

class ForwardWorker : public Napi::AsyncWorker {
 public:
  ForwardWorker(Napi::Env env, TextModelWrap* owner, Napi::Object batch, Napi::Value kv_buffer, Napi::Value logits,
                const ForwardBatch& b, const KvLayout& kv, float* out)
      : Napi::AsyncWorker(env, "tandem.forward"),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        b_(b),
        kv_(kv),
        out_(out) {
    owner_ref_ = Napi::Persistent(owner->Value());
    batch_ref_ = Napi::Persistent(batch);
    kv_ref_ = Napi::Persistent(kv_buffer.As<Napi::Object>());
    logits_ref_ = Napi::Persistent(logits.As<Napi::Object>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  // Optional per-layer progress callback; calls are queued to the JS thread without blocking.
  void SetLayerCallback(Napi::Env env, Napi::Function fn) {
    on_layer_ = Napi::ThreadSafeFunction::New(env, fn, "tandem.forward.layer", 0, 1);
    has_layer_cb_ = true;
  }

  void Execute() override {
    if (!has_layer_cb_) {
      owner_->model->forward(b_, kv_, out_);
      return;
    }
    owner_->model->forward(b_, kv_, out_, [this](int layer) {
      on_layer_.NonBlockingCall(new int(layer), [](Napi::Env env, Napi::Function cb, int* l) {
        const int v = *l;
        delete l;
        cb.Call({Napi::Number::New(env, v)});
      });
    });
  }
  void OnOK() override {
    owner_->busy = false;
    ReleaseLayerCallback();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    owner_->busy = false;
    ReleaseLayerCallback();
    deferred_.Reject(e.Value());
  }

 private:
  void ReleaseLayerCallback() {
    if (has_layer_cb_) on_layer_.Release();
    has_layer_cb_ = false;
  }

  Napi::Promise::Deferred deferred_;
  Napi::ThreadSafeFunction on_layer_;
  bool has_layer_cb_ = false;
  TextModelWrap* owner_;
  ForwardBatch b_;
  KvLayout kv_;
  float* out_;
  Napi::ObjectReference owner_ref_, batch_ref_, kv_ref_, logits_ref_;
};

// forward({ids, positions, qStart, blockTables, btStride, logitRows}, kvBuffer, layout, logitsOut, onLayer?)
//   -> Promise<void>. onLayer(l) may arrive after the promise settles (separate queues).
Napi::Value TextModelWrap::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!model) TANDEM_THROW(env, "the model failed to initialize");
  if (!info[0].IsObject()) TANDEM_THROW(env, "batch must be an object");
  Napi::Object bo = info[0].As<Napi::Object>();
  ForwardBatch b;
  auto ids = typed_arg<int32_t>(bo.Get("ids"), "batch.ids", 1);
  if (!ids.ok) return {};
  b.T = static_cast<int>(ids.length);
  b.ids = ids.data;
  auto pos = typed_arg<int32_t>(bo.Get("positions"), "batch.positions", ids.length);
  if (!pos.ok) return {};
  b.positions = pos.data;
  auto qs = typed_arg<int32_t>(bo.Get("qStart"), "batch.qStart", 2);
  if (!qs.ok) return {};
  b.S = static_cast<int>(qs.length) - 1;
  b.q_start = qs.data;
  bool ok = true;
  b.bt_stride = int_arg(bo.Get("btStride"), "batch.btStride", &ok, 1);
  if (!ok) return {};
  auto bt = typed_arg<int32_t>(bo.Get("blockTables"), "batch.blockTables", static_cast<size_t>(b.S) * b.bt_stride);
  if (!bt.ok) return {};
  b.block_tables = bt.data;
  auto lr = typed_arg<int32_t>(bo.Get("logitRows"), "batch.logitRows", 0);
  if (!lr.ok) return {};
  b.L = static_cast<int>(lr.length);
  b.logit_rows = lr.data;
  if (!read_vl_batch(bo, model->dims().hidden, &b)) return {};
  KvLayout kv;
  if (!kv_layout_arg(info[2], &kv) || !kv_buffer_arg(info[1], &kv)) return {};
  auto logits = typed_arg<float>(info[3], "logits", static_cast<size_t>(b.L) * model->dims().vocab);
  if (!logits.ok) return {};
  std::string err = model->validate(b, kv);
  if (!err.empty()) {
    Napi::RangeError::New(env, "invalid forward batch: " + err).ThrowAsJavaScriptException();
    return {};
  }
  bool expected = false;
  if (!busy.compare_exchange_strong(expected, true))
    TANDEM_THROW(env, "forward() called while a previous forward() is still running; await it first");
  if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsFunction()) {
    busy = false;
    TANDEM_THROW(env, "onLayer must be a function when given");
  }
  auto* w = new ForwardWorker(env, this, bo, info[1], info[3], b, kv, logits.data);
  if (info.Length() > 4 && info[4].IsFunction()) w->SetLayerCallback(env, info[4].As<Napi::Function>());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Object init_model(Napi::Env env, Napi::Object exports) {
  exports.Set("TextModel", TextModelWrap::Define(env));
  return exports;
}

}  // namespace tandem
