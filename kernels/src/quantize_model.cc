#include "quantize_model.h"

namespace tandem {
namespace {

void quantize_one(Linear* l, int bits, int group, QuantizedStore* store) {
  if (l->bits != 16 || !l->bf16) return;
  Linear q;
  q.bits = bits;
  q.group = resolve_group(group, l->cols);
  q.rows = l->rows;
  q.cols = l->cols;
  store->data.emplace_back(static_cast<size_t>(q.rows) * q.row_bytes());
  store->scales.emplace_back(static_cast<size_t>(q.rows) * q.groups());
  quantize_weights(l->bf16, q.rows, q.cols, bits, q.group, store->data.back().data(), store->scales.back().data());
  q.q = store->data.back().data();
  q.scales = store->scales.back().data();
  *l = q;
}

void quantize_mlp(MlpWeights* m, int bits, int group, QuantizedStore* store) {
  quantize_one(&m->gate, bits, group, store);
  quantize_one(&m->up, bits, group, store);
  quantize_one(&m->down, bits, group, store);
}

}  // namespace

void quantize_linears(TextModelWeights* w, int bits, int group, bool lm_head, QuantizedStore* store) {
  for (LayerWeights& l : w->layers) {
    for (Linear* p : {&l.q, &l.k, &l.v, &l.o}) quantize_one(p, bits, group, store);
    if (!l.moe) quantize_mlp(&l.dense, bits, group, store);
    for (MlpWeights& e : l.experts) quantize_mlp(&e, bits, group, store);
    if (l.has_shared) quantize_mlp(&l.shared, bits, group, store);
    for (MlpWeights& e : l.vexperts) quantize_mlp(&e, bits, group, store);
  }
  if (lm_head) quantize_one(&w->lm_head, bits, group, store);
}

}  // namespace tandem
