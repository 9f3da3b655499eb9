/* A complete minimal edgebnn program (docs/embedding.md).
 *
 * The model is compiled in: model.h comes from `edgebnn export RUN --header model.h` and holds
 * the .ebnn bytes as an aligned const array (flash) plus its sizes. The arena is a static
 * buffer sized by a macro of that header, so nothing is allocated. The program classifies the
 * inputs in samples.h (stand-ins for a sensor) and prints one line per input:
 *     sample 0 scores -3 5 17 ... class 2 "2"
 * Printing goes through platform.h: stdio on a host, the UART on a microcontroller.
 */
#include <stdint.h>

#include "edgebnn.h"
#include "model.h"
#include "platform.h"
#include "samples.h"

/* Inference scratch memory: EBNN_ALIGN (16) bytes aligned, as ebnn_infer() requires. */
static EBNN_ALIGNAS(EBNN_ALIGN) uint8_t arena[MODEL_ARENA_SIZE];

static int fail(const char *what, ebnn_status status)
{
    platform_print(what);
    platform_print(": ");
    platform_print(ebnn_status_name(status));
    platform_print("\n");
    return 1;
}

int main(void)
{
    ebnn_model model;
    int32_t scores[MODEL_N_CLASSES];

    platform_init();
    /* Validates the whole file once; afterwards inference needs no further checks. */
    ebnn_status status = ebnn_model_load(&model, model_data, MODEL_SIZE, NULL);
    if (status != EBNN_OK)
        return platform_exit(fail("ebnn_model_load", status));
    if (ebnn_arena_size(&model) > sizeof arena)
        return platform_exit(fail("arena too small", EBNN_ERR_ARENA));

    for (uint32_t i = 0; i < SAMPLES_COUNT; i++) {
        status = ebnn_infer(&model, samples[i], scores, arena, sizeof arena);
        if (status != EBNN_OK)
            return platform_exit(fail("ebnn_infer", status));
        uint32_t best = ebnn_argmax(scores, MODEL_N_CLASSES);
        platform_print("sample ");
        platform_print_int((int32_t)i);
        platform_print(" scores");
        for (uint32_t k = 0; k < MODEL_N_CLASSES; k++) {
            platform_print(" ");
            platform_print_int(scores[k]);
        }
        platform_print(" class ");
        platform_print_int((int32_t)best);
        platform_print(" \"");
        platform_print(model_class_names[best]);
        platform_print("\"\n");
    }
    return platform_exit(0);
}
