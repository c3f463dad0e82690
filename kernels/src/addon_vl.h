// Readers for the ERNIE-4.5-VL parts of the TextModel spec and forward batch (addon_vision.cc),
// so the text model's binding only calls them. Each returns false with a pending JS exception.
#pragma once
#include <napi.h>

#include <string>

#include "text_model.h"

namespace tandem {

// dims.visionMoeIntermediate / dims.ropeTPairs (optional, default 0).
bool read_vl_dims(Napi::Object d, TextModelDims* dims);
// mlp.vision = {router, bias, experts} of an MoE layer (optional).
bool read_vision_experts(Napi::Object mo, const TextModelDims& dims, LayerWeights* L, const std::string& where);
// batch.embedRows / embeds / modality / ropePositions (optional); the arrays stay owned by the batch object.
bool read_vl_batch(Napi::Object bo, int hidden, ForwardBatch* b);

}  // namespace tandem
