/* Signature trailers of firmware images and models (docs/format.md "Signature trailer",
 * docs/boot.md "Signed images"): 160 bytes after the bytes they cover,
 *   0 u32 magic "EBSG"   4 u16 version 1   6 u16 size 160   8 u32 covered length
 *  12 u32 counter (rollback version)  16 u8[16] key fingerprint = SHA-512(public key)[:16]
 *  32 u8[64] SHA-512 of the covered bytes  96 u8[64] Ed25519 signature of bytes 0..95.
 * Finding a trailer and its counter needs no cryptography (every build keeps the trailer of
 * what it copies and stores); checking one (sig_verify, sign/verify.c) is built in only when
 * a public key is provisioned (make SIGN_KEY= or SIGN_PUBKEY=, firmware/sign/sign.mk). */
#ifndef EBNN_SIGNATURE_H
#define EBNN_SIGNATURE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#define SIG_MAGIC 0x47534245u      /* "EBSG" */
#define SIG_VERSION 1u
#define SIG_TRAILER_SIZE 160u
#define SIG_SIGNED_SIZE 96u        /* trailer bytes the signature covers */
#define SIG_FINGERPRINT_SIZE 16u

/* Reply statuses of a refused image or model (docs/protocol.md), shared by the bootloader
 * (FLASH_COMMIT) and the application (LOAD_COMMIT). */
typedef enum {
    SIG_OK = 0,
    SIG_ERR_UNSIGNED = 0x22,    /* no trailer: detail empty */
    SIG_ERR_SIGNATURE = 0x23,   /* digest or signature wrong (tampered): detail empty */
    SIG_ERR_KEY = 0x24,         /* signed by another key: detail u8[16] found, u8[16] ours */
    SIG_ERR_DOWNGRADE = 0x25    /* counter below the running one: detail u32 found, u32 floor */
} sig_status;

/* Whether the SIG_TRAILER_SIZE bytes at `t` are a trailer for the `covered` bytes before it. */
static inline bool sig_present(const uint8_t *t, uint32_t covered)
{
    return proto_get32(t) == SIG_MAGIC && proto_get16(t + 4) == SIG_VERSION &&
           proto_get16(t + 6) == SIG_TRAILER_SIZE && proto_get32(t + 8) == covered;
}

/* The counter of the data whose covered part is `covered` bytes and `total` bytes with a
 * trailer (total = covered + SIG_TRAILER_SIZE), 0 for unsigned data: the rollback floor an
 * installed image or stored model sets. */
static inline uint32_t sig_counter(const uint8_t *data, uint32_t covered, uint32_t total)
{
    const uint8_t *t = data + covered;
    return total == covered + SIG_TRAILER_SIZE && sig_present(t, covered) ? proto_get32(t + 12)
                                                                          : 0u;
}

/* Checks a trailer (NULL: none) against the provisioned key, for covered bytes given in two
 * parts (a then b; nb may be 0), and its counter against `floor`, in this order: unsigned,
 * another key, digest and signature, downgrade. SIG_OK, or the status with its detail in
 * `detail` (*len bytes, at most 32). */
sig_status sig_verify(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb,
                      const uint8_t *trailer, uint32_t floor, uint8_t *detail, uint16_t *len);

/* The provisioned key's fingerprint (SHA-512(public key)[:16], as trailers name it) into `fp`,
 * so INFO can tell the host which key the board accepts; all zeros in a build with no key,
 * where SIG_KEY_PROVISIONED is 0. */
#if EBNN_SIGNED
#define SIG_KEY_PROVISIONED 1u
void sig_key_fingerprint(uint8_t fp[SIG_FINGERPRINT_SIZE]);
#else
#define SIG_KEY_PROVISIONED 0u
static inline void sig_key_fingerprint(uint8_t fp[SIG_FINGERPRINT_SIZE])
{
    for (unsigned i = 0; i < SIG_FINGERPRINT_SIZE; i++)
        fp[i] = 0;
}
#endif

#endif
