/* Signature checks with the provisioned key (signature.h). The cryptography is Orson Peters'
 * portable ed25519 (RFC 8032 verification and its SHA-512), fetched unmodified at build time
 * (sign/fetch-ed25519.sh): this file only hashes the covered bytes, compares the trailer's
 * fields and calls ed25519_verify on the trailer's signed part. */
#include "signature.h"

#include <string.h>

#include "ed25519.h"
#include "sha512.h"
#include "sign_key.h"   /* SIGN_PUBLIC_KEY, generated from SIGN_PUBKEY by sign.mk */

static const unsigned char public_key[32] = SIGN_PUBLIC_KEY;

void sig_key_fingerprint(uint8_t fp[SIG_FINGERPRINT_SIZE])
{
    unsigned char digest[64];
    sha512(public_key, sizeof public_key, digest);
    memcpy(fp, digest, SIG_FINGERPRINT_SIZE);
}

sig_status sig_verify(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb,
                      const uint8_t *trailer, uint32_t floor, uint8_t *detail, uint16_t *len)
{
    sha512_context hash;
    unsigned char digest[64];
    uint8_t ours[SIG_FINGERPRINT_SIZE];
    uint32_t counter;
    *len = 0;
    if (!trailer || !sig_present(trailer, na + nb))
        return SIG_ERR_UNSIGNED;
    sig_key_fingerprint(ours);
    if (memcmp(trailer + 16, ours, SIG_FINGERPRINT_SIZE) != 0) {
        memcpy(detail, trailer + 16, SIG_FINGERPRINT_SIZE);
        memcpy(detail + SIG_FINGERPRINT_SIZE, ours, SIG_FINGERPRINT_SIZE);
        *len = 2u * SIG_FINGERPRINT_SIZE;
        return SIG_ERR_KEY;
    }
    sha512_init(&hash);
    sha512_update(&hash, a, na);
    sha512_update(&hash, b, nb);
    sha512_final(&hash, digest);
    if (memcmp(digest, trailer + 32, sizeof digest) != 0 ||
        !ed25519_verify(trailer + SIG_SIGNED_SIZE, trailer, SIG_SIGNED_SIZE, public_key))
        return SIG_ERR_SIGNATURE;
    counter = proto_get32(trailer + 12);
    if (counter < floor) {
        proto_put32(detail, counter);
        proto_put32(detail + 4, floor);
        *len = 8;
        return SIG_ERR_DOWNGRADE;
    }
    return SIG_OK;
}
