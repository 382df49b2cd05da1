"""MemMamba in PyTorch: the spec (../shared/spec/MEMMAMBA.md, sections 1-2) as
a second, independent implementation and the model the passkey models are
trained with. See python/README.md."""
