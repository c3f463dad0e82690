// VisionModel as a JS class (encode() runs off the event loop and resolves a Promise) and the
// synchronous bindings of the VL ops for unit tests, each with an `impl` argument like addon_ops.
#include <napi.h>

#include <atomic>
#include <memory>

#include "addon_util.h"
#include "addon_vl.h"
#include "thread_pool.h"
#include "vision_model.h"
#include "vl_ops.h"

namespace tandem {
namespace {

struct Reader {
  Napi::Env env;
  bool ok = true;
  int i(Napi::Object o, const char* k, int min_value = 0) {
    if (!ok) return 0;
    return int_arg(o.Get(k), k, &ok, min_value);
  }
  float f(Napi::Object o, const char* k, float def) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().FloatValue() : def;
  }
  const float* vec(Napi::Object o, const char* k, int64_t n, const std::string& where) {
    if (!ok) return nullptr;
    auto a = typed_arg<float>(o.Get(k), (where + "." + k).c_str(), static_cast<size_t>(n));
    ok = a.ok;
    return a.data;
  }
  MatBf16 mat(Napi::Object o, const char* k, int rows, int cols, const std::string& where) {
    MatBf16 m;
    if (!ok) return m;
    auto a = typed_arg<uint16_t>(o.Get(k), (where + "." + k).c_str(), static_cast<size_t>(rows) * cols);
    ok = a.ok;
    m.data = a.data;
    m.rows = rows;
    m.cols = cols;
    return m;
  }
  Napi::Object obj(Napi::Object o, const char* k) {
    Napi::Value v = o.Get(k);
    if (ok && !v.IsObject()) {
      Napi::TypeError::New(env, std::string(k) + " must be an object").ThrowAsJavaScriptException();
      ok = false;
    }
    return ok ? v.As<Napi::Object>() : Napi::Object::New(env);
  }
  ResamplerStage stage(Napi::Object o, int in_dim, int dim, const std::string& where) {
    ResamplerStage s;
    s.fc1 = mat(o, "fc1", dim, in_dim, where);
    s.fc1_b = vec(o, "fc1Bias", dim, where);
    s.fc2 = mat(o, "fc2", dim, dim, where);
    s.fc2_b = vec(o, "fc2Bias", dim, where);
    s.ln_w = vec(o, "lnWeight", dim, where);
    s.ln_b = vec(o, "lnBias", dim, where);
    return s;
  }
};

class VisionModelWrap : public Napi::ObjectWrap<VisionModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VisionModel", {InstanceMethod("encode", &VisionModelWrap::Encode)});
  }
  explicit VisionModelWrap(const Napi::CallbackInfo& info);
  std::unique_ptr<VisionModel> model;
  std::atomic<bool> busy{false};

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::ObjectReference spec_;
};

VisionModelWrap::VisionModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VisionModelWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    Napi::TypeError::New(env, "VisionModel(spec): spec must be an object").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object spec = info[0].As<Napi::Object>();
  spec_ = Napi::Persistent(spec);
  Reader r{env};
  Napi::Object d = r.obj(spec, "dims");
  VisionDims dims;
  dims.patch = r.i(d, "patch", 1);
  dims.channels = r.i(d, "channels", 1);
  dims.hidden = r.i(d, "hidden", 1);
  dims.heads = r.i(d, "heads", 1);
  dims.depth = r.i(d, "depth", 0);
  dims.intermediate = r.i(d, "intermediate", 1);
  dims.merge = r.i(d, "merge", 1);
  dims.text_hidden = r.i(d, "textHidden", 1);
  if (!r.ok) return;
  dims.ln_eps = r.f(d, "lnEps", 1e-6f);
  dims.text_eps = r.f(d, "textEps", 1e-5f);
  dims.rope_theta = r.f(d, "ropeTheta", 10000.f);
  if (dims.hidden % dims.heads || dims.head_dim() % 4) {
    Napi::RangeError::New(env, "hidden must be heads * headDim with headDim a multiple of 4").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object w = r.obj(spec, "weights");
  if (!r.ok) return;
  VisionWeights vw;
  const int H = dims.hidden, D = dims.merge * dims.merge * H;
  vw.patch_embed = r.mat(w, "patchEmbed", H, dims.channels * dims.patch * dims.patch, "weights");
  vw.ln_w = r.vec(w, "lnWeight", H, "weights");
  vw.ln_b = r.vec(w, "lnBias", H, "weights");
  Napi::Value bv = w.Get("blocks");
  if (r.ok && (!bv.IsArray() || bv.As<Napi::Array>().Length() != static_cast<uint32_t>(dims.depth))) {
    Napi::TypeError::New(env, "weights.blocks must hold `depth` entries").ThrowAsJavaScriptException();
    return;
  }
  for (int i = 0; r.ok && i < dims.depth; ++i) {
    const std::string where = "blocks[" + std::to_string(i) + "]";
    Napi::Object bo = bv.As<Napi::Array>().Get(i).As<Napi::Object>();
    VisionBlockWeights b;
    b.norm1_w = r.vec(bo, "norm1Weight", H, where);
    b.norm1_b = r.vec(bo, "norm1Bias", H, where);
    b.norm2_w = r.vec(bo, "norm2Weight", H, where);
    b.norm2_b = r.vec(bo, "norm2Bias", H, where);
    b.qkv = r.mat(bo, "qkv", 3 * H, H, where);
    b.qkv_b = r.vec(bo, "qkvBias", 3 * H, where);
    b.proj = r.mat(bo, "proj", H, H, where);
    b.proj_b = r.vec(bo, "projBias", H, where);
    b.fc1 = r.mat(bo, "fc1", dims.intermediate, H, where);
    b.fc1_b = r.vec(bo, "fc1Bias", dims.intermediate, where);
    b.fc2 = r.mat(bo, "fc2", H, dims.intermediate, where);
    b.fc2_b = r.vec(bo, "fc2Bias", H, where);
    vw.blocks.push_back(b);
  }
  Napi::Object rs = r.obj(w, "resampler");
  if (!r.ok) return;
  vw.spatial = r.stage(r.obj(rs, "spatial"), D, D, "resampler.spatial");
  vw.temporal = r.stage(r.obj(rs, "temporal"), 2 * D, D, "resampler.temporal");
  vw.mlp = r.mat(rs, "mlp", dims.text_hidden, D, "resampler");
  vw.mlp_b = r.vec(rs, "mlpBias", dims.text_hidden, "resampler");
  vw.after_norm = r.vec(rs, "afterNorm", dims.text_hidden, "resampler");
  if (!r.ok) return;
  const KernelTable& kt = impl_arg(spec.Get("isa"));
  const Isa isa = isa_of(kt);
  model = std::make_unique<VisionModel>(dims, std::move(vw), isa);
}

class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, VisionModelWrap* owner, const Napi::CallbackInfo& info, const float* px, const int32_t* grid,
               int n, float* out, float* vit)
      : Napi::AsyncWorker(env, "tandem.encode"), deferred_(Napi::Promise::Deferred::New(env)), owner_(owner), px_(px),
        grid_(grid), n_(n), out_(out), vit_(vit) {
    refs_.push_back(Napi::Persistent(owner->Value()));
    for (size_t i = 0; i < info.Length() && i < 4; ++i)
      if (info[i].IsObject()) refs_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { owner_->model->encode(px_, grid_, n_, out_, vit_); }
  void OnOK() override {
    owner_->busy = false;
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    owner_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  VisionModelWrap* owner_;
  const float* px_;
  const int32_t* grid_;
  int n_;
  float *out_, *vit_;
  std::vector<Napi::ObjectReference> refs_;
};

// encode(pixels, grid, out, vitOut?) -> Promise<void>; grid is Int32Array [n * 3] of (t, h, w).
Napi::Value VisionModelWrap::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!model) TANDEM_THROW(env, "the vision model failed to initialize");
  auto grid = typed_arg<int32_t>(info[1], "grid", 3);
  if (!grid.ok) return {};
  if (grid.length % 3) TANDEM_THROW(env, "grid must hold (t, h, w) triples");
  const int n = static_cast<int>(grid.length / 3);
  std::string err = model->validate(grid.data, n);
  if (!err.empty()) {
    Napi::RangeError::New(env, "invalid images: " + err).ThrowAsJavaScriptException();
    return {};
  }
  const int64_t N = VisionModel::patch_count(grid.data, n);
  const int m2 = model->dims().merge * model->dims().merge;
  auto px = typed_arg<float>(info[0], "pixels", static_cast<size_t>(model->pixel_count(grid.data, n)));
  if (!px.ok) return {};
  if (px.length != static_cast<size_t>(model->pixel_count(grid.data, n)))
    TANDEM_THROW(env, "pixels must hold exactly channels * (h*patch) * (w*patch) floats per image");
  auto out = typed_arg<float>(info[2], "out", static_cast<size_t>(N / m2 * model->dims().text_hidden));
  if (!out.ok) return {};
  float* vit = nullptr;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    auto v = typed_arg<float>(info[3], "vitOut", static_cast<size_t>(N * model->dims().hidden));
    if (!v.ok) return {};
    vit = v.data;
  }
  bool expected = false;
  if (!busy.compare_exchange_strong(expected, true)) TANDEM_THROW(env, "encode() called while a previous encode() is running");
  auto* w = new EncodeWorker(env, this, info, px.data, grid.data, n, out.data, vit);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

#define INT(var, idx, name, minv)                      \
  bool ok_##var = true;                                \
  int var = int_arg(info[idx], name, &ok_##var, minv); \
  if (!ok_##var) return {};
#define ARR(var, T, idx, name, len)                                   \
  auto var = typed_arg<T>(info[idx], name, static_cast<size_t>(len)); \
  if (!var.ok) return {};

// layernorm(x, rows, cols, w, b, eps, out, impl)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  INT(rows, 1, "rows", 1) INT(cols, 2, "cols", 1)
  ARR(x, float, 0, "x", int64_t(rows) * cols) ARR(w, float, 3, "w", cols) ARR(b, float, 4, "b", cols)
  ARR(out, float, 6, "out", int64_t(rows) * cols)
  op_layernorm(impl_arg(info[7]), x.data, rows, cols, w.data, b.data, info[5].As<Napi::Number>().FloatValue(), out.data);
  return info.Env().Undefined();
}

// fullAttention(q, k, v, ld, heads, headDim, segments, out, impl)
Napi::Value FullAttention(const Napi::CallbackInfo& info) {
  INT(ld, 3, "ld", 1) INT(heads, 4, "heads", 1) INT(hd, 5, "headDim", 1)
  ARR(seg, int32_t, 6, "segments", 2)
  for (size_t i = 1; i < seg.length; ++i)
    if (seg.data[i] <= seg.data[i - 1] || seg.data[0] != 0) TANDEM_THROW(info.Env(), "segments must start at 0 and ascend");
  if (int64_t(heads) * hd > ld) TANDEM_THROW(info.Env(), "heads * headDim exceeds ld");
  const int64_t rows = seg.data[seg.length - 1];
  const int64_t need = (rows - 1) * ld + int64_t(heads) * hd;  // the last row needs only its heads
  ARR(q, float, 0, "q", need) ARR(k, float, 1, "k", need) ARR(v, float, 2, "v", need)
  ARR(out, float, 7, "out", rows * heads * hd)
  std::vector<float> scratch(full_attention_scratch_floats(hd) * pool().size());
  FullAttentionArgs a{q.data, k.data, v.data, ld, heads, hd, seg.data, static_cast<int>(seg.length) - 1, out.data};
  op_full_attention(impl_arg(info[8]), a, scratch.data(), full_attention_scratch_floats(hd));
  return info.Env().Undefined();
}

// ropeVision2d(x, rows, ld, heads, headDim, posH, posW, theta)
Napi::Value RopeVision2d(const Napi::CallbackInfo& info) {
  INT(rows, 1, "rows", 1) INT(ld, 2, "ld", 1) INT(heads, 3, "heads", 1) INT(hd, 4, "headDim", 4)
  if (hd % 4 || int64_t(heads) * hd > ld) TANDEM_THROW(info.Env(), "headDim must be a multiple of 4 and heads*headDim <= ld");
  ARR(x, float, 0, "x", int64_t(rows) * ld) ARR(ph, int32_t, 5, "posH", rows) ARR(pw, int32_t, 6, "posW", rows)
  std::vector<float> inv(hd / 4);
  vision_rope_inv_freq(hd, info[7].As<Napi::Number>().FloatValue(), inv.data());
  op_rope_vision2d(x.data, rows, ld, heads, hd, ph.data, pw.data, inv.data());
  return info.Env().Undefined();
}

// rope3d(x, T, heads, headDim, pos3, tPairs, theta)
Napi::Value Rope3d(const Napi::CallbackInfo& info) {
  INT(T, 1, "T", 1) INT(heads, 2, "heads", 1) INT(hd, 3, "headDim", 2) INT(tp, 5, "tPairs", 0)
  if (hd % 2 || tp > hd / 2) TANDEM_THROW(info.Env(), "headDim must be even and tPairs <= headDim / 2");
  ARR(x, float, 0, "x", int64_t(T) * heads * hd) ARR(p3, int32_t, 4, "pos3", int64_t(T) * 3)
  std::vector<float> inv(hd / 2);
  rope_inv_freq(hd, info[6].As<Napi::Number>().FloatValue(), inv.data());
  op_rope_3d(x.data, T, heads, hd, p3.data, tp, inv.data());
  return info.Env().Undefined();
}

// quickGelu(x) / geluErf(x): in place
Napi::Value QuickGelu(const Napi::CallbackInfo& info) {
  ARR(x, float, 0, "x", 0)
  op_quick_gelu(x.data, static_cast<int64_t>(x.length));
  return info.Env().Undefined();
}
Napi::Value GeluErf(const Napi::CallbackInfo& info) {
  ARR(x, float, 0, "x", 0)
  op_gelu_erf(x.data, static_cast<int64_t>(x.length));
  return info.Env().Undefined();
}

// patchify(pixels, C, H, W, patch, merge, out, posH, posW)
Napi::Value Patchify(const Napi::CallbackInfo& info) {
  INT(C, 1, "C", 1) INT(H, 2, "H", 1) INT(W, 3, "W", 1) INT(p, 4, "patch", 1) INT(m, 5, "merge", 1)
  if (H % (p * m) || W % (p * m)) TANDEM_THROW(info.Env(), "H and W must be multiples of patch * merge");
  const int64_t n = int64_t(H / p) * (W / p);
  ARR(px, float, 0, "pixels", int64_t(C) * H * W) ARR(out, float, 6, "out", n * C * p * p)
  ARR(ph, int32_t, 7, "posH", n) ARR(pw, int32_t, 8, "posW", n)
  op_patchify(px.data, C, H, W, p, m, out.data, ph.data, pw.data);
  return info.Env().Undefined();
}

}  // namespace

Napi::Object init_vision(Napi::Env env, Napi::Object exports) {
  exports.Set("VisionModel", VisionModelWrap::Define(env));
  Napi::Object ops = Napi::Object::New(env);
  ops.Set("layernorm", Napi::Function::New(env, LayerNorm));
  ops.Set("fullAttention", Napi::Function::New(env, FullAttention));
  ops.Set("ropeVision2d", Napi::Function::New(env, RopeVision2d));
  ops.Set("rope3d", Napi::Function::New(env, Rope3d));
  ops.Set("quickGelu", Napi::Function::New(env, QuickGelu));
  ops.Set("geluErf", Napi::Function::New(env, GeluErf));
  ops.Set("patchify", Napi::Function::New(env, Patchify));
  exports.Set("vlOps", ops);
  return exports;
}

}  // namespace tandem

namespace tandem {

bool read_vl_dims(Napi::Object d, TextModelDims* dims) {
  bool ok = true;
  if (d.Has("visionMoeIntermediate") && !d.Get("visionMoeIntermediate").IsUndefined())
    dims->vision_moe_intermediate = int_arg(d.Get("visionMoeIntermediate"), "dims.visionMoeIntermediate", &ok, 0);
  if (ok && d.Has("ropeTPairs") && !d.Get("ropeTPairs").IsUndefined())
    dims->rope_t_pairs = int_arg(d.Get("ropeTPairs"), "dims.ropeTPairs", &ok, 0);
  if (ok && dims->rope_t_pairs > dims->head_dim / 2) {
    Napi::RangeError::New(d.Env(), "dims.ropeTPairs must be at most headDim / 2").ThrowAsJavaScriptException();
    return false;
  }
  return ok;
}

bool read_vision_experts(Napi::Object mo, const TextModelDims& dims, LayerWeights* L, const std::string& where) {
  Napi::Value vv = mo.Get("vision");
  if (vv.IsUndefined() || vv.IsNull()) return true;
  Reader r{mo.Env()};
  if (!vv.IsObject() || dims.vision_moe_intermediate <= 0) {
    Napi::TypeError::New(mo.Env(), where + ".mlp.vision needs an object and dims.visionMoeIntermediate > 0")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object vo = vv.As<Napi::Object>();
  const int H = dims.hidden, E = dims.num_experts, V = dims.vision_moe_intermediate;
  L->vrouter = r.vec(vo, "router", static_cast<int64_t>(E) * H, where + ".mlp.vision");
  L->vrouter_bias = r.vec(vo, "bias", E, where + ".mlp.vision");
  Napi::Value ev = vo.Get("experts");
  if (r.ok && (!ev.IsArray() || ev.As<Napi::Array>().Length() != static_cast<uint32_t>(E))) {
    Napi::TypeError::New(mo.Env(), where + ".mlp.vision.experts must hold numExperts entries").ThrowAsJavaScriptException();
    return false;
  }
  for (int e = 0; r.ok && e < E; ++e) {
    Napi::Object eo = ev.As<Napi::Array>().Get(e).As<Napi::Object>();
    const std::string w = where + ".mlp.vision.experts[" + std::to_string(e) + "]";
    MlpWeights m;
    m.gate = bf16_linear(r.mat(eo, "gate", V, H, w));
    m.up = bf16_linear(r.mat(eo, "up", V, H, w));
    m.down = bf16_linear(r.mat(eo, "down", H, V, w));
    L->vexperts.push_back(m);
  }
  L->has_vision = r.ok;
  return r.ok;
}

bool read_vl_batch(Napi::Object bo, int hidden, ForwardBatch* b) {
  auto present = [&](const char* k) { return bo.Has(k) && !bo.Get(k).IsUndefined() && !bo.Get(k).IsNull(); };
  if (present("embedRows")) {
    auto rows = typed_arg<int32_t>(bo.Get("embedRows"), "batch.embedRows", 0);
    if (!rows.ok) return false;
    auto em = typed_arg<float>(bo.Get("embeds"), "batch.embeds", rows.length * static_cast<size_t>(hidden));
    if (!em.ok) return false;
    b->n_embeds = static_cast<int>(rows.length);
    b->embed_rows = rows.data;
    b->embeds = em.data;
  }
  if (present("modality")) {
    auto m = typed_arg<int32_t>(bo.Get("modality"), "batch.modality", static_cast<size_t>(b->T));
    if (!m.ok) return false;
    b->modality = m.data;
  }
  if (present("ropePositions")) {
    auto p = typed_arg<int32_t>(bo.Get("ropePositions"), "batch.ropePositions", static_cast<size_t>(b->T) * 3);
    if (!p.ok) return false;
    b->rope3 = p.data;
  }
  return true;
}

}  // namespace tandem
