#include "quantize_model.h"

#include <algorithm>

namespace tandem {
namespace {

// The MLP down projections (their input, silu(gate) * up, is the spikiest per token: the ones
// `rotate` applies to).
std::vector<Linear*> down_projections_of(TextModelWeights* w) {
  std::vector<Linear*> out;
  for (LayerWeights& l : w->layers) {
    if (!l.moe) out.push_back(&l.dense.down);
    for (MlpWeights& e : l.experts) out.push_back(&e.down);
    if (l.has_shared) out.push_back(&l.shared.down);
    for (MlpWeights& e : l.vexperts) out.push_back(&e.down);
  }
  return out;
}

void collect_mlp(MlpWeights* m, std::vector<Linear*>* out) {
  for (Linear* p : {&m->gate, &m->up, &m->down}) out->push_back(p);
}

// Every bf16 linear layer to quantize, in model order.
std::vector<Linear*> linears_of(TextModelWeights* w, bool lm_head) {
  std::vector<Linear*> out;
  for (LayerWeights& l : w->layers) {
    for (Linear* p : {&l.q, &l.k, &l.v, &l.o}) out.push_back(p);
    if (!l.moe) collect_mlp(&l.dense, &out);
    for (MlpWeights& e : l.experts) collect_mlp(&e, &out);
    if (l.has_shared) collect_mlp(&l.shared, &out);
    for (MlpWeights& e : l.vexperts) collect_mlp(&e, &out);
  }
  if (lm_head) out.push_back(&w->lm_head);
  std::vector<Linear*> todo;
  for (Linear* p : out)
    if (p->bits == 16 && p->bf16) todo.push_back(p);
  return todo;
}

Linear quantized_shape(const Linear& l, int bits, int group) {
  Linear q;
  q.bits = bits;
  q.group = resolve_group(group, l.cols);
  q.rows = l.rows;
  q.cols = l.cols;
  return q;
}

size_t round64(size_t n) { return (n + 63) / 64 * 64; }

}  // namespace

void quantize_linears(TextModelWeights* w, int bits, int group, bool lm_head, QuantizedStore* store, bool rotate, int head_bits,
                      bool zero_points) {
  // One arena for all codes and one for all scales: small matrices then share huge pages too
  // (a 0.3B layer's matrices are 0.1-1.5 MB each, below one 2 MiB page on their own).
  const std::vector<Linear*> todo = linears_of(w, lm_head);
  const std::vector<Linear*> downs = rotate ? down_projections_of(w) : std::vector<Linear*>{};
  // The LM head may keep more bits than the rest (wint4: int8 per output channel).
  const auto shape_of = [&](const Linear* p) {
    if (p == &w->lm_head && head_bits && head_bits != bits) return quantized_shape(*p, head_bits, 0);
    return quantized_shape(*p, bits, group);
  };
  size_t code_bytes = 0, scale_floats = 0, zero_bytes = 0;
  for (Linear* p : todo) {
    const Linear q = shape_of(p);
    code_bytes += round64(static_cast<size_t>(q.rows) * q.row_bytes());
    scale_floats += round64(static_cast<size_t>(q.rows) * q.groups() * sizeof(float)) / sizeof(float);
    if (zero_points && q.bits == 4) zero_bytes += round64(static_cast<size_t>(q.rows) * q.groups());
  }
  store->data.emplace_back(code_bytes);
  store->scales.emplace_back(scale_floats);
  store->zeros.emplace_back(std::max<size_t>(zero_bytes, 64));
  uint8_t* codes = store->data.back().data();
  float* scales = store->scales.back().data();
  uint8_t* zeros = store->zeros.back().data();
  for (Linear* p : todo) {
    Linear q = shape_of(p);
    const bool rot = std::find(downs.begin(), downs.end(), p) != downs.end();
    const bool zp = zero_points && q.bits == 4;
    quantize_weights(p->bf16, q.rows, q.cols, q.bits, q.group, codes, scales, rot, zp ? zeros : nullptr);
    q.rotated = rot;
    q.q = codes;
    q.scales = scales;
    if (zp) {
      q.zeros = zeros;
      zeros += round64(static_cast<size_t>(q.rows) * q.groups());
    }
    codes += round64(static_cast<size_t>(q.rows) * q.row_bytes());
    scales += round64(static_cast<size_t>(q.rows) * q.groups() * sizeof(float)) / sizeof(float);
    *p = q;
  }
}

}  // namespace tandem
