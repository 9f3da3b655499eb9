/* The naive reference: unpacked tensors (int32, HWC: U8 pixel values, ±1, or scores) and
 * plain loops over the ±1 weights of a tb_model description. No packing, no popcount. */
#ifndef EBNN_TEST_NAIVE_H
#define EBNN_TEST_NAIVE_H

#include "builder.h"

void naive_conv(const tb_layer *l, const int32_t *in, int32_t *out);
void naive_maxpool(const tb_layer *l, const int32_t *in, int32_t *out);
/* Runs a whole model on one U8 sample; scores receives n_classes values. */
void naive_infer(const tb_model *m, const uint8_t *input, int32_t *scores);

#endif /* EBNN_TEST_NAIVE_H */
