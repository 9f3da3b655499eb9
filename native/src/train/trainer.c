/* The one trainer interface (edgebnn.h, "on-device training"): the table of rules, selected by
 * id, and what every step starts with (the checks, sizing and carving the scratch), made here
 * once so a rule's row only trains. A new rule is one file with its row and one entry of RULES
 * (and its state in ebnn_trainer's union). */
#include "train_internal.h"

static const ebnn_trainer_rule *const RULES[] = {&ebnn_rule_local, &ebnn_rule_drtp};
#define N_RULES (sizeof RULES / sizeof RULES[0])

const ebnn_trainer_rule *ebnn_trainer_rule_at(uint32_t i) {
    return i < N_RULES ? RULES[i] : NULL;
}

uint32_t ebnn_trainer_rule_id(const ebnn_trainer_rule *r) { return r ? r->id : 0; }

const char *ebnn_trainer_rule_name(const ebnn_trainer_rule *r) { return r ? r->name : ""; }

const ebnn_trainer_rule *ebnn_trainer_rule_find(uint32_t id) {
    uint32_t i;
    for (i = 0; i < N_RULES; i++)
        if (RULES[i]->id == id) return RULES[i];
    return NULL;
}

ebnn_status ebnn_trainer_init(ebnn_trainer *t, uint32_t rule, const ebnn_model *m,
                              uint8_t *model_data, ebnn_diag *diag) {
    const ebnn_trainer_rule *r = ebnn_trainer_rule_find(rule);
    ebnn_status s;
    if (r == NULL) return ebnn_fail(diag, EBNN_ERR_ARG, -1, "rule", rule, 0);
    s = r->init(t, m, model_data, diag); /* the rule's open checks t itself */
    if (s != EBNN_OK) return s;
    t->rule = r;
    t->model = m;
    t->data = model_data;
    return EBNN_OK;
}

/* The next region of `bytes` at *pos, 16-byte aligned (64-bit: a plan that adds up past 4 GiB is
 * refused, not wrapped, on a 32-bit device). */
static uint64_t take(uint64_t *pos, uint64_t bytes) {
    uint64_t at = *pos;
    *pos += (bytes + 15u) & ~(uint64_t)15u;
    return at;
}

/* Bytes of a batch of n's scratch laid out as l, and, when s is given, its regions carved in
 * scratch; 0 when over EBNN_MAX_BYTES. */
static size_t carve(const ebnn_train_layout *l, uint32_t n, uint8_t *scratch,
                    ebnn_train_scratch *s) {
    uint64_t tensor = 4u * (uint64_t)ebnn_words(l->width) * n, pos = 0;
    uint64_t at[3u + EBNN_TRAIN_MAX_REGIONS];
    uint32_t i;
    if (tensor > EBNN_MAX_BYTES || l->n_regions > EBNN_TRAIN_MAX_REGIONS) return 0;
    for (i = 0; i < 3u + l->n_regions; i++) at[i] = take(&pos, i < 3u ? tensor : l->bytes[i - 3u]);
    if (pos > EBNN_MAX_BYTES) return 0;
    if (s != NULL) {
        s->stride = ebnn_words(l->width);
        s->in = (uint32_t *)(void *)(scratch + at[0]);
        s->out = (uint32_t *)(void *)(scratch + at[1]);
        s->mask = (uint32_t *)(void *)(scratch + at[2]);
        for (i = 0; i < l->n_regions; i++) s->region[i] = scratch + at[3u + i];
    }
    return (size_t)pos;
}

size_t ebnn_trainer_buffer_size(const ebnn_trainer *t, uint32_t batch) {
    ebnn_train_layout l;
    if (t == NULL || t->rule == NULL || batch == 0 || !t->rule->layout(t, batch, &l)) return 0;
    return carve(&l, batch, NULL, NULL);
}

ebnn_status ebnn_train_begin(const ebnn_trainer *t, const uint8_t *inputs, const uint8_t *labels,
                             uint32_t n, void *scratch, size_t scratch_size,
                             ebnn_train_scratch *s, ebnn_train_stats *stats) {
    ebnn_train_layout l;
    size_t need;
    uint32_t b;
    if (t == NULL || t->rule == NULL || inputs == NULL || labels == NULL || n == 0)
        return EBNN_ERR_ARG;
    for (b = 0; b < n; b++)
        if (labels[b] >= t->model->n_classes) return EBNN_ERR_ARG;
    need = t->rule->layout(t, n, &l) ? carve(&l, n, NULL, NULL) : 0;
    if (need == 0) return EBNN_ERR_LIMIT;
    if (scratch == NULL || (uintptr_t)scratch % EBNN_ALIGN != 0 || scratch_size < need)
        return EBNN_ERR_SCRATCH;
    carve(&l, n, (uint8_t *)scratch, s);
    if (stats) stats->correct = stats->wrong = 0;
    return EBNN_OK;
}

ebnn_status ebnn_trainer_step(const ebnn_trainer *t, const uint8_t *inputs, const uint8_t *labels,
                              uint32_t n, void *scratch, size_t scratch_size,
                              ebnn_train_stats *stats) {
    ebnn_train_scratch s;
    ebnn_status st = ebnn_train_begin(t, inputs, labels, n, scratch, scratch_size, &s, stats);
    if (st == EBNN_OK) t->rule->step(t, inputs, labels, n, &s, stats);
    return st;
}

uint32_t ebnn_trainer_param_count(const ebnn_trainer *t) {
    return t && t->rule ? t->rule->param_count(t) : 0;
}

ebnn_status ebnn_trainer_check_param(const ebnn_trainer *t, uint32_t i, uint32_t value) {
    if (t == NULL || t->rule == NULL || i >= t->rule->param_count(t) ||
        value > t->rule->param_max(t, i))
        return EBNN_ERR_ARG;
    return EBNN_OK;
}

ebnn_status ebnn_trainer_set_param(const ebnn_trainer *t, uint32_t i, uint32_t value) {
    ebnn_status s = ebnn_trainer_check_param(t, i, value);
    if (s == EBNN_OK) t->rule->set_param(t, i, value);
    return s;
}

uint32_t ebnn_trainer_step_index(const ebnn_trainer *t) {
    return t && t->rule ? t->rule->step_index(t) : 0;
}

ebnn_status ebnn_trainer_finalize(const ebnn_trainer *t) {
    if (t == NULL || t->rule == NULL) return EBNN_ERR_ARG;
    return ebnn_model_finalize(t->data, t->model->size);
}
