/* Host test driver for the firmware's frame parser (tests/test_device_framing.py): feeds stdin
 * to proto_feed byte by byte, then signals a timeout at EOF, printing one line per event:
 *   FRAME <cmd> <seq> <len> <status> <payload crc32>      ERROR <cmd> <seq> <status>
 * Usage: parse_stdin [max_payload]   (default 4096) */
#include <stdio.h>
#include <stdlib.h>

#include "edgebnn.h"
#include "proto.h"

static uint8_t payload[65535];

static void report(proto_event ev, const proto_parser *p)
{
    if (ev == PROTO_EV_FRAME)
        printf("FRAME %u %u %u %u %lu\n", p->h.cmd, p->h.seq, p->h.len, p->h.status,
               (unsigned long)ebnn_crc32(0, p->payload, p->h.len));
    else if (ev == PROTO_EV_ERROR)
        printf("ERROR %u %u %u\n", p->h.cmd, p->h.seq, p->error);
}

int main(int argc, char **argv)
{
    proto_parser p;
    int c;
    long max = argc > 1 ? strtol(argv[1], NULL, 10) : 4096;
    if (max < 0 || max > 65535)
        return 2;
    proto_parser_init(&p, payload, (uint16_t)max);
    while ((c = getchar()) != EOF)
        report(proto_feed(&p, (uint8_t)c), &p);
    report(proto_timeout(&p), &p);
    return 0;
}
