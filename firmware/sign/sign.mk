# Signed images (docs/boot.md "Signed images"), included by firmware/Makefile. With no key
# given, nothing here changes the build.
#   SIGN_KEY=FILE     Ed25519 private key (`edgebnn keys generate`): edgebnn-fw.img (and so
#                     edgebnn-factory.bin) gets a signature trailer
#   SIGN_PUBKEY=FILE  the public key provisioned into the bootloader and the application
#                     (default: SIGN_KEY's); with a key provisioned both refuse unsigned,
#                     badly signed, other-key and downgraded images and models
#   FW_COUNTER=N      the image's rollback counter (default 0; the board refuses a lower one
#                     than the confirmed application's)
#   ED25519_DIR=DIR   where sign/fetch-ed25519.sh puts the pinned verifier source (fetched
#                     once, never committed)
SIGN_KEY    ?=
SIGN_PUBKEY ?= $(SIGN_KEY)
FW_COUNTER  ?= 0
ED25519_DIR ?= $(FW_DIR)/build/third_party/ed25519-orlp-0.1.3

SIGN_ARGS := $(if $(SIGN_KEY),--key $(abspath $(SIGN_KEY)) --counter $(FW_COUNTER))
CFLAGS    += -DFW_COUNTER=$(FW_COUNTER)u -I$(FW_DIR)/sign
# The image is signed again whenever the key or the counter changes.
$(IMG): $(OUT)/sign-args.txt
$(OUT)/sign-args.txt: FORCE
	@mkdir -p $(@D)
	@echo '$(SIGN_ARGS)' | cmp -s - $@ || echo '$(SIGN_ARGS)' > $@

ifneq ($(SIGN_PUBKEY),)
# The verifier: our trailer check plus the library's verify, its group and field arithmetic
# and SHA-512 (the signing and key-exchange files are not built).
ED25519_FILES := verify.c ge.c fe.c sc.c sha512.c
ED25519_C     := $(addprefix $(ED25519_DIR)/,$(ED25519_FILES))
ED25519_OBJS  := $(patsubst %.c,$(OUT)/obj/ed25519/%.o,$(ED25519_FILES))
SIGN_OBJ      := $(OUT)/obj/firmware/sign/verify.o
KEY_HEADER    := $(OUT)/sign/sign_key.h
CFLAGS    += -DEBNN_SIGNED=1 -I$(OUT)/sign -I$(ED25519_DIR)
OBJS      += $(SIGN_OBJ) $(ED25519_OBJS)
BOOT_OBJS += $(SIGN_OBJ) $(ED25519_OBJS)

$(ED25519_C):
	@$(FW_DIR)/sign/fetch-ed25519.sh $(ED25519_DIR) $(PYTHON)

# Third-party code is compiled as it is, with our target flags but not our warning policy.
$(OUT)/obj/ed25519/%.o: $(ED25519_DIR)/%.c $(OUT)/flags.txt
	@mkdir -p $(@D)
	@echo "  CC  ed25519/$*.c"
	@$(CC) $(ARCH) -std=c99 $(OPT) -g -w -ffunction-sections -fdata-sections \
	    -fno-tree-loop-distribute-patterns -c $< -o $@

# Regenerated at every make, replaced only when the key differs (so nothing else rebuilds).
$(KEY_HEADER): FORCE
	@mkdir -p $(@D)
	@$(PYTHON) $(ROOT)/edgebnn/signing.py key-header $(SIGN_PUBKEY) -o $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(SIGN_OBJ): $(KEY_HEADER) $(ED25519_C)
endif
